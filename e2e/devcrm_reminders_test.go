package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	crmstack "github.com/crmcore/crm/stack"
	"github.com/crmcore/crm/timers"
)

// Feedback reminders on durable timers through real HTTP, Postgres and
// NATS: POST /dev/crm/feedback/process-reminders fires what is due on a
// clock the test moves, every answer checked against the OpenAPI document.

// testClock is the server's clock in a test: it moves only when told.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// withClock makes clock the time the server schedules timers from and
// fires them up to (api.Deps.Clock).
func withClock(clock timers.Clock) stackOption {
	return func(c *stackConfig) {
		c.deps = append(c.deps, func(d *api.Deps) { d.Clock = clock })
	}
}

// dcProcessed is one entry of process-reminders' answer.
type dcProcessed struct {
	FeedbackID string `json:"feedback_id"`
	CustomerID string `json:"customer_id"`
	Action     string `json:"action"`
	Reminder   int    `json:"reminder"`
}

// dcProcessReminders calls process-reminders with key and returns what it fired.
func (s *stack) dcProcessReminders(key string) []dcProcessed {
	s.t.Helper()
	var out struct {
		Processed []dcProcessed `json:"processed"`
	}
	s.dcWant(s.do(key, "POST", "/dev/crm/feedback/process-reminders", nil), http.StatusOK, &out)
	if out.Processed == nil {
		s.t.Fatal("processed is not a list")
	}
	return out.Processed
}

// wantProcessed checks what a call fired, in order.
func wantProcessed(t *testing.T, got []dcProcessed, want ...dcProcessed) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("processed %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("processed %+v, want %+v", got, want)
		}
	}
}

