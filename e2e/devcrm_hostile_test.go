package e2e

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"testing"
)

// TestDevcrmRandomAndHostileInput: random bodies at every /dev/crm write
// and SQL metacharacters in every filter are answered 2xx or 4xx, never a
// 5xx, and the read models still equal a replay.
func TestDevcrmRandomAndHostileInput(t *testing.T) {
	s := newStack(t)
	l := s.dcCreate(s.key, map[string]any{"name": "Rand", "email": "rand@example.com"})
	c := s.dcCustomerCreate(s.key, map[string]any{"name": "Cust", "email": "cust@example.com"})
	var li, ci dcInteraction
	s.dcWant(s.do(s.key, "POST", "/dev/crm/leads/"+l.ID+"/interactions", map[string]any{"type": "call"}), http.StatusCreated, &li)
	s.dcWant(s.do(s.key, "POST", "/dev/crm/customers/"+c.ID+"/interactions", map[string]any{"type": "call", "subject": "S", "date": "2026-01-01"}), http.StatusCreated, &ci)
	leadFields := []string{"name", "email", "phone", "company", "source", "campaign_id", "status", "score", "notes", "last_contact", "custom_fields", "assigned_to"}
	customerFields := []string{"name", "email", "lead_id", "phone", "company", "type", "status", "billing_address", "credit_limit", "custom_fields", "assigned_to", "notes"}
	routes := []struct {
		method, path string
		fields       []string
	}{
		{"POST", "/dev/crm/leads", leadFields},
		{"PUT", "/dev/crm/leads/" + l.ID, leadFields},
		{"POST", "/dev/crm/customers", customerFields},
		{"PUT", "/dev/crm/customers/" + c.ID, customerFields},
		{"POST", "/dev/crm/leads/" + l.ID + "/interactions", []string{"type", "notes", "next_action", "next_action_date"}},
		{"PUT", "/dev/crm/leads/" + l.ID + "/interactions/" + li.ID, []string{"type", "notes", "next_action", "next_action_date"}},
		{"POST", "/dev/crm/customers/" + c.ID + "/interactions", []string{"type", "subject", "date", "description", "outcome", "next_action_date"}},
		{"PUT", "/dev/crm/customers/" + c.ID + "/interactions/" + ci.ID, []string{"type", "subject", "date", "description", "outcome", "next_action_date"}},
	}
	rng := rand.New(rand.NewPCG(42, 11))
	for _, r := range routes {
		for i := range 25 {
			var body any = randomObject(rng, r.fields, 0)
			if i%5 == 0 {
				body = randomJSON(rng, 0)
			}
			raw, _ := json.Marshal(body)
			if res := s.settled(s.do(s.key, r.method, r.path, raw)); res.Status >= 500 {
				t.Errorf("%s %s with %s: %d %s", r.method, r.path, raw, res.Status, res.Body)
			}
		}
	}
	hostile := []string{"'", `"`, "';--", "' or '1'='1", "1; drop table events; --", "%", "_", `\`, "$1", "::text", "/*", ") or (1=1"}
	for path, names := range map[string][]string{
		"/dev/crm/leads":     {"status", "source", "assigned_to", "search", "limit", "offset"},
		"/dev/crm/customers": {"status", "type", "search", "limit", "offset"},
	} {
		for _, name := range names {
			for _, h := range hostile {
				if r := s.do(s.key, "GET", path+"?"+name+"="+url.QueryEscape(h), nil); r.Status != 200 && r.Status != 400 {
					t.Errorf("GET %s?%s=%q: %d %s", path, name, h, r.Status, r.Body)
				}
			}
		}
	}
	s.assertReplayEqual()
}
