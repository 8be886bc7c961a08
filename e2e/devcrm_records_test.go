package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestDevcrmLeadInteractions: a lead's interactions through /dev/crm,
// the prospects API's notes among them, and their permanent removal.
func TestDevcrmLeadInteractions(t *testing.T) {
	s := newStack(t)
	l := s.dcCreate(s.key, map[string]any{"name": "Ina", "email": "ina@example.com"})
	other := s.dcCreate(s.key, map[string]any{"name": "Otto", "email": "otto@example.com"})
	base := "/dev/crm/leads/" + l.ID + "/interactions"
	var call dcInteraction
	s.dcWant(s.do(s.key, "POST", base, map[string]any{"type": "call", "notes": "Discussed pricing and features",
		"next_action": "Send proposal", "next_action_date": "2024-01-15T10:00:00+05:30"}), http.StatusCreated, &call)
	if call.LeadID != l.ID || call.Type != "call" || *call.Notes != "Discussed pricing and features" ||
		*call.NextAction != "Send proposal" || *call.NextActionDate != "2024-01-15T04:30:00Z" {
		t.Fatalf("created %+v", call)
	}
	var note dcInteraction
	s.dcWant(s.do(s.key, "POST", base, map[string]any{"type": "note"}), http.StatusCreated, &note)

	// Partial: what is not sent stays; null clears.
	var up dcInteraction
	s.dcWant(s.do(s.key, "PUT", base+"/"+call.ID, map[string]any{"type": "meeting", "notes": "Updated notes",
		"next_action_date": nil}), http.StatusOK, &up)
	if up.ID != call.ID || up.Type != "meeting" || *up.Notes != "Updated notes" || *up.NextAction != "Send proposal" || up.NextActionDate != nil {
		t.Fatalf("updated %+v", up)
	}
	// Another lead's path does not find it.
	s.dcFails(s.do(s.key, "PUT", "/dev/crm/leads/"+other.ID+"/interactions/"+call.ID, map[string]any{"notes": "x"}),
		http.StatusNotFound, "", "interaction not found")
	s.dcFails(s.do(s.key, "DELETE", "/dev/crm/customers/"+l.ID+"/interactions/"+call.ID, nil), http.StatusNotFound, "", "interaction not found")

	// A note of the prospects API is one of its interactions (whatsapp
	// shows as note), and one made here is one of its notes.
	s.laWant(s.settled(s.do(s.token(), "POST", fmt.Sprintf("/prospects/%d/notes", s.leadNumber(l.ID)),
		map[string]any{"action": "whatsapp", "note": "pinged"})), http.StatusCreated, nil)
	var list dcList[dcInteraction]
	s.dcWant(s.do(s.key, "GET", base, nil), http.StatusOK, &list)
	if list.Total != 3 || len(list.Data) != 3 || list.Data[0].Type != "note" || *list.Data[0].Notes != "pinged" {
		t.Fatalf("list %+v", list)
	}
	s.dcWant(s.do(s.key, "GET", base+"?limit=1&offset=2", nil), http.StatusOK, &list)
	if list.Total != 3 || len(list.Data) != 1 || list.Data[0].ID != call.ID {
		t.Fatalf("page %+v", list)
	}

	s.dcWant(s.do(s.key, "DELETE", base+"/"+note.ID, nil), http.StatusNoContent, nil)
	s.dcFails(s.do(s.key, "DELETE", base+"/"+note.ID, nil), http.StatusNotFound, "", "interaction not found")
	s.dcWant(s.do(s.key, "GET", base, nil), http.StatusOK, &list)
	if list.Total != 2 {
		t.Fatalf("after delete %+v", list)
	}
	// Deleting the lead takes its interactions with it.
	s.dcWant(s.do(s.key, "DELETE", "/dev/crm/leads/"+l.ID, nil), http.StatusNoContent, nil)
	s.dcFails(s.do(s.key, "GET", base, nil), http.StatusNotFound, "", "lead not found")
	s.dcFails(s.do(s.key, "PUT", base+"/"+call.ID, map[string]any{"notes": "x"}), http.StatusNotFound, "", "interaction not found")
	for _, e := range s.events() {
		if strings.Contains(string(e.Data), "Discussed pricing") || strings.Contains(string(e.Data), "Updated notes") {
			t.Fatalf("event %s keeps the deleted lead's interaction: %s", e.Type, e.Data)
		}
	}
	s.assertReplayEqual()
}

