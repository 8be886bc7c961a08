package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// The /dev/crm API (api/devcrm): leads, conversion, interactions and
// customers through real HTTP, Postgres and NATS, every answer checked
// against its OpenAPI document.

type dcLead struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Email        *string        `json:"email"`
	Phone        *string        `json:"phone"`
	Company      *string        `json:"company"`
	Source       *string        `json:"source"`
	CampaignID   *string        `json:"campaign_id"`
	Status       string         `json:"status"`
	Score        *int           `json:"score"`
	Notes        *string        `json:"notes"`
	LastContact  *string        `json:"last_contact"`
	CustomFields map[string]any `json:"custom_fields"`
	AssignedTo   *string        `json:"assigned_to"`
	CustomerID   *string        `json:"customer_id"`
}

type dcCustomer struct {
	ID           string         `json:"id"`
	LeadID       *string        `json:"lead_id"`
	Name         string         `json:"name"`
	Email        *string        `json:"email"`
	Phone        *string        `json:"phone"`
	Company      *string        `json:"company"`
	Type         string         `json:"type"`
	Status       string         `json:"status"`
	CreditLimit  *float64       `json:"credit_limit"`
	PaymentTerms *string        `json:"payment_terms"`
	Notes        *string        `json:"notes"`
	CustomFields map[string]any `json:"custom_fields"`
}

type dcInteraction struct {
	ID             string  `json:"id"`
	LeadID         string  `json:"lead_id"`
	CustomerID     string  `json:"customer_id"`
	Type           string  `json:"type"`
	Subject        string  `json:"subject"`
	Notes          *string `json:"notes"`
	Description    *string `json:"description"`
	Outcome        *string `json:"outcome"`
	NextAction     *string `json:"next_action"`
	NextActionDate *string `json:"next_action_date"`
	Date           string  `json:"date"`
}

type dcList[T any] struct {
	Data   []T   `json:"data"`
	Total  int64 `json:"total"`
	Limit  int   `json:"limit"`
	Offset int   `json:"offset"`
}

// dcWant checks a /dev/crm answer's status and decodes it into v (if not nil).
func (s *stack) dcWant(r response, status int, v any) {
	s.t.Helper()
	s.laWant(s.settled(r), status, v)
}

// dcFails checks a /dev/crm error: status, the field named ("" for none)
// and words in its message.
func (s *stack) dcFails(r response, status int, field, words string) {
	s.t.Helper()
	var e struct {
		Message string `json:"message"`
		Field   string `json:"field"`
	}
	s.laWant(r, status, &e)
	if e.Field != field || !strings.Contains(e.Message, words) || (field != "" && !strings.HasPrefix(e.Message, field+": ")) {
		s.t.Fatalf("error %s, want %d field %q with %q", r.Body, status, field, words)
	}
}

// dcCreate creates a lead through /dev/crm.
func (s *stack) dcCreate(key string, body map[string]any) dcLead {
	s.t.Helper()
	var l dcLead
	s.dcWant(s.do(key, "POST", "/dev/crm/leads", body), http.StatusCreated, &l)
	return l
}

// dcCustomerCreate creates a customer through /dev/crm.
func (s *stack) dcCustomerCreate(key string, body map[string]any) dcCustomer {
	s.t.Helper()
	var c dcCustomer
	s.dcWant(s.do(key, "POST", "/dev/crm/customers", body), http.StatusCreated, &c)
	return c
}

