package devcrm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
)

// A list's page: limit 1..maxLimit (default defaultLimit), offset
// 0..api.MaxOffset.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// page reads limit and offset.
func page(c *gin.Context) (limit, offset int, bad *api.BadInput) {
	limit = defaultLimit
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return 0, 0, api.BadParam("limit", fmt.Sprintf("must be an integer from 1 to %d", maxLimit))
		}
		limit = n
	}
	if s, ok := c.GetQuery("offset"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > api.MaxOffset {
			return 0, 0, api.BadParam("offset", fmt.Sprintf("must be an integer from 0 to %d", api.MaxOffset))
		}
		offset = n
	}
	return limit, offset, nil
}

// list is the envelope of every list.
type list[T any] struct {
	Data   []T   `json:"data"`
	Total  int64 `json:"total"`
	Limit  int   `json:"limit"`
	Offset int   `json:"offset"`
}

// parseUUID reads a UUID in its canonical 36-character form.
func parseUUID(s string) (uuid.UUID, bool) {
	id, err := uuid.Parse(s)
	return id, err == nil && len(s) == 36
}

// pathID is the UUID of path parameter name; anything else names nothing
// (404 naming what).
func pathID(c *gin.Context, name, what string) (uuid.UUID, *api.BadInput) {
	id, ok := parseUUID(c.Param(name))
	if !ok {
		return uuid.Nil, notFound(what)
	}
	return id, nil
}

// query is an optional query parameter, trimmed; over maxQuery characters
// is a 400.
func query(c *gin.Context, name string) (string, *api.BadInput) {
	v := strings.TrimSpace(c.Query(name))
	if utf8.RuneCountInString(v) > maxQuery {
		return "", api.BadParam(name, fmt.Sprintf("must be at most %d characters", maxQuery))
	}
	return v, nil
}

// maxQuery bounds a filter's text.
const maxQuery = 200

