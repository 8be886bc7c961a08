package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crmcore/crm/devenv/storetest"
)

// cratioLead is the lead object as a client of the Cratio API reads it.
type cratioLead struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Phone      *string  `json:"phone"`
	Email      *string  `json:"email"`
	Phones     []string `json:"phones"`
	Emails     []string `json:"emails"`
	Company    *string  `json:"company"`
	City       *string  `json:"city"`
	Source     *string  `json:"source"`
	Status     string   `json:"status"`
	Priority   *string  `json:"priority"`
	DealValue  *float64 `json:"deal_value"`
	Tags       []string `json:"tags"`
	Notes      *string  `json:"notes"`
	AssignedTo *string  `json:"assigned_to"`
}

type cratioList[T any] struct {
	Data    []T  `json:"data"`
	Total   int  `json:"total"`
	Limit   int  `json:"limit"`
	Offset  int  `json:"offset"`
	HasMore bool `json:"has_more"`
}

type cratioCall struct {
	ID              string  `json:"id"`
	LeadID          string  `json:"lead_id"`
	CallType        string  `json:"call_type"`
	DurationSeconds int     `json:"duration_seconds"`
	Outcome         *string `json:"outcome"`
	Notes           *string `json:"notes"`
	CalledAt        string  `json:"called_at"`
}

var rahul = map[string]any{
	"name": "Rahul Sharma", "phone": "+91 98765 43210", "email": "rahul@techcorp.in",
	"company": "TechCorp Solutions", "city": "Mumbai", "source": "IVR", "status": "New",
	"priority": "High", "deal_value": 150000, "tags": []string{"hot-lead", "inbound"},
	"notes": "Interested in Pro plan", "assigned_to": "sales@company.com",
}

func (s *stack) createLead(key string, body map[string]any) cratioLead {
	s.t.Helper()
	return expect[cratioLead](s, http.StatusCreated, key, "POST", "/api/v1/leads", body)
}

func (s *stack) listLeads(key, query string) cratioList[cratioLead] {
	s.t.Helper()
	return expect[cratioList[cratioLead]](s, http.StatusOK, key, "GET", "/api/v1/leads"+query, nil)
}

func (s *stack) logCall(key string, body map[string]any) cratioCall {
	s.t.Helper()
	return expect[cratioCall](s, http.StatusCreated, key, "POST", "/api/v1/call-logs", body)
}

func (s *stack) listCalls(key, query string) cratioList[cratioCall] {
	s.t.Helper()
	return expect[cratioList[cratioCall]](s, http.StatusOK, key, "GET", "/api/v1/call-logs"+query, nil)
}

func TestCratioCreateAndListLeads(t *testing.T) {
	s := newStack(t)
	l := s.createLead(s.key, rahul)
	if l.Phone == nil || *l.Phone != "+919876543210" || l.Email == nil || *l.Email != "rahul@techcorp.in" {
		t.Fatalf("phone and email not normalized: %+v", l)
	}
	if l.Status != "New" || *l.Priority != "High" || *l.DealValue != 150000 || len(l.Tags) != 2 || *l.AssignedTo != "sales@company.com" {
		t.Fatalf("fields not kept: %+v", l)
	}
	// Read-your-writes: the list shows the lead as soon as the POST answered.
	list := s.listLeads(s.key, "")
	if list.Total != 1 || len(list.Data) != 1 || list.Data[0].ID != l.ID || list.Limit != 50 || list.Offset != 0 || list.HasMore {
		t.Fatalf("list after create: %+v", list)
	}
	s.createLead(s.key, map[string]any{"name": "Asha", "email": "asha@example.com", "status": "Won", "source": "Web", "priority": "Low"})
	s.createLead(s.key, map[string]any{"name": "Vikram", "phone": "09812345678", "status": "Won", "source": "IVR"})

	for _, c := range []struct {
		query string
		want  int
	}{
		{"?status=Won", 2}, {"?status=Lost", 0}, {"?source=IVR", 2}, {"?priority=Low", 1},
		{"?assigned_to=SALES@company.com", 1}, {"?status=Won&source=IVR", 1},
		{"?from_date=" + time.Now().Format(time.DateOnly), 3},
		{"?to_date=2020-01-01", 0}, {"?from_date=2020-01-01&to_date=2020-01-31", 0},
	} {
		if got := s.listLeads(s.key, c.query); got.Total != c.want || len(got.Data) != c.want {
			t.Errorf("GET /api/v1/leads%s: total %d, %d rows; want %d", c.query, got.Total, len(got.Data), c.want)
		}
	}
	page := s.listLeads(s.key, "?limit=2")
	if page.Total != 3 || len(page.Data) != 2 || !page.HasMore || page.Data[0].Name != "Vikram" {
		t.Fatalf("first page: %+v", page)
	}
	rest := s.listLeads(s.key, "?limit=2&offset=2")
	if len(rest.Data) != 1 || rest.HasMore || rest.Data[0].ID != l.ID {
		t.Fatalf("second page: %+v", rest)
	}
	s.assertReplayEqual()
}

