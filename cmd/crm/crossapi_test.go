package main

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/projections"
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
	row, err := projections.NewReader(s.core.pool).GetLead(s.ctx, s.tenantID, uuid.MustParse(lead.ID))
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
