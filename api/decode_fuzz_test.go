package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// bodyLevelCodes are the refusals that blame the whole body, so name no field.
var bodyLevelCodes = map[string]bool{"invalid_json": true, "invalid_body": true, "body_too_large": true}

// checkRefusal holds every refusal of the shared decoders to the contract
// the dialects render: a 4xx with a code and a reason, naming the field
// (one called "" included) unless the whole body is at fault, and naming
// only a field that was sent, as FieldName names it.
func checkRefusal(t *testing.T, bad *BadInput, sent map[string]bool) {
	t.Helper()
	if bad.Status < 400 || bad.Status > 499 {
		t.Fatalf("refusal %+v: status is not 4xx", bad)
	}
	if bad.Code == "" || bad.Reason == "" {
		t.Fatalf("refusal %+v: no code or reason", bad)
	}
	if bad.Field == "" && !bodyLevelCodes[bad.Code] {
		t.Fatalf("refusal %+v names no field and is not about the whole body", bad)
	}
	if bad.Field != "" && !sent[bad.Field] {
		t.Fatalf("refusal %+v names a field that was not sent", bad)
	}
}

// sentNames is the names refusals may give the keys of a JSON object body:
// none when it is not one.
func sentNames(data []byte) map[string]bool {
	var fields map[string]json.RawMessage
	if json.NewDecoder(bytes.NewReader(data)).Decode(&fields) != nil {
		return nil
	}
	names := make(map[string]bool, len(fields))
	for k := range fields {
		names[FieldName(k)] = true
	}
	return names
}

// FuzzDecodeObject: whatever the body, DecodeObject never panics; it
// accepts only a UTF-8 JSON object of allowed fields without NUL text, and
// refuses everything else with a 4xx BadInput naming the field. Reading an
// accepted field as the wrong type is a 400 naming it.
func FuzzDecodeObject(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Rahul Sharma","email":"rahul@techcorp.in","tags":["hot"],"n":150000,"obj":{"a":1}}`,
		`{}`, `null`, `[]`, `"str"`, `42`, ``, ` `, `{`, `{"name":}`, `{"name":"a"} {"name":"b"}`, `{"name":"a"}]`,
		`{"name":"a"}}`, `{} {}`, `{}]`, `{} x`, `{}` + "\n\t ",
		`{"name":"a","name":"b"}`, `{"nope":1}`, `{"":1}`, `{"name":"\u0000"}`, `{"obj":{"\u0000":1}}`,
		`{"tags":["a","\u0000"]}`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}", "\xef\xbb\xbf{}", `{"n":1e400}`,
		`{"n":-0}`, `{"name":null,"email":null}`, `{"obj":[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]}`,
		`{"name":"` + strings.Repeat("x", 200) + `"}`, `{"NAME":"upper case is another field"}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	allowed := []string{"name", "email", "tags", "n", "obj"}
	f.Fuzz(func(t *testing.T, data []byte, small bool) {
		var r io.Reader = bytes.NewReader(data)
		if small { // the server's body cap, set low so the fuzzer reaches it
			r = http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(r), 64)
		}
		obj, bad := DecodeObject(r, allowed...)
		if bad != nil {
			checkRefusal(t, bad, sentNames(data))
			if small && len(data) > 64 && bad.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d bytes over a 64-byte cap: %+v, want 413", len(data), bad)
			}
			return
		}
		if !utf8.Valid(data) || !json.Valid(data) {
			t.Fatalf("accepted a body that is not UTF-8 JSON: %q", data)
		}
		if bytes.Contains(data, []byte(`\u0000`)) {
			var v any
			if err := json.Unmarshal(data, &v); err == nil && walkStrings(v, func(s string) bool { return strings.ContainsRune(s, 0) }) {
				t.Fatalf("accepted NUL text: %q", data)
			}
		}
		for _, k := range obj.Keys() {
			if !slices.Contains(allowed, k) {
				t.Fatalf("accepted unknown field %q", k)
			}
			if !obj.Sent(k) {
				t.Fatalf("Keys lists %q, Sent denies it", k)
			}
		}
		for _, name := range allowed {
			checkField[string](t, obj, name)
			checkField[float64](t, obj, name)
			checkField[int64](t, obj, name)
			checkField[int](t, obj, name)
			checkField[bool](t, obj, name)
			checkField[[]string](t, obj, name)
			checkField[[]int64](t, obj, name)
			checkField[json.RawMessage](t, obj, name)
		}
	})
}

// checkField reads one field as T: either a value, or a 400 naming it.
func checkField[T any](t *testing.T, obj Object, name string) {
	t.Helper()
	_, ok, bad := Field[T](obj, name, "a value")
	if bad != nil {
		if bad.Status != http.StatusBadRequest || bad.Code != "invalid_type" || bad.Field != name {
			t.Fatalf("Field %q: %+v", name, bad)
		}
		return
	}
	if ok != obj.Has(name) {
		t.Fatalf("Field %q: ok %v but Has %v", name, ok, obj.Has(name))
	}
}

// FuzzCheckParams: whatever the query string, the parameter guard never
// panics, lets through only UTF-8 text without NUL, and refuses with a 400
// naming the parameter.
func FuzzCheckParams(f *testing.F) {
	for _, seed := range []string{
		"", "limit=10&offset=0", "q=ana%20maria", "q=%00", "q=%ff", "%ff=1", "%00=1", "=x", "=%ff", "a=1&a=%ff",
		"a;b=c", "q=%", "q=%zz", "&&&", "q=\xff", "q=caf%C3%A9", "q=%ED%A0%80", "lead_id=0190a5a0-0000-7000-8000-000000000000",
	} {
		f.Add(seed)
	}
	gin.SetMode(gin.ReleaseMode)
	query := checkParamsQuery()
	f.Fuzz(func(t *testing.T, rawQuery string) {
		w, refused := query(rawQuery)

		values, _ := url.ParseQuery(rawQuery)
		if refused == nil {
			if w.Code != http.StatusNoContent {
				t.Fatalf("query %q: %d without a refusal", rawQuery, w.Code)
			}
			for k, vs := range values {
				for _, v := range append(vs, k) {
					if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
						t.Fatalf("query %q: let %q through", rawQuery, v)
					}
				}
			}
			return
		}
		sent := make(map[string]bool, len(values))
		for k := range values {
			sent[FieldName(k)] = true
		}
		checkRefusal(t, refused, sent)
		if w.Code != http.StatusBadRequest || refused.Code != "invalid_parameter" {
			t.Fatalf("query %q: %d %+v", rawQuery, w.Code, refused)
		}
	})
}
