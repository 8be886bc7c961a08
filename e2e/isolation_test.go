package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// tenantA is everything tenant A owns, by every id the APIs show, and the
// strings that would give its data away. Every text A stores holds "alpha".
type tenantA struct {
	id           uuid.UUID
	key          string
	leads        []string // lead UUIDs, as Cratio shows them
	numbers      []int64  // lead numbers, as the Leads API shows them
	onlyNumbers  []int64  // A's lead numbers tenant B has no lead for
	callLog      string
	comments     []int64 // comment ids
	onlyComments []int64 // A's comment ids tenant B has no comment for
	status       int64   // the pipeline status A added
	statusName   string
	photo        string
	emails       []string
	phones       []string // E.164
	markers      []string // lower-cased strings that only A's data holds
	// idempotency holds the Idempotency-Key A created a lead with, by route.
	idempotency map[string]string
	// The prospects & clients API's records of A's: a contact, a note and a
	// location of its first lead, and a client with a note and a location.
	contact, note, location, client, clientNote, clientLocation int64
}

// tenantB is the tenant that probes: one lead (number 1, as A's first) and
// one comment (id 1, as A's first).
type tenantB struct {
	key     string
	lead    string // UUID
	number  int64
	comment int64
}

// leaks lists the markers of A's data in body that the request did not
// carry itself (an error may echo what it was sent).
func (a *tenantA) leaks(body []byte, request string) []string {
	low, req := strings.ToLower(string(body)), strings.ToLower(request)
	var out []string
	for _, m := range a.markers {
		if strings.Contains(low, m) && !strings.Contains(req, m) {
			out = append(out, m)
		}
	}
	return out
}

// createOnce creates with an Idempotency-Key and decodes the 201 into v.
func createOnce(t *testing.T, s *stack, key, path, idem string, body map[string]any, v any) {
	t.Helper()
	r := s.doWith(key, "POST", path, body, http.Header{"Idempotency-Key": {idem}})
	if r.Status != http.StatusCreated {
		t.Fatalf("POST %s: %d %s", path, r.Status, r.Body)
	}
	r.json(t, v)
}