func TestCratioCreateMergesDuplicates(t *testing.T) {
	s := newStack(t)
	first := s.createLead(s.key, rahul)

	// Same phone in another format: merged, 200, new non-empty values win,
	// tags combined, the new email joins the lead's emails.
	r := s.do(s.key, "POST", "/api/v1/leads", map[string]any{
		"name": "Rahul S.", "phone": "098765 43210", "email": "rahul.s@gmail.com", "city": "Pune",
		"tags": []string{"inbound", "demo"}, "status": "Contacted",
	})
	if r.Status != http.StatusOK {
		t.Fatalf("merge: %d %s", r.Status, r.Body)
	}
	var merged cratioLead
	r.json(t, &merged)
	if merged.ID != first.ID || merged.Name != "Rahul S." || *merged.City != "Pune" || *merged.Company != "TechCorp Solutions" ||
		merged.Status != "Contacted" || strings.Join(merged.Tags, ",") != "hot-lead,inbound,demo" ||
		strings.Join(merged.Emails, ",") != "rahul@techcorp.in,rahul.s@gmail.com" {
		t.Fatalf("merged lead: %+v", merged)
	}
	// Same email, other case: merged again.
	r = s.do(s.key, "POST", "/api/v1/leads", map[string]any{"name": "Rahul Sharma", "email": "RAHUL@TechCorp.in"})
	if r.Status != http.StatusOK {
		t.Fatalf("merge by email: %d %s", r.Status, r.Body)
	}
	if list := s.listLeads(s.key, ""); list.Total != 1 {
		t.Fatalf("merges created leads: %+v", list)
	}
	// The second email now belongs to the lead too.
	if r := s.do(s.key, "POST", "/api/v1/leads", map[string]any{"name": "X", "email": "rahul.s@gmail.com"}); r.Status != http.StatusOK {
		t.Fatalf("merge by second email: %d %s", r.Status, r.Body)
	}
	s.assertReplayEqual()
}

func TestCratioCallLogs(t *testing.T) {
	s := newStack(t)
	lead := s.createLead(s.key, rahul)
	other := s.createLead(s.key, map[string]any{"name": "Asha", "email": "asha@example.com"})
	now := time.Now().UTC().Truncate(time.Second)
	call := s.logCall(s.key, map[string]any{"lead_id": lead.ID, "call_type": "Outbound", "duration_seconds": 185,
		"outcome": "Completed", "notes": "Discussed pricing.", "called_at": now.Format(time.RFC3339)})
	if call.LeadID != lead.ID || call.DurationSeconds != 185 || *call.Outcome != "Completed" {
		t.Fatalf("call: %+v", call)
	}
	missed := s.logCall(s.key, map[string]any{"lead_id": lead.ID, "call_type": "Inbound", "duration_seconds": 0})
	if missed.DurationSeconds != 0 || missed.Outcome != nil {
		t.Fatalf("missed call: %+v", missed)
	}
	s.logCall(s.key, map[string]any{"lead_id": other.ID, "call_type": "Inbound", "duration_seconds": 10})
	s.logCall(s.key, map[string]any{"lead_id": other.ID, "call_type": "Inbound", "duration_seconds": 10,
		"called_at": "2020-01-01T10:00:00Z"})

	for _, c := range []struct {
		query string
		want  int
	}{
		{"", 3}, {"?lead_id=" + lead.ID, 2}, {"?call_type=Inbound", 2}, {"?lead_id=" + other.ID + "&call_type=Outbound", 0},
		{"?from_date=2020-01-01&to_date=2020-01-01", 1}, {"?limit=1", 3},
	} {
		if got := s.listCalls(s.key, c.query); got.Total != c.want {
			t.Errorf("GET /api/v1/call-logs%s: total %d, want %d", c.query, got.Total, c.want)
		}
	}
	if r := s.do(s.key, "DELETE", "/api/v1/call-logs/"+call.ID, nil); r.Status != http.StatusOK {
		t.Fatalf("delete call log: %d %s", r.Status, r.Body)
	}
	if got := s.listCalls(s.key, "?lead_id="+lead.ID); got.Total != 1 || got.Data[0].ID != missed.ID {
		t.Fatalf("after delete: %+v", got)
	}
	if r := s.do(s.key, "DELETE", "/api/v1/call-logs/"+call.ID, nil); r.Status != http.StatusNotFound {
		t.Fatalf("second delete: %d %s", r.Status, r.Body)
	}
	s.assertReplayEqual()
}

