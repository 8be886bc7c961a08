package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// isolationProbes are B's probes for every route, keyed by the route as
// gin registers it ("METHOD /path/:param").
func isolationProbes(t *testing.T, s *stack, a *tenantA, b *tenantB) map[string][]isolationProbe {
	t.Helper()
	bOp := opIDOf(b.lead)
	// Ids in every form A's leads have; numbers only where they cannot
	// name something of B's.
	var leadForms []string // not numbers: never B's
	for _, id := range a.leads {
		leadForms = append(leadForms, id, opIDOf(id))
	}
	leadForms = append(leadForms, a.callLog, a.photo)
	numbers := func(ns []int64) []string {
		var out []string
		for _, n := range ns {
			out = append(out, fmt.Sprint(n))
		}
		return out
	}
	leadPathIDs := append(numbers(a.onlyNumbers), leadForms...)

	ps := map[string][]isolationProbe{}
	add := func(route string, p ...isolationProbe) { ps[route] = append(ps[route], p...) }
	// each sends one request per id in the route's path parameter.
	each := func(route, method, prefix string, ids []string, body any) {
		for _, id := range ids {
			add(route, isolationProbe{method: method, path: prefix + url.PathEscape(id), body: body})
		}
	}
	// count checks a list answer's count of B's leads.
	count := func(field string, want int) func(r response) {
		return func(r response) {
			var m map[string]any
			if json.Unmarshal(r.Body, &m) != nil || m[field] != float64(want) {
				t.Errorf("B: the list counts %s, want %s %d", r.Body, field, want)
			}
		}
	}
	empty := func(r response) {
		var list []any
		if json.Unmarshal(r.Body, &list) != nil || len(list) != 0 {
			t.Errorf("B: want an empty list, got %s", r.Body)
		}
	}
	// fresh checks a create was B's own: not a replay of A's request under
	// the same Idempotency-Key, nor a merge into A's lead.
	fresh := func(r response) {
		if r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("B: a create with A's values and Idempotency-Key: %d, replayed %q: %s", r.Status, r.Header.Get("Idempotent-Replayed"), r.Body)
		}
	}
	idem := func(path string) http.Header { return http.Header{"Idempotency-Key": {a.idempotency[path]}} }
	// undo runs a request that reverts an accepted probe.
	undo := func(method, path string, body any) {
		if r := s.do(b.key, method, path, body); r.Status < 200 || r.Status > 299 {
			t.Errorf("B: undo %s %s: %d %s", method, path, r.Status, r.Body)
		}
	}

	// The server's own routes and the documents: nothing of any tenant.
	for _, p := range []string{"/healthz", "/openapi/cratio.json", "/openapi/leads.json", "/openapi/overplane.json"} {
		add("GET "+p, isolationProbe{method: "GET", path: p, expect: expectListed})
	}

	// Cratio.
	add("GET /api/v1/leads",
		isolationProbe{method: "GET", path: "/api/v1/leads", expect: expectListed, check: count("total", 1)},
		isolationProbe{method: "GET", path: "/api/v1/leads?source=AlphaAds", expect: expectListed, check: count("total", 0)},
		isolationProbe{method: "GET", path: "/api/v1/leads?assigned_to=owner@alpha.example", expect: expectListed, check: count("total", 0)},
		isolationProbe{method: "GET", path: "/api/v1/leads?priority=High", expect: expectListed, check: count("total", 0)})
	add("POST /api/v1/leads", isolationProbe{method: "POST", path: "/api/v1/leads", expect: expectAccepted, header: idem("/api/v1/leads"),
		body: map[string]any{"name": "Beta Probe", "email": a.emails[0], "phone": a.phones[0]},
		check: func(r response) {
			fresh(r)
			var l cratioLead
			r.json(t, &l)
			if slices.Contains(a.leads, l.ID) {
				t.Errorf("B: a create with A's email merged into A's lead %s", l.ID)
			}
			undo("DELETE", "/api/v1/leads/"+l.ID, nil)
		}})
	each("DELETE /api/v1/leads/:id", "DELETE", "/api/v1/leads/", leadForms, nil)
	add("GET /api/v1/call-logs",
		isolationProbe{method: "GET", path: "/api/v1/call-logs", expect: expectListed, check: count("total", 0)},
		isolationProbe{method: "GET", path: "/api/v1/call-logs?lead_id=" + a.leads[0], expect: expectListed, check: count("total", 0)})
	for _, id := range a.leads {
		add("POST /api/v1/call-logs", isolationProbe{method: "POST", path: "/api/v1/call-logs",
			body: map[string]any{"lead_id": id, "call_type": "Inbound", "duration_seconds": 5}})
	}
	each("DELETE /api/v1/call-logs/:id", "DELETE", "/api/v1/call-logs/", []string{a.callLog, a.leads[0]}, nil)

	// The Leads API.
	add("GET /leads",
		isolationProbe{method: "GET", path: "/leads", expect: expectListed, check: count("count", 1)},
		isolationProbe{method: "GET", path: "/leads?state=All&limit=100", expect: expectListed, check: count("count", 1)},
		isolationProbe{method: "GET", path: "/leads?state=Archived", expect: expectListed, check: count("count", 0)},
		isolationProbe{method: "GET", path: fmt.Sprintf("/leads?statusId=%d", a.status)})
	add("POST /leads",
		isolationProbe{method: "POST", path: "/leads", body: map[string]any{"firstName": "Beta", "email": "new@beta.example", "statusId": a.status}},
		isolationProbe{method: "POST", path: "/leads", body: map[string]any{"firstName": "Beta", "email": "new@beta.example", "photo": a.photo}},
		isolationProbe{method: "POST", path: "/leads", expect: expectAccepted, header: idem("/leads"),
			body: map[string]any{"firstName": "Beta", "email": a.emails[1], "phoneNumber": []string{a.phones[1]}},
			check: func(r response) {
				fresh(r)
				var l laLead
				r.json(t, &l)
				undo("DELETE", "/leads", map[string]any{"ids": []int64{l.ID}})
			}})
	for _, n := range a.onlyNumbers {
		for _, route := range []string{"DELETE /leads", "PATCH /leads/archive", "PATCH /leads/restore"} {
			method, path, _ := strings.Cut(route, " ")
			add(route, isolationProbe{method: method, path: path, body: map[string]any{"ids": []int64{n}}},
				isolationProbe{method: method, path: path, body: map[string]any{"ids": []int64{b.number, n}}})
		}
		add("PUT /leads/change-status", isolationProbe{method: "PUT", path: "/leads/change-status", body: map[string]any{"ids": []int64{n}, "statusId": 2}})
	}
	add("PUT /leads/change-status", isolationProbe{method: "PUT", path: "/leads/change-status", body: map[string]any{"ids": []int64{b.number}, "statusId": a.status}})
	for _, q := range append([]string{"alpha", "AlphaCorp", a.statusName, a.photo}, append(a.emails, a.phones...)...) {
		add("GET /leads/search", isolationProbe{method: "GET", path: "/leads/search?q=" + url.QueryEscape(q), expect: expectListed, check: empty})
	}
	add("GET /leads/recent-leads", isolationProbe{method: "GET", path: "/leads/recent-leads?limit=50", expect: expectListed})
	each("GET /leads/:id", "GET", "/leads/", leadPathIDs, nil)
	add("GET /leads/:id", isolationProbe{method: "GET", path: fmt.Sprintf("/leads/%d", b.number), expect: expectListed})
	each("PUT /leads/:id", "PUT", "/leads/", leadPathIDs, map[string]any{"firstName": "Beta", "email": "put@beta.example"})
	add("PUT /leads/:id",
		isolationProbe{method: "PUT", path: fmt.Sprintf("/leads/%d", b.number), body: map[string]any{"firstName": "Bianca", "email": "bianca@beta.example", "statusId": a.status}},
		isolationProbe{method: "PUT", path: fmt.Sprintf("/leads/%d", b.number), body: map[string]any{"firstName": "Bianca", "email": "bianca@beta.example", "photo": a.photo}},
		isolationProbe{method: "PUT", path: fmt.Sprintf("/leads/%d", b.number), expect: expectAccepted,
			body: map[string]any{"firstName": "Bianca", "lastName": "Beta", "email": a.emails[2], "phoneNumber": []string{a.phones[2]}},
			check: func(response) {
				undo("PUT", fmt.Sprintf("/leads/%d", b.number), map[string]any{"firstName": "Bianca", "lastName": "Beta",
					"email": "bianca@beta.example", "phoneNumber": []string{"+919876544444"}})
			}})
	add("GET /leads/statuses", isolationProbe{method: "GET", path: "/leads/statuses", expect: expectListed})
	add("POST /leads/status", isolationProbe{method: "POST", path: "/leads/status", expect: expectAccepted,
		body: map[string]any{"name": a.statusName, "primaryColor": "blue"},
		check: func(r response) {
			var st laStatus
			r.json(t, &st)
			undo("DELETE", fmt.Sprintf("/leads/status/%d", st.ID), nil)
		}})
	statusIDs := append([]string{fmt.Sprint(a.status)}, a.leads[0])
	each("PUT /leads/status/:id", "PUT", "/leads/status/", statusIDs, map[string]any{"name": "Beta renamed"})
	each("DELETE /leads/status/:id", "DELETE", "/leads/status/", statusIDs, nil)
	add("PUT /leads/statuses/order", isolationProbe{method: "PUT", path: "/leads/statuses/order", body: []map[string]any{{"id": a.status, "statusOrder": 1}}},
		isolationProbe{method: "PUT", path: "/leads/statuses/order", body: []map[string]any{{"id": 1, "statusOrder": 2}, {"id": a.status, "statusOrder": 1}}})
	each("POST /leads/comments/:id", "POST", "/leads/comments/", leadPathIDs, map[string]any{"content": "beta probe"})
	add("POST /leads/comments/:id", isolationProbe{method: "POST", path: fmt.Sprintf("/leads/comments/%d", b.number), expect: expectAccepted,
		body: map[string]any{"content": "beta probe"}})
	each("PUT /leads/comments/:id", "PUT", "/leads/comments/", append(numbers(a.onlyComments), a.leads[0]), map[string]any{"content": "beta probe"})
	add("PUT /leads/comments/:id", isolationProbe{method: "PUT", path: fmt.Sprintf("/leads/comments/%d", b.comment), expect: expectAccepted,
		body: map[string]any{"content": "beta comment, edited"}})
	img := laPNG(t, 4)
	for _, n := range a.onlyNumbers {
		form, h := laMultipart(t, img, map[string]string{"id": fmt.Sprint(n)})
		add("POST /leads/upload-photo",
			isolationProbe{method: "POST", path: "/leads/upload-photo", body: form, header: h},
			isolationProbe{method: "POST", path: "/leads/upload-photo", body: map[string]any{"id": n, "photo": base64.StdEncoding.EncodeToString(img)}})
	}
	add("DELETE /leads/delete-photo/*fileName",
		isolationProbe{method: "DELETE", path: "/leads/delete-photo/" + a.photo},
		isolationProbe{method: "DELETE", path: "/leads/delete-photo/" + url.PathEscape("../"+a.id.String()+"/"+a.photo)},
		isolationProbe{method: "DELETE", path: "/leads/delete-photo/" + url.PathEscape(a.id.String()+"/"+a.photo)})
	add("GET /leads/leads-volume", isolationProbe{method: "GET", path: "/leads/leads-volume", expect: expectListed, check: count("totalLeadsAmount", 1)})
	add("GET /leads/total-leads", isolationProbe{method: "GET", path: "/leads/total-leads", expect: expectListed, check: func(r response) {
		var cards []struct {
			Current int `json:"current"`
		}
		r.json(t, &cards)
		sum := 0
		for _, c := range cards {
			sum += c.Current
		}
		if sum != 1 {
			t.Errorf("B: total-leads counts %d leads, want B's 1: %s", sum, r.Body)
		}
	}})
	each("GET /leads/logs/:id", "GET", "/leads/logs/", leadPathIDs, nil)
	each("GET /leads/logs-and-comments/:id", "GET", "/leads/logs-and-comments/", leadPathIDs, nil)
	add("GET /leads/logs/:id", isolationProbe{method: "GET", path: fmt.Sprintf("/leads/logs/%d", b.number), expect: expectListed})
	add("GET /leads/logs-and-comments/:id", isolationProbe{method: "GET", path: fmt.Sprintf("/leads/logs-and-comments/%d", b.number), expect: expectListed})

	// Overplane.
	add("GET /api/crm/lead", isolationProbe{method: "GET", path: "/api/crm/lead?limit=100", expect: expectListed, check: count("total", 1)})
	add("POST /api/crm/lead",
		isolationProbe{method: "POST", path: "/api/crm/lead", body: map[string]any{"lead_name": "Beta", "email_id": "op@beta.example", "status": a.statusName}},
		isolationProbe{method: "POST", path: "/api/crm/lead", expect: expectAccepted, header: idem("/api/crm/lead"),
			body: map[string]any{"lead_name": "Beta Probe", "email_id": a.emails[3], "phone": a.phones[0]},
			check: func(r response) {
				fresh(r)
				var l opLead
				r.json(t, &l)
				undo("DELETE", "/api/crm/lead/"+l.ID, nil)
			}})
	opIDs := leadForms
	each("GET /api/crm/lead/:id", "GET", "/api/crm/lead/", opIDs, nil)
	each("PATCH /api/crm/lead/:id", "PATCH", "/api/crm/lead/", opIDs, map[string]any{"city": "Betatown"})
	each("DELETE /api/crm/lead/:id", "DELETE", "/api/crm/lead/", opIDs, nil)
	add("GET /api/crm/lead/:id", isolationProbe{method: "GET", path: "/api/crm/lead/" + bOp, expect: expectListed})
	add("PATCH /api/crm/lead/:id",
		isolationProbe{method: "PATCH", path: "/api/crm/lead/" + bOp, body: map[string]any{"status": a.statusName}},
		isolationProbe{method: "PATCH", path: "/api/crm/lead/" + bOp, expect: expectAccepted, body: map[string]any{"email_id": a.emails[4]},
			check: func(response) { undo("PATCH", "/api/crm/lead/"+bOp, map[string]any{"email_id": "bianca@beta.example"}) }})
	prospectProbes(t, s, a, b, add, leadPathIDs, numbers)
	devcrmProbes(t, s, a, b, add, idem)
	reminderProbes(t, add)
	reportProbes(t, s, a, b, add)
	devcrmImportProbes(t, s, a, b, add)
	return ps
}