// oneOf is an enum query parameter ("" when not sent).
func oneOf(c *gin.Context, name string, allowed []string) (string, *api.BadInput) {
	v, bad := query(c, name)
	if bad != nil || v == "" {
		return "", bad
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", api.BadParam(name, "must be one of "+strings.Join(allowed, ", "))
}

// Body fields.

// text reads a string field (null: unset) into dst, trimmed.
func text(o api.Object, name string, dst *string) *api.BadInput {
	v, _, bad := api.Field[string](o, name, "a string")
	*dst = strings.TrimSpace(v)
	return bad
}

// required reads a string field that must be sent and not blank.
func required(o api.Object, name string, dst *string) *api.BadInput {
	if bad := text(o, name, dst); bad != nil {
		return bad
	}
	if *dst == "" {
		return missing(name)
	}
	return nil
}

// oneOfField reads an enum string field (null or absent: "").
func oneOfField(o api.Object, name string, allowed []string, dst *string) *api.BadInput {
	if bad := text(o, name, dst); bad != nil || *dst == "" {
		return bad
	}
	for _, a := range allowed {
		if *dst == a {
			return nil
		}
	}
	return badField(name, "must be one of "+strings.Join(allowed, ", "))
}

// uuidField reads a UUID field (null: "") as its canonical text.
func uuidField(o api.Object, name string, dst *string) *api.BadInput {
	var s string
	if bad := text(o, name, &s); bad != nil || s == "" {
		*dst = ""
		return bad
	}
	id, ok := parseUUID(s)
	if !ok {
		return badField(name, "must be a UUID")
	}
	*dst = id.String()
	return nil
}

// dateField reads a date field (null: nil): RFC 3339, or YYYY-MM-DD as
// 00:00 UTC.
func dateField(o api.Object, name string) (*time.Time, *api.BadInput) {
	var s string
	if bad := text(o, name, &s); bad != nil || s == "" {
		return nil, bad
	}
	t, ok := dateOf(s)
	if !ok {
		return nil, badField(name, "must be a date (RFC 3339 date-time or YYYY-MM-DD)")
	}
	return &t, nil
}

// dateOf reads RFC 3339 or YYYY-MM-DD (00:00 UTC), stored in UTC.
func dateOf(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// object reads a JSON object field (null: nil) as its raw JSON.
func object(o api.Object, name string) (json.RawMessage, *api.BadInput) {
	raw, ok, bad := api.Field[json.RawMessage](o, name, "a JSON object")
	if bad != nil || !ok {
		return nil, bad
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return nil, &api.BadInput{Status: 400, Code: "invalid_type", Field: name, Reason: "must be a JSON object"}
	}
	return raw, nil
}

// optional is a string shown as null when empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// first is the first of a list, null when empty.
func first(s []string) *string {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

// primary makes v the first entry of list in place of the old first; an
// empty v drops the first entry.
func primary(list []string, v string) []string {
	var out []string
	if v != "" {
		out = append(out, v)
	}
	for i, x := range list {
		if i > 0 && x != v {
			out = append(out, x)
		}
	}
	return out
}

// edits are the changes a decoded body makes to a profile (a lead's, a
// customer's, an interaction), one per field sent.
type edits[P any] []func(*P)

func (e edits[P]) apply(p P) P {
	for _, edit := range e {
		edit(&p)
	}
	return p
}

// take returns what adds the edit put of a field's value to e when the
// field was read (ok) and not refused; it passes the refusal on. Its
// argument is one of the sent* readers' results.
func take[P, V any](e *edits[P], put func(*P, V)) func(V, bool, *api.BadInput) *api.BadInput {
	return func(v V, ok bool, bad *api.BadInput) *api.BadInput {
		if bad == nil && ok {
			*e = append(*e, func(p *P) { put(p, v) })
		}
		return bad
	}
}

// sentText reads a text field when sent (null or blank: ""); must: it is
// required, sent and not blank.
func sentText(o api.Object, name string, must bool) (string, bool, *api.BadInput) {
	if !o.Sent(name) && !must {
		return "", false, nil
	}
	var v string
	read := text
	if must {
		read = required
	}
	return v, true, read(o, name, &v)
}

// sentEmail reads the email field: a bare address, lower-cased.
func sentEmail(o api.Object, must bool) (string, bool, *api.BadInput) {
	v, ok, bad := sentText(o, "email", must)
	if !ok || bad != nil || v == "" {
		return v, ok, bad
	}
	email, err := domain.NormalizeEmail(v)
	if err != nil {
		return "", false, badField("email", "must be a valid email")
	}
	return email, true, nil
}

// sentPhone reads the phone field: a number libphonenumber takes (a
// national one read in region), in E.164.
func sentPhone(o api.Object, region string) (string, bool, *api.BadInput) {
	v, ok, bad := sentText(o, "phone", false)
	if !ok || bad != nil || v == "" {
		return v, ok, bad
	}
	phone, err := domain.NormalizePhone(v, region)
	if err != nil {
		return "", false, badField("phone", "must be a valid phone number, e.g. +14155552671")
	}
	return phone, true, nil
}

// sentEnum reads an enum text field when sent; nullable: null clears it.
func sentEnum(o api.Object, name string, allowed []string, nullable bool) (string, bool, *api.BadInput) {
	if !o.Sent(name) {
		return "", false, nil
	}
	var v string
	if bad := oneOfField(o, name, allowed, &v); bad != nil {
		return "", false, bad
	}
	if v == "" && !nullable {
		return "", false, badField(name, "must be one of "+strings.Join(allowed, ", "))
	}
	return v, true, nil
}

// sentUUID reads a UUID field when sent (null: "").
func sentUUID(o api.Object, name string) (string, bool, *api.BadInput) {
	if !o.Sent(name) {
		return "", false, nil
	}
	var v string
	bad := uuidField(o, name, &v)
	return v, bad == nil, bad
}

// sentObject reads a JSON object field when sent (null: nil).
func sentObject(o api.Object, name string) (json.RawMessage, bool, *api.BadInput) {
	if !o.Sent(name) {
		return nil, false, nil
	}
	raw, bad := object(o, name)
	return raw, bad == nil, bad
}

// sentDate reads a date field when sent (null: nil).
func sentDate(o api.Object, name string) (*time.Time, bool, *api.BadInput) {
	if !o.Sent(name) {
		return nil, false, nil
	}
	at, bad := dateField(o, name)
	return at, bad == nil, bad
}

// sentNumber reads a number field when sent (null: nil) of at least 0
// and, when whole, an integer, at most most.
func sentNumber(o api.Object, name, want string, whole bool, most float64) (*float64, bool, *api.BadInput) {
	if !o.Sent(name) {
		return nil, false, nil
	}
	v, ok, bad := api.Field[float64](o, name, want)
	if bad != nil {
		return nil, false, bad
	}
	if !ok {
		return nil, true, nil
	}
	if v < 0 || v > most || (whole && v != math.Trunc(v)) {
		return nil, false, badField(name, "must be "+want)
	}
	return &v, true, nil
}

// readBody decodes the request's JSON object body of fields with decode,
// answering its refusal.
func readBody[E any](h *handlers, c *gin.Context, fields []string, decode func(api.Object) (E, *api.BadInput)) (E, bool) {
	o, bad := api.DecodeObject(c.Request.Body, fields...)
	if bad == nil {
		var e E
		if e, bad = decode(o); bad == nil {
			return e, true
		}
	}
	h.fail(c, bad)
	var zero E
	return zero, false
}

// found reads the row path parameter param names with get, inside the
// caller's tenant; a malformed, unknown or another tenant's id is a 404
// naming what.
func found[T any](h *handlers, c *gin.Context, param, what string, get func(context.Context, uuid.UUID, uuid.UUID) (T, error)) (T, bool) {
	var zero T
	id, bad := pathID(c, param, what)
	if bad != nil {
		h.fail(c, bad)
		return zero, false
	}
	row, err := get(c.Request.Context(), api.Principal(c).TenantID, id)
	if errors.Is(err, projections.ErrNotFound) {
		err = notFound(what)
	}
	if err != nil {
		h.fail(c, err)
		return zero, false
	}
	return row, true
}