// seedTenantA makes one of everything in tenant A (s.key): a Cratio lead
// with a call log, a pipeline status, a Leads API lead in it with comments
// and a photo, an Overplane lead, and two more leads, one archived.
func seedTenantA(t *testing.T, s *stack) *tenantA {
	t.Helper()
	a := &tenantA{id: s.tenantID, key: s.key, statusName: "AlphaStage", idempotency: map[string]string{
		"/api/v1/leads": "alpha-create-1", "/leads": "alpha-create-2", "/api/crm/lead": "alpha-create-3"}}
	var cl cratioLead
	createOnce(t, s, a.key, "/api/v1/leads", a.idempotency["/api/v1/leads"], map[string]any{"name": "Alpha Aarav", "phone": "+91 98765 11111", "email": "aarav@alpha.example",
		"company": "AlphaCorp", "city": "Alphaville", "source": "AlphaAds", "priority": "High", "deal_value": 1000,
		"tags": []string{"alpha-tag"}, "notes": "alpha secret notes", "assigned_to": "owner@alpha.example"}, &cl)
	a.callLog = s.logCall(a.key, map[string]any{"lead_id": cl.ID, "call_type": "Outbound", "duration_seconds": 60,
		"outcome": "alpha outcome", "notes": "alpha call notes"}).ID

	var st laStatus
	s.laWant(s.do(a.key, "POST", "/leads/status", map[string]any{"name": a.statusName, "primaryColor": "pink"}), 201, &st)
	a.status = st.ID
	var zara laLead
	createOnce(t, s, a.key, "/leads", a.idempotency["/leads"], map[string]any{"firstName": "Alpha", "lastName": "Zara", "email": "zara@alpha.example",
		"phoneNumber": []string{"+91 98765 22222"}, "statusId": a.status, "company": "AlphaCorp", "description": "alpha description"}, &zara)
	for i := range 3 {
		var c struct {
			ID int64 `json:"id"`
		}
		s.laWant(s.do(a.key, "POST", fmt.Sprintf("/leads/comments/%d", zara.ID), map[string]any{"content": fmt.Sprintf("alpha comment %d", i+1)}), 201, &c)
		a.comments = append(a.comments, c.ID)
	}
	s.laWant(s.laUpload(a.key, laPNG(t, 8), map[string]string{"id": fmt.Sprint(zara.ID)}), 200, &a.photo)

	var op opLead
	createOnce(t, s, a.key, "/api/crm/lead", a.idempotency["/api/crm/lead"], map[string]any{"lead_name": "Alpha Omar",
		"email_id": "omar@alpha.example", "phone": "+91 98765 33333", "company_name": "AlphaCorp", "status": a.statusName}, &op)
	s.laCreate(a.key, map[string]any{"firstName": "Alpha", "lastName": "Four", "email": "four@alpha.example"})
	five := s.laCreate(a.key, map[string]any{"firstName": "Alpha", "lastName": "Five", "email": "five@alpha.example"})
	s.laWant(s.do(a.key, "PATCH", "/leads/archive", map[string]any{"ids": []int64{five.ID}}), 200, nil)

	_, all := s.laList(a.key, "?state=All&limit=100")
	for _, l := range all {
		a.numbers = append(a.numbers, l.ID)
		a.leads = append(a.leads, laUUID(t, s, l.ID))
		a.emails = append(a.emails, laStr(l.Email))
		a.phones = append(a.phones, l.PhoneNumber...)
	}
	if len(a.numbers) != 5 || len(a.emails) != 5 || len(a.phones) != 3 || !slices.Contains(a.leads, cl.ID) || !slices.Contains(a.leads, uuidOf(op.ID)) {
		t.Fatalf("tenant A has leads %v, numbers %v, emails %v, phones %v", a.leads, a.numbers, a.emails, a.phones)
	}

	seedProspectsA(t, s, a)
	seedDevcrmA(t, s, a)

	// "alpha" catches any text of A's; where a probe sends it itself (A's
	// emails hold it), echoes are excused, and the values below still
	// catch a leak.
	a.markers = []string{"alpha", "alpha aarav", "alpha zara", "alpha omar", "alpha four", "alpha five", "alphacorp",
		"alphaville", "alphaads", "alpha-tag", "alpha secret notes", "alpha outcome", "alpha call notes", "alpha description",
		"alpha comment", "owner@alpha.example", strings.ToLower(a.statusName), a.photo, a.callLog, strings.ReplaceAll(a.callLog, "-", "")}
	for _, id := range a.leads {
		a.markers = append(a.markers, id, opIDOf(id))
	}
	a.markers = append(a.markers, a.emails...)
	for _, p := range a.phones {
		a.markers = append(a.markers, strings.TrimPrefix(p, "+91"))
	}
	for i, m := range a.markers {
		a.markers[i] = strings.ToLower(m)
	}
	return a
}

// seedProspectsA gives A's first lead a contact, a note and a location
// through the prospects & clients API, and A a client with a note and a
// location.
func seedProspectsA(t *testing.T, s *stack, a *tenantA) {
	t.Helper()
	tok := s.token()
	var rec struct {
		ID int64 `json:"id"`
	}
	post := func(path string, body map[string]any, key string) int64 {
		t.Helper()
		s.laWant(s.doWith(tok, "POST", path, body, http.Header{"Idempotency-Key": {key}}), http.StatusCreated, &rec)
		return rec.ID
	}
	lead := fmt.Sprintf("/prospects/%d", a.numbers[0])
	a.contact = post(lead+"/contacts", map[string]any{"name": "Alpha Contact", "email": "contact@alpha.example", "phone_code": "91", "phone": "9876555555"}, "alpha-contact")
	a.note = post(lead+"/notes", map[string]any{"action": "call", "note": "alpha note", "scheduled_date": "2026-03-20"}, "alpha-note")
	a.location = post(lead+"/locations", map[string]any{"name": "Alpha HQ", "link": "https://maps.example/alpha", "type": "office"}, "alpha-location")
	a.client = s.psClient("Alpha Client", "client@alpha.example")
	client := fmt.Sprintf("/clients/%d", a.client)
	a.clientNote = post(client+"/notes", map[string]any{"note": "alpha client note"}, "alpha-client-note")
	a.clientLocation = post(client+"/locations", map[string]any{"name": "Alpha Depot", "link": "https://maps.example/alpha-depot", "type": "warehouse"}, "alpha-client-location")
	a.idempotency["/prospects"] = "alpha-create-4"
	var made psCreated
	s.laWant(s.doWith(tok, "POST", "/prospects", []any{map[string]any{"name": "Alpha Six", "email": "six@alpha.example"}},
		http.Header{"Idempotency-Key": {a.idempotency["/prospects"]}}), http.StatusOK, &made)
}