// prospectProbes are B's probes of the prospects & clients API, with B's
// token: A's prospect, client and record ids name nothing; A's emails are
// no duplicates for B.
func prospectProbes(t *testing.T, s *stack, a *tenantA, b *tenantB, add func(string, ...isolationProbe), leadPathIDs []string, numbers func([]int64) []string) {
	tok := http.Header{"Authorization": {"Bearer " + tokenAt(t, "beta", time.Now(), allPermissions...)}}
	with := func(h http.Header) http.Header {
		out := http.Header{"Authorization": tok["Authorization"]}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	undo := func(method, path string, body any) {
		if r := s.doWith("", method, path, body, tok); r.Status < 200 || r.Status > 299 {
			t.Errorf("B: undo %s %s: %d %s", method, path, r.Status, r.Body)
		}
	}
	noRowErrors := func(r response) {
		var m struct {
			Errors []any `json:"errors"`
		}
		if json.Unmarshal(r.Body, &m) != nil || len(m.Errors) != 0 {
			t.Errorf("B: A's values are row errors for B: %s", r.Body)
		}
	}
	each := func(route, method, pattern string, ids []string, body any) {
		for _, id := range ids {
			add(route, isolationProbe{method: method, path: fmt.Sprintf(pattern, url.PathEscape(id)), body: body, header: tok})
		}
	}
	add("GET /openapi/prospects.json", isolationProbe{method: "GET", path: "/openapi/prospects.json", expect: expectListed})
	// The reads: B's Kanban, list, KPIs and calendar hold none of A's
	// prospects, A's ids name nothing.
	wide := "startDate=2000-01-01&endDate=2100-12-31"
	for route, path := range map[string]string{"GET /prospects/grouped": "/prospects/grouped?length=500",
		"GET /prospects/list": "/prospects/list?length=500", "GET /prospects/kpis": "/prospects/kpis",
		"GET /prospects/activities": "/prospects/activities?" + wide} {
		add(route, isolationProbe{method: "GET", path: path, header: tok, expect: expectListed})
	}
	each("GET /prospects/:id", "GET", "/prospects/%s", leadPathIDs, nil)
	each("GET /clients/:id", "GET", "/clients/%s", numbers([]int64{a.client}), nil)
	each("GET /clients/:id/onboarding", "GET", "/clients/%s/onboarding", numbers([]int64{a.client}), nil)
	row := map[string]any{"name": "Beta Probe", "email": a.emails[0]}
	add("POST /prospects/process", isolationProbe{method: "POST", path: "/prospects/process", body: []any{row},
		header: tok, expect: expectAccepted, check: noRowErrors})
	add("POST /prospects", isolationProbe{method: "POST", path: "/prospects", body: []any{row}, expect: expectAccepted,
		header: with(http.Header{"Idempotency-Key": {a.idempotency["/prospects"]}}),
		check: func(r response) {
			noRowErrors(r)
			var made psCreated
			r.json(t, &made)
			if len(made.Inserts) != 1 || r.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("B: a create with A's email and Idempotency-Key: %s", r.Body)
				return
			}
			if r := s.do(b.key, "DELETE", "/leads", map[string]any{"ids": []int64{made.Inserts[0].ID}}); r.Status != http.StatusOK {
				t.Errorf("B: undo the prospect: %d %s", r.Status, r.Body)
			}
		}})
	contact := map[string]any{"name": "Beta", "email": "contact@alpha.example", "phone_code": "91", "phone": "9876555555"}
	location := map[string]any{"name": "Beta", "link": "https://maps.example/beta", "type": "office"}
	note := map[string]any{"note": "beta probe"}
	each("PATCH /prospects/:id", "PATCH", "/prospects/%s", leadPathIDs, map[string]any{"name": "Beta"})
	each("PATCH /prospects/:id/data", "PATCH", "/prospects/%s/data", leadPathIDs, map[string]any{"channel": "beta"})
	each("PATCH /prospects/:id/partner-data", "PATCH", "/prospects/%s/partner-data", leadPathIDs,
		map[string]any{"url": "https://beta.example", "partner_type_id": 1, "partner_origin_id": 1, "rating": 1, "locale_id": 1})
	each("POST /prospects/:id/contacts", "POST", "/prospects/%s/contacts", leadPathIDs, contact)
	// A's contact email is no contact's in B.
	add("POST /prospects/:id/contacts", isolationProbe{method: "POST", path: fmt.Sprintf("/prospects/%d/contacts", b.number),
		body: contact, header: tok, expect: expectAccepted, check: func(r response) {
			var c struct {
				ID int64 `json:"id"`
			}
			r.json(t, &c)
			undo("DELETE", fmt.Sprintf("/prospects/%d/contacts", c.ID), nil)
		}})
	each("PUT /prospects/:id/contacts", "PUT", "/prospects/%s/contacts", numbers([]int64{a.contact}), map[string]any{"name": "Beta"})
	each("PUT /prospects/:id/contacts", "PUT", "/prospects/%s/contacts", leadPathIDs, map[string]any{"name": "Beta", "isDefault": true})
	each("DELETE /prospects/:id/contacts", "DELETE", "/prospects/%s/contacts", numbers([]int64{a.contact}), nil)
	each("POST /prospects/:id/notes", "POST", "/prospects/%s/notes", leadPathIDs, note)
	for _, p := range []struct {
		owner  int64
		note   int64
		origin string
	}{{b.number, a.note, "prospect"}, {a.onlyNumbers[0], a.note, "prospect"}, {a.client, a.clientNote, "company"}, {b.number, a.clientNote, "prospect"}} {
		add("PATCH /prospects/:id/notes/:noteId", isolationProbe{method: "PATCH", path: fmt.Sprintf("/prospects/%d/notes/%d", p.owner, p.note),
			body: map[string]any{"scheduled_date": nil, "origin": p.origin}, header: tok})
	}
	each("POST /prospects/:id/locations", "POST", "/prospects/%s/locations", leadPathIDs, location)
	each("PUT /prospects/locations/:id", "PUT", "/prospects/locations/%s", numbers([]int64{a.location, a.clientLocation}), map[string]any{"name": "Beta"})
	each("DELETE /prospects/locations/:id", "DELETE", "/prospects/locations/%s", numbers([]int64{a.location, a.clientLocation}), nil)
	clients := numbers([]int64{a.client})
	each("POST /clients/:id/contacts", "POST", "/clients/%s/contacts", clients, contact)
	each("POST /clients/:id/notes", "POST", "/clients/%s/notes", clients, note)
	each("PATCH /clients/:id/data", "PATCH", "/clients/%s/data", clients, map[string]any{"channel": "beta"})
	each("POST /clients/:id/locations", "POST", "/clients/%s/locations", clients, location)
	each("PUT /clients/locations/:id", "PUT", "/clients/locations/%s", numbers([]int64{a.clientLocation, a.location}), map[string]any{"name": "Beta"})
	each("DELETE /clients/locations/:id", "DELETE", "/clients/locations/%s", numbers([]int64{a.clientLocation, a.location}), nil)
}

