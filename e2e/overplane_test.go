package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// opLead is the Lead object as a client of the Overplane API reads it;
// pointers are the nullable attributes.
type opLead struct {
	ID                  string   `json:"id"`
	CreatedAt           string   `json:"created_at"`
	UpdatedAt           string   `json:"updated_at"`
	LeadName            string   `json:"lead_name"`
	CompanyName         *string  `json:"company_name"`
	EmailID             *string  `json:"email_id"`
	LeadOwner           string   `json:"lead_owner"`
	Status              string   `json:"status"`
	Salutation          *string  `json:"salutation"`
	Gender              *string  `json:"gender"`
	Customer            *string  `json:"customer"`
	Image               *string  `json:"image"`
	Phone               *string  `json:"phone"`
	MobileNo            *string  `json:"mobile_no"`
	Fax                 *string  `json:"fax"`
	Type                *string  `json:"type"`
	MarketSegment       *string  `json:"market_segment"`
	Industry            *string  `json:"industry"`
	RequestType         *string  `json:"request_type"`
	Company             *string  `json:"company"`
	Website             *string  `json:"website"`
	Territory           *string  `json:"territory"`
	Unsubscribed        bool     `json:"unsubscribed"`
	BlogSubscriber      bool     `json:"blog_subscriber"`
	Title               *string  `json:"title"`
	Language            *string  `json:"language"`
	FirstName           *string  `json:"first_name"`
	MiddleName          *string  `json:"middle_name"`
	LastName            *string  `json:"last_name"`
	NoOfEmployees       *string  `json:"no_of_employees"`
	WhatsappNo          *string  `json:"whatsapp_no"`
	PhoneExt            *string  `json:"phone_ext"`
	QualifiedBy         *string  `json:"qualified_by"`
	QualifiedOn         *string  `json:"qualified_on"`
	QualificationStatus *string  `json:"qualification_status"`
	JobTitle            *string  `json:"job_title"`
	AnnualRevenue       *float64 `json:"annual_revenue"`
	Disabled            bool     `json:"disabled"`
	City                *string  `json:"city"`
	State               *string  `json:"state"`
	Country             *string  `json:"country"`
	UTMContent          *string  `json:"utm_content"`
	UTMSource           *string  `json:"utm_source"`
	UTMMedium           *string  `json:"utm_medium"`
	UTMCampaign         *string  `json:"utm_campaign"`
}

type opList struct {
	Data    []opLead `json:"data"`
	HasMore bool     `json:"has_more"`
	Total   int      `json:"total"`
}

// opError is the Overplane error body.
type opError struct {
	Error struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Param   string `json:"param"`
	} `json:"error"`
}

var opIDPattern = regexp.MustCompile(`^lead_[0-9a-f]{32}$`)

// opIDOf is the Overplane id of a lead the Cratio API shows by UUID.
func opIDOf(cratioID string) string {
	return "lead_" + strings.ReplaceAll(cratioID, "-", "")
}

