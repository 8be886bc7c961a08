package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits on profile fields. They bound what one request can store, so a
// read model row and an audit entry stay a sane size.
const (
	maxTextLen     = 1000  // any string field not listed below
	maxLongTextLen = 10000 // notes, description
	maxTagLen      = 64
	maxTags        = 50
	maxSocialKey   = 64
)

// longTextFields are the free-text fields allowed maxLongTextLen.
var longTextFields = map[string]bool{"notes": true, "description": true}

// Validate checks p can be a lead's whole profile: it has a name and a way to
// reach the person, its emails and phones are normalized (uniqueness is
// decided on that form) and every field is in range. It names the first bad
// field by its JSON name in a ValidationError. Partial input (a merge) is
// validated after it is combined with the lead it merges into.
func (p LeadProfile) Validate() error {
	if strings.TrimSpace(p.Name) == "" {
		return invalid("name", "must not be empty")
	}
	if len(p.Emails) == 0 && len(p.Phones) == 0 {
		return invalid("emails", "must hold at least one email when there is no phone")
	}
	if err := checkCounts(p); err != nil {
		return err
	}
	if err := checkNormalized("emails", p.Emails, func(s string) (string, error) { return NormalizeEmail(s) }); err != nil {
		return err
	}
	// An E.164 number carries its country, so no default region is needed.
	if err := checkNormalized("phones", p.Phones, func(s string) (string, error) { return NormalizePhone(s, "") }); err != nil {
		return err
	}
	if err := p.checkTextLengths(); err != nil {
		return err
	}
	if p.Score != nil && (*p.Score < 0 || *p.Score > 100) {
		return invalid("score", "must be between 0 and 100")
	}
	if err := checkAmount("deal_value", p.DealValue); err != nil {
		return err
	}
	if err := checkAmount("annual_revenue", p.AnnualRevenue); err != nil {
		return err
	}
	if p.Priority != "" && !p.Priority.valid() {
		return invalid("priority", "must be one of Low, Medium, High")
	}
	if err := checkTags(p.Tags); err != nil {
		return err
	}
	for k, v := range p.Social {
		if k == "" || utf8.RuneCountInString(k) > maxSocialKey {
			return invalid("social", "keys must be 1 to 64 characters")
		}
		if utf8.RuneCountInString(v) > maxTextLen {
			return invalid("social", fmt.Sprintf("value of %q must be at most %d characters", k, maxTextLen))
		}
	}
	if len(p.CustomFields) > 0 && !isJSONObject(p.CustomFields) {
		return invalid("custom_fields", "must be a JSON object")
	}
	return nil
}

// Bounds on the list fields a merge unions (Cratio's create into an
// existing lead adds its emails, phones, business ids and social keys): a
// lead's profile is in every command's load, so it must not grow with
// every merge.
const (
	maxEmails      = 100
	maxPhones      = 100
	maxBusinessIDs = 1000
	maxSocial      = 100
)

// checkCounts bounds the number of entries of the list fields.
func checkCounts(p LeadProfile) error {
	for _, c := range []struct {
		field  string
		n, max int
	}{
		{"emails", len(p.Emails), maxEmails}, {"phones", len(p.Phones), maxPhones},
		{"business_ids", len(p.BusinessIDs), maxBusinessIDs}, {"social", len(p.Social), maxSocial},
	} {
		if c.n > c.max {
			return invalid(c.field, fmt.Sprintf("must hold at most %d entries", c.max))
		}
	}
	return nil
}

// checkNormalized rejects entries that are not in normalized form, or repeat.
func checkNormalized(field string, values []string, normalize func(string) (string, error)) error {
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		n, err := normalize(v)
		if err != nil || n != v {
			return invalid(field, fmt.Sprintf("entry %q is not normalized", v))
		}
		if seen[v] {
			return invalid(field, fmt.Sprintf("entry %q is repeated", v))
		}
		seen[v] = true
	}
	return nil
}

// checkTextLengths bounds every string field, found by reflection so a new
// field is bounded the day it is added.
func (p LeadProfile) checkTextLengths() error {
	v := reflect.ValueOf(p)
	for _, f := range profileFields {
		fv := v.Field(f.index)
		if fv.Kind() != reflect.String {
			continue
		}
		limit := maxTextLen
		if longTextFields[f.name] {
			limit = maxLongTextLen
		}
		if utf8.RuneCountInString(fv.String()) > limit {
			return invalid(f.name, fmt.Sprintf("must be at most %d characters", limit))
		}
	}
	return nil
}