// seedTenantB makes tenant B with a lead and a comment of its own, whose
// numbers overlap A's.
func seedTenantB(t *testing.T, s *stack, a *tenantA) *tenantB {
	t.Helper()
	_, key := s.newTenant("beta")
	b := &tenantB{key: key}
	l := s.createLead(key, map[string]any{"name": "Bianca Beta", "email": "bianca@beta.example", "phone": "+91 98765 44444"})
	b.lead = l.ID
	_, leads := s.laList(key, "?state=All")
	if len(leads) != 1 {
		t.Fatalf("tenant B has %d leads", len(leads))
	}
	b.number = leads[0].ID
	var c struct {
		ID int64 `json:"id"`
	}
	s.laWant(s.do(key, "POST", fmt.Sprintf("/leads/comments/%d", b.number), map[string]any{"content": "beta comment"}), 201, &c)
	b.comment = c.ID
	if !slices.Contains(a.numbers, b.number) || !slices.Contains(a.comments, b.comment) {
		t.Fatalf("B's lead %d and comment %d should overlap A's %v and %v", b.number, b.comment, a.numbers, a.comments)
	}
	for _, n := range a.numbers {
		if n != b.number {
			a.onlyNumbers = append(a.onlyNumbers, n)
		}
	}
	for _, n := range a.comments {
		if n != b.comment {
			a.onlyComments = append(a.onlyComments, n)
		}
	}
	statuses, _ := s.laStatuses(key)
	for _, st := range statuses {
		if st.ID == a.status {
			t.Fatalf("tenant B has a status %d too: %+v", a.status, st)
		}
	}
	return b
}

// isolationExpectation is what a probe's answer must be.
type isolationExpectation int

const (
	// expectRefused: 400 or 404, with none of A's data but what was sent.
	expectRefused isolationExpectation = iota
	// expectListed: 200, with none of A's data (B's own, or public, data).
	expectListed
	// expectAccepted: 2xx, a write to B's own data that A's values must not
	// block (a uniqueness check crossing tenants would); with none of A's
	// data but what was sent. Accepted probes run last, and undo their
	// writes, so they cannot make B's numbers meet A's.
	expectAccepted
)

// isolationProbe is one request tenant B sends with A's ids (or values) in it.
type isolationProbe struct {
	method, path string
	body         any
	header       http.Header
	expect       isolationExpectation
	// check looks further at the answer, e.g. a list's counts, and undoes
	// an accepted write.
	check func(r response)
}

// requestText is what a probe sends, for telling echoes from leaks.
func (p isolationProbe) requestText() string {
	out := p.path
	if u, err := url.PathUnescape(p.path); err == nil {
		out += " " + u
	}
	switch b := p.body.(type) {
	case nil:
	case string:
		out += " " + b
	case []byte:
		out += " " + string(b)
	default:
		raw, _ := json.Marshal(b)
		out += " " + string(raw)
	}
	return out
}

// snapshotA reads what A's clients see: lists, pipeline, dashboards, each
// lead's timeline.
func snapshotA(t *testing.T, s *stack, a *tenantA) map[string]string {
	t.Helper()
	paths := []string{"/api/v1/leads", "/api/v1/call-logs", "/leads?state=All&limit=100", "/leads/statuses",
		"/leads/total-leads", "/leads/leads-volume", "/api/crm/lead?limit=100"}
	for _, n := range a.numbers {
		paths = append(paths, fmt.Sprintf("/leads/logs-and-comments/%d?limit=200", n))
	}
	out := map[string]string{}
	for _, p := range paths {
		r := s.do(a.key, "GET", p, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("A: GET %s: %d %s", p, r.Status, r.Body)
		}
		out[p] = string(r.Body)
	}
	return out
}