func TestCratioDeleteLeadIsPermanent(t *testing.T) {
	s := newStack(t)
	lead := s.createLead(s.key, rahul)
	keep := s.createLead(s.key, map[string]any{"name": "Asha", "email": "asha@example.com"})
	s.logCall(s.key, map[string]any{"lead_id": lead.ID, "call_type": "Outbound", "duration_seconds": 60, "notes": "secret notes"})
	s.logCall(s.key, map[string]any{"lead_id": keep.ID, "call_type": "Outbound", "duration_seconds": 60})

	r := s.do(s.key, "DELETE", "/api/v1/leads/"+lead.ID, nil)
	if r.Status != http.StatusOK || r.object(t)["deleted"] != true {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if list := s.listLeads(s.key, ""); list.Total != 1 || list.Data[0].ID != keep.ID {
		t.Fatalf("leads after delete: %+v", list)
	}
	if calls := s.listCalls(s.key, ""); calls.Total != 1 || calls.Data[0].LeadID != keep.ID {
		t.Fatalf("call logs after delete: %+v", calls)
	}
	if r := s.do(s.key, "DELETE", "/api/v1/leads/"+lead.ID, nil); r.Status != http.StatusNotFound {
		t.Fatalf("second delete: %d %s", r.Status, r.Body)
	}
	// The store keeps that a deletion happened, by whom and when, and no
	// personal data of the lead.
	deletions := 0
	for _, e := range s.events() {
		if e.StreamID.String() != lead.ID {
			continue
		}
		for _, pii := range []string{"Rahul", "98765", "techcorp", "Mumbai", "secret", "Pro plan"} {
			if strings.Contains(strings.ToLower(string(e.Data)), strings.ToLower(pii)) {
				t.Errorf("event %s of the deleted lead still holds %q: %s", e.Type, pii, e.Data)
			}
		}
		if e.Type == "lead.deleted" {
			deletions++
			if !strings.HasPrefix(e.Metadata.Actor, "api_key:") || e.RecordedAt.IsZero() {
				t.Errorf("deletion lost who and when: %+v", e.Metadata)
			}
		}
	}
	if deletions != 1 {
		t.Fatalf("%d deletion events, want 1", deletions)
	}
	// NATS keeps no copy either: the lead's earlier messages are purged.
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		for _, m := range s.streamMessages() {
			if m.StreamID.String() == lead.ID && m.Type != "lead.deleted" {
				return false, fmt.Errorf("NATS still holds %s of the deleted lead", m.Type)
			}
		}
		return true, nil
	})
	// The email and phone are free again: a new lead, not a merge.
	again := s.createLead(s.key, rahul)
	if again.ID == lead.ID {
		t.Fatal("deleted lead came back")
	}
	s.assertReplayEqual()
}

