package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/domain"
)

// BadInput is a request the API refuses, with the field to blame. Dialects
// render it in their own error shape.
type BadInput struct {
	Status int    // 400, 404, 413, 422
	Code   string // stable machine-readable code
	Field  string // the offending field or parameter, as FieldName names it; empty for the whole body
	Reason string // what is wrong, for a human
}

func (e *BadInput) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// FieldName is what a BadInput calls the field or parameter sent with the
// name key: key itself, but `""` for the empty name, since an empty Field
// blames the whole body and every dialect would show no field at all.
func FieldName(key string) string {
	if key == "" {
		return `""`
	}
	return key
}

// Invalid is a 422 for a well-formed value the API does not accept.
func Invalid(field, reason string) *BadInput {
	return &BadInput{Status: http.StatusUnprocessableEntity, Code: "invalid_field", Field: field, Reason: reason}
}

// MaxOffset is the deepest row a list may start at, in every dialect: a
// deeper offset makes Postgres read and drop every row before it, so it is
// refused with 400 naming the parameter. Filters narrow a list further.
const MaxOffset = 100_000

// BadParam is a 400 for a malformed query or path parameter.
func BadParam(field, reason string) *BadInput {
	return &BadInput{Status: http.StatusBadRequest, Code: "invalid_parameter", Field: field, Reason: reason}
}

// Object is a decoded JSON object body whose fields are read one by one, so
// every error names its field.
type Object struct {
	fields map[string]json.RawMessage
}

// DecodeObject reads a JSON object body, refusing what is not one: invalid
// UTF-8, malformed JSON, trailing data, too large (413) and fields not in
// allowed.
func DecodeObject(r io.Reader, allowed ...string) (Object, *BadInput) {
	raw, err := io.ReadAll(r)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return Object{}, &BadInput{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Reason: fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit)}
	}
	if err != nil {
		return Object{}, &BadInput{Status: http.StatusBadRequest, Code: "invalid_body", Reason: "could not read the request body"}
	}
	if !utf8.Valid(raw) {
		return Object{}, &BadInput{Status: http.StatusBadRequest, Code: "invalid_json", Reason: "request body is not valid UTF-8"}
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		reason := "request body must be a JSON object"
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			reason = fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
		}
		return Object{}, &BadInput{Status: http.StatusBadRequest, Code: "invalid_json", Reason: reason}
	}
	// Only whitespace may follow the object. (Decoder.More would not do:
	// it is false before a stray ']' or '}', so `{"a":1}]` would pass.)
	if _, err := dec.Token(); err != io.EOF {
		return Object{}, &BadInput{Status: http.StatusBadRequest, Code: "invalid_json", Reason: "unexpected data after the JSON object"}
	}
	ok := make(map[string]bool, len(allowed))
	for _, a := range allowed {
		ok[a] = true
	}
	var unknown []string
	for k := range fields {
		if !ok[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Object{}, &BadInput{Status: http.StatusBadRequest, Code: "unknown_field", Field: FieldName(unknown[0]), Reason: "unknown field"}
	}
	for name, raw := range fields {
		if hasNUL(raw) {
			return Object{}, &BadInput{Status: http.StatusBadRequest, Code: "invalid_json", Field: FieldName(name),
				Reason: "must not contain NUL characters"}
		}
	}
	return Object{fields: fields}, nil
}

// hasNUL reports whether a JSON value holds a string with a NUL character
// (written \u0000): valid JSON, but no text Postgres can store.
func hasNUL(raw json.RawMessage) bool {
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return false
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return false
	}
	return walkStrings(v, func(s string) bool { return strings.ContainsRune(s, 0) })
}

// walkStrings reports whether found holds for any string in v, keys included.
func walkStrings(v any, found func(string) bool) bool {
	switch t := v.(type) {
	case string:
		return found(t)
	case []any:
		for _, e := range t {
			if walkStrings(e, found) {
				return true
			}
		}
	case map[string]any:
		for k, e := range t {
			if found(k) || walkStrings(e, found) {
				return true
			}
		}
	}
	return false
}