// TestDevcrmLeads: create, get, list with every filter, partial update,
// statuses that become tenant statuses, permanent delete.
func TestDevcrmLeads(t *testing.T) {
	s := newStack(t)
	owner := uuid.NewString()
	campaign := uuid.NewString()
	john := s.dcCreate(s.key, map[string]any{"name": "John Doe", "email": "John@Example.com", "phone": "+14155552671",
		"company": "Acme Corp", "source": "website", "status": "new", "score": 75, "notes": "Interested in premium plan",
		"campaign_id": campaign, "assigned_to": owner, "last_contact": "2026-01-15", "custom_fields": map[string]any{"tier": "gold"}})
	if john.Email == nil || *john.Email != "john@example.com" || *john.Phone != "+14155552671" || john.Status != "new" ||
		*john.Score != 75 || *john.AssignedTo != owner || *john.CampaignID != campaign || john.CustomFields["tier"] != "gold" ||
		*john.LastContact != "2026-01-15T00:00:00Z" || john.CustomerID != nil {
		t.Fatalf("created %+v", john)
	}
	jane := s.dcCreate(s.key, map[string]any{"name": "Jane Roe", "email": "jane@example.com", "source": "referral"})
	if jane.Status != "new" || jane.Phone != nil || jane.Score != nil || jane.CustomFields != nil {
		t.Fatalf("created %+v", jane)
	}

	var got dcLead
	s.dcWant(s.do(s.key, "GET", "/dev/crm/leads/"+john.ID, nil), http.StatusOK, &got)
	if got.ID != john.ID || got.Name != "John Doe" {
		t.Fatalf("get %+v", got)
	}
	list := func(query string, want ...string) {
		t.Helper()
		var l dcList[dcLead]
		s.dcWant(s.do(s.key, "GET", "/dev/crm/leads"+query, nil), http.StatusOK, &l)
		var ids []string
		for _, d := range l.Data {
			ids = append(ids, d.ID)
		}
		if (l.Total != int64(len(want)) && !strings.Contains(query, "limit=1")) || strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Fatalf("GET /dev/crm/leads%s: total %d %v, want %v", query, l.Total, ids, want)
		}
	}
	list("", jane.ID, john.ID)
	list("?limit=1", jane.ID)
	list("?limit=1&offset=1", john.ID)
	list("?source=website", john.ID)
	list("?assigned_to="+owner, john.ID)
	list("?search=ACME", john.ID)
	list("?search=roe&source=referral", jane.ID)
	list("?status=new", jane.ID, john.ID)
	list("?status=negotiation")

	// Partial: what is not sent stays; null clears.
	var up dcLead
	s.dcWant(s.do(s.key, "PUT", "/dev/crm/leads/"+john.ID, map[string]any{"name": "John Doe Updated", "status": "qualified",
		"score": 85, "notes": nil, "custom_fields": nil}), http.StatusOK, &up)
	if up.Name != "John Doe Updated" || up.Status != "qualified" || *up.Score != 85 || up.Notes != nil ||
		up.CustomFields != nil || *up.Email != "john@example.com" || *up.Company != "Acme Corp" {
		t.Fatalf("updated %+v", up)
	}
	// negotiation and converted are tenant statuses made on first use,
	// which the Leads API shows like any other.
	s.dcWant(s.do(s.key, "PUT", "/dev/crm/leads/"+john.ID, map[string]any{"status": "negotiation"}), http.StatusOK, &up)
	conv := s.dcCreate(s.key, map[string]any{"name": "Conv", "email": "conv@example.com", "status": "converted"})
	if up.Status != "negotiation" || conv.Status != "converted" || conv.CustomerID != nil {
		t.Fatalf("statuses %q %q", up.Status, conv.Status)
	}
	list("?status=negotiation", john.ID)
	list("?status=converted", conv.ID)
	statuses, _ := s.laStatuses(s.key)
	names := map[string]bool{}
	for _, st := range statuses {
		names[st.Name] = true
	}
	if !names["Negotiation"] || !names["Converted"] || len(statuses) != 8 {
		t.Fatalf("pipeline %+v", statuses)
	}
	if la := s.laGet(s.key, s.leadNumber(john.ID)); la.Status != "Negotiation" {
		t.Fatalf("the Leads API shows status %q", la.Status)
	}
	// A second lead in negotiation adds no second status.
	s.dcCreate(s.key, map[string]any{"name": "Neg", "email": "neg@example.com", "status": "negotiation"})
	if statuses, _ = s.laStatuses(s.key); len(statuses) != 8 {
		t.Fatalf("pipeline %+v", statuses)
	}

	// Delete is permanent: gone, its email free again.
	s.dcWant(s.do(s.key, "DELETE", "/dev/crm/leads/"+jane.ID, nil), http.StatusNoContent, nil)
	s.dcFails(s.do(s.key, "GET", "/dev/crm/leads/"+jane.ID, nil), http.StatusNotFound, "", "lead not found")
	s.dcFails(s.do(s.key, "DELETE", "/dev/crm/leads/"+jane.ID, nil), http.StatusNotFound, "", "lead not found")
	s.dcCreate(s.key, map[string]any{"name": "Jane Again", "email": "jane@example.com"})
	for _, e := range s.events() {
		if e.StreamID.String() == jane.ID && e.Type != "lead.deleted" && !strings.Contains(string(e.Data), "redacted") {
			t.Fatalf("event %s of the deleted lead keeps %s", e.Type, e.Data)
		}
	}
	s.assertReplayEqual()
}