// reportProbes are B's probes of /dev/crm's reports, segments, health and
// dashboard: B's figures count none of A's leads, customers, orders or
// feedback (and name none of A's sources: the markers), A's customer and
// lead ids name no customer whose health B may read.
func reportProbes(t *testing.T, s *stack, a *tenantA, b *tenantB, add func(string, ...isolationProbe)) {
	t.Helper()
	var customers, bCustomers dcList[dcCustomer]
	s.dcWant(s.do(a.key, "GET", "/dev/crm/customers", nil), http.StatusOK, &customers)
	s.dcWant(s.do(b.key, "GET", "/dev/crm/customers", nil), http.StatusOK, &bCustomers)
	var bOrders dcList[dcOrder]
	s.dcWant(s.do(b.key, "GET", "/dev/crm/orders", nil), http.StatusOK, &bOrders)
	if len(customers.Data) != 1 {
		t.Fatalf("A's customers %+v", customers)
	}
	wide := "?from=2000-01-01&to=2100-12-31"
	customersOfB := func(r response) {
		var f dcCustomerFigures
		r.json(t, &f)
		if f.Total != bCustomers.Total {
			t.Errorf("B: %s counts %d customers, B has %d", r.Body, f.Total, bCustomers.Total)
		}
	}
	add("GET /dev/crm/customers/segments",
		isolationProbe{method: "GET", path: "/dev/crm/customers/segments", expect: expectListed, check: customersOfB})
	add("GET /dev/crm/reports/customers",
		isolationProbe{method: "GET", path: "/dev/crm/reports/customers" + wide, expect: expectListed, check: customersOfB})
	add("GET /dev/crm/reports/leads", isolationProbe{method: "GET", path: "/dev/crm/reports/leads" + wide, expect: expectListed})
	add("GET /dev/crm/analytics/dashboard", isolationProbe{method: "GET", path: "/dev/crm/analytics/dashboard", expect: expectListed,
		check: func(r response) {
			var d dcDashboard
			r.json(t, &d)
			if d.Customers.Total != bCustomers.Total || d.Orders.Total != bOrders.Total || d.Feedback.Received != 0 {
				t.Errorf("B: the dashboard %s counts A's customers, orders or feedback", r.Body)
			}
		}})
	for _, id := range append([]string{customers.Data[0].ID}, a.leads...) {
		add("GET /dev/crm/customers/:customerId/health",
			isolationProbe{method: "GET", path: "/dev/crm/customers/" + url.PathEscape(id) + "/health"})
	}
}

