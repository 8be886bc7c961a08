package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestDecodeObject(t *testing.T) {
	allowed := []string{"a", "b"}
	tests := []struct {
		name  string
		body  string
		code  string // "" when the body is accepted
		field string
	}{
		{"object", `{"a":1,"b":"x"}`, "", ""},
		{"empty object", `{}`, "", ""},
		{"whitespace around", " \t\r\n{\"a\":1} \t\r\n", "", ""},
		{"not an object", `[]`, "invalid_json", ""},
		{"null", `null`, "invalid_json", ""},
		{"empty", ``, "invalid_json", ""},
		{"malformed", `{"a":}`, "invalid_json", ""},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "invalid_json", ""},
		{"closing bracket after", `{"a":1}]`, "invalid_json", ""},
		{"closing brace after", `{"a":1}}`, "invalid_json", ""},
		{"closing bracket then text after", `{"a":1}] junk`, "invalid_json", ""},
		{"second object after", `{} {}`, "invalid_json", ""},
		{"second object after without space", `{}{}`, "invalid_json", ""},
		{"value after", `{"a":1} 2`, "invalid_json", ""},
		{"text after", `{"a":1} x`, "invalid_json", ""},
		{"comma after", `{"a":1},`, "invalid_json", ""},
		{"NUL byte after", "{\"a\":1}\x00", "invalid_json", ""},
		{"unknown field", `{"a":1,"c":2}`, "unknown_field", "c"},
		{"unknown fields, first by name", `{"z":1,"c":2}`, "unknown_field", "c"},
		{"field named empty", `{"":1}`, "unknown_field", `""`},
		{"field named empty among others", `{"a":1,"":2}`, "unknown_field", `""`},
		{"NUL text", `{"a":"x\u0000"}`, "invalid_json", "a"},
		{"NUL in a nested key", `{"b":{"\u0000":1}}`, "invalid_json", "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, bad := DecodeObject(strings.NewReader(tt.body), allowed...)
			if tt.code == "" {
				if bad != nil {
					t.Fatalf("DecodeObject(%q) = %+v, want it accepted", tt.body, bad)
				}
				return
			}
			if bad == nil {
				t.Fatalf("DecodeObject(%q) accepted it, want %s", tt.body, tt.code)
			}
			if bad.Status != http.StatusBadRequest || bad.Code != tt.code || bad.Field != tt.field || bad.Reason == "" {
				t.Fatalf("DecodeObject(%q) = %+v, want a 400 %s naming %q", tt.body, bad, tt.code, tt.field)
			}
		})
	}
}

func TestDecodeObjectTooLarge(t *testing.T) {
	body := io.NopCloser(strings.NewReader(`{"a":"` + strings.Repeat("x", 64) + `"}`))
	r := http.MaxBytesReader(httptest.NewRecorder(), body, 16)
	_, bad := DecodeObject(r, "a")
	if bad == nil || bad.Status != http.StatusRequestEntityTooLarge || bad.Field != "" {
		t.Fatalf("DecodeObject over the cap = %+v, want a 413 naming no field", bad)
	}
}

func TestFieldName(t *testing.T) {
	for key, want := range map[string]string{"": `""`, "email": "email", " ": " ", `""`: `""`} {
		if got := FieldName(key); got != want {
			t.Errorf("FieldName(%q) = %q, want %q", key, got, want)
		}
	}
}

// checkParamsQuery serves GET /x behind CheckParams, which answers a
// refusal with its status alone: the function it returns sends one query
// and gives the answer and the refusal (nil when the query passed).
func checkParamsQuery() func(rawQuery string) (*httptest.ResponseRecorder, *BadInput) {
	var refused *BadInput
	r := gin.New()
	r.Use(CheckParams(func(c *gin.Context, err error) {
		refused, _ = err.(*BadInput)
		c.Status(refused.Status)
	}))
	r.GET("/x", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	return func(rawQuery string) (*httptest.ResponseRecorder, *BadInput) {
		refused = nil
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.URL.RawQuery = rawQuery
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w, refused
	}
}

func TestCheckParams(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	tests := []struct {
		query string
		field string // "" when the query passes
	}{
		{"limit=10&q=caf%C3%A9", ""},
		{"=x", ""},
		{"q=%00", "q"},
		{"q=%ff", "q"},
		{"%ff=1", "\xff"},
		{"=%ff", `""`},
		{"=%00", `""`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			w, refused := checkParamsQuery()(tt.query)
			if tt.field == "" {
				if refused != nil || w.Code != http.StatusNoContent {
					t.Fatalf("?%s: %d %+v, want it let through", tt.query, w.Code, refused)
				}
				return
			}
			if refused == nil || w.Code != http.StatusBadRequest || refused.Code != "invalid_parameter" || refused.Field != tt.field {
				t.Fatalf("?%s: %d %+v, want a 400 invalid_parameter naming %q", tt.query, w.Code, refused, tt.field)
			}
		})
	}
}