func str(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func (s *stack) opCreate(key string, body any) opLead {
	s.t.Helper()
	return expect[opLead](s, http.StatusCreated, key, "POST", "/api/crm/lead", body)
}

func (s *stack) opGet(key, id string) opLead {
	s.t.Helper()
	return expect[opLead](s, http.StatusOK, key, "GET", "/api/crm/lead/"+id, nil)
}

func (s *stack) opPatch(key, id string, body any) opLead {
	s.t.Helper()
	return expect[opLead](s, http.StatusOK, key, "PATCH", "/api/crm/lead/"+id, body)
}

func (s *stack) opList(key, query string) opList {
	s.t.Helper()
	return expect[opList](s, http.StatusOK, key, "GET", "/api/crm/lead"+query, nil)
}

// opFail checks an error answer's status, type, code and param.
func opFail(t testing.TB, r response, status int, typ, code, param string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	var e opError
	r.json(t, &e)
	if e.Error.Type != typ || e.Error.Param != param || (code != "" && e.Error.Code != code) || e.Error.Message == "" {
		t.Fatalf("error %+v, want type %q code %q param %q", e.Error, typ, code, param)
	}
}

var asha = map[string]any{
	"lead_name": "Asha Rao", "company_name": "Globex India", "email_id": " Asha.Rao@Globex.IN ",
	"lead_owner": "owner@globex.in", "status": "Qualified", "salutation": "Ms", "gender": "Female",
	"customer": "CUST-0001", "image": "asha.png", "phone": "098765 43210", "mobile_no": "+91 91234 56789",
	"fax": "022 1234 5678", "type": "Company", "market_segment": "Upper Income", "industry": "Retail",
	"request_type": "Product Enquiry", "company": "Overplane Demo", "website": "https://globex.in",
	"territory": "India", "unsubscribed": true, "blog_subscriber": true, "title": "Asha at Globex",
	"language": "en", "first_name": "Asha", "middle_name": "K", "last_name": "Rao",
	"no_of_employees": "51-200", "whatsapp_no": "+91 91234 56789", "phone_ext": "42",
	"qualified_by": "sales@overplane.dev", "qualified_on": "2026-04-01", "qualification_status": "Qualified",
	"job_title": "CTO", "annual_revenue": 2500000.5, "disabled": true, "city": "Pune", "state": "Maharashtra",
	"country": "India", "utm_content": "banner", "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring",
}

func TestOverplaneCreateAndRetrieve(t *testing.T) {
	s := newStack(t)
	// The minimum: defaults everywhere else, unset text null.
	min := s.opCreate(s.key, map[string]any{"lead_name": "Ravi Kumar", "email_id": "RAVI@Example.com"})
	if !opIDPattern.MatchString(min.ID) || min.LeadName != "Ravi Kumar" || str(min.EmailID) != "ravi@example.com" {
		t.Fatalf("created lead: %+v", min)
	}
	if min.LeadOwner != "__user" || min.Status != "Lead" || min.Unsubscribed || min.BlogSubscriber || min.Disabled {
		t.Fatalf("defaults: %+v", min)
	}
	if min.Phone != nil || min.CompanyName != nil || min.AnnualRevenue != nil || min.FirstName != nil || min.UTMCampaign != nil {
		t.Fatalf("unset attributes are not null: %+v", min)
	}
	created, err := time.Parse(time.RFC3339, min.CreatedAt)
	if err != nil || !strings.HasSuffix(min.CreatedAt, "Z") || time.Since(created) > time.Minute || min.UpdatedAt != min.CreatedAt {
		t.Fatalf("timestamps: %q %q (%v)", min.CreatedAt, min.UpdatedAt, err)
	}
	if got := s.opGet(s.key, min.ID); !sameLead(got, min) {
		t.Fatalf("GET differs from the POST answer:\n%+v\n%+v", got, min)
	}

	// Every attribute, normalized and mapped back.
	full := s.opCreate(s.key, asha)
	want := opLead{
		ID: full.ID, CreatedAt: full.CreatedAt, UpdatedAt: full.UpdatedAt,
		LeadName: "Asha Rao", LeadOwner: "owner@globex.in", Status: "Qualified",
		Unsubscribed: true, BlogSubscriber: true, Disabled: true,
	}
	sp := func(v string) *string { return &v }
	rev := 2500000.5
	want.CompanyName, want.EmailID, want.Salutation, want.Gender = sp("Globex India"), sp("asha.rao@globex.in"), sp("Ms"), sp("Female")
	want.Customer, want.Image, want.Phone, want.MobileNo = sp("CUST-0001"), sp("asha.png"), sp("+919876543210"), sp("+919123456789")
	want.Fax, want.Type, want.MarketSegment, want.Industry = sp("022 1234 5678"), sp("Company"), sp("Upper Income"), sp("Retail")
	want.RequestType, want.Company, want.Website, want.Territory = sp("Product Enquiry"), sp("Overplane Demo"), sp("https://globex.in"), sp("India")
	want.Title, want.Language, want.FirstName, want.MiddleName, want.LastName = sp("Asha at Globex"), sp("en"), sp("Asha"), sp("K"), sp("Rao")
	want.NoOfEmployees, want.WhatsappNo, want.PhoneExt = sp("51-200"), sp("+91 91234 56789"), sp("42")
	want.QualifiedBy, want.QualifiedOn, want.QualificationStatus = sp("sales@overplane.dev"), sp("2026-04-01"), sp("Qualified")
	want.JobTitle, want.AnnualRevenue, want.City, want.State, want.Country = sp("CTO"), &rev, sp("Pune"), sp("Maharashtra"), sp("India")
	want.UTMContent, want.UTMSource, want.UTMMedium, want.UTMCampaign = sp("banner"), sp("google"), sp("cpc"), sp("spring")
	got := s.opGet(s.key, full.ID)
	if fmt.Sprintf("%+v", deref(got)) != fmt.Sprintf("%+v", deref(want)) {
		t.Fatalf("full lead:\n got %+v\nwant %+v", deref(got), deref(want))
	}
	// The name is made from its parts when not given; only a mobile number
	// also serves as the lead's phone.
	parts := s.opCreate(s.key, map[string]any{"first_name": "Meera", "last_name": "Iyer", "mobile_no": "99887 76655"})
	if parts.LeadName != "Meera Iyer" || str(parts.MobileNo) != "+919988776655" || str(parts.Phone) != "+919988776655" || parts.EmailID != nil {
		t.Fatalf("lead from parts and a mobile number: %+v", parts)
	}
	// "Lead" and "New" are the same status; null is the default.
	for i, st := range []any{"Lead", "New", nil} {
		l := s.opCreate(s.key, map[string]any{"lead_name": "S", "email_id": fmt.Sprintf("s%d@example.com", i), "status": st})
		if l.Status != "Lead" {
			t.Fatalf("status %v shows as %q", st, l.Status)
		}
	}
	s.assertReplayEqual()
}

// deref renders a lead with its pointers followed, for comparison.
func deref(l opLead) map[string]any {
	out := map[string]any{}
	b, err := json.Marshal(l)
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// sameLead reports whether two leads read the same.
func sameLead(a, b opLead) bool {
	return fmt.Sprint(deref(a)) == fmt.Sprint(deref(b))
}

func TestOverplaneList(t *testing.T) {
	s := newStack(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, s.opCreate(s.key, map[string]any{"lead_name": fmt.Sprintf("Lead %d", i), "email_id": fmt.Sprintf("l%d@example.com", i)}).ID)
	}
	slices.Reverse(ids) // newest first
	all := s.opList(s.key, "")
	if all.Total != 5 || all.HasMore || len(all.Data) != 5 {
		t.Fatalf("list: %+v", all)
	}
	for i, l := range all.Data {
		if l.ID != ids[i] {
			t.Fatalf("list order: position %d is %s, want %s", i, l.ID, ids[i])
		}
	}
	for _, c := range []struct {
		query   string
		ids     []string
		hasMore bool
	}{
		{"?limit=2", ids[:2], true},
		{"?limit=2&offset=2", ids[2:4], true},
		{"?limit=2&offset=4", ids[4:], false},
		{"?offset=5", nil, false},
		{"?offset=50", nil, false},
		{"?limit=100&offset=1", ids[1:], false},
	} {
		got := s.opList(s.key, c.query)
		var gotIDs []string
		for _, l := range got.Data {
			gotIDs = append(gotIDs, l.ID)
		}
		if got.Total != 5 || got.HasMore != c.hasMore || !slices.Equal(gotIDs, c.ids) || got.Data == nil {
			t.Errorf("GET /api/crm/lead%s: %+v", c.query, got)
		}
	}
	// The default page is 20.
	for i := 5; i < 25; i++ {
		s.opCreate(s.key, map[string]any{"lead_name": "More", "phone": fmt.Sprintf("+9198765%05d", i)})
	}
	if page := s.opList(s.key, ""); page.Total != 25 || len(page.Data) != 20 || !page.HasMore {
		t.Fatalf("default page: total %d, %d rows, has_more %v", page.Total, len(page.Data), page.HasMore)
	}
	for _, q := range []struct{ query, param string }{
		{"?limit=0", "limit"}, {"?limit=101", "limit"}, {"?limit=ten", "limit"}, {"?limit=", "limit"},
		{"?offset=-1", "offset"}, {"?offset=1.5", "offset"},
	} {
		opFail(t, s.do(s.key, "GET", "/api/crm/lead"+q.query, nil), 400, "invalid_request_error", "parameter_invalid", q.param)
	}
	// Another tenant sees none of them.
	_, other := s.newTenant("globex")
	if l := s.opList(other, ""); l.Total != 0 || len(l.Data) != 0 || l.HasMore {
		t.Fatalf("another tenant's list: %+v", l)
	}
	s.assertReplayEqual()
}

func TestOverplanePatchChangesOnlyWhatIsSent(t *testing.T) {
	s := newStack(t)
	l := s.opCreate(s.key, asha)
	p := s.opPatch(s.key, l.ID, map[string]any{"city": "Mumbai", "status": "Won", "unsubscribed": false})
	if str(p.City) != "Mumbai" || p.Status != "Won" || p.Unsubscribed {
		t.Fatalf("patched: %+v", p)
	}
	// Everything else is as it was.
	want := deref(l)
	want["city"], want["status"], want["unsubscribed"], want["updated_at"] = "Mumbai", "Won", false, p.UpdatedAt
	if fmt.Sprint(deref(p)) != fmt.Sprint(want) {
		t.Fatalf("patch changed more than it was sent:\n got %v\nwant %v", deref(p), want)
	}
	if p.CreatedAt != l.CreatedAt {
		t.Fatalf("created_at moved: %s -> %s", l.CreatedAt, p.CreatedAt)
	}
	if got := s.opGet(s.key, l.ID); !sameLead(got, p) {
		t.Fatalf("GET after PATCH: %+v", got)
	}
	// Explicit null resets to the default; blank text is null.
	p = s.opPatch(s.key, l.ID, map[string]any{"company_name": nil, "annual_revenue": nil, "lead_owner": nil,
		"disabled": nil, "status": nil, "website": "  ", "mobile_no": nil})
	if p.CompanyName != nil || p.AnnualRevenue != nil || p.LeadOwner != "__user" || p.Disabled || p.Status != "Lead" ||
		p.Website != nil || p.MobileNo != nil {
		t.Fatalf("nulls did not reset: %+v", p)
	}
	if str(p.Industry) != "Retail" || str(p.EmailID) != "asha.rao@globex.in" || str(p.Phone) != "+919876543210" {
		t.Fatalf("fields not sent changed: %+v", p)
	}
	// The name was given, so changing a part leaves it; a name made from
	// parts follows them.
	if p = s.opPatch(s.key, l.ID, map[string]any{"last_name": "Rao-Menon"}); p.LeadName != "Asha Rao" {
		t.Fatalf("given name changed with a part: %q", p.LeadName)
	}
	m := s.opCreate(s.key, map[string]any{"first_name": "Meera", "last_name": "Iyer", "email_id": "meera@example.com"})
	if m = s.opPatch(s.key, m.ID, map[string]any{"last_name": "Nair"}); m.LeadName != "Meera Nair" {
		t.Fatalf("made name did not follow its parts: %q", m.LeadName)
	}
	// An empty body changes nothing and writes nothing.
	before := len(s.events())
	if same := s.opPatch(s.key, m.ID, map[string]any{}); !sameLead(same, m) {
		t.Fatalf("empty patch changed the lead: %+v", same)
	}
	if after := len(s.events()); after != before {
		t.Fatalf("empty patch wrote %d events", after-before)
	}
	// A lead cannot be left without a name or a way to reach it.
	opFail(t, s.do(s.key, "PATCH", "/api/crm/lead/"+m.ID, map[string]any{"lead_name": nil, "first_name": nil, "last_name": nil}),
		400, "invalid_request_error", "parameter_missing", "lead_name")
	opFail(t, s.do(s.key, "PATCH", "/api/crm/lead/"+m.ID, map[string]any{"email_id": nil}),
		400, "invalid_request_error", "parameter_missing", "email_id")
	// ... unless its mobile number can be its phone.
	m = s.opPatch(s.key, m.ID, map[string]any{"email_id": nil, "mobile_no": "98111 22233"})
	if m.EmailID != nil || str(m.Phone) != "+919811122233" {
		t.Fatalf("mobile number as phone: %+v", m)
	}
	s.assertReplayEqual()
}

func TestOverplanePatchPrimaryEmailKeepsTheOthers(t *testing.T) {
	s := newStack(t)
	// Cratio merges a second email into the lead.
	c := s.createLead(s.key, rahul)
	if r := s.do(s.key, "POST", "/api/v1/leads", map[string]any{"name": "Rahul Sharma", "phone": "+919876543210", "email": "rahul.s@gmail.com"}); r.Status != http.StatusOK {
		t.Fatalf("merge: %d %s", r.Status, r.Body)
	}
	id := opIDOf(c.ID)
	p := s.opPatch(s.key, id, map[string]any{"email_id": "Rahul@NewCorp.in"})
	if str(p.EmailID) != "rahul@newcorp.in" {
		t.Fatalf("email_id: %+v", p)
	}
	emails := func() []string {
		for _, l := range s.listLeads(s.key, "").Data {
			if l.ID == c.ID {
				return l.Emails
			}
		}
		t.Fatal("lead not in the Cratio list")
		return nil
	}
	if got := emails(); !slices.Equal(got, []string{"rahul@newcorp.in", "rahul.s@gmail.com"}) {
		t.Fatalf("emails after replacing the primary: %v", got)
	}
	// The replaced email is free again.
	s.opCreate(s.key, map[string]any{"lead_name": "Other", "email_id": "rahul@techcorp.in"})
	// Null drops the primary; the next one takes its place.
	if p = s.opPatch(s.key, id, map[string]any{"email_id": nil}); str(p.EmailID) != "rahul.s@gmail.com" {
		t.Fatalf("email_id after null: %+v", p)
	}
	if got := emails(); !slices.Equal(got, []string{"rahul.s@gmail.com"}) {
		t.Fatalf("emails after dropping the primary: %v", got)
	}
	s.assertReplayEqual()
}

func TestOverplaneDuplicatesConflict(t *testing.T) {
	s := newStack(t)
	a := s.opCreate(s.key, map[string]any{"lead_name": "A", "email_id": "a@example.com", "phone": "+919876500001"})
	s.opCreate(s.key, map[string]any{"lead_name": "B", "email_id": "b@example.com", "phone": "+919876500002"})
	before := len(s.events())
	for _, c := range []struct {
		method, path string
		body         map[string]any
		param        string
	}{
		{"PATCH", "/api/crm/lead/" + a.ID, map[string]any{"email_id": "B@Example.com", "city": "Delhi"}, "email_id"},
		{"PATCH", "/api/crm/lead/" + a.ID, map[string]any{"phone": "098765 00002"}, "phone"},
		{"POST", "/api/crm/lead", map[string]any{"lead_name": "C", "email_id": "a@example.com"}, "email_id"},
		{"POST", "/api/crm/lead", map[string]any{"lead_name": "C", "phone": "+919876500001"}, "phone"},
		{"POST", "/api/crm/lead", map[string]any{"lead_name": "C", "mobile_no": "+919876500002"}, "mobile_no"},
	} {
		t.Run(fmt.Sprintf("%s %s", c.method, c.param), func(t *testing.T) {
			opFail(t, s.do(s.key, c.method, c.path, c.body), http.StatusConflict, "invalid_request_error", "resource_already_exists", c.param)
		})
	}
	if after := len(s.events()); after != before {
		t.Fatalf("refused writes wrote %d events", after-before)
	}
	if got := s.opGet(s.key, a.ID); !sameLead(got, a) {
		t.Fatalf("lead changed by a refused patch: %+v", got)
	}
	if l := s.opList(s.key, ""); l.Total != 2 {
		t.Fatalf("refused creates made leads: %+v", l)
	}
	// The same email in another tenant is another lead.
	_, other := s.newTenant("globex")
	s.opCreate(other, map[string]any{"lead_name": "B", "email_id": "b@example.com"})
	s.assertReplayEqual()
}

func TestOverplaneBadInput(t *testing.T) {
	s := newStack(t)
	l := s.opCreate(s.key, map[string]any{"lead_name": "Ravi", "email_id": "ravi@example.com"})
	ok := map[string]any{"lead_name": "x", "email_id": "x@example.com"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range ok {
			m[a] = b
		}
		m[k] = v
		return m
	}
	before := len(s.events())
	for _, path := range []string{"/api/crm/lead", "/api/crm/lead/" + l.ID} {
		method := "POST"
		if path != "/api/crm/lead" {
			method = "PATCH"
		}
		for _, c := range []struct {
			body        any
			status      int
			code, param string
			createOnly  bool
		}{
			{`{"lead_name": "x",`, 400, "invalid_json", "", false},
			{`[1,2]`, 400, "invalid_json", "", false},
			{`null`, 400, "invalid_json", "", false},
			{"", 400, "invalid_json", "", false},
			{`{"lead_name": "x", "email_id": "x@example.com"} {}`, 400, "invalid_json", "", false},
			{with("nickname", "y"), 400, "parameter_unknown", "nickname", false},
			{with("id", "lead_x"), 400, "parameter_unknown", "id", false},
			{with("created_at", "2026-01-01T00:00:00Z"), 400, "parameter_unknown", "created_at", false},
			{with("lead_name", 5), 400, "parameter_invalid_type", "lead_name", false},
			{with("annual_revenue", "10"), 400, "parameter_invalid_type", "annual_revenue", false},
			{with("unsubscribed", "yes"), 400, "parameter_invalid_type", "unsubscribed", false},
			{with("no_of_employees", 10), 400, "parameter_invalid_type", "no_of_employees", false},
			{with("status", 1), 400, "parameter_invalid_type", "status", false},
			{with("phone", "12"), 400, "parameter_invalid", "phone", false},
			{with("phone", "call me"), 400, "parameter_invalid", "phone", false},
			{with("mobile_no", "123"), 400, "parameter_invalid", "mobile_no", false},
			{with("email_id", "not-an-email"), 400, "parameter_invalid", "email_id", false},
			{with("email_id", "Ann <ann@x.com>"), 400, "parameter_invalid", "email_id", false},
			{with("status", "Hot"), 400, "parameter_invalid", "status", false},
			{with("status", ""), 400, "parameter_invalid", "status", false},
			{with("annual_revenue", -1), 400, "parameter_invalid", "annual_revenue", false},
			{with("city", strings.Repeat("x", 1001)), 400, "parameter_invalid", "city", false},
			{with("company_name", strings.Repeat("x", 1001)), 400, "parameter_invalid", "company_name", false},
			{strings.Repeat(" ", 2<<20), 413, "body_too_large", "", false},
			{map[string]any{"email_id": "x@example.com"}, 400, "parameter_missing", "lead_name", true},
			{map[string]any{"lead_name": "x"}, 400, "parameter_missing", "email_id", true},
			{map[string]any{"lead_name": "x", "email_id": nil, "phone": ""}, 400, "parameter_missing", "email_id", true},
		} {
			if c.createOnly && method == "PATCH" {
				continue
			}
			t.Run(fmt.Sprintf("%s %s %s", method, c.code, c.param), func(t *testing.T) {
				opFail(t, s.do(s.key, method, path, c.body), c.status, "invalid_request_error", c.code, c.param)
			})
		}
	}
	if after := len(s.events()); after != before {
		t.Fatalf("bad input wrote %d events", after-before)
	}
	if got := s.opGet(s.key, l.ID); !sameLead(got, l) {
		t.Fatalf("bad input changed the lead: %+v", got)
	}
	s.assertReplayEqual()
}

func TestOverplaneUnknownIDsAndAuth(t *testing.T) {
	s := newStack(t)
	l := s.opCreate(s.key, map[string]any{"lead_name": "Ravi", "email_id": "ravi@example.com"})
	_, other := s.newTenant("globex")
	theirs := s.opCreate(other, map[string]any{"lead_name": "Theirs", "email_id": "theirs@example.com"})
	for _, id := range []string{
		"lead_0190a5a0000070008000000000000000", // well-formed, unknown
		theirs.ID,                               // another tenant's
		"abc",                                   // malformed
		"lead_xyz",                              // malformed
		strings.ToUpper(l.ID[5:]),               // no prefix
		"lead_" + strings.ToUpper(l.ID[5:]),     // upper-case hex
		l.ID[5:],                                // bare hex
		"0190a5a0-0000-7000-8000-000000000000",  // a UUID
		"lead_0190a5a0-0000-7000-8000-00000000000", // dashes
	} {
		for _, m := range []struct {
			method string
			body   any
		}{{"GET", nil}, {"PATCH", map[string]any{"city": "Pune"}}, {"DELETE", nil}} {
			t.Run(m.method+" "+id, func(t *testing.T) {
				opFail(t, s.do(s.key, m.method, "/api/crm/lead/"+id, m.body), 404, "invalid_request_error", "resource_missing", "id")
			})
		}
	}
	if got := s.opGet(other, theirs.ID); got.City != nil {
		t.Fatalf("another tenant's lead changed: %+v", got)
	}
	for _, key := range []string{"", "le_live_wrong", s.key + "x"} {
		for _, m := range []string{"GET /api/crm/lead", "POST /api/crm/lead", "GET /api/crm/lead/" + l.ID,
			"PATCH /api/crm/lead/" + l.ID, "DELETE /api/crm/lead/" + l.ID} {
			method, path, _ := strings.Cut(m, " ")
			opFail(t, s.do(key, method, path, map[string]any{}), 401, "authentication_error", "invalid_api_key", "")
		}
	}
	r := s.do("", "GET", "/openapi/overplane.json", nil)
	if r.Status != http.StatusOK || r.object(t)["openapi"] != "3.0.3" {
		t.Fatalf("OpenAPI document: %d %.200s", r.Status, r.Body)
	}
	if got := s.opGet(s.key, l.ID); !sameLead(got, l) {
		t.Fatalf("refused requests changed the lead: %+v", got)
	}
	s.assertReplayEqual()
}

func TestOverplaneDeleteIsPermanent(t *testing.T) {
	s := newStack(t)
	l := s.opCreate(s.key, map[string]any{"lead_name": "Ravi Kumar", "email_id": "ravi@example.com", "phone": "+919876543210"})
	keep := s.opCreate(s.key, map[string]any{"lead_name": "Keep", "email_id": "keep@example.com"})
	r := s.do(s.key, "DELETE", "/api/crm/lead/"+l.ID, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if m := r.object(t); m["id"] != l.ID || m["deleted"] != true || len(m) != 2 {
		t.Fatalf("delete answer: %s", r.Body)
	}
	opFail(t, s.do(s.key, "GET", "/api/crm/lead/"+l.ID, nil), 404, "invalid_request_error", "resource_missing", "id")
	opFail(t, s.do(s.key, "DELETE", "/api/crm/lead/"+l.ID, nil), 404, "invalid_request_error", "resource_missing", "id")
	if list := s.opList(s.key, ""); list.Total != 1 || list.Data[0].ID != keep.ID {
		t.Fatalf("list after delete: %+v", list)
	}
	// The email and phone are free again: a new lead.
	again := s.opCreate(s.key, map[string]any{"lead_name": "Ravi Kumar", "email_id": "ravi@example.com", "phone": "+919876543210"})
	if again.ID == l.ID {
		t.Fatal("deleted lead came back")
	}
	s.assertReplayEqual()
}

func TestOverplaneAndCratioShareLeads(t *testing.T) {
	s := newStack(t)
	// Created through Cratio, read and patched here.
	c := s.createLead(s.key, rahul)
	id := opIDOf(c.ID)
	got := s.opGet(s.key, id)
	if got.Status != "Lead" || got.LeadName != "Rahul Sharma" || str(got.EmailID) != "rahul@techcorp.in" ||
		str(got.Phone) != "+919876543210" || str(got.CompanyName) != "TechCorp Solutions" || str(got.City) != "Mumbai" ||
		got.Company != nil || got.LeadOwner != "__user" {
		t.Fatalf("Cratio lead read here: %+v", got)
	}
	if l := s.opList(s.key, ""); l.Total != 1 || l.Data[0].ID != id {
		t.Fatalf("Cratio lead in this list: %+v", l)
	}
	p := s.opPatch(s.key, id, map[string]any{"status": "Won", "company_name": "TechCorp Pvt Ltd", "industry": "Software"})
	if p.Status != "Won" || str(p.CompanyName) != "TechCorp Pvt Ltd" {
		t.Fatalf("patched: %+v", p)
	}
	// The status set here is Cratio's status: its filter finds the lead.
	won := s.listLeads(s.key, "?status=Won")
	if won.Total != 1 || won.Data[0].ID != c.ID || str(won.Data[0].Company) != "TechCorp Pvt Ltd" {
		t.Fatalf("Cratio's status=Won list: %+v", won)
	}
	// Cratio fields not in this API are untouched by the patch.
	if w := won.Data[0]; str(w.Source) != "IVR" || str(w.Priority) != "High" || len(w.Tags) != 2 || str(w.Notes) != "Interested in Pro plan" {
		t.Fatalf("Cratio-only fields after a patch here: %+v", w)
	}
	// A status set through Cratio shows here at once.
	if r := s.do(s.key, "POST", "/api/v1/leads", map[string]any{"name": "Rahul Sharma", "email": "rahul@techcorp.in", "status": "Contacted"}); r.Status != http.StatusOK {
		t.Fatalf("Cratio merge: %d %s", r.Status, r.Body)
	}
	if got := s.opGet(s.key, id); got.Status != "Contacted" {
		t.Fatalf("status set through Cratio: %q", got.Status)
	}
	// Setting "Lead" here is Cratio's "New".
	s.opPatch(s.key, id, map[string]any{"status": "Lead"})
	if l := s.listLeads(s.key, "?status=New"); l.Total != 1 || l.Data[0].ID != c.ID {
		t.Fatalf("Cratio's status=New list: %+v", l)
	}

	// Created here, listed by Cratio.
	o := s.opCreate(s.key, map[string]any{"lead_name": "Asha Rao", "email_id": "asha@globex.in", "phone": "+91 91234 56789",
		"company_name": "Globex", "status": "Proposal"})
	found := false
	for _, l := range s.listLeads(s.key, "").Data {
		if opIDOf(l.ID) == o.ID {
			found = true
			if l.Name != "Asha Rao" || str(l.Email) != "asha@globex.in" || str(l.Phone) != "+919123456789" ||
				str(l.Company) != "Globex" || l.Status != "Proposal" {
				t.Fatalf("lead created here, as Cratio shows it: %+v", l)
			}
		}
	}
	if !found {
		t.Fatal("lead created here is not in Cratio's list")
	}
	// Cratio merges into a lead created here (its policy), and Overplane
	// sees the merged values.
	if r := s.do(s.key, "POST", "/api/v1/leads", map[string]any{"name": "Asha Rao", "email": "asha@globex.in", "city": "Pune"}); r.Status != http.StatusOK {
		t.Fatalf("Cratio merge into an Overplane lead: %d %s", r.Status, r.Body)
	}
	if got := s.opGet(s.key, o.ID); str(got.City) != "Pune" || str(got.CompanyName) != "Globex" {
		t.Fatalf("Cratio merge seen here: %+v", got)
	}

	// Deleted here, gone from Cratio.
	if r := s.do(s.key, "DELETE", "/api/crm/lead/"+id, nil); r.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if l := s.listLeads(s.key, ""); l.Total != 1 || opIDOf(l.Data[0].ID) != o.ID {
		t.Fatalf("Cratio list after a delete here: %+v", l)
	}
	if r := s.do(s.key, "DELETE", "/api/v1/leads/"+c.ID, nil); r.Status != http.StatusNotFound {
		t.Fatalf("Cratio delete of a lead deleted here: %d %s", r.Status, r.Body)
	}
	// Deleted through Cratio, gone here.
	if r := s.do(s.key, "DELETE", "/api/v1/leads/"+uuidOf(o.ID), nil); r.Status != http.StatusOK {
		t.Fatalf("Cratio delete: %d %s", r.Status, r.Body)
	}
	opFail(t, s.do(s.key, "GET", "/api/crm/lead/"+o.ID, nil), 404, "invalid_request_error", "resource_missing", "id")
	s.assertReplayEqual()
}

// uuidOf is the UUID, as Cratio shows it, of an Overplane lead id.
func uuidOf(id string) string {
	h := strings.TrimPrefix(id, "lead_")
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func TestOverplaneIdempotentCreate(t *testing.T) {
	s := newStack(t)
	h := http.Header{"Idempotency-Key": {"op-create-1"}}
	body := map[string]any{"lead_name": "Ravi", "email_id": "ravi@example.com"}
	first := s.doWith(s.key, "POST", "/api/crm/lead", body, h)
	again := s.doWith(s.key, "POST", "/api/crm/lead", body, h)
	if first.Status != http.StatusCreated || again.Status != http.StatusCreated || first.object(t)["id"] != again.object(t)["id"] {
		t.Fatalf("retried create: %d %s / %d %s", first.Status, first.Body, again.Status, again.Body)
	}
	if l := s.opList(s.key, ""); l.Total != 1 {
		t.Fatalf("%d leads after a retried POST", l.Total)
	}
	s.assertReplayEqual()
}

func TestOverplaneWritesAnswerWhenReadModelsLag(t *testing.T) {
	s := newStack(t, withWaitTimeout(100*time.Millisecond))
	l := s.opCreate(s.key, map[string]any{"lead_name": "Ravi", "email_id": "ravi@example.com"})
	// Under load the create's own answer may be a pending one (its created_at
	// then the time of the answer): compare with what the read model holds.
	s.caughtUp()
	l = s.opGet(s.key, l.ID)
	s.stop("projectors")
	// The read model does not show the writes in time: the answers come
	// from the commands' results, marked pending, still in the documented shape.
	r := s.do(s.key, "POST", "/api/crm/lead", map[string]any{"lead_name": "Asha", "phone": "+919123456789", "status": "Won"})
	if r.Status != http.StatusCreated || r.Header.Get("X-Crm-Consistency") != "pending" || r.Header.Get("X-Crm-Position") == "" {
		t.Fatalf("create while the read model lags: %d %v %s", r.Status, r.Header, r.Body)
	}
	var created opLead
	r.json(t, &created)
	if created.LeadName != "Asha" || str(created.Phone) != "+919123456789" || created.Status != "Won" || created.LeadOwner != "__user" {
		t.Fatalf("pending create answer: %+v", created)
	}
	r = s.do(s.key, "PATCH", "/api/crm/lead/"+l.ID, map[string]any{"city": "Pune", "status": "Lead"})
	if r.Status != http.StatusOK || r.Header.Get("X-Crm-Consistency") != "pending" {
		t.Fatalf("patch while the read model lags: %d %v %s", r.Status, r.Header, r.Body)
	}
	var patched opLead
	r.json(t, &patched)
	if str(patched.City) != "Pune" || patched.CreatedAt != l.CreatedAt || str(patched.EmailID) != "ravi@example.com" {
		t.Fatalf("pending patch answer: %+v", patched)
	}
	s.startProjectors()
	s.caughtUp()
	if got := s.opGet(s.key, created.ID); got.LeadName != "Asha" || got.Status != "Won" {
		t.Fatalf("created lead after catching up: %+v", got)
	}
	if got := s.opGet(s.key, l.ID); str(got.City) != "Pune" {
		t.Fatalf("patched lead after catching up: %+v", got)
	}
	s.assertReplayEqual()
}