// checkAmount rejects negative money and what JSON cannot store (NaN, ±Inf).
func checkAmount(field string, v *float64) error {
	if v == nil {
		return nil
	}
	if math.IsNaN(*v) || math.IsInf(*v, 0) {
		return invalid(field, "must be a finite number")
	}
	if *v < 0 {
		return invalid(field, "must not be negative")
	}
	return nil
}

func checkTags(tags []string) error {
	if len(tags) > maxTags {
		return invalid("tags", fmt.Sprintf("must be at most %d tags", maxTags))
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		switch {
		case strings.TrimSpace(t) == "":
			return invalid("tags", "must not hold an empty tag")
		case utf8.RuneCountInString(t) > maxTagLen:
			return invalid("tags", fmt.Sprintf("entry %q must be at most %d characters", t, maxTagLen))
		case seen[t]:
			return invalid("tags", fmt.Sprintf("entry %q is repeated", t))
		}
		seen[t] = true
	}
	return nil
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// NormalizeProfile brings client input into the form the domain stores:
// strings trimmed, emails lower-cased, phones in E.164 (national numbers read
// in defaultRegion), list entries deduplicated with empty ones dropped, the
// name derived from its parts when missing, custom fields canonical JSON. It
// rejects only what cannot be normalized; Validate judges the result.
func NormalizeProfile(p LeadProfile, defaultRegion string) (LeadProfile, error) {
	out := p.clone()
	ov := reflect.ValueOf(&out).Elem()
	for _, f := range profileFields {
		if fv := ov.Field(f.index); fv.Kind() == reflect.String {
			fv.SetString(strings.TrimSpace(fv.String()))
		}
	}
	var err error
	if out.Emails, out.Phones, err = normalizeReach(p.Emails, p.Phones, defaultRegion); err != nil {
		return LeadProfile{}, err
	}
	trim := func(s string) (string, error) { return strings.TrimSpace(s), nil }
	out.Tags, _ = normalizeList("tags", p.Tags, trim)
	out.Social = nil
	for k, v := range p.Social {
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" || v == "" {
			continue
		}
		if out.Social == nil {
			out.Social = map[string]string{}
		}
		out.Social[k] = v
	}
	if out.CustomFields, err = canonicalObject(p.CustomFields); err != nil {
		return LeadProfile{}, err
	}
	if out.Name == "" {
		out.Name = FullName(out.FirstName, out.MiddleName, out.LastName)
	}
	return out, nil
}

// normalizeReach normalizes a profile's emails and phones (national
// numbers read in defaultRegion), as normalizeList does.
func normalizeReach(emails, phones []string, defaultRegion string) ([]string, []string, error) {
	e, err := normalizeList("emails", emails, NormalizeEmail)
	if err != nil {
		return nil, nil, err
	}
	phone := func(s string) (string, error) { return NormalizePhone(s, defaultRegion) }
	p, err := normalizeList("phones", phones, phone)
	if err != nil {
		return nil, nil, err
	}
	return e, p, nil
}

// normalizeList normalizes each non-blank entry and drops repeats, keeping the
// first occurrence so the primary (first) entry stays first.
func normalizeList(field string, values []string, normalize func(string) (string, error)) ([]string, error) {
	var out []string
	for _, raw := range values {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		n, err := normalize(raw)
		if err != nil {
			reason := "is invalid"
			var ve ValidationError
			if errors.As(err, &ve) {
				reason = ve.Reason
			}
			return nil, invalid(field, fmt.Sprintf("entry %q %s", raw, reason))
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// canonicalObject re-encodes a JSON object with sorted keys and no spaces, so
// the same custom fields sent twice compare equal and record no change.
// Numbers go through json.Number to keep their exact digits.
func canonicalObject(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, jsonNull) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
		return nil, invalid("custom_fields", "must be a JSON object")
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, invalid("custom_fields", "must be a JSON object")
	}
	return b, nil
}

// ProfileReservations returns the values a lead with profile p reserves for
// per-tenant uniqueness: its normalized emails (ReserveEmail) and phones
// (ReservePhone). The slices are copies.
func ProfileReservations(p LeadProfile) (emails, phones []string) {
	return slices.Clone(p.Emails), slices.Clone(p.Phones)
}