// TestDevcrmCustomers: customers and their interactions through /dev/crm.
func TestDevcrmCustomers(t *testing.T) {
	s := newStack(t)
	lead := s.dcCreate(s.key, map[string]any{"name": "Source Lead", "email": "source@example.com"})
	owner := uuid.NewString()
	jane := s.dcCustomerCreate(s.key, map[string]any{"name": "Jane Smith", "email": "Jane@Example.com", "phone": "+14155552671",
		"company": "Tech Corp", "type": "business", "status": "active", "billing_address": "123 Main St", "payment_terms": "Net 30",
		"lead_id": lead.ID, "assigned_to": owner, "credit_limit": 500})
	if *jane.Email != "jane@example.com" || *jane.LeadID != lead.ID || jane.Type != "business" || *jane.CreditLimit != 500 {
		t.Fatalf("created %+v", jane)
	}
	solo := s.dcCustomerCreate(s.key, map[string]any{"name": "Solo", "email": "solo@example.com"})
	if solo.Type != "individual" || solo.Status != "active" || solo.LeadID != nil {
		t.Fatalf("defaults %+v", solo)
	}
	var up dcCustomer
	s.dcWant(s.do(s.key, "PUT", "/dev/crm/customers/"+solo.ID, map[string]any{"status": "blocked", "credit_limit": 10000.0,
		"notes": "Updated customer information"}), http.StatusOK, &up)
	if up.Status != "blocked" || *up.CreditLimit != 10000 || *up.Notes != "Updated customer information" || up.Name != "Solo" {
		t.Fatalf("updated %+v", up)
	}
	s.dcWant(s.do(s.key, "PUT", "/dev/crm/customers/"+solo.ID, map[string]any{"credit_limit": nil, "notes": nil}), http.StatusOK, &up)
	if up.CreditLimit != nil || up.Notes != nil {
		t.Fatalf("cleared %+v", up)
	}
	s.dcFails(s.do(s.key, "PUT", "/dev/crm/customers/"+solo.ID, map[string]any{"email": "jane@example.com"}), http.StatusConflict, "email", "another customer")
	list := func(query string, want ...string) {
		t.Helper()
		var l dcList[dcCustomer]
		s.dcWant(s.do(s.key, "GET", "/dev/crm/customers"+query, nil), http.StatusOK, &l)
		var ids []string
		for _, c := range l.Data {
			ids = append(ids, c.ID)
		}
		if l.Total != int64(len(want)) || strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Fatalf("GET /dev/crm/customers%s: %d %v, want %v", query, l.Total, ids, want)
		}
	}
	list("", solo.ID, jane.ID)
	list("?status=blocked", solo.ID)
	list("?type=business", jane.ID)
	list("?search=tech", jane.ID)

	base := "/dev/crm/customers/" + jane.ID + "/interactions"
	var ci dcInteraction
	s.dcWant(s.do(s.key, "POST", base, map[string]any{"type": "call", "subject": "Product Discussion",
		"description": "Discussed new features and pricing", "date": "2024-01-15T10:00:00Z", "outcome": "positive",
		"next_action": "Send proposal", "next_action_date": "2024-01-20"}), http.StatusCreated, &ci)
	if ci.CustomerID != jane.ID || ci.Subject != "Product Discussion" || ci.Date != "2024-01-15T10:00:00Z" ||
		*ci.Outcome != "positive" || *ci.NextActionDate != "2024-01-20T00:00:00Z" {
		t.Fatalf("created %+v", ci)
	}
	s.dcWant(s.do(s.key, "PUT", base+"/"+ci.ID, map[string]any{"description": "Updated interaction notes", "outcome": "completed"}), http.StatusOK, &ci)
	if *ci.Description != "Updated interaction notes" || *ci.Outcome != "completed" || ci.Subject != "Product Discussion" {
		t.Fatalf("updated %+v", ci)
	}
	s.dcFails(s.do(s.key, "PUT", base+"/"+ci.ID, map[string]any{"subject": ""}), http.StatusBadRequest, "subject", "is required")
	s.dcFails(s.do(s.key, "PUT", "/dev/crm/customers/"+solo.ID+"/interactions/"+ci.ID, map[string]any{"outcome": "x"}), http.StatusNotFound, "", "interaction not found")
	var cl dcList[dcInteraction]
	s.dcWant(s.do(s.key, "GET", base, nil), http.StatusOK, &cl)
	if cl.Total != 1 || cl.Data[0].ID != ci.ID {
		t.Fatalf("list %+v", cl)
	}
	second := s.dcCustomerCreate(s.key, map[string]any{"name": "Second", "email": "second@example.com"})
	var x dcInteraction
	s.dcWant(s.do(s.key, "POST", "/dev/crm/customers/"+second.ID+"/interactions", map[string]any{"type": "support", "subject": "Ticket", "date": "2024-02-01"}), http.StatusCreated, &x)
	s.dcWant(s.do(s.key, "DELETE", "/dev/crm/customers/"+second.ID+"/interactions/"+x.ID, nil), http.StatusNoContent, nil)

	// Delete: gone with its interactions, its email free again.
	s.dcWant(s.do(s.key, "DELETE", "/dev/crm/customers/"+jane.ID, nil), http.StatusNoContent, nil)
	s.dcFails(s.do(s.key, "GET", "/dev/crm/customers/"+jane.ID, nil), http.StatusNotFound, "", "customer not found")
	s.dcFails(s.do(s.key, "GET", base, nil), http.StatusNotFound, "", "customer not found")
	s.dcFails(s.do(s.key, "DELETE", "/dev/crm/customers/"+jane.ID, nil), http.StatusNotFound, "", "customer not found")
	s.dcCustomerCreate(s.key, map[string]any{"name": "Jane Again", "email": "jane@example.com"})
	s.assertReplayEqual()
}