// TestDevcrmFeedbackReminders: a request is reminded after 3 and 6 days
// and expires after 14 unanswered, each once, in due order, only for the
// caller's tenant; an answer or the customer's delete cancels what is
// left; the dashboard shows the expiry; read models equal a replay.
func TestDevcrmFeedbackReminders(t *testing.T) {
	clock := &testClock{now: time.Now().UTC()}
	s := newStack(t, withClock(clock))
	_, bKey := s.newTenant("beta")
	ann := s.dcCustomerCreate(s.key, map[string]any{"name": "Ann", "email": "ann@example.com"})
	bob := s.dcCustomerCreate(s.key, map[string]any{"name": "Bob", "email": "bob@example.com"})
	f1 := s.dcFeedbackRequest(s.key, ann.ID)
	clock.advance(time.Minute)
	f2 := s.dcFeedbackRequest(s.key, bob.ID)
	clock.advance(time.Minute)
	f3 := s.dcFeedbackRequest(s.key, ann.ID)
	bees := s.dcCustomerCreate(bKey, map[string]any{"name": "Bea", "email": "bea@example.com"})
	fb := s.dcFeedbackRequest(bKey, bees.ID)
	reminded := func(f dcFeedback, n int) dcProcessed {
		return dcProcessed{FeedbackID: f.ID, CustomerID: f.CustomerID, Action: "reminded", Reminder: n}
	}
	expired := func(f dcFeedback) dcProcessed {
		return dcProcessed{FeedbackID: f.ID, CustomerID: f.CustomerID, Action: "expired"}
	}

	// Nothing is due yet.
	wantProcessed(t, s.dcProcessReminders(s.key))
	// Three days on: the first reminders, in due order, A's only; again: nothing.
	clock.advance(3*24*time.Hour - time.Minute)
	wantProcessed(t, s.dcProcessReminders(s.key), reminded(f1, 1), reminded(f2, 1))
	clock.advance(time.Minute)
	wantProcessed(t, s.dcProcessReminders(s.key), reminded(f3, 1))
	wantProcessed(t, s.dcProcessReminders(s.key))
	// B's request was due too and waited for B's call.
	wantProcessed(t, s.dcProcessReminders(bKey), reminded(fb, 1))
	wantProcessed(t, s.dcProcessReminders(bKey))

	// Bob answers: his request's reminder and expiry are cancelled.
	s.dcWant(s.do(s.key, "POST", "/dev/crm/feedback/"+f2.ID, map[string]any{"rating": 4}), http.StatusOK, nil)
	clock.advance(3 * 24 * time.Hour)
	wantProcessed(t, s.dcProcessReminders(s.key), reminded(f1, 2), reminded(f3, 2))

	// A request to a customer deleted later: its timers go with it.
	carl := s.dcCustomerCreate(s.key, map[string]any{"name": "Carl", "email": "carl@example.com"})
	s.dcFeedbackRequest(s.key, carl.ID)
	s.dcWant(s.do(s.key, "DELETE", "/dev/crm/customers/"+carl.ID, nil), http.StatusNoContent, nil)

	// Fourteen days: the unanswered requests expire; an answer after is a 409.
	clock.advance(8 * 24 * time.Hour)
	wantProcessed(t, s.dcProcessReminders(s.key), expired(f1), expired(f3))
	s.dcFails(s.do(s.key, "POST", "/dev/crm/feedback/"+f1.ID, map[string]any{"rating": 5}), http.StatusConflict, "", "feedback already expired")
	var d dashboardShape
	s.dcWant(s.do(s.key, "GET", "/dev/crm/feedback/dashboard", nil), http.StatusOK, &d)
	if d.Requested != 0 || d.Received != 1 || d.Expired != 2 {
		t.Fatalf("dashboard after the expiry %+v", d)
	}
	var an struct {
		dcRatings
	}
	s.dcWant(s.do(s.key, "GET", "/dev/crm/feedback/analytics", nil), http.StatusOK, &an)
	if an.Count != 1 || an.MeanRating != 4 {
		t.Fatalf("analytics after the expiry %+v", an)
	}
	// Long after: nothing more, not even Carl's cancelled timers.
	clock.advance(30 * 24 * time.Hour)
	wantProcessed(t, s.dcProcessReminders(s.key))

	// Each firing is an event caused by its timer; three reminders at most
	// were never sent to one request.
	per := map[string]int{}
	for _, e := range s.events() {
		switch e.Type {
		case "feedback.reminded", "feedback.expired":
			if e.Metadata.CausationID == "" || e.Metadata.Actor != "timers" {
				t.Errorf("%s without its timer as causation: %+v", e.Type, e.Metadata)
			}
			if e.Type == "feedback.reminded" {
				per[e.StreamID.String()]++
			}
		}
	}
	if per[f1.ID] != 2 || per[f2.ID] != 1 || per[f3.ID] != 2 || per[fb.ID] != 1 {
		t.Fatalf("reminders per request %v", per)
	}
	var pending int
	if err := s.core.Pool.QueryRow(s.ctx, `select count(*) from timers where state = 'pending' and tenant_id = $1`, s.tenantID).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Fatalf("%d of A's timers still pending", pending)
	}
	s.assertReplayEqual()
}

// TestDevcrmFeedbackRemindersByTheScheduler: the running server's
// scheduler (the stack's Timers part) fires a due reminder on its own,
// and process-reminders then finds nothing to do.
func TestDevcrmFeedbackRemindersByTheScheduler(t *testing.T) {
	// Requests are made four days ago: their first reminder is due.
	clock := &testClock{now: time.Now().Add(-4 * 24 * time.Hour)}
	s := newStack(t, withClock(clock))
	ann := s.dcCustomerCreate(s.key, map[string]any{"name": "Ann", "email": "ann@example.com"})
	f := s.dcFeedbackRequest(s.key, ann.ID)
	s.workers.StartParts(s.core, crmstack.Timers)
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		var n int
		err := s.core.Pool.QueryRow(s.ctx, `select count(*) from events where stream_id = $1 and event_type = 'feedback.reminded'`,
			f.ID).Scan(&n)
		return n == 1, err
	})
	clock.advance(4 * 24 * time.Hour) // back to now
	wantProcessed(t, s.dcProcessReminders(s.key))
	s.assertReplayEqual()
}