// eventsOf counts the events of a tenant.
func eventsOf(s *stack, tenant uuid.UUID) int {
	n := 0
	for _, e := range s.events() {
		if e.TenantID == tenant {
			n++
		}
	}
	return n
}

// TestIsolationSweep has tenant B send every route the server has, with
// tenant A's ids in path, query and body: answers are 404 or 400 (lists:
// 200 with only B's data), never A's data, never a change to A.
func TestIsolationSweep(t *testing.T) {
	s := newStack(t)
	a := seedTenantA(t, s)
	b := seedTenantB(t, s, a)
	before := snapshotA(t, s, a)
	eventsBefore := eventsOf(s, a.id)

	probes := isolationProbes(t, s, a, b)
	engine, ok := s.srv.Config.Handler.(*gin.Engine)
	if !ok {
		t.Fatalf("the server's handler is %T, not a *gin.Engine", s.srv.Config.Handler)
	}
	routes := engine.Routes()
	registered := map[string]bool{}
	var plan []isolationProbe
	for _, r := range routes {
		key := r.Method + " " + r.Path
		registered[key] = true
		ps, ok := probes[key]
		if !ok || len(ps) == 0 {
			t.Errorf("route %s has no isolation probe: add one to isolationProbes", key)
			continue
		}
		plan = append(plan, ps...)
	}
	for key := range probes {
		if !registered[key] {
			t.Errorf("isolationProbes has probes for %s, which is not a route", key)
		}
	}
	kinds := map[isolationExpectation]int{}
	for _, p := range plan {
		kinds[p.expect]++
	}
	t.Logf("sweeping %d routes with %d probes: %d refusals, %d reads, %d accepted writes",
		len(routes), len(plan), kinds[expectRefused], kinds[expectListed], kinds[expectAccepted])
	// Refusals and reads first; then the accepted writes, which undo
	// themselves.
	slices.SortStableFunc(plan, func(x, y isolationProbe) int { return int(x.expect/expectAccepted) - int(y.expect/expectAccepted) })
	for _, p := range plan {
		r := s.doWith(b.key, p.method, p.path, p.body, p.header)
		name := p.method + " " + p.path
		switch p.expect {
		case expectRefused:
			if r.Status != http.StatusBadRequest && r.Status != http.StatusNotFound {
				t.Errorf("B: %s with A's ids: %d %s, want 404 or 400", name, r.Status, r.Body)
			}
		case expectListed:
			if r.Status != http.StatusOK {
				t.Errorf("B: %s: %d %s, want 200", name, r.Status, r.Body)
			}
		case expectAccepted:
			if r.Status < 200 || r.Status > 299 {
				t.Errorf("B: %s with A's values: %d %s, want a success: A's data must not be in B's way", name, r.Status, r.Body)
			}
		}
		request := p.requestText()
		if p.expect == expectListed {
			request = "" // a list echoes nothing: any of A's data in it leaked
		}
		if leaked := a.leaks(r.Body, request); len(leaked) > 0 {
			t.Errorf("B: %s: the answer holds A's data %q: %s", name, leaked, r.Body)
		}
		if p.check != nil {
			p.check(r)
		}
	}

	after := snapshotA(t, s, a)
	for p, body := range before {
		if after[p] != body {
			t.Errorf("A: GET %s changed during B's sweep:\nbefore %s\nafter  %s", p, body, after[p])
		}
	}
	if n := eventsOf(s, a.id); n != eventsBefore {
		t.Errorf("A has %d events after B's sweep, %d before", n, eventsBefore)
	}
	if _, err := os.Stat(filepath.Join(s.core.Config.PhotoDir, a.id.String(), a.photo)); err != nil {
		t.Errorf("A's photo after B's sweep: %v", err)
	}
	s.assertReplayEqual()
}