// CheckParams refuses query parameters that are not valid UTF-8 or hold a
// NUL character, with a 400 naming the parameter, rendered by the dialect's
// fail: no such text reaches a query. (Path parameters are ids and names
// each dialect parses strictly itself.)
func CheckParams(fail func(*gin.Context, error)) gin.HandlerFunc {
	bad := func(s string) bool { return !utf8.ValidString(s) || strings.ContainsRune(s, 0) }
	return func(c *gin.Context) {
		for k, vs := range c.Request.URL.Query() {
			for _, v := range vs {
				if bad(k) || bad(v) {
					fail(c, BadParam(FieldName(k), "must be valid UTF-8 text without NUL characters"))
					c.Abort()
					return
				}
			}
		}
		c.Next()
	}
}

// Sent reports whether the field is present, null included: PATCH-style
// APIs tell an explicit null (clear it) from a field not sent (keep it).
func (o Object) Sent(name string) bool {
	_, ok := o.fields[name]
	return ok
}

// Keys lists the fields present, null included.
func (o Object) Keys() []string {
	keys := make([]string, 0, len(o.fields))
	for k := range o.fields {
		keys = append(keys, k)
	}
	return keys
}

// Has reports whether the field is present and not null.
func (o Object) Has(name string) bool {
	raw, ok := o.fields[name]
	return ok && string(raw) != "null"
}

// Field decodes one field into T; absent or null leaves the zero value and
// false. A value of the wrong JSON type is a 400 naming the field.
func Field[T any](o Object, name, want string) (T, bool, *BadInput) {
	var v T
	if !o.Has(name) {
		return v, false, nil
	}
	if err := json.Unmarshal(o.fields[name], &v); err != nil {
		return v, false, &BadInput{Status: http.StatusBadRequest, Code: "invalid_type", Field: name, Reason: "must be " + want}
	}
	return v, true, nil
}

// Refusals is a dialect's table of answers to what domain.NormalizeProfile
// refuses: for each profile field ("phones", "assigned_to"), the dialect's
// own field and words for a refused entry of it. The domain normalizes
// every dialect's input in one place; this table is all a dialect keeps of
// it. The "" row answers a field the table does not list.
type Refusals map[string]func(domain.EntryError) *BadInput

// For is the answer to the first refused entry of field in err, nil when
// err (NormalizeProfile's) refused none: a dialect asks field by field, in
// the order its API has always checked its fields.
func (r Refusals) For(err error, field string) *BadInput {
	var refused *domain.NormalizeError
	if !errors.As(err, &refused) {
		return nil
	}
	e, ok := refused.Entry(field)
	if !ok {
		return nil
	}
	return r.answer(e)
}

// First is the answer to the first entry err refused, nil for a nil err.
// An error that is not NormalizeProfile's is an invalid "" field.
func (r Refusals) First(err error) *BadInput {
	if err == nil {
		return nil
	}
	var refused *domain.NormalizeError
	if !errors.As(err, &refused) {
		return r.answer(domain.EntryError{Reason: err.Error()})
	}
	return r.answer(refused.Entries[0])
}

func (r Refusals) answer(e domain.EntryError) *BadInput {
	if answer, ok := r[e.Field]; ok {
		return answer(e)
	}
	return r[""](e)
}

// ListOf is a list field holding the one value v a dialect sends as a
// single field (Cratio's phone, Overplane's email_id), or none when v is
// blank.
func ListOf(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	return []string{v}
}

// FirstBad is the first refusal of steps, nil when there is none. A
// dialect reads a whole body, normalizes it once (domain.NormalizeProfile)
// and then lists each field's type refusal and value checks in the order
// its API has always judged them, so a body with several faults is still
// answered with the one it always was.
func FirstBad(steps ...*BadInput) *BadInput {
	for _, bad := range steps {
		if bad != nil {
			return bad
		}
	}
	return nil
}

// When is bad when cond holds, else nil: a value check for FirstBad.
func When(cond bool, bad *BadInput) *BadInput {
	if cond {
		return bad
	}
	return nil
}