func TestCratioBadInput(t *testing.T) {
	s := newStack(t)
	lead := s.createLead(s.key, rahul)
	before := len(s.events())
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		field        string
	}{
		{"POST", "/api/v1/leads", `{"name": "x",`, 400, ""},
		{"POST", "/api/v1/leads", `[1,2]`, 400, ""},
		{"POST", "/api/v1/leads", "{\"name\": \"\xff\", \"email\": \"a@b.co\"}", 400, ""},
		{"POST", "/api/v1/leads", `{"name": "x", "email": "a@b.co"} {}`, 400, ""},
		{"POST", "/api/v1/leads", map[string]any{"email": "a@b.co"}, 422, "name"},
		{"POST", "/api/v1/leads", map[string]any{"name": 5, "email": "a@b.co"}, 400, "name"},
		{"POST", "/api/v1/leads", map[string]any{"name": "x"}, 422, "phone"},
		{"POST", "/api/v1/leads", map[string]any{"name": "x", "email": "not-an-email"}, 422, "email"},
		{"POST", "/api/v1/leads", map[string]any{"name": "x", "phone": "12"}, 422, "phone"},
		{"POST", "/api/v1/leads", map[string]any{"name": "x", "phone": "call me"}, 422, "phone"},
		{"POST", "/api/v1/leads", map[string]any{"name": "x", "email": "a@b.co", "status": "Hot"}, 422, "status"},
		{"POST", "/api/v1/leads", map[string]any{"name": "x", "email": "a@b.co", "priority": "urgent"}, 422, "priority"},
		{"POST", "/api/v1/leads", map[string]any{"name": "x", "email": "a@b.co", "deal_value": -1}, 422, "deal_value"},
		{"POST", "/api/v1/leads", map[string]any{"name": "x", "email": "a@b.co", "deal_value": "100"}, 400, "deal_value"},
		{"POST", "/api/v1/leads", map[string]any{"name": "x", "email": "a@b.co", "tags": "a,b"}, 400, "tags"},
		{"POST", "/api/v1/leads", map[string]any{"name": "x", "email": "a@b.co", "assigned_to": "bob"}, 422, "assigned_to"},
		{"POST", "/api/v1/leads", map[string]any{"name": "x", "email": "a@b.co", "nickname": "y"}, 400, "nickname"},
		{"POST", "/api/v1/leads", map[string]any{"name": "x", "email": "a@b.co", "score": 5}, 400, "score"},
		{"POST", "/api/v1/leads", strings.Repeat(" ", 2<<20), 413, ""},
		{"GET", "/api/v1/leads?limit=0", nil, 400, "limit"},
		{"GET", "/api/v1/leads?limit=501", nil, 400, "limit"},
		{"GET", "/api/v1/leads?limit=ten", nil, 400, "limit"},
		{"GET", "/api/v1/leads?offset=-1", nil, 400, "offset"},
		{"GET", "/api/v1/leads?from_date=2026-13-01", nil, 400, "from_date"},
		{"GET", "/api/v1/leads?to_date=yesterday", nil, 400, "to_date"},
		{"GET", "/api/v1/leads?from_date=2026-02-02&to_date=2026-02-01", nil, 400, "from_date"},
		{"GET", "/api/v1/leads?status=new", nil, 400, "status"},
		{"GET", "/api/v1/leads?priority=Urgent", nil, 400, "priority"},
		{"GET", "/api/v1/leads?assigned_to=x'%20or%201=1--", nil, 400, "assigned_to"},
		{"GET", "/api/v1/call-logs?lead_id=123", nil, 400, "lead_id"},
		{"GET", "/api/v1/call-logs?call_type=Missed", nil, 400, "call_type"},
		{"DELETE", "/api/v1/leads/not-a-uuid", nil, 400, "id"},
		{"DELETE", "/api/v1/leads/0190a5a0-0000-7000-8000-000000000000", nil, 404, "id"},
		{"DELETE", "/api/v1/call-logs/xyz", nil, 400, "id"},
		{"DELETE", "/api/v1/call-logs/0190a5a0-0000-7000-8000-000000000000", nil, 404, "id"},
		{"POST", "/api/v1/call-logs", map[string]any{"call_type": "Inbound", "duration_seconds": 1}, 422, "lead_id"},
		{"POST", "/api/v1/call-logs", map[string]any{"lead_id": "nope", "call_type": "Inbound", "duration_seconds": 1}, 422, "lead_id"},
		{"POST", "/api/v1/call-logs", map[string]any{"lead_id": "0190a5a0-0000-7000-8000-000000000000", "call_type": "Inbound", "duration_seconds": 1}, 404, "lead_id"},
		{"POST", "/api/v1/call-logs", map[string]any{"lead_id": lead.ID, "call_type": "Missed", "duration_seconds": 1}, 422, "call_type"},
		{"POST", "/api/v1/call-logs", map[string]any{"lead_id": lead.ID, "call_type": "Inbound"}, 422, "duration_seconds"},
		{"POST", "/api/v1/call-logs", map[string]any{"lead_id": lead.ID, "call_type": "Inbound", "duration_seconds": -5}, 422, "duration_seconds"},
		{"POST", "/api/v1/call-logs", map[string]any{"lead_id": lead.ID, "call_type": "Inbound", "duration_seconds": 1.5}, 400, "duration_seconds"},
		{"POST", "/api/v1/call-logs", map[string]any{"lead_id": lead.ID, "call_type": "Inbound", "duration_seconds": 1, "called_at": "22/04/2026"}, 422, "called_at"},
		{"POST", "/api/v1/call-logs", `null`, 400, ""},
	} {
		t.Run(fmt.Sprintf("%s %s %d", c.method, c.path, c.status), func(t *testing.T) {
			r := s.do(s.key, c.method, c.path, c.body)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if got := r.errorField(t); got != c.field {
				t.Fatalf("field %q, want %q: %s", got, c.field, r.Body)
			}
		})
	}
	if after := len(s.events()); after != before {
		t.Fatalf("bad input wrote %d events", after-before)
	}
}

