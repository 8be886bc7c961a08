package api

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/crmerr"
)

// TestFailAnswersByCode: Deps.Fail answers each error by its code's row,
// sets Retry-After where a retry may succeed, and logs exactly the errors
// it answers as internal: an unknown error, and a code the shape lacks.
func TestFailAnswersByCode(t *testing.T) {
	gin.SetMode(gin.TestMode)
	shape := &ErrorShape{
		Name:     "test",
		BadInput: func(bad *BadInput) any { return gin.H{"bad": bad.Reason} },
		Codes: map[string]Answer{
			crmerr.NotFound: func(_ *gin.Context, err error) (int, any) {
				return http.StatusNotFound, gin.H{"msg": crmerr.Message(err)}
			},
			crmerr.Busy:     func(*gin.Context, error) (int, any) { return http.StatusConflict, gin.H{"msg": "busy"} },
			crmerr.Internal: func(*gin.Context, error) (int, any) { return http.StatusInternalServerError, gin.H{"msg": "internal"} },
		},
	}
	notFound := crmerr.New(crmerr.NotFound, "thing not found")
	for _, c := range []struct {
		name       string
		err        error
		status     int
		body       string
		retryAfter string
		logged     bool
	}{
		{"declared code, wrapped", fmt.Errorf("load: %w", notFound), 404, `{"msg":"thing not found"}`, "", false},
		{"busy", crmerr.New(crmerr.Busy, "busy"), 409, `{"msg":"busy"}`, "1", false},
		{"bad input keeps its status", Invalid("name", "is bad"), 422, `{"bad":"is bad"}`, "", false},
		{"unknown error", errors.New("boom"), 500, `{"msg":"internal"}`, "", true},
		{"code without a row", crmerr.New(crmerr.Limit, "full"), 500, `{"msg":"internal"}`, "", true},
	} {
		var logs bytes.Buffer
		d := &Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		w := httptest.NewRecorder()
		ctx, _ := gin.CreateTestContext(w)
		ctx.Request = httptest.NewRequest(http.MethodGet, "/", nil)
		d.Fail(ctx, c.err, shape)
		if w.Code != c.status || w.Body.String() != c.body || w.Header().Get("Retry-After") != c.retryAfter {
			t.Errorf("%s: got %d %s (Retry-After %q), want %d %s (Retry-After %q)", c.name,
				w.Code, w.Body, w.Header().Get("Retry-After"), c.status, c.body, c.retryAfter)
		}
		if lines := strings.Count(logs.String(), "test request failed"); lines != map[bool]int{true: 1}[c.logged] {
			t.Errorf("%s: %d log lines, want logged=%v: %s", c.name, lines, c.logged, logs.String())
		}
	}
}
