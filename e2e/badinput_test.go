package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

// randomJSON builds a JSON value of random shape: the kinds of things a
// broken or hostile client sends.
func randomJSON(rng *rand.Rand, depth int) any {
	strs := []string{"", " ", "x", "New", "Won", "Lead", "+91 98765 43210", "a@b.co", "not an email", "2026-04-22T10:30:00Z",
		"2026-13-45", "0190a5a0-0000-7000-8000-000000000000", "lead_0190a5a000007000800000000000000", "'; drop table events; --",
		"%_\\", "ünïcödé ✓", strings.Repeat("long ", 400), "blue", "-1", "1e309", "null"}
	switch k := rng.IntN(9); {
	case k == 0:
		return nil
	case k == 1:
		return rng.IntN(2) == 0
	case k == 2:
		return []float64{0, -1, 1.5, 1e308, -1e308, 42, 3e9}[rng.IntN(7)]
	case k < 6 || depth > 2:
		return strs[rng.IntN(len(strs))]
	case k == 6:
		n := rng.IntN(4)
		out := make([]any, n)
		for i := range out {
			out[i] = randomJSON(rng, depth+1)
		}
		return out
	default:
		return randomObject(rng, nil, depth+1)
	}
}

// randomObject builds an object whose keys are mostly real field names.
func randomObject(rng *rand.Rand, fields []string, depth int) map[string]any {
	m := map[string]any{}
	for range rng.IntN(6) + 1 {
		key := fmt.Sprintf("k%d", rng.IntN(3))
		if len(fields) > 0 && rng.IntN(5) > 0 {
			key = fields[rng.IntN(len(fields))]
		}
		m[key] = randomJSON(rng, depth)
	}
	return m
}

// TestRandomBadInputNeverGets5xx throws random bodies at every write
// endpoint of every API: whatever comes back, it is never a 5xx, and the
// read models still equal a replay.
func TestRandomBadInputNeverGets5xx(t *testing.T) {
	s := newStack(t)
	lead := s.createLead(s.key, rahul)
	s.laWant(s.do(s.key, "POST", "/leads/comments/1", map[string]any{"content": "hello"}), 201, nil)
	routes := []struct {
		method, path string
		fields       []string
	}{
		{"POST", "/api/v1/leads", []string{"name", "phone", "email", "company", "city", "source", "status", "priority", "deal_value", "tags", "notes", "assigned_to"}},
		{"POST", "/api/v1/call-logs", []string{"lead_id", "call_type", "duration_seconds", "outcome", "notes", "called_at"}},
		{"POST", "/leads", []string{"firstName", "lastName", "business", "photo", "state", "statusId", "source", "phoneNumber", "email", "description", "location", "socialMedia", "position", "company"}},
		{"PUT", "/leads/1", []string{"firstName", "lastName", "business", "photo", "state", "statusId", "source", "phoneNumber", "email", "description", "location", "socialMedia", "position", "company"}},
		{"PUT", "/leads/change-status", []string{"ids", "statusId"}},
		{"PATCH", "/leads/archive", []string{"ids"}},
		{"PATCH", "/leads/restore", []string{"ids"}},
		{"DELETE", "/leads", []string{"ids"}},
		{"POST", "/leads/status", []string{"name", "primaryColor"}},
		{"PUT", "/leads/status/7", []string{"name", "primaryColor"}},
		{"PUT", "/leads/statuses/order", []string{"id", "statusOrder"}},
		{"POST", "/leads/comments/1", []string{"content"}},
		{"PUT", "/leads/comments/1", []string{"content"}},
		{"POST", "/leads/upload-photo", []string{"id", "photo"}},
		{"POST", "/api/crm/lead", []string{"lead_name", "email_id", "phone", "mobile_no", "status", "annual_revenue", "unsubscribed", "first_name", "company_name"}},
		{"PATCH", "/api/crm/lead/" + opIDOf(lead.ID), []string{"lead_name", "email_id", "phone", "mobile_no", "status", "annual_revenue", "disabled", "city"}},
	}
	rng := rand.New(rand.NewPCG(42, 7))
	for _, r := range routes {
		for i := range 25 {
			var body any = randomObject(rng, r.fields, 0)
			if i%5 == 0 {
				body = randomJSON(rng, 0) // not even an object, sometimes
			}
			raw, _ := json.Marshal(body)
			res := s.do(s.key, r.method, r.path, raw)
			if res.Status >= 500 {
				t.Errorf("%s %s with %s: %d %s", r.method, r.path, raw, res.Status, res.Body)
			}
		}
	}
	s.assertReplayEqual()
}

// TestHostileQueriesAndBodies sends SQL metacharacters in every filter,
// sort and search parameter, and deeply nested and huge JSON: each answer
// is a 2xx or a 4xx, and the data is untouched.
func TestHostileQueriesAndBodies(t *testing.T) {
	s := newStack(t)
	s.createLead(s.key, rahul)
	before := len(s.events())
	hostile := []string{"'", `"`, "';--", "' or '1'='1", "1; drop table events; --", "%", "_", `\`, "$1", "::text", "/*", ") or (1=1"}
	params := map[string][]string{
		"/api/v1/leads":       {"status", "source", "priority", "assigned_to", "from_date", "to_date", "limit", "offset"},
		"/api/v1/call-logs":   {"lead_id", "call_type", "from_date", "to_date", "limit", "offset"},
		"/leads":              {"page", "limit", "state", "statusId"},
		"/leads/search":       {"q", "page", "limit"},
		"/leads/leads-volume": {"from", "to"},
		"/leads/recent-leads": {"limit"},
		"/api/crm/lead":       {"limit", "offset"},
	}
	for path, names := range params {
		for _, name := range names {
			for _, h := range hostile {
				r := s.do(s.key, "GET", path+"?"+name+"="+url.QueryEscape(h), nil)
				if r.Status >= 500 || (r.Status >= 200 && r.Status < 400 && r.Status != 200) {
					t.Errorf("GET %s?%s=%q: %d %s", path, name, h, r.Status, r.Body)
				}
			}
		}
	}
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	for _, body := range []string{
		`{"name":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`,
		deep,
		`{"name":"` + strings.Repeat("x", 2<<20) + `"}`,
		`{"name":"x","tags":[` + strings.Repeat(`"t",`, 100000) + `"t"]}`,
	} {
		for _, path := range []string{"/api/v1/leads", "/leads", "/api/crm/lead"} {
			r := s.do(s.key, "POST", path, body)
			if r.Status < 400 || r.Status >= 500 {
				t.Errorf("POST %s with %d bytes of hostile JSON: %d %.200s", path, len(body), r.Status, r.Body)
			}
		}
	}
	if after := len(s.events()); after != before {
		t.Fatalf("hostile requests wrote %d events", after-before)
	}
	if got := s.listLeads(s.key, "").Total; got != 1 {
		t.Fatalf("%d leads after hostile requests, want 1", got)
	}
}
