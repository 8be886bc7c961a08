package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/leads"
	crmstack "github.com/crmcore/crm/stack"
)

// TestPipelineStatusesReadTheSameInEveryAPI adds a status through the Leads
// API and moves a lead to it there: Cratio and Overplane show it by the
// pipeline's name at once, Overplane can set it by name, and a rename shows
// everywhere.
func TestPipelineStatusesReadTheSameInEveryAPI(t *testing.T) {
	s := newStack(t)
	lead := s.createLead(s.key, rahul)
	var status struct {
		ID int64 `json:"id"`
	}
	s.laWant(s.do(s.key, "POST", "/leads/status", map[string]any{"name": "Negotiation", "primaryColor": "salmon"}), 201, &status)
	row, err := leads.NewReader(s.core.Pool).GetLead(s.ctx, s.tenantID, uuid.MustParse(lead.ID))
	if err != nil {
		t.Fatal(err)
	}
	ll := row.Number // the lead's id in the Leads API
	s.laWant(s.do(s.key, "PUT", "/leads/change-status", map[string]any{"ids": []int64{ll}, "statusId": status.ID}), 200, nil)

	if got := s.listLeads(s.key, "").Data[0].Status; got != "Negotiation" {
		t.Fatalf("Cratio shows status %q, want Negotiation", got)
	}
	if got := s.opGet(s.key, opIDOf(lead.ID)).Status; got != "Negotiation" {
		t.Fatalf("Overplane shows status %q, want Negotiation", got)
	}
	// Overplane sets statuses by their pipeline names, ignoring case.
	if got := s.opPatch(s.key, opIDOf(lead.ID), map[string]any{"status": "won"}).Status; got != "Won" {
		t.Fatalf("Overplane status after PATCH won: %q", got)
	}
	if got := s.listLeads(s.key, "?status=Won").Total; got != 1 {
		t.Fatalf("Cratio sees %d Won leads", got)
	}
	if got := s.opPatch(s.key, opIDOf(lead.ID), map[string]any{"status": "NEGOTIATION"}).Status; got != "Negotiation" {
		t.Fatalf("Overplane status after PATCH NEGOTIATION: %q", got)
	}
	r := s.do(s.key, "PATCH", "/api/crm/lead/"+opIDOf(lead.ID), map[string]any{"status": "Closed"})
	opFail(t, r, http.StatusBadRequest, "invalid_request_error", "parameter_invalid", "status")

	// A rename shows in every API that names the status.
	s.laWant(s.do(s.key, "PUT", "/leads/status/"+strconv.FormatInt(status.ID, 10), map[string]any{"name": "Negotiating", "primaryColor": "salmon"}), 200, nil)
	if got := s.opGet(s.key, opIDOf(lead.ID)).Status; got != "Negotiating" {
		t.Fatalf("Overplane after rename: %q", got)
	}
	if got := s.listLeads(s.key, "").Data[0].Status; got != "Negotiating" {
		t.Fatalf("Cratio after rename: %q", got)
	}
	if got := s.laGet(s.key, ll).Status; got != "Negotiating" {
		t.Fatalf("Leads API after rename: %q", got)
	}
	s.assertReplayEqual()
}

// TestDashboardsAndLogsEqualAReplay reads the dashboards, the pipeline and a
// lead's logs, rebuilds every read model from the event store, and reads
// them again: the answers are the same, byte for byte.
func TestDashboardsAndLogsEqualAReplay(t *testing.T) {
	s := newStack(t)
	for i := range 6 {
		s.laCreate(s.key, laPerson(fmt.Sprintf("P%d", i), fmt.Sprintf("p%d@example.com", i)))
	}
	s.createLead(s.key, rahul) // through Cratio: lead 7
	var st struct {
		ID int64 `json:"id"`
	}
	s.laWant(s.do(s.key, "POST", "/leads/status", map[string]any{"name": "Demo", "primaryColor": "teal"}), 400, nil)
	s.laWant(s.do(s.key, "POST", "/leads/status", map[string]any{"name": "Demo", "primaryColor": "skyblue"}), 201, &st)
	s.laWant(s.do(s.key, "PUT", "/leads/change-status", map[string]any{"ids": []int64{1, 2, 7}, "statusId": st.ID}), 200, nil)
	s.laWant(s.do(s.key, "PUT", "/leads/change-status", map[string]any{"ids": []int64{3}, "statusId": 5}), 200, nil)
	s.laWant(s.do(s.key, "POST", "/leads/comments/1", map[string]any{"content": "Asked for a demo"}), 201, nil)
	s.laWant(s.do(s.key, "PATCH", "/leads/archive", map[string]any{"ids": []int64{4}}), 200, nil)
	s.laWant(s.do(s.key, "DELETE", "/leads", map[string]any{"ids": []int64{5}}), 200, nil)
	s.laWant(s.do(s.key, "PUT", "/leads/statuses/order", []map[string]any{{"id": st.ID, "statusOrder": 1}}), 200, nil)

	paths := []string{"/leads/leads-volume", "/leads/total-leads", "/leads/statuses", "/leads/recent-leads",
		"/leads?state=All", "/leads/logs/1", "/leads/logs-and-comments/1", "/api/v1/leads", "/api/crm/lead"}
	read := func() map[string]string {
		out := map[string]string{}
		for _, p := range paths {
			r := s.do(s.key, "GET", p, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", p, r.Status, r.Body)
			}
			out[p] = string(r.Body)
		}
		return out
	}
	s.caughtUp()
	before := read()
	for _, p := range crmstack.Projections() {
		if err := projections.Replay(s.ctx, s.core.Store, p, 3, nil); err != nil {
			t.Fatal(err)
		}
	}
	after := read()
	for _, p := range paths {
		if before[p] != after[p] {
			t.Errorf("GET %s changed with a replay:\nbefore %s\nafter  %s", p, before[p], after[p])
		}
	}
	s.assertReplayEqual()
}

// TestTextPostgresCannotStoreIsRefused sends NUL characters and invalid
// UTF-8 in bodies, queries and paths of every API: 400 naming the field,
// never a 5xx, nothing written.
func TestTextPostgresCannotStoreIsRefused(t *testing.T) {
	s := newStack(t)
	s.createLead(s.key, rahul)
	before := len(s.events())
	for _, c := range []struct {
		method, path string
		body         any
		field        string
	}{
		{"POST", "/api/v1/leads", `{"name":"a\u0000b","email":"nul@example.com"}`, "name"},
		{"POST", "/api/v1/leads", `{"name":"a","email":"nul@example.com","tags":["x\u0000"]}`, "tags"},
		{"GET", "/api/v1/leads?source=%00", nil, "source"},
		{"GET", "/api/v1/leads?source=%ff", nil, "source"},
		{"POST", "/leads", `{"firstName":"a\u0000b","email":"nul2@example.com"}`, "firstName"},
		{"POST", "/leads/status", `{"name":"a\u0000b","primaryColor":"blue"}`, "name"},
		{"GET", "/leads/search?q=%00", nil, "q"},
		{"POST", "/api/crm/lead", `{"lead_name":"a\u0000b","email_id":"nul3@example.com"}`, "lead_name"},
		{"GET", "/api/crm/lead?limit=%00", nil, "limit"},
	} {
		r := s.do(s.key, c.method, c.path, c.body)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"`+c.field+`"`) {
			t.Errorf("%s %s: %d %s, want 400 naming %s", c.method, c.path, r.Status, r.Body, c.field)
		}
	}
	if after := len(s.events()); after != before {
		t.Fatalf("refused requests wrote %d events", after-before)
	}
}
