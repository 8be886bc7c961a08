package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/crmcore/crm/api"
)

// TestOffsetsBounded: every list endpoint of every dialect refuses a page
// that starts past api.MaxOffset rows (a lead's history: past the integer
// range) with 400 in its own shape naming the parameter, and serves one
// that starts at the bound.
func TestOffsetsBounded(t *testing.T) {
	s := newStack(t)
	id := strconv.FormatInt(s.laCreate(s.key, laPerson("Asha", "asha@example.com")).ID, 10)
	max, over := strconv.Itoa(api.MaxOffset), strconv.Itoa(api.MaxOffset+1)
	for _, c := range []struct {
		ok, refused string
		named       string // the error body names the parameter so
	}{
		{"/api/v1/leads?offset=" + max, "/api/v1/leads?offset=" + over, `"field":"offset"`},
		{"/api/v1/call-logs?offset=" + max, "/api/v1/call-logs?offset=" + over, `"field":"offset"`},
		{"/api/crm/lead?offset=" + max, "/api/crm/lead?offset=" + over, `"param":"offset"`},
		{"/leads?limit=1&page=" + strconv.Itoa(api.MaxOffset+1), "/leads?limit=1&page=" + strconv.Itoa(api.MaxOffset+2), `"field":"page"`},
		{"/leads?limit=100&page=1001", "/leads?limit=100&page=1002", `"field":"page"`},
		{"/leads?page=999999999", "/leads?page=9999999999", `"field":"page"`},
		{"/leads/search?q=asha&limit=50&page=2001", "/leads/search?q=asha&limit=50&page=2002", `"field":"page"`},
		// One lead's history is read by stream version, a page costing its own
		// rows at any depth: its bound is the integer range, so the oldest
		// entries of a lead past 100,000 events stay reachable.
		{"/leads/logs/" + id + "?limit=200&page=1000", "/leads/logs/" + id + "?limit=1&page=2147483649", `"field":"page"`},
		{"/leads/logs-and-comments/" + id + "?limit=200&page=1000", "/leads/logs-and-comments/" + id + "?limit=1&page=2147483649", `"field":"page"`},
	} {
		if !strings.HasPrefix(c.ok, "/leads?page=") {
			if r := s.do(s.key, "GET", c.ok, nil); r.Status != http.StatusOK {
				t.Errorf("GET %s: %d %s, want 200 (at the bound)", c.ok, r.Status, r.Body)
			}
		}
		r := s.do(s.key, "GET", c.refused, nil)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), c.named) {
			t.Errorf("GET %s: %d %s, want 400 naming %s", c.refused, r.Status, r.Body, c.named)
		}
	}
}