// TestDevcrmBadInput: every documented refusal, in the API's shape
// naming the field.
func TestDevcrmBadInput(t *testing.T) {
	s := newStack(t)
	lead := s.dcCreate(s.key, map[string]any{"name": "Taken", "email": "taken@example.com", "phone": "+14155552671"})
	cust := s.dcCustomerCreate(s.key, map[string]any{"name": "Cust", "email": "cust@example.com"})
	ok := map[string]any{"name": "N", "email": "n@example.com"}
	with := func(k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range ok {
			out[kk] = vv
		}
		out[k] = v
		return out
	}
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		field, words string
	}{
		{"POST", "/dev/crm/leads", `{"name": }`, 400, "", "malformed JSON"},
		{"POST", "/dev/crm/leads", `[]`, 400, "", "JSON object"},
		{"POST", "/dev/crm/leads", with("nickname", "x"), 400, "nickname", "unknown field"},
		{"POST", "/dev/crm/leads", map[string]any{"email": "a@example.com"}, 400, "name", "is required"},
		{"POST", "/dev/crm/leads", map[string]any{"name": "A"}, 400, "email", "is required"},
		{"POST", "/dev/crm/leads", with("email", "not-an-email"), 400, "email", "must be a valid email"},
		{"POST", "/dev/crm/leads", with("phone", "+1234567890"), 400, "phone", "valid phone number"},
		{"POST", "/dev/crm/leads", with("status", "hot"), 400, "status", "must be one of"},
		{"POST", "/dev/crm/leads", with("source", "tv"), 400, "source", "must be one of"},
		{"POST", "/dev/crm/leads", with("score", 101), 400, "score", "0 to 100"},
		{"POST", "/dev/crm/leads", with("score", -1), 400, "score", "0 to 100"},
		{"POST", "/dev/crm/leads", with("score", 7.5), 400, "score", "0 to 100"},
		{"POST", "/dev/crm/leads", with("score", "75"), 400, "score", "0 to 100"},
		{"POST", "/dev/crm/leads", with("campaign_id", "uuid-here"), 400, "campaign_id", "must be a UUID"},
		{"POST", "/dev/crm/leads", with("assigned_to", "bob@example.com"), 400, "assigned_to", "must be a UUID"},
		{"POST", "/dev/crm/leads", with("last_contact", "yesterday"), 400, "last_contact", "must be a date"},
		{"POST", "/dev/crm/leads", with("custom_fields", []int{1}), 400, "custom_fields", "JSON object"},
		{"POST", "/dev/crm/leads", with("email", "TAKEN@example.com"), 409, "email", "already belongs to another lead"},
		{"POST", "/dev/crm/leads", with("phone", "+1 415 555 2671"), 409, "phone", "already belongs to another lead"},
		{"PUT", "/dev/crm/leads/" + lead.ID, map[string]any{"name": nil}, 400, "name", "is required"},
		{"PUT", "/dev/crm/leads/" + lead.ID, map[string]any{"email": ""}, 400, "email", "is required"},
		{"PUT", "/dev/crm/leads/" + lead.ID, map[string]any{"status": "open"}, 400, "status", "must be one of"},
		{"PUT", "/dev/crm/leads/" + uuid.NewString(), map[string]any{"name": "X"}, 404, "", "lead not found"},
		{"PUT", "/dev/crm/leads/not-a-uuid", map[string]any{"name": "X"}, 404, "", "lead not found"},
		{"GET", "/dev/crm/leads/" + uuid.NewString(), nil, 404, "", "lead not found"},
		{"GET", "/dev/crm/leads/123", nil, 404, "", "lead not found"},
		{"DELETE", "/dev/crm/leads/" + uuid.NewString(), nil, 404, "", "lead not found"},
		{"POST", "/dev/crm/leads/" + uuid.NewString() + "/convert", nil, 404, "", "lead not found"},
		{"GET", "/dev/crm/leads?status=hot", nil, 400, "status", "must be one of"},
		{"GET", "/dev/crm/leads?limit=501", nil, 400, "limit", "1 to 500"},
		{"GET", "/dev/crm/leads?limit=0", nil, 400, "limit", "1 to 500"},
		{"GET", "/dev/crm/leads?offset=-1", nil, 400, "offset", "0 to 100000"},
		{"GET", "/dev/crm/leads?assigned_to=nobody", nil, 400, "assigned_to", "must be a UUID"},
		{"POST", "/dev/crm/customers", map[string]any{"name": "C"}, 400, "email", "is required"},
		{"POST", "/dev/crm/customers", map[string]any{"name": "C", "email": "c@example.com", "type": "corp"}, 400, "type", "must be one of"},
		{"POST", "/dev/crm/customers", map[string]any{"name": "C", "email": "c@example.com", "status": "gone"}, 400, "status", "must be one of"},
		{"POST", "/dev/crm/customers", map[string]any{"name": "C", "email": "c@example.com", "credit_limit": -1}, 400, "credit_limit", "at least 0"},
		{"POST", "/dev/crm/customers", map[string]any{"name": "C", "email": "c@example.com", "lead_id": "x"}, 400, "lead_id", "must be a UUID"},
		{"POST", "/dev/crm/customers", map[string]any{"name": "C", "email": "c@example.com", "lead_id": uuid.NewString()}, 400, "lead_id", "names no lead"},
		{"POST", "/dev/crm/customers", map[string]any{"name": "C", "email": "c@example.com", "phone": "12"}, 400, "phone", "valid phone number"},
		{"POST", "/dev/crm/customers", map[string]any{"name": "C", "email": "CUST@example.com"}, 409, "email", "already belongs to another customer"},
		{"PUT", "/dev/crm/customers/" + cust.ID, map[string]any{"type": nil}, 400, "type", "must be one of"},
		{"PUT", "/dev/crm/customers/" + cust.ID, map[string]any{"lead_id": lead.ID}, 400, "lead_id", "cannot change"},
		{"GET", "/dev/crm/customers/" + lead.ID, nil, 404, "", "customer not found"},
		{"GET", "/dev/crm/customers?type=corp", nil, 400, "type", "must be one of"},
		{"POST", "/dev/crm/leads/" + lead.ID + "/interactions", map[string]any{}, 400, "type", "is required"},
		{"POST", "/dev/crm/leads/" + lead.ID + "/interactions", map[string]any{"type": "support"}, 400, "type", "must be one of"},
		{"POST", "/dev/crm/leads/" + lead.ID + "/interactions", map[string]any{"type": "call", "next_action_date": "soon"}, 400, "next_action_date", "must be a date"},
		{"POST", "/dev/crm/leads/" + lead.ID + "/interactions", map[string]any{"type": "call", "subject": "s"}, 400, "subject", "unknown field"},
		{"POST", "/dev/crm/leads/" + cust.ID + "/interactions", map[string]any{"type": "call"}, 404, "", "lead not found"},
		{"POST", "/dev/crm/customers/" + cust.ID + "/interactions", map[string]any{"type": "call", "date": "2024-01-15"}, 400, "subject", "is required"},
		{"POST", "/dev/crm/customers/" + cust.ID + "/interactions", map[string]any{"type": "call", "subject": "S"}, 400, "date", "is required"},
		{"POST", "/dev/crm/customers/" + cust.ID + "/interactions", map[string]any{"type": "note", "subject": "S", "date": "2024-01-15"}, 400, "type", "must be one of"},
		{"PUT", "/dev/crm/leads/" + lead.ID + "/interactions/" + uuid.NewString(), map[string]any{"notes": "x"}, 404, "", "interaction not found"},
		{"DELETE", "/dev/crm/customers/" + cust.ID + "/interactions/nope", nil, 404, "", "not found"},
	} {
		s.dcFails(s.do(s.key, c.method, c.path, c.body), c.status, c.field, c.words)
	}
	// 401: no key, another scheme, an unknown key.
	for _, key := range []string{"", "le_live_unknown"} {
		s.dcFails(s.do(key, "GET", "/dev/crm/leads", nil), http.StatusUnauthorized, "", "Invalid or missing API key")
		s.dcFails(s.do(key, "POST", "/dev/crm/customers", ok), http.StatusUnauthorized, "", "Invalid or missing API key")
	}
	s.dcFails(s.doWith("", "GET", "/dev/crm/customers", nil, http.Header{"Authorization": {"Basic " + s.key}}),
		http.StatusUnauthorized, "", "Invalid or missing API key")
	s.assertReplayEqual()
}

