package devcrm

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
)

// FuzzReportQuery: the reports' from and to. A refusal names from or to
// and renders in the API's shape; an accepted window is ordered and inside
// the bounds; the engine answers each report route as the parser decided.
func FuzzReportQuery(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"2026-01-01", "2026-01-31"}, {"2026-01-31", "2026-01-01"}, {"2026-02-30", ""}, {"", "2026-13-01"},
		{"2026-01-01T23:59:59+05:30", "2026-01-01T18:30:00Z"}, {"0000-01-01", ""}, {"1899-12-31", "9999-12-31"},
		{"", "9999-12-31T23:59:59-14:00"}, {"2026-01-01T00:00:00Z", "2026-01-01"}, {"yesterday", ""}, {" 2026-01-01 ", "\t"},
		{"2026-1-1", ""}, {"20260101", ""}, {"2026-01-01T00:00:00", ""}, {"\x00", "\xff"},
	} {
		f.Add(s[0], s[1])
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, from, to string) {
		raw := url.Values{"from": {from}, "to": {to}}.Encode()
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodGet, "/?"+raw, nil)
		w, bad := windowQuery(c)
		if bad != nil {
			refused := a.checkRefusal(t, bad)
			var e errorBody
			if err := json.Unmarshal(refused.Body.Bytes(), &e); err != nil || (e.Field != "from" && e.Field != "to") {
				t.Fatalf("from %q to %q: refusal %s names neither from nor to", from, to, refused.Body.Bytes())
			}
		} else {
			if !w.First.IsZero() && !w.Last.IsZero() && w.Last.Before(w.First) {
				t.Fatalf("from %q to %q: accepted %v after %v", from, to, w.First, w.Last)
			}
			for _, d := range []time.Time{w.First, w.Last} {
				if !d.IsZero() && (d.Year() < 1900 || d.Year() > 9999 || d.Hour() != 0 || d.Minute() != 0) {
					t.Fatalf("from %q to %q: accepted day %v", from, to, d)
				}
			}
		}
		for _, route := range []string{"/dev/crm/reports/leads", "/dev/crm/reports/customers"} {
			engine := a.Serve(http.MethodGet, route, raw, nil, "", false)
			if unsafeParam(from) || unsafeParam(to) { // refused before the route (api.CheckParams)
				if engine.Code != http.StatusBadRequest {
					t.Fatalf("GET %s?%s: %d, want 400", route, raw, engine.Code)
				}
				a.CheckErrorSchema(t, engine)
				continue
			}
			a.Decoded(t, "GET "+route, engine, bad, func(t *testing.T, bad *api.BadInput) *httptest.ResponseRecorder {
				return a.checkRefusal(t, bad)
			})
		}
	})
}

// unsafeParam says api.CheckParams refuses v.
func unsafeParam(v string) bool { return !utf8.ValidString(v) || strings.ContainsRune(v, 0) }