func TestCratioAuthAndTenantIsolation(t *testing.T) {
	s := newStack(t)
	lead := s.createLead(s.key, rahul)
	call := s.logCall(s.key, map[string]any{"lead_id": lead.ID, "call_type": "Inbound", "duration_seconds": 3})

	for _, key := range []string{"", "le_live_wrong", s.key + "x"} {
		if r := s.do(key, "GET", "/api/v1/leads", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("key %q: %d %s", key, r.Status, r.Body)
		}
	}
	_, other := s.newTenant("globex")
	if l := s.listLeads(other, ""); l.Total != 0 {
		t.Fatalf("another tenant sees leads: %+v", l)
	}
	if c := s.listCalls(other, "?lead_id="+lead.ID); c.Total != 0 {
		t.Fatalf("another tenant sees call logs: %+v", c)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"DELETE", "/api/v1/leads/" + lead.ID, nil},
		{"DELETE", "/api/v1/call-logs/" + call.ID, nil},
		{"POST", "/api/v1/call-logs", map[string]any{"lead_id": lead.ID, "call_type": "Inbound", "duration_seconds": 1}},
	} {
		if r := s.do(other, c.method, c.path, c.body); r.Status != http.StatusNotFound {
			t.Fatalf("%s %s by another tenant: %d %s", c.method, c.path, r.Status, r.Body)
		}
	}
	// Same email in another tenant: a new lead there, not a merge across tenants.
	if r := s.do(other, "POST", "/api/v1/leads", rahul); r.Status != http.StatusCreated {
		t.Fatalf("same email in another tenant: %d %s", r.Status, r.Body)
	}
	if l := s.listLeads(s.key, ""); l.Total != 1 || l.Data[0].ID != lead.ID {
		t.Fatalf("owner's leads changed: %+v", l)
	}
	if c := s.listCalls(s.key, ""); c.Total != 1 {
		t.Fatalf("owner's call logs changed: %+v", c)
	}
	s.assertReplayEqual()
}

func TestCratioIdempotencyKeyGivesOneEffect(t *testing.T) {
	s := newStack(t)
	h := http.Header{"Idempotency-Key": {"create-rahul-1"}}
	first := s.doWith(s.key, "POST", "/api/v1/leads", rahul, h)
	again := s.doWith(s.key, "POST", "/api/v1/leads", rahul, h)
	if first.Status != http.StatusCreated || again.Status != http.StatusCreated {
		t.Fatalf("statuses %d, %d: %s %s", first.Status, again.Status, first.Body, again.Body)
	}
	if a, b := first.object(t)["id"], again.object(t)["id"]; a != b {
		t.Fatalf("retry answered another lead: %v, %v", a, b)
	}
	id := first.object(t)["id"].(string)
	call := map[string]any{"lead_id": id, "call_type": "Inbound", "duration_seconds": 30}
	hc := http.Header{"Idempotency-Key": {"call-1"}}
	c1 := s.doWith(s.key, "POST", "/api/v1/call-logs", call, hc)
	c2 := s.doWith(s.key, "POST", "/api/v1/call-logs", call, hc)
	if c1.Status != http.StatusCreated || c2.Status != http.StatusCreated || c1.object(t)["id"] != c2.object(t)["id"] {
		t.Fatalf("call log retry: %d %s / %d %s", c1.Status, c1.Body, c2.Status, c2.Body)
	}
	if got := s.listCalls(s.key, ""); got.Total != 1 {
		t.Fatalf("%d call logs after a retried POST", got.Total)
	}
	// The same key in another tenant is another key.
	_, other := s.newTenant("globex")
	if r := s.doWith(other, "POST", "/api/v1/leads", rahul, h); r.Status != http.StatusCreated || r.object(t)["id"] == id {
		t.Fatalf("other tenant's key collided: %d %s", r.Status, r.Body)
	}
	s.assertReplayEqual()
}
