package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
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