// reminderProbes are B's probes of process-reminders: B's call answers
// B's (none), never A's, and fires nothing of A's (the sweep counts A's
// events).
func reminderProbes(t *testing.T, add func(string, ...isolationProbe)) {
	add("POST /dev/crm/feedback/process-reminders", isolationProbe{method: "POST", path: "/dev/crm/feedback/process-reminders",
		expect: expectListed, check: func(r response) {
			if !strings.Contains(string(r.Body), `"processed":[]`) {
				t.Errorf("B: process-reminders fired something: %s", r.Body)
			}
		}})
}

// reminderKeyedRoutes is process-reminders' keyed-route case: with
// nothing due it writes nothing, and its replay is the first answer.
func reminderKeyedRoutes() []struct {
	name string
	make func(f *fixtures) keyedCase
} {
	return []struct {
		name string
		make func(f *fixtures) keyedCase
	}{{"devcrm POST /dev/crm/feedback/process-reminders", func(f *fixtures) keyedCase {
		c := f.s.dcCustomerCreate(f.s.key, map[string]any{"name": "Keyed", "email": "keyed-reminders@example.com"})
		path := "/dev/crm/feedback/process-reminders"
		return keyedCase{
			first:         keyedRequest{method: "POST", path: path},
			otherPath:     keyedRequest{method: "POST", path: "/dev/crm/customers/" + c.ID + "/feedback/request"},
			otherBody:     keyedRequest{method: "POST", path: path, body: "{}"},
			otherMethod:   keyedRequest{method: "DELETE", path: "/dev/crm/customers/" + c.ID},
			writesNothing: true,
		}
	}}}
}

// TestTimersSurviveKillNine: a backlog of due reminders is fired by `crm
// serve` processes (their timers part), the first killed with SIGKILL
// mid-way, two more then competing for the scheduler's lock: every
// request is reminded exactly once, nothing lost, nothing twice.
func TestTimersSurviveKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("kills crm serve processes while they fire a backlog")
	}
	s := newStack(t)
	h := commands.New(s.core.Store, "IN")
	c := commands.Context{TenantID: s.tenantID, Metadata: eventstore.Metadata{Actor: "test"}}
	cust, err := h.CreateCustomer(s.ctx, c, commands.CreateCustomer{Profile: domain.CustomerProfile{Name: "Ann", Emails: []string{"ann@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	asked := time.Now().Add(-domain.FeedbackFirstReminder - time.Hour) // the first reminders are due
	for range n {
		if _, err := h.RequestFeedbackAt(s.ctx, c, cust.CustomerID, asked); err != nil {
			t.Fatal(err)
		}
	}
	reminded := func() int {
		var k int
		if err := s.core.Pool.QueryRow(s.ctx, `select count(*) from events where tenant_id = $1 and event_type = 'feedback.reminded'`,
			s.tenantID).Scan(&k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	first := s.spawn("serve", "CRM_ADDR=127.0.0.1:0")
	storetest.WaitFor(t, 60*time.Second, func() (bool, error) { return reminded() >= 20, nil })
	first.kill()
	mid := reminded()
	s.spawn("serve", "CRM_ADDR=127.0.0.1:0")
	s.spawn("serve", "CRM_ADDR=127.0.0.1:0")
	storetest.WaitFor(t, 120*time.Second, func() (bool, error) { return reminded() >= n, nil })
	time.Sleep(time.Second) // a duplicate, if any, would land now
	var requests, twice int
	if err := s.core.Pool.QueryRow(s.ctx, `select count(*), count(*) filter (where k > 1) from (
			select stream_id, count(*) k from events where tenant_id = $1 and event_type = 'feedback.reminded' group by 1) r`,
		s.tenantID).Scan(&requests, &twice); err != nil {
		t.Fatal(err)
	}
	if requests != n || twice != 0 || reminded() != n {
		t.Fatalf("%d requests reminded, %d twice, %d reminders; want %d once each", requests, twice, reminded(), n)
	}
	t.Logf("%d reminded before the kill, the rest after", mid)
}
