package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// seedDevcrmA gives A's client (its one customer) an order and a feedback
// request, answered, through /dev/crm; devcrmProbes reads their ids back.
func seedDevcrmA(t *testing.T, s *stack, a *tenantA) {
	t.Helper()
	var customers dcList[dcCustomer]
	s.dcWant(s.do(a.key, "GET", "/dev/crm/customers", nil), http.StatusOK, &customers)
	if len(customers.Data) != 1 {
		t.Fatalf("A's customers %+v", customers)
	}
	client := customers.Data[0].ID
	s.dcOrderCreate(a.key, map[string]any{"customer_id": client, "product_id": "0a1fa000-0000-4000-8000-00000000a1fa",
		"quantity": 3, "notes": "alpha order notes"})
	f := s.dcFeedbackRequest(a.key, client)
	s.dcWant(s.do(a.key, "POST", "/dev/crm/feedback/"+f.ID, map[string]any{"rating": 4, "comment": "alpha feedback comment",
		"category": "alpha-theme"}), http.StatusOK, nil)
}

// devcrmProbes are B's probes of the /dev/crm API, with B's key: A's lead,
// customer and interaction ids name nothing; A's emails and phones are no
// duplicates for B. A's own ids are read first through A's key.
func devcrmProbes(t *testing.T, s *stack, a *tenantA, b *tenantB, add func(string, ...isolationProbe), idem func(string) http.Header) {
	t.Helper()
	var customers dcList[dcCustomer]
	s.dcWant(s.do(a.key, "GET", "/dev/crm/customers", nil), http.StatusOK, &customers)
	var leadNotes, clientNotes dcList[dcInteraction]
	s.dcWant(s.do(a.key, "GET", "/dev/crm/leads/"+a.leads[0]+"/interactions", nil), http.StatusOK, &leadNotes)
	if len(customers.Data) != 1 || len(leadNotes.Data) != 1 {
		t.Fatalf("A's customers %+v, interactions of its first lead %+v", customers, leadNotes)
	}
	client, leadNote := customers.Data[0].ID, leadNotes.Data[0].ID
	s.dcWant(s.do(a.key, "GET", "/dev/crm/customers/"+client+"/interactions", nil), http.StatusOK, &clientNotes)
	if len(clientNotes.Data) != 1 {
		t.Fatalf("A's client's interactions %+v", clientNotes)
	}
	clientNote := clientNotes.Data[0].ID
	var orders dcList[dcOrder]
	s.dcWant(s.do(a.key, "GET", "/dev/crm/orders", nil), http.StatusOK, &orders)
	var board dashboardShape
	s.dcWant(s.do(a.key, "GET", "/dev/crm/feedback/dashboard", nil), http.StatusOK, &board)
	if len(orders.Data) != 1 || len(board.Recent) != 1 {
		t.Fatalf("A's orders %+v, feedback %+v", orders, board)
	}
	order, answered := orders.Data[0].ID, board.Recent[0].ID
	undo := func(method, path string) {
		if r := s.do(b.key, method, path, nil); r.Status != http.StatusNoContent {
			t.Errorf("B: undo %s %s: %d %s", method, path, r.Status, r.Body)
		}
	}
	count := func(want int64) func(r response) {
		return func(r response) {
			var l dcList[map[string]any]
			r.json(t, &l)
			if l.Total != want {
				t.Errorf("B: the list counts %s, want total %d", r.Body, want)
			}
		}
	}
	// each sends one request per path.
	each := func(route, method string, body any, paths ...string) {
		for _, p := range paths {
			add(route, isolationProbe{method: method, path: p, body: body})
		}
	}
	leads := func(suffix string) []string {
		var out []string
		for _, id := range a.leads {
			out = append(out, "/dev/crm/leads/"+url.PathEscape(id)+suffix)
		}
		return out
	}
	add("GET /openapi/devcrm.json", isolationProbe{method: "GET", path: "/openapi/devcrm.json", expect: expectListed})
	add("GET /dev/crm/leads",
		isolationProbe{method: "GET", path: "/dev/crm/leads?limit=500", expect: expectListed, check: count(1)},
		isolationProbe{method: "GET", path: "/dev/crm/leads?search=alpha", expect: expectListed, check: count(0)},
		isolationProbe{method: "GET", path: "/dev/crm/leads?source=AlphaAds", expect: expectListed, check: count(0)},
		isolationProbe{method: "GET", path: "/dev/crm/leads?assigned_to=owner@alpha.example", expect: expectListed, check: count(0)})
	add("POST /dev/crm/leads", isolationProbe{method: "POST", path: "/dev/crm/leads", expect: expectAccepted, header: idem("/api/v1/leads"),
		body: map[string]any{"name": "Beta Probe", "email": a.emails[0], "phone": a.phones[0]},
		check: func(r response) {
			var l dcLead
			r.json(t, &l)
			if r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("B: a create with A's values and Idempotency-Key: %d %s", r.Status, r.Body)
			}
			undo("DELETE", "/dev/crm/leads/"+l.ID)
		}})
	each("GET /dev/crm/leads/:leadId", "GET", nil, leads("")...)
	each("PUT /dev/crm/leads/:leadId", "PUT", map[string]any{"name": "Beta"}, leads("")...)
	each("DELETE /dev/crm/leads/:leadId", "DELETE", nil, leads("")...)
	each("POST /dev/crm/leads/:leadId/convert", "POST", nil, leads("/convert")...)
	each("GET /dev/crm/leads/:leadId/interactions", "GET", nil, leads("/interactions")...)
	each("POST /dev/crm/leads/:leadId/interactions", "POST", map[string]any{"type": "note"}, leads("/interactions")...)
	for _, p := range []string{a.leads[0] + "/interactions/" + leadNote, b.lead + "/interactions/" + leadNote,
		b.lead + "/interactions/" + clientNote} {
		add("PUT /dev/crm/leads/:leadId/interactions/:interactionId",
			isolationProbe{method: "PUT", path: "/dev/crm/leads/" + p, body: map[string]any{"notes": "beta"}})
		add("DELETE /dev/crm/leads/:leadId/interactions/:interactionId", isolationProbe{method: "DELETE", path: "/dev/crm/leads/" + p})
	}
	add("GET /dev/crm/customers",
		isolationProbe{method: "GET", path: "/dev/crm/customers?limit=500", expect: expectListed, check: count(0)},
		isolationProbe{method: "GET", path: "/dev/crm/customers?search=alpha", expect: expectListed, check: count(0)})
	add("POST /dev/crm/customers",
		isolationProbe{method: "POST", path: "/dev/crm/customers", body: map[string]any{"name": "Beta", "email": "c@beta.example", "lead_id": a.leads[0]}},
		isolationProbe{method: "POST", path: "/dev/crm/customers", expect: expectAccepted, header: idem("/leads"),
			body: map[string]any{"name": "Beta Client", "email": "client@alpha.example"},
			check: func(r response) {
				var c dcCustomer
				r.json(t, &c)
				if r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" {
					t.Errorf("B: a customer with A's client's email: %d %s", r.Status, r.Body)
				}
				undo("DELETE", "/dev/crm/customers/"+c.ID)
			}})
	for _, id := range append([]string{client}, a.leads...) {
		cp := "/dev/crm/customers/" + url.PathEscape(id)
		add("GET /dev/crm/customers/:customerId", isolationProbe{method: "GET", path: cp})
		add("PUT /dev/crm/customers/:customerId", isolationProbe{method: "PUT", path: cp, body: map[string]any{"name": "Beta"}})
		add("DELETE /dev/crm/customers/:customerId", isolationProbe{method: "DELETE", path: cp})
		add("GET /dev/crm/customers/:customerId/interactions", isolationProbe{method: "GET", path: cp + "/interactions"})
		add("POST /dev/crm/customers/:customerId/interactions", isolationProbe{method: "POST", path: cp + "/interactions",
			body: map[string]any{"type": "call", "subject": "Beta", "date": "2026-01-01"}})
	}
	for _, p := range []string{client + "/interactions/" + clientNote, client + "/interactions/" + leadNote} {
		add("PUT /dev/crm/customers/:customerId/interactions/:interactionId",
			isolationProbe{method: "PUT", path: "/dev/crm/customers/" + p, body: map[string]any{"outcome": "beta"}})
		add("DELETE /dev/crm/customers/:customerId/interactions/:interactionId", isolationProbe{method: "DELETE", path: "/dev/crm/customers/" + p})
	}
	add("GET /dev/crm/orders",
		isolationProbe{method: "GET", path: "/dev/crm/orders?limit=500", expect: expectListed, check: count(0)},
		isolationProbe{method: "GET", path: "/dev/crm/orders?customer_id=" + client, expect: expectListed, check: count(0)},
		isolationProbe{method: "GET", path: "/dev/crm/orders?status=pending", expect: expectListed, check: count(0)})
	add("POST /dev/crm/orders", isolationProbe{method: "POST", path: "/dev/crm/orders",
		body: map[string]any{"customer_id": client, "product_id": orders.Data[0].ProductID, "quantity": 1}})
	for _, id := range []string{order, client, answered} {
		op := "/dev/crm/orders/" + url.PathEscape(id)
		add("GET /dev/crm/orders/:orderId", isolationProbe{method: "GET", path: op})
		add("PUT /dev/crm/orders/:orderId", isolationProbe{method: "PUT", path: op, body: map[string]any{"status": "shipped"}})
		add("DELETE /dev/crm/orders/:orderId", isolationProbe{method: "DELETE", path: op})
		add("POST /dev/crm/feedback/:feedbackId", isolationProbe{method: "POST", path: "/dev/crm/feedback/" + url.PathEscape(id),
			body: map[string]any{"rating": 1, "comment": "beta"}})
	}
	for _, id := range append([]string{client, order}, a.leads...) {
		add("POST /dev/crm/customers/:customerId/feedback/request",
			isolationProbe{method: "POST", path: "/dev/crm/customers/" + url.PathEscape(id) + "/feedback/request"})
	}
	empty := func(r response) {
		if strings.Contains(string(r.Body), `"count":1`) || strings.Contains(string(r.Body), `"received":1`) {
			t.Errorf("B: the feedback figures count A's answer: %s", r.Body)
		}
	}
	for _, p := range []string{"/dev/crm/feedback/analytics", "/dev/crm/feedback/themes", "/dev/crm/feedback/dashboard"} {
		add("GET "+p, isolationProbe{method: "GET", path: p, expect: expectListed, check: empty})
	}
}