// TestDevcrmConvert: a lead converts once into a customer that the
// prospects API shows as a client; again is a 409 naming it.
func TestDevcrmConvert(t *testing.T) {
	s := newStack(t)
	l := s.dcCreate(s.key, map[string]any{"name": "Conv Ert", "email": "convert@example.com", "phone": "+14155552671",
		"company": "Conv Co", "custom_fields": map[string]any{"k": 1}})
	var c dcCustomer
	s.dcWant(s.do(s.key, "POST", "/dev/crm/leads/"+l.ID+"/convert", nil), http.StatusOK, &c)
	if c.LeadID == nil || *c.LeadID != l.ID || c.Name != "Conv Ert" || *c.Email != "convert@example.com" ||
		*c.Phone != "+14155552671" || c.Type != "business" || c.Status != "active" || c.CustomFields["k"] != float64(1) {
		t.Fatalf("customer %+v", c)
	}
	var after dcLead
	s.dcWant(s.do(s.key, "GET", "/dev/crm/leads/"+l.ID, nil), http.StatusOK, &after)
	if after.CustomerID == nil || *after.CustomerID != c.ID || after.Status != "converted" {
		t.Fatalf("lead after conversion %+v", after)
	}
	r := s.do(s.key, "POST", "/dev/crm/leads/"+l.ID+"/convert", nil)
	s.dcFails(r, http.StatusConflict, "", "already converted to customer "+c.ID)
	if r.object(t)["customer_id"] != c.ID {
		t.Fatalf("second conversion %s", r.Body)
	}
	var got dcCustomer
	s.dcWant(s.do(s.key, "GET", "/dev/crm/customers/"+c.ID, nil), http.StatusOK, &got)
	if got.ID != c.ID {
		t.Fatalf("get %+v", got)
	}

	// The prospects API: the lead is a prospect of type 2 pointing at its
	// client, the customer that client.
	tok := s.token()
	var p struct {
		Prospect struct {
			Type       int    `json:"type"`
			CompanyID  *int64 `json:"company_id"`
			FollowName string `json:"follow_name"`
		} `json:"prospect"`
	}
	s.laWant(s.do(tok, "GET", fmt.Sprintf("/prospects/%d", s.leadNumber(l.ID)), nil), http.StatusOK, &p)
	if p.Prospect.CompanyID == nil || p.Prospect.FollowName != "converted" {
		t.Fatalf("prospect %+v", p)
	}
	var client struct {
		Company struct {
			ID          int64   `json:"id"`
			Name        string  `json:"name"`
			CompanyName *string `json:"company_name"`
		} `json:"company"`
	}
	s.laWant(s.do(tok, "GET", fmt.Sprintf("/clients/%d", *p.Prospect.CompanyID), nil), http.StatusOK, &client)
	if client.Company.Name != "Conv Ert" || laStr(client.Company.CompanyName) != "Conv Co" {
		t.Fatalf("client %+v", client)
	}

	// A lead whose email is a customer's already links to that customer.
	direct := s.dcCustomerCreate(s.key, map[string]any{"name": "Direct", "email": "direct@example.com"})
	twin := s.dcCreate(s.key, map[string]any{"name": "Twin", "email": "direct@example.com"})
	s.dcWant(s.do(s.key, "POST", "/dev/crm/leads/"+twin.ID+"/convert", nil), http.StatusOK, &c)
	if c.ID != direct.ID {
		t.Fatalf("linked to %s, want %s", c.ID, direct.ID)
	}
	var cl dcList[dcCustomer]
	s.dcWant(s.do(s.key, "GET", "/dev/crm/customers", nil), http.StatusOK, &cl)
	if cl.Total != 2 {
		t.Fatalf("customers %+v", cl)
	}

	// Deleting the customer leaves the lead, no longer pointing at it.
	s.dcWant(s.do(s.key, "DELETE", "/dev/crm/customers/"+got.ID, nil), http.StatusNoContent, nil)
	s.dcWant(s.do(s.key, "GET", "/dev/crm/leads/"+l.ID, nil), http.StatusOK, &after)
	if after.CustomerID != nil {
		t.Fatalf("lead after its customer's deletion %+v", after)
	}
	s.assertReplayEqual()
}

