package jwtauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// maxPermissions bounds the permissions claim.
const maxPermissions = 256

// permissions is the permissions claim. Identity providers write numeric
// permissions either way (319 or "319"): both read as the string "319".
type permissions []string

// UnmarshalJSON reads an array of strings and integers; null is none.
func (p *permissions) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*p = nil
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return fmt.Errorf("%s claim: want an array: %w", ClaimPermissions, err)
	}
	if len(items) > maxPermissions {
		return fmt.Errorf("%s claim: more than %d", ClaimPermissions, maxPermissions)
	}
	out := make(permissions, 0, len(items))
	for _, item := range items {
		var s string
		if err := json.Unmarshal(item, &s); err == nil {
			if s == "" {
				return errors.New(ClaimPermissions + " claim: an empty permission")
			}
			out = append(out, s)
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(item)), 10, 64)
		if err != nil {
			return fmt.Errorf("%s claim: %s is neither a string nor an integer", ClaimPermissions, item)
		}
		out = append(out, strconv.FormatInt(n, 10))
	}
	*p = out
	return nil
}