// devcrmImportProbes are B's probes of the /dev/crm CSV routes: A's import
// (made here of rows that are all refused, so A gains no event) is not
// B's; the same file is B's own import; A's emails are no duplicates for
// B's rows; B's exports hold none of A's leads or customers.
func devcrmImportProbes(t *testing.T, s *stack, a *tenantA, b *tenantB, add func(string, ...isolationProbe)) {
	t.Helper()
	aFile := []byte("name,email\n," + a.emails[0] + "\n")
	var aJob struct {
		ID       string `json:"id"`
		Imported int    `json:"imported"`
	}
	s.dcWant(s.dcUpload(a.key, "/dev/crm/leads/import", "a.csv", aFile), http.StatusOK, &aJob)
	if aJob.Imported != 0 {
		t.Fatalf("A's import imported %d rows", aJob.Imported)
	}
	upload := func(file []byte) (any, http.Header) {
		body, h := multipartFile(t, "file", "b.csv", file)
		return body, h
	}
	// undoBy deletes B's record found by the list at path.
	undoBy := func(list, path string) {
		var l dcList[struct {
			ID string `json:"id"`
		}]
		s.dcWant(s.do(b.key, "GET", list, nil), http.StatusOK, &l)
		if len(l.Data) != 1 {
			t.Errorf("B: %s lists %d records, want the one imported", list, len(l.Data))
			return
		}
		if r := s.do(b.key, "DELETE", path+l.Data[0].ID, nil); r.Status != http.StatusNoContent {
			t.Errorf("B: undo the import: %d %s", r.Status, r.Body)
		}
	}
	imported := func(want int, undo func()) func(r response) {
		return func(r response) {
			var out struct {
				ID              string `json:"id"`
				Imported        int    `json:"imported"`
				AlreadyImported bool   `json:"already_imported"`
			}
			r.json(t, &out)
			if out.ID == aJob.ID || out.AlreadyImported || out.Imported != want {
				t.Errorf("B: an upload of A's file or values: %s", r.Body)
			}
			if undo != nil {
				undo()
			}
		}
	}
	body, h := upload(aFile)
	add("POST /dev/crm/leads/import", isolationProbe{method: "POST", path: "/dev/crm/leads/import", body: body, header: h,
		expect: expectAccepted, check: imported(0, nil)})
	body, h = upload([]byte("name,email,phone\nBeta Import," + a.emails[2] + "," + a.phones[2] + "\n"))
	add("POST /dev/crm/leads/import", isolationProbe{method: "POST", path: "/dev/crm/leads/import", body: body, header: h,
		expect: expectAccepted, check: imported(1, func() {
			undoBy("/dev/crm/leads?search="+url.QueryEscape(a.emails[2]), "/dev/crm/leads/")
		})})
	body, h = upload([]byte("name,email\nBeta Customer," + a.emails[1] + "\n"))
	add("POST /dev/crm/customers/import", isolationProbe{method: "POST", path: "/dev/crm/customers/import", body: body, header: h,
		expect: expectAccepted, check: imported(1, func() {
			undoBy("/dev/crm/customers?search="+url.QueryEscape(a.emails[1]), "/dev/crm/customers/")
		})})
	rows := func(want int) func(r response) {
		return func(r response) {
			if n := strings.Count(strings.TrimSpace(string(r.Body)), "\n"); n != want {
				t.Errorf("B: the export has %d rows, want %d: %s", n, want, r.Body)
			}
		}
	}
	add("GET /dev/crm/leads/export",
		isolationProbe{method: "GET", path: "/dev/crm/leads/export", expect: expectListed, check: rows(1)},
		isolationProbe{method: "GET", path: "/dev/crm/leads/export?search=" + url.QueryEscape(a.emails[0]), expect: expectListed, check: rows(0)},
		isolationProbe{method: "GET", path: "/dev/crm/leads/export?status=negotiation", expect: expectListed, check: rows(0)})
	add("GET /dev/crm/customers/export",
		isolationProbe{method: "GET", path: "/dev/crm/customers/export", expect: expectListed},
		isolationProbe{method: "GET", path: "/dev/crm/customers/export?search=" + url.QueryEscape(a.emails[1]), expect: expectListed, check: rows(0)})
	for _, id := range []string{aJob.ID, a.leads[0], "not-a-uuid"} {
		add("GET /dev/crm/imports/:importId", isolationProbe{method: "GET", path: "/dev/crm/imports/" + url.PathEscape(id)})
		add("GET /dev/crm/imports/:importId/errors", isolationProbe{method: "GET", path: "/dev/crm/imports/" + url.PathEscape(id) + "/errors"})
	}
}
