package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/jwtauth"
)

// e2eJWTSecret is the HS256 secret newStack's crm verifies tokens with.
const e2eJWTSecret = "e2e-jwt-secret-0123456789abcdef0123456789"

// allPermissions are every permission the prospects API asks for.
var allPermissions = []string{"319", "crm-menu", "crm-partners"}

// tokenAt is a JWT of subject admin-7 for the tenant called name with the
// permissions given, signed with the stack's secret; issued at now.
func tokenAt(t testing.TB, name string, now time.Time, perms ...string) string {
	t.Helper()
	return tokenOf(t, name, "admin-7", now, perms...)
}

// tokenOf is tokenAt for another subject.
func tokenOf(t testing.TB, name, subject string, now time.Time, perms ...string) string {
	t.Helper()
	tok, err := jwtauth.IssueHS256([]byte(e2eJWTSecret), jwtauth.Grant{Tenant: name, Subject: subject,
		Permissions: perms, TTL: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// token is a JWT of the stack's tenant ("acme") with every permission.
func (s *stack) token() string { return tokenAt(s.t, "acme", time.Now(), allPermissions...) }

// psFails checks a Boom error answer: status, the field named (if any)
// and words in its message.
func (s *stack) psFails(r response, status int, field, words string) {
	s.t.Helper()
	var e struct {
		StatusCode int    `json:"statusCode"`
		Error      string `json:"error"`
		Message    string `json:"message"`
		Field      string `json:"field"`
	}
	s.laWant(r, status, &e)
	if e.StatusCode != status || e.Error != http.StatusText(status) || e.Field != field || !strings.Contains(e.Message, words) {
		s.t.Fatalf("error %+v, want %d field %q with %q", e, status, field, words)
	}
}

// settled waits for the read models when a write answered before they
// showed it (X-Crm-Consistency: pending, on a loaded machine), so what the
// test reads next through any API sees the write.
func (s *stack) settled(r response) response {
	s.t.Helper()
	if r.Header.Get("X-Crm-Consistency") == "pending" {
		s.caughtUp()
	}
	return r
}

// psRowError is a refused row of process or create.
type psRowError struct {
	Index         int    `json:"index"`
	Code          string `json:"code"`
	Email         string `json:"email"`
	ExistingID    int64  `json:"existing_id"`
	ExistingIndex *int   `json:"existing_index"`
}

type psCreated struct {
	Inserts []struct {
		Index int    `json:"index"`
		ID    int64  `json:"id"`
		Email string `json:"email"`
	} `json:"inserts"`
	Errors []psRowError `json:"errors"`
}

// psCreate creates one prospect through the API and returns its id.
func (s *stack) psCreate(tok string, row map[string]any) int64 {
	s.t.Helper()
	var out psCreated
	s.laWant(s.settled(s.do(tok, "POST", "/prospects", []any{row})), http.StatusOK, &out)
	if len(out.Inserts) != 1 {
		s.t.Fatalf("create %v: %+v", row, out)
	}
	return out.Inserts[0].ID
}

// psClient creates a client (a customer) in the tenant through the
// commands (no route of this API creates one) and returns its number.
func (s *stack) psClient(name, email string) int64 {
	s.t.Helper()
	res, err := commands.New(s.core.Store, "IN").CreateCustomer(s.ctx, commands.Context{TenantID: s.tenantID},
		commands.CreateCustomer{Profile: domain.CustomerProfile{Name: name, Emails: []string{email}}})
	if err != nil {
		s.t.Fatal(err)
	}
	return res.Number
}

// TestProspectsBatch: process judges without writing, create writes each
// row a prospect that is a lead in the other APIs, with the documented
// row errors, and 409 only when every row is a duplicate.
func TestProspectsBatch(t *testing.T) {
	s := newStack(t)
	tok := s.token()
	existing := s.laCreate(s.key, laPerson("Old", "old@example.com"))
	batch := []any{
		map[string]any{"name": "John Doe", "company": "Acme Corp", "email": "John@Acme.com", "phone": 5512345678, "code": 52, "locale": 1, "type": 1, "monthly_shipments": 150, "follow_up_id": 2},
		map[string]any{"company": "Only Company", "email": "company@example.com"},
		map[string]any{"email": "old@example.com"},
		map[string]any{"email": "john@acme.com"},
		map[string]any{"email": "not an email"},
		map[string]any{"name": "Nobody"},
		map[string]any{"phone": 12, "code": 52},
	}
	before := s.tenantEvents()
	var pr struct {
		Inserts []map[string]any `json:"inserts"`
		Updates []any            `json:"updates"`
		Errors  []psRowError     `json:"errors"`
	}
	s.laWant(s.do(tok, "POST", "/prospects/process", batch), http.StatusOK, &pr)
	if s.tenantEvents() != before {
		t.Fatal("process wrote events")
	}
	wantCodes := map[int]string{2: "DUPLICATE_EMAIL", 3: "DUPLICATE_IN_BATCH", 4: "INVALID_EMAIL", 5: "MISSING_CONTACT", 6: "INVALID_PHONE"}
	checkRows := func(errs []psRowError) {
		t.Helper()
		if len(errs) != len(wantCodes) {
			t.Fatalf("errors %+v", errs)
		}
		for _, e := range errs {
			if wantCodes[e.Index] != e.Code {
				t.Fatalf("row %d: %s, want %s", e.Index, e.Code, wantCodes[e.Index])
			}
			if e.Code == "DUPLICATE_EMAIL" && e.ExistingID != existing.ID {
				t.Fatalf("existing_id %d, want the lead's number %d", e.ExistingID, existing.ID)
			}
			if e.Code == "DUPLICATE_IN_BATCH" && (e.ExistingIndex == nil || *e.ExistingIndex != 0) {
				t.Fatalf("existing_index %v, want 0", e.ExistingIndex)
			}
		}
	}
	checkRows(pr.Errors)
	if len(pr.Inserts) != 2 || len(pr.Updates) != 0 || pr.Inserts[1]["company"] != "Only Company" {
		t.Fatalf("process: %+v", pr)
	}

	var cr psCreated
	s.laWant(s.settled(s.do(tok, "POST", "/prospects", batch)), http.StatusOK, &cr)
	checkRows(cr.Errors)
	if len(cr.Inserts) != 2 || cr.Inserts[0].Email != "john@acme.com" {
		t.Fatalf("create: %+v", cr)
	}
	// A prospect is a lead: the Leads API shows it by the same id, in the
	// follow-up status sent, with its E.164 phone; the name falls back to
	// the company.
	john := s.laGet(s.key, cr.Inserts[0].ID)
	if laStr(john.Email) != "john@acme.com" || john.StatusID == nil || *john.StatusID != 2 ||
		len(john.PhoneNumber) != 1 || !strings.Contains(strings.ReplaceAll(john.PhoneNumber[0], " ", ""), "5512345678") {
		t.Fatalf("the Leads API shows %+v", john)
	}
	company := s.laGet(s.key, cr.Inserts[1].ID)
	if laStr(company.FirstName)+" "+laStr(company.LastName) == "" || laStr(company.Company) != "Only Company" {
		t.Fatalf("the Leads API shows %+v", company)
	}
	// And Cratio lists it too.
	var list struct {
		Total int64 `json:"total"`
	}
	s.laWant(s.do(s.key, "GET", "/api/v1/leads?search=acme.com", nil), http.StatusOK, &list)
	if list.Total < 1 {
		t.Fatalf("Cratio does not find the prospect: %+v", list)
	}

	// Every row a duplicate: 409 with the rows, nothing written.
	before = s.tenantEvents()
	r := s.do(tok, "POST", "/prospects", []any{map[string]any{"email": "old@example.com"}, map[string]any{"email": "john@acme.com"}})
	s.psFails(r, http.StatusConflict, "", "duplicate")
	if s.tenantEvents() != before {
		t.Fatal("the refused batch wrote events")
	}

	// Schema faults refuse the whole batch, naming the row's field.
	for _, c := range []struct {
		body  any
		field string
	}{
		{[]any{map[string]any{"email": "a@example.com"}, map[string]any{"email": "b@example.com", "extra": 1}}, "[1].extra"},
		{[]any{map[string]any{"email": "a@example.com", "phone": "5512345678"}}, "[0].phone"},
		{[]any{map[string]any{"email": "a@example.com", "type": 4}}, "[0].type"},
		{[]any{map[string]any{"email": "a@example.com", "follow_up_id": 999}}, "[0].follow_up_id"},
		{map[string]any{"email": "a@example.com"}, ""},
		{[]any{}, ""},
	} {
		s.psFails(s.do(tok, "POST", "/prospects", c.body), http.StatusBadRequest, c.field, "")
		s.psFails(s.do(tok, "POST", "/prospects/process", c.body), http.StatusBadRequest, c.field, "")
	}
	if s.tenantEvents() != before {
		t.Fatal("a refused batch wrote events")
	}
	s.assertReplayEqual()
}

// TestProspectsUpdates: PATCH of the core fields, the follow-up data and
// a partner's data, each answered with the prospect, seen by the Leads API.
func TestProspectsUpdates(t *testing.T) {
	s := newStack(t)
	tok := s.token()
	id := s.psCreate(tok, map[string]any{"name": "Jane", "email": "jane@example.com"})
	partner := s.psCreate(tok, map[string]any{"name": "Partner", "email": "partner@example.com", "type": 3})
	taken := s.psCreate(tok, map[string]any{"name": "Taken", "email": "taken@example.com"})
	path := fmt.Sprintf("/prospects/%d", id)

	var p struct {
		Prospect struct {
			ID          int64   `json:"id"`
			Name        string  `json:"name"`
			CompanyName *string `json:"company_name"`
			Email       *string `json:"email"`
			PhoneCode   *string `json:"phone_code"`
			Phone       *string `json:"phone"`
			CreatedBy   *int64  `json:"created_by"`
			Type        int     `json:"type"`
		} `json:"prospect"`
		FollowData struct {
			Channel            *string  `json:"channel"`
			AccountValue       *float64 `json:"account_value"`
			AccountType        *string  `json:"account_type"`
			EstimatedCloseDate *string  `json:"estimated_close_date"`
			Annotations        *string  `json:"annotations"`
		} `json:"follow_data"`
		PartnerData *struct {
			URL    *string `json:"url"`
			Rating *int    `json:"rating"`
		} `json:"partner_data"`
	}
	s.laWant(s.settled(s.do(tok, "PATCH", path, map[string]any{"company_name": "Acme Corporation", "name": "Jane Roe",
		"email": "Jane.Roe@Acme.com", "phone_code": "52", "phone": "5598765432", "created_by": 15})), http.StatusOK, &p)
	if p.Prospect.ID != id || p.Prospect.Name != "Jane Roe" || laStr(p.Prospect.Email) != "jane.roe@acme.com" ||
		laStr(p.Prospect.PhoneCode) != "52" || laStr(p.Prospect.Phone) != "5598765432" || p.Prospect.CreatedBy == nil || *p.Prospect.CreatedBy != 15 {
		t.Fatalf("PATCH answered %+v", p.Prospect)
	}
	if got := s.laGet(s.key, id); laStr(got.Email) != "jane.roe@acme.com" || laStr(got.Company) != "Acme Corporation" {
		t.Fatalf("the Leads API shows %+v", got)
	}
	s.psFails(s.do(tok, "PATCH", path, map[string]any{"email": "taken@example.com"}), http.StatusConflict, "email", "")
	s.psFails(s.do(tok, "PATCH", path, map[string]any{"email": "nope"}), http.StatusBadRequest, "email", "valid email")
	s.psFails(s.do(tok, "PATCH", path, map[string]any{"created_by": "15"}), http.StatusBadRequest, "created_by", "")
	s.psFails(s.do(tok, "PATCH", path, map[string]any{"nickname": "J"}), http.StatusBadRequest, "nickname", "not allowed")
	_ = taken

	s.laWant(s.do(tok, "PATCH", path+"/data", map[string]any{"channel": "referral", "account_value": 8000,
		"monthly_shipments": 200, "ecommerce_type_id": 3, "weight_id": 2, "content_id": 1, "account_type": "enterprise",
		"estimated_close_date": "2026-05-01", "annotations": "High priority"}), http.StatusOK, &p)
	if laStr(p.FollowData.Channel) != "referral" || p.FollowData.AccountValue == nil || *p.FollowData.AccountValue != 8000 ||
		laStr(p.FollowData.AccountType) != "enterprise" || laStr(p.FollowData.EstimatedCloseDate) != "2026-05-01" {
		t.Fatalf("data answered %+v", p.FollowData)
	}
	s.psFails(s.do(tok, "PATCH", path+"/data", map[string]any{"account_type": "huge"}), http.StatusBadRequest, "account_type", "")
	s.psFails(s.do(tok, "PATCH", path+"/data", map[string]any{"account_value": "8000"}), http.StatusBadRequest, "account_value", "")

	pd := map[string]any{"url": "https://partner-store.com", "partner_type_id": 2, "partner_origin_id": 1, "rating": 4, "locale_id": 1, "social_network": "@partnerstore"}
	s.psFails(s.do(tok, "PATCH", path+"/partner-data", pd), http.StatusBadRequest, "id", "not a partner")
	s.laWant(s.do(tok, "PATCH", fmt.Sprintf("/prospects/%d/partner-data", partner), pd), http.StatusOK, &p)
	if p.PartnerData == nil || laStr(p.PartnerData.URL) != "https://partner-store.com" || *p.PartnerData.Rating != 4 {
		t.Fatalf("partner data answered %+v", p.PartnerData)
	}
	bad := map[string]any{"url": "https://x.example", "partner_type_id": 2, "partner_origin_id": 1, "rating": 6, "locale_id": 1}
	s.psFails(s.do(tok, "PATCH", fmt.Sprintf("/prospects/%d/partner-data", partner), bad), http.StatusBadRequest, "rating", "")
	delete(bad, "url")
	s.psFails(s.do(tok, "PATCH", fmt.Sprintf("/prospects/%d/partner-data", partner), bad), http.StatusBadRequest, "url", "required")

	for _, missing := range []string{"/prospects/999999", "/prospects/0", "/prospects/abc"} {
		s.psFails(s.do(tok, "PATCH", missing, map[string]any{"name": "X"}), http.StatusNotFound, "", "not found")
	}
	s.assertReplayEqual()
}

// TestProspectsRecords: contacts, notes and locations of prospects and
// clients, each in its owner's stream; a note shows in the Leads API's logs.
func TestProspectsRecords(t *testing.T) {
	s := newStack(t)
	tok := s.token()
	id := s.psCreate(tok, map[string]any{"name": "Owner", "email": "owner@example.com"})
	client := s.psClient("Client Co", "client@example.com")
	pp, cp := fmt.Sprintf("/prospects/%d", id), fmt.Sprintf("/clients/%d", client)

	type contact struct {
		ID        int64   `json:"id"`
		Name      string  `json:"name"`
		Email     *string `json:"email"`
		PhoneCode *string `json:"phone_code"`
		Phone     *string `json:"phone"`
		Position  *string `json:"position"`
	}
	var ct contact
	s.laWant(s.do(tok, "POST", pp+"/contacts", map[string]any{"name": "Jane Smith", "email": "Jane@Acme.com",
		"phone_code": "52", "phone": "5598765432", "position": "CTO"}), http.StatusCreated, &ct)
	if ct.ID < 1 || laStr(ct.Email) != "jane@acme.com" || laStr(ct.PhoneCode) != "52" || laStr(ct.Position) != "CTO" {
		t.Fatalf("contact %+v", ct)
	}
	s.psFails(s.do(tok, "POST", pp+"/contacts", map[string]any{"name": "Jane", "email": "jane@acme.com", "phone_code": "52", "phone": "5598765433"}),
		http.StatusConflict, "email", "")
	s.psFails(s.do(tok, "POST", pp+"/contacts", map[string]any{"name": "Jane", "email": "j2@acme.com"}), http.StatusBadRequest, "phone_code", "required")
	s.laWant(s.do(tok, "PUT", fmt.Sprintf("/prospects/%d/contacts", ct.ID), map[string]any{"position": "VP Engineering", "isDefault": false}), http.StatusOK, &ct)
	if laStr(ct.Position) != "VP Engineering" || ct.Name != "Jane Smith" {
		t.Fatalf("changed contact %+v", ct)
	}
	var p struct {
		Prospect struct {
			Name  string  `json:"name"`
			Email *string `json:"email"`
		} `json:"prospect"`
	}
	s.laWant(s.do(tok, "PUT", pp+"/contacts", map[string]any{"name": "Owner Renamed", "isDefault": true}), http.StatusOK, &p)
	if p.Prospect.Name != "Owner Renamed" || laStr(p.Prospect.Email) != "owner@example.com" {
		t.Fatalf("default contact answered %+v", p)
	}
	var cc contact
	s.laWant(s.do(tok, "POST", cp+"/contacts", map[string]any{"name": "Client Contact", "email": "cc@client.com", "phone_code": "91", "phone": "9876543210"}), http.StatusCreated, &cc)
	// A client's contact is not a prospect's.
	s.psFails(s.do(tok, "DELETE", fmt.Sprintf("/prospects/%d/contacts", cc.ID), nil), http.StatusNotFound, "", "not found")
	if r := s.do(tok, "DELETE", fmt.Sprintf("/prospects/%d/contacts", ct.ID), nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete contact: %d %s", r.Status, r.Body)
	}
	s.psFails(s.do(tok, "DELETE", fmt.Sprintf("/prospects/%d/contacts", ct.ID), nil), http.StatusNotFound, "", "not found")

	type note struct {
		ID            int64      `json:"id"`
		Action        string     `json:"action"`
		Comment       string     `json:"comment"`
		ScheduledDate *time.Time `json:"scheduled_date"`
		FollowUpID    *int64     `json:"follow_up_id"`
		EntityType    string     `json:"entity_type"`
	}
	var n note
	s.laWant(s.settled(s.do(tok, "POST", pp+"/notes", map[string]any{"follow": 3, "action": "call", "note": "Discussed pricing options",
		"scheduled_date": "2026-03-20T09:00:00Z"})), http.StatusCreated, &n)
	if n.Action != "call" || n.FollowUpID == nil || *n.FollowUpID != 3 || n.ScheduledDate == nil || n.EntityType != "prospect" {
		t.Fatalf("note %+v", n)
	}
	if got := s.laGet(s.key, id); got.StatusID == nil || *got.StatusID != 3 {
		t.Fatalf("the note's follow did not move the lead: %+v", got)
	}
	// The note is in the lead's stream: the Leads API's logs show it.
	var logs struct {
		Logs []struct {
			Action string `json:"action"`
			API    string `json:"api"`
		} `json:"logs"`
	}
	s.laWant(s.do(s.key, "GET", fmt.Sprintf("/leads/logs/%d", id), nil), http.StatusOK, &logs)
	noted := false
	for _, l := range logs.Logs {
		noted = noted || (l.Action == "LogInteraction" && l.API == "prospects")
	}
	if !noted {
		t.Fatalf("the Leads API's logs do not show the note: %+v", logs)
	}
	s.psFails(s.do(tok, "POST", pp+"/notes", map[string]any{"action": "fax", "note": "x"}), http.StatusBadRequest, "action", "")
	s.psFails(s.do(tok, "POST", pp+"/notes", map[string]any{"action": "call"}), http.StatusBadRequest, "note", "required")
	s.psFails(s.do(tok, "POST", pp+"/notes", map[string]any{"note": "x", "follow": 999}), http.StatusBadRequest, "follow", "")
	s.psFails(s.do(tok, "POST", pp+"/notes", map[string]any{"note": "x", "scheduled_date": "soon"}), http.StatusBadRequest, "scheduled_date", "")

	s.laWant(s.do(tok, "PATCH", fmt.Sprintf("%s/notes/%d", pp, n.ID), map[string]any{"scheduled_date": "2026-03-25T14:00:00Z", "origin": "prospect"}), http.StatusOK, &n)
	if n.ScheduledDate == nil || !n.ScheduledDate.Equal(time.Date(2026, 3, 25, 14, 0, 0, 0, time.UTC)) {
		t.Fatalf("rescheduled note %+v", n)
	}
	s.laWant(s.do(tok, "PATCH", fmt.Sprintf("%s/notes/%d", pp, n.ID), map[string]any{"scheduled_date": nil, "origin": "prospect"}), http.StatusOK, &n)
	if n.ScheduledDate != nil {
		t.Fatalf("unscheduled note %+v", n)
	}
	s.psFails(s.do(tok, "PATCH", fmt.Sprintf("/prospects/%d/notes/%d", client, n.ID), map[string]any{"scheduled_date": nil, "origin": "company"}), http.StatusNotFound, "", "not found")
	s.psFails(s.do(tok, "PATCH", fmt.Sprintf("%s/notes/%d", pp, n.ID), map[string]any{"origin": "prospect"}), http.StatusBadRequest, "scheduled_date", "")

	var cn note
	s.laWant(s.do(tok, "POST", cp+"/notes", map[string]any{"action": "email", "note": "Welcome mail"}), http.StatusCreated, &cn)
	if cn.EntityType != "company" || cn.Action != "email" {
		t.Fatalf("client note %+v", cn)
	}
	s.laWant(s.do(tok, "PATCH", fmt.Sprintf("/prospects/%d/notes/%d", client, cn.ID), map[string]any{"scheduled_date": "2026-04-01", "origin": "company"}), http.StatusOK, &cn)
	s.psFails(s.do(tok, "POST", cp+"/notes", map[string]any{"note": "x", "follow": 2}), http.StatusBadRequest, "follow", "")

	var cl struct {
		Company struct {
			ID         int64  `json:"id"`
			Name       string `json:"name"`
			FollowName string `json:"follow_name"`
		} `json:"company"`
		FollowData struct {
			Channel      *string  `json:"channel"`
			AccountValue *float64 `json:"account_value"`
			Annotations  *string  `json:"annotations"`
		} `json:"follow_data"`
	}
	s.laWant(s.do(tok, "PATCH", cp+"/data", map[string]any{"channel": "referral", "account_value": 1200, "annotations": "key account"}), http.StatusOK, &cl)
	if cl.Company.ID != client || cl.Company.Name != "Client Co" || cl.Company.FollowName != "won" || laStr(cl.FollowData.Channel) != "referral" ||
		cl.FollowData.AccountValue == nil || *cl.FollowData.AccountValue != 1200 || laStr(cl.FollowData.Annotations) != "key account" {
		t.Fatalf("client data answered %+v", cl)
	}
	s.psFails(s.do(tok, "PATCH", cp+"/data", map[string]any{"name": ""}), http.StatusBadRequest, "name", "")
	s.psFails(s.do(tok, "PATCH", "/clients/999/data", map[string]any{"channel": "x"}), http.StatusNotFound, "", "Client not found")

	type location struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
		Link string `json:"link"`
		Type string `json:"type"`
	}
	var loc, cloc location
	s.laWant(s.do(tok, "POST", pp+"/locations", map[string]any{"name": "Main Office", "link": "https://maps.example/?q=1", "type": "headquarters"}), http.StatusCreated, &loc)
	s.laWant(s.do(tok, "PUT", fmt.Sprintf("/prospects/locations/%d", loc.ID), map[string]any{"type": "warehouse"}), http.StatusOK, &loc)
	if loc.Type != "warehouse" || loc.Name != "Main Office" {
		t.Fatalf("location %+v", loc)
	}
	s.psFails(s.do(tok, "POST", pp+"/locations", map[string]any{"name": "X", "link": "https://maps.example", "type": "castle"}), http.StatusBadRequest, "type", "")
	s.psFails(s.do(tok, "POST", pp+"/locations", map[string]any{"name": strings.Repeat("x", 51), "link": "https://maps.example", "type": "office"}), http.StatusBadRequest, "name", "")
	s.laWant(s.do(tok, "POST", cp+"/locations", map[string]any{"name": "Depot", "link": "https://maps.example/?q=2", "type": "branch"}), http.StatusCreated, &cloc)
	s.laWant(s.do(tok, "PUT", fmt.Sprintf("/clients/locations/%d", cloc.ID), map[string]any{"name": "Depot 2"}), http.StatusOK, &cloc)
	// Each owner kind's locations only through its own paths.
	s.psFails(s.do(tok, "PUT", fmt.Sprintf("/prospects/locations/%d", cloc.ID), map[string]any{"name": "X"}), http.StatusNotFound, "", "not found")
	s.psFails(s.do(tok, "DELETE", fmt.Sprintf("/clients/locations/%d", loc.ID), nil), http.StatusNotFound, "", "not found")
	for _, path := range []string{fmt.Sprintf("/prospects/locations/%d", loc.ID), fmt.Sprintf("/clients/locations/%d", cloc.ID)} {
		if r := s.do(tok, "DELETE", path, nil); r.Status != http.StatusNoContent {
			t.Fatalf("DELETE %s: %d %s", path, r.Status, r.Body)
		}
		s.psFails(s.do(tok, "DELETE", path, nil), http.StatusNotFound, "", "not found")
	}
	s.psFails(s.do(tok, "POST", "/clients/999/locations", map[string]any{"name": "X", "link": "https://maps.example", "type": "office"}), http.StatusNotFound, "", "Client not found")
	s.assertReplayEqual()
}

// noneToken is an unsigned token (alg none) for the tenant with every
// permission.
func noneToken(tenant string) string {
	enc := base64.RawURLEncoding.EncodeToString
	head, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{"sub": "admin-7", "tenant": tenant, "permissions": allPermissions,
		"exp": time.Now().Add(time.Hour).Unix()})
	return enc(head) + "." + enc(claims) + "."
}

// TestProspectsAuth: every route refuses a missing, expired, forged,
// unsigned token and an API key with 401, and a token without the route's
// permission with 403 naming it, in the Boom shape; a tenant's token never
// reaches another tenant's prospects.
func TestProspectsAuth(t *testing.T) {
	s := newStack(t)
	id := s.psCreate(s.token(), map[string]any{"name": "Auth", "email": "auth@example.com"})
	forged, err := jwtauth.IssueHS256([]byte("another-secret-0123456789abcdef0123456789"), jwtauth.Grant{Tenant: "acme", Subject: "x",
		Permissions: allPermissions, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	routes := []struct{ method, path, perm string }{
		{"POST", "/prospects/process", ""}, {"POST", "/prospects", ""}, {"PATCH", "/prospects/%d", ""},
		{"PATCH", "/prospects/%d/data", "319"}, {"PATCH", "/prospects/%d/partner-data", "crm-partners"},
		{"POST", "/prospects/%d/contacts", "319"}, {"PUT", "/prospects/%d/contacts", "319"}, {"DELETE", "/prospects/%d/contacts", "319"},
		{"POST", "/prospects/%d/notes", "319"}, {"PATCH", "/prospects/%d/notes/1", "319"},
		{"POST", "/prospects/%d/locations", "crm-menu"}, {"PUT", "/prospects/locations/%d", "crm-menu"}, {"DELETE", "/prospects/locations/%d", "crm-menu"},
		{"POST", "/clients/%d/contacts", "319"}, {"POST", "/clients/%d/notes", "319"}, {"PATCH", "/clients/%d/data", "319"}, {"POST", "/clients/%d/locations", "crm-menu"},
		{"PUT", "/clients/locations/%d", "crm-menu"}, {"DELETE", "/clients/locations/%d", "crm-menu"},
	}
	for _, r := range routes {
		path := r.path
		if strings.Contains(path, "%d") {
			path = fmt.Sprintf(path, id)
		}
		for name, tok := range map[string]string{"none": "", "expired": tokenAt(t, "acme", time.Now().Add(-3*time.Hour), allPermissions...),
			"forged": forged, "alg none": noneToken("acme"), "api key": s.key, "unknown tenant": tokenAt(t, "nobody", time.Now(), allPermissions...)} {
			res := s.do(tok, r.method, path, map[string]any{})
			if res.Status != http.StatusUnauthorized {
				t.Fatalf("%s %s with %s token: %d %s", r.method, path, name, res.Status, res.Body)
			}
			s.psFails(res, http.StatusUnauthorized, "", "")
			if name == "expired" && !strings.Contains(string(res.Body), "expired") {
				t.Fatalf("an expired token is not told so: %s", res.Body)
			}
		}
		if r.perm == "" {
			continue
		}
		// Every other permission, but not this one.
		var others []string
		for _, p := range allPermissions {
			if p != r.perm {
				others = append(others, p)
			}
		}
		s.psFails(s.do(tokenAt(t, "acme", time.Now(), others...), r.method, path, map[string]any{}), http.StatusForbidden, "permission", "missing permission: "+r.perm)
	}

	// Another tenant's token: the prospect id names nothing there.
	if _, err := s.core.Tenants.EnsureTenant(s.ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	other := tokenAt(t, "globex", time.Now(), allPermissions...)
	s.psFails(s.do(other, "PATCH", fmt.Sprintf("/prospects/%d", id), map[string]any{"name": "Stolen"}), http.StatusNotFound, "", "not found")
	s.psFails(s.do(other, "POST", fmt.Sprintf("/prospects/%d/notes", id), map[string]any{"note": "x"}), http.StatusNotFound, "", "not found")
	if got := s.laGet(s.key, id); laStr(got.FirstName) == "Stolen" {
		t.Fatal("another tenant's token changed the prospect")
	}
}

// TestProspectsRateLimits: the per-key bucket is the token subject's, one
// whichever token it holds; another subject has its own; a client IP that
// sends refused tokens gets 429 once its bucket is spent, in the Boom shape.
func TestProspectsRateLimits(t *testing.T) {
	s := newStack(t, withRateLimits(api.RateLimits{
		PerKey: api.Rate{Limit: 0.01, Burst: 2}, PerTenant: api.Rate{Limit: 0.01, Burst: 10}, PerIP: api.Rate{Limit: 0.01, Burst: 2}}))
	body := []any{map[string]any{"email": "not an email"}} // judged without a write
	now := time.Now()
	for i, tok := range []string{tokenOf(t, "acme", "ana", now), tokenOf(t, "acme", "ana", now.Add(time.Second))} {
		if r := s.do(tok, "POST", "/prospects/process", body); r.Status != http.StatusOK || r.Header.Get("RateLimit-Limit") != "2" {
			t.Fatalf("request %d: %d %v %s", i, r.Status, r.Header, r.Body)
		}
	}
	r := s.do(tokenOf(t, "acme", "ana", now.Add(2*time.Second)), "POST", "/prospects/process", body)
	s.psFails(r, http.StatusTooManyRequests, "", "Too many requests")
	if r.Header.Get("Retry-After") == "" {
		t.Fatalf("429 without Retry-After: %v", r.Header)
	}
	if r := s.do(tokenOf(t, "acme", "ben", now), "POST", "/prospects/process", body); r.Status != http.StatusOK {
		t.Fatalf("another subject: %d %s", r.Status, r.Body)
	}
	// Refused tokens from this IP: two 401s, then 429 before the token is read.
	forged := tokenOf(t, "nobody", "x", now)
	for range 2 {
		s.psFails(s.do(forged, "POST", "/prospects/process", body), http.StatusUnauthorized, "", "")
	}
	s.psFails(s.do(forged, "POST", "/prospects/process", body), http.StatusTooManyRequests, "", "")
}