// TestDevcrmCrossAPI: a Cratio lead is a /dev/crm lead, a status set here
// shows in the Leads API and Cratio, one set there shows here.
func TestDevcrmCrossAPI(t *testing.T) {
	s := newStack(t)
	cl := s.createLead(s.key, map[string]any{"name": "Rahul Sharma", "phone": "+91 98765 43210", "email": "rahul@techcorp.in",
		"source": "IVR", "assigned_to": "agent@techcorp.in", "status": "Contacted"})
	var l dcLead
	s.dcWant(s.do(s.key, "GET", "/dev/crm/leads/"+cl.ID, nil), http.StatusOK, &l)
	if l.Name != "Rahul Sharma" || *l.Source != "IVR" || *l.AssignedTo != "agent@techcorp.in" || l.Status != "contacted" ||
		*l.Phone != "+919876543210" {
		t.Fatalf("Cratio's lead through /dev/crm: %+v", l)
	}
	s.dcWant(s.do(s.key, "PUT", "/dev/crm/leads/"+cl.ID, map[string]any{"status": "won", "score": 90}), http.StatusOK, &l)
	if la := s.laGet(s.key, s.leadNumber(cl.ID)); la.Status != "Won" {
		t.Fatalf("the Leads API shows %q", la.Status)
	}
	if got := s.listLeads(s.key, "?status=Won"); got.Total != 1 || got.Data[0].ID != cl.ID {
		t.Fatalf("Cratio's Won list: %+v", got)
	}
	// A status added through the Leads API shows by its name, snake_lower.
	var st laStatus
	s.laWant(s.do(s.key, "POST", "/leads/status", map[string]any{"name": "Hot Prospect", "primaryColor": "pink"}), 201, &st)
	s.laWant(s.do(s.key, "PUT", "/leads/change-status", map[string]any{"ids": []int64{s.leadNumber(cl.ID)}, "statusId": st.ID}), 200, nil)
	s.dcWant(s.do(s.key, "GET", "/dev/crm/leads/"+cl.ID, nil), http.StatusOK, &l)
	if l.Status != "hot_prospect" || *l.Score != 90 {
		t.Fatalf("status %q", l.Status)
	}
	// A /dev/crm assignee (a UUID) does not stop the other APIs' writes,
	// which normalize the whole profile.
	owner := uuid.NewString()
	s.dcWant(s.do(s.key, "PUT", "/dev/crm/leads/"+cl.ID, map[string]any{"assigned_to": owner}), http.StatusOK, &l)
	s.laWant(s.settled(s.do(s.token(), "PATCH", fmt.Sprintf("/prospects/%d", s.leadNumber(cl.ID)), map[string]any{"company_name": "TechCorp"})), 200, nil)
	s.dcWant(s.do(s.key, "GET", "/dev/crm/leads/"+cl.ID, nil), http.StatusOK, &l)
	if *l.AssignedTo != owner || *l.Company != "TechCorp" {
		t.Fatalf("after a Leads API update %+v", l)
	}
	s.assertReplayEqual()
}
