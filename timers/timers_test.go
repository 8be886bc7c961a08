package timers_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/timers"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// clock is a Clock tests move.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

var start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// env is a store, a tenant and a scheduler firing "test.ping" timers by
// appending test.fired to the timer's stream, causation the timer.
type env struct {
	t      *testing.T
	store  *eventstore.Store
	tenant uuid.UUID
	clock  *clock
}

func newEnv(t *testing.T) *env {
	return &env{t: t, store: storetest.Store(t), tenant: uuid.New(), clock: &clock{now: start}}
}

// fire is the test kind's handler: one commit with test.fired and Fire.
func (e *env) fire(ctx context.Context, tm timers.Timer) (eventstore.Position, error) {
	res, err := e.store.Commit(ctx, eventstore.Commit{TenantID: tm.TenantID,
		Metadata: eventstore.Metadata{CausationID: timers.Causation(tm)},
		Streams: []eventstore.StreamAppend{{StreamType: "test", StreamID: tm.StreamID, ExpectedVersion: eventstore.AnyVersion,
			Events: []eventstore.NewEvent{{Type: "test.fired", SchemaVersion: 1, Data: tm.Payload}},
			Within: []eventstore.TxWrite{timers.Fire(tm)}}}})
	return res.Position, err
}

func (e *env) scheduler(handler timers.Handler) *timers.Scheduler {
	s := timers.NewScheduler(e.store.Pool(), e.clock, storetest.Logger())
	s.Poll = 20 * time.Millisecond
	if handler == nil {
		handler = e.fire
	}
	s.Handle("test.ping", handler)
	return s
}

// schedule commits test.scheduled on a new stream with timers due at the
// given offsets from start, payload {"n": i}; it returns the stream.
func (e *env) schedule(offsets ...time.Duration) uuid.UUID {
	stream := uuid.New()
	ts := make([]timers.New, len(offsets))
	for i, d := range offsets {
		ts[i] = timers.New{Kind: "test.ping", DueAt: start.Add(d), Payload: map[string]int{"n": i}}
	}
	storetest.MustCommit(e.t, e.store, eventstore.Commit{TenantID: e.tenant, Streams: []eventstore.StreamAppend{{
		StreamType: "test", StreamID: stream, ExpectedVersion: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "test.scheduled", SchemaVersion: 1, Data: json.RawMessage(`{}`)}},
		Within: []eventstore.TxWrite{timers.Schedule(ts...)}}}})
	return stream
}

// fired returns the test.fired events of the tenant, in commit order: the
// payload's n and the causation.
func (e *env) fired() (ns []int, causes []string) {
	rows, err := e.store.Pool().Query(e.t.Context(), `select data, metadata->>'causation_id' from events
		where tenant_id = $1 and event_type = 'test.fired' order by transaction_id, position`, e.tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		var cause string
		var p struct{ N int }
		if err := rows.Scan(&data, &cause); err != nil {
			e.t.Fatal(err)
		}
		if err := json.Unmarshal(data, &p); err != nil {
			e.t.Fatal(err)
		}
		ns, causes = append(ns, p.N), append(causes, cause)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return ns, causes
}

// states counts the tenant's timers by state.
func (e *env) states() map[string]int {
	rows, err := e.store.Pool().Query(e.t.Context(), `select state, count(*) from timers where tenant_id = $1 group by 1`, e.tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			e.t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

// TestFireDueInDueOrderOnce: nothing fires before it is due; what is due
// fires in due order (not the order scheduled), each once with its id as
// causation; a second call fires nothing; another tenant's call nothing.
func TestFireDueInDueOrderOnce(t *testing.T) {
	e := newEnv(t)
	e.schedule(3*time.Hour, time.Hour, 2*time.Hour)
	e.schedule(90 * time.Minute)
	s := e.scheduler(nil)
	ctx := t.Context()
	if got, err := s.FireDue(ctx, e.tenant, nil, e.clock.Now()); err != nil || len(got) != 0 {
		t.Fatalf("before due: %v %v", got, err)
	}
	got, err := s.FireDue(ctx, e.tenant, nil, start.Add(150*time.Minute))
	if err != nil || len(got) != 3 {
		t.Fatalf("at +2h30: %+v %v", got, err)
	}
	for i := 1; i < len(got); i++ {
		if got[i].DueAt.Before(got[i-1].DueAt) || got[i].Position.Less(got[i-1].Position) {
			t.Fatalf("fired out of due order: %+v", got)
		}
	}
	if other, err := s.FireDue(ctx, uuid.New(), nil, start.Add(24*time.Hour)); err != nil || len(other) != 0 {
		t.Fatalf("another tenant fired %v %v", other, err)
	}
	if again, err := s.FireDue(ctx, e.tenant, nil, start.Add(150*time.Minute)); err != nil || len(again) != 0 {
		t.Fatalf("again: %v %v", again, err)
	}
	rest, err := s.FireDue(ctx, e.tenant, []string{"test.ping"}, start.Add(24*time.Hour))
	if err != nil || len(rest) != 1 {
		t.Fatalf("the rest: %v %v", rest, err)
	}
	ns, causes := e.fired()
	if !slices.Equal(ns, []int{1, 0, 2, 0}) {
		t.Fatalf("fired payloads in commit order %v, want 1 0 2 0 (due +1h, +1h30, +2h, +3h)", ns)
	}
	want := append(got, rest...)
	for i, c := range causes {
		if c != want[i].ID.String() {
			t.Errorf("event %d caused by %q, want timer %s", i, c, want[i].ID)
		}
	}
	if st := e.states(); st["fired"] != 4 || st["pending"] != 0 {
		t.Fatalf("states %v", st)
	}
}

// TestCancelledTimersNeverFire: a commit cancels a stream's pending
// timers (of a kind, or all); they never fire, and a rolled-back cancel
// cancels nothing.
func TestCancelledTimersNeverFire(t *testing.T) {
	e := newEnv(t)
	kept := e.schedule(time.Hour)
	gone := e.schedule(time.Hour, 2*time.Hour)
	cancel := func(stream uuid.UUID, kinds ...string) eventstore.Commit {
		return eventstore.Commit{TenantID: e.tenant, Streams: []eventstore.StreamAppend{{StreamType: "test", StreamID: stream,
			ExpectedVersion: eventstore.AnyVersion,
			Events:          []eventstore.NewEvent{{Type: "test.done", SchemaVersion: 1, Data: json.RawMessage(`{}`)}},
			Within:          []eventstore.TxWrite{timers.Cancel(kinds...)}}}}
	}
	// A cancel of another kind leaves them; a failing commit cancels nothing.
	storetest.MustCommit(t, e.store, cancel(gone, "test.other"))
	failing := cancel(kept)
	failing.Streams[0].ExpectedVersion = 7
	if _, err := e.store.Commit(t.Context(), failing); err == nil {
		t.Fatal("a commit at the wrong version committed")
	}
	storetest.MustCommit(t, e.store, cancel(gone, "test.ping"))
	got, err := e.scheduler(nil).FireDue(t.Context(), e.tenant, nil, start.Add(48*time.Hour))
	if err != nil || len(got) != 1 || got[0].StreamID != kept {
		t.Fatalf("fired %+v %v, want only the kept stream's", got, err)
	}
	if st := e.states(); st["cancelled"] != 2 || st["fired"] != 1 {
		t.Fatalf("states %v", st)
	}
	// Done timers are deleted after their retention; pending ones never.
	e.schedule(time.Hour)
	s := e.scheduler(nil)
	if n, err := s.Purge(t.Context(), time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("purged %d %v of timers done just now", n, err)
	}
	if n, err := s.Purge(t.Context(), time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Fatalf("purged %d %v, want the 3 done", n, err)
	}
	if st := e.states(); len(st) != 1 || st["pending"] != 1 {
		t.Fatalf("states after the purge %v", st)
	}
}

// TestSchedulesWithTheEventOrNotAtAll: a commit that fails writes no timer.
func TestSchedulesWithTheEventOrNotAtAll(t *testing.T) {
	e := newEnv(t)
	stream := e.schedule(time.Hour)
	_, err := e.store.Commit(t.Context(), eventstore.Commit{TenantID: e.tenant, Streams: []eventstore.StreamAppend{{
		StreamType: "test", StreamID: stream, ExpectedVersion: eventstore.NoStream, // exists: conflict
		Events: []eventstore.NewEvent{{Type: "test.scheduled", SchemaVersion: 1, Data: json.RawMessage(`{}`)}},
		Within: []eventstore.TxWrite{timers.Schedule(timers.New{Kind: "test.ping", DueAt: start})}}}})
	var conflict *eventstore.ConcurrencyError
	if !errors.As(err, &conflict) {
		t.Fatalf("commit: %v", err)
	}
	if st := e.states(); st["pending"] != 1 {
		t.Fatalf("states %v, want the first commit's one timer", st)
	}
}

// TestCrashBetweenClaimAndFireFiresOnce: a firing whose commit dies
// before COMMIT (the process killed with the timer marked fired in the
// transaction) leaves the timer pending and no event: the next scheduler
// fires it once. A firing that committed but whose answer was lost
// (reported as a failure) is never tried again: its commit marked the
// timer fired.
func TestCrashBetweenClaimAndFireFiresOnce(t *testing.T) {
	e := newEnv(t)
	e.schedule(time.Minute)
	e.schedule(2 * time.Minute)
	crash := errors.New("killed before COMMIT")
	dying := e.scheduler(func(ctx context.Context, tm timers.Timer) (eventstore.Position, error) {
		_, err := e.store.Commit(ctx, eventstore.Commit{TenantID: tm.TenantID, Streams: []eventstore.StreamAppend{{
			StreamType: "test", StreamID: tm.StreamID, ExpectedVersion: eventstore.AnyVersion,
			Events: []eventstore.NewEvent{{Type: "test.fired", SchemaVersion: 1, Data: tm.Payload}},
			Within: []eventstore.TxWrite{timers.Fire(tm), func(context.Context, pgx.Tx, uuid.UUID, uuid.UUID) error { return crash }}}}})
		return eventstore.Position{}, err
	})
	if got, err := dying.FireDue(t.Context(), e.tenant, nil, start.Add(time.Hour)); err != nil || len(got) != 0 {
		t.Fatalf("dying scheduler: %v %v", got, err)
	}
	if ns, _ := e.fired(); len(ns) != 0 {
		t.Fatalf("events of a rolled-back firing: %v", ns)
	}
	if st := e.states(); st["pending"] != 2 {
		t.Fatalf("states after the crash %v", st)
	}
	// The answer lost after COMMIT: the scheduler takes it for a failure.
	var lost atomic.Int32
	forgetful := e.scheduler(func(ctx context.Context, tm timers.Timer) (eventstore.Position, error) {
		at, err := e.fire(ctx, tm)
		if err == nil && lost.Add(1) == 1 {
			return at, errors.New("connection lost after COMMIT")
		}
		return at, err
	})
	// The failed attempt waits its retry (1 s of the scheduler's clock).
	got, err := forgetful.FireDue(t.Context(), e.tenant, nil, start.Add(time.Hour))
	if err != nil || len(got) != 1 {
		t.Fatalf("after the lost answer: %+v %v", got, err)
	}
	e.clock.advance(2 * time.Hour)
	got, err = forgetful.FireDue(t.Context(), e.tenant, nil, e.clock.Now())
	if err != nil || len(got) != 0 {
		t.Fatalf("the retry of a committed firing fired %+v %v", got, err)
	}
	if ns, _ := e.fired(); !slices.Equal(ns, []int{0, 0}) {
		t.Fatalf("fired %v, want each timer's event once", ns)
	}
	if st := e.states(); st["fired"] != 2 || st["pending"] != 0 {
		t.Fatalf("states %v", st)
	}
}

// TestCompetingSchedulersFireEachOnce: two schedulers running (one leads,
// one stands by) and a "run due work now" racing them fire every timer
// exactly once; the leader's loop works off a backlog of more than one
// scan in due order.
func TestCompetingSchedulersFireEachOnce(t *testing.T) {
	e := newEnv(t)
	const n = 230 // more than one scan of 100
	offsets := make([]time.Duration, n)
	for i := range offsets {
		offsets[i] = time.Duration((i*7919)%n) * time.Second // a permutation: due order is not scheduling order
	}
	e.schedule(offsets...)
	e.clock.advance(time.Hour) // all due: a backlog after downtime
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 2 {
		s := e.scheduler(nil)
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.Run(ctx) }()
	}
	now := e.scheduler(nil)
	var byCall atomic.Int32
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			got, err := now.FireDue(ctx, e.tenant, nil, e.clock.Now())
			if err != nil && ctx.Err() == nil {
				t.Errorf("FireDue: %v", err)
				return
			}
			byCall.Add(int32(len(got)))
			time.Sleep(5 * time.Millisecond)
		}
	}()
	storetest.WaitFor(t, 30*time.Second, func() (bool, error) { return e.states()["fired"] == n, nil })
	stop()
	wg.Wait()
	ns, causes := e.fired()
	if len(ns) != n {
		t.Fatalf("%d events for %d timers", len(ns), n)
	}
	seen := map[string]bool{}
	for _, c := range causes {
		if seen[c] {
			t.Fatalf("timer %s fired twice", c)
		}
		seen[c] = true
	}
	t.Logf("%d fired by the run-now calls, %d by the leading scheduler", byCall.Load(), n-int(byCall.Load()))
}

// TestBacklogWorkedOffInDueOrder: timers due while no scheduler ran fire,
// when one starts, in due order.
func TestBacklogWorkedOffInDueOrder(t *testing.T) {
	e := newEnv(t)
	const n = 150
	offsets := make([]time.Duration, n)
	for i := range offsets {
		offsets[i] = time.Duration(n-i) * time.Minute // scheduled latest first
	}
	e.schedule(offsets...)
	e.clock.advance(24 * time.Hour)
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	done := make(chan struct{})
	go func() { defer close(done); _ = e.scheduler(nil).Run(ctx) }()
	storetest.WaitFor(t, 30*time.Second, func() (bool, error) { return e.states()["fired"] == n, nil })
	stop()
	<-done
	ns, _ := e.fired()
	for i := range ns {
		if ns[i] != n-1-i {
			t.Fatalf("fired %v..., want due order (payload %d first)", ns[:min(len(ns), 10)], n-1)
		}
	}
}

// TestFiresWithinASecondOfDue: on the system clock, a timer fires within
// a second of its due time.
func TestFiresWithinASecondOfDue(t *testing.T) {
	e := newEnv(t)
	s := timers.NewScheduler(e.store.Pool(), nil, storetest.Logger()) // the real clock and poll
	s.Handle("test.ping", e.fire)
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	due := time.Now().Add(1500 * time.Millisecond)
	storetest.MustCommit(t, e.store, eventstore.Commit{TenantID: e.tenant, Streams: []eventstore.StreamAppend{{
		StreamType: "test", StreamID: uuid.New(), ExpectedVersion: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "test.scheduled", SchemaVersion: 1, Data: json.RawMessage(`{}`)}},
		Within: []eventstore.TxWrite{timers.Schedule(timers.New{Kind: "test.ping", DueAt: due, Payload: map[string]int{"n": 0}})}}}})
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) { return e.states()["fired"] == 1, nil })
	var firedAt time.Time
	if err := e.store.Pool().QueryRow(t.Context(), `select fired_at from timers where tenant_id = $1`, e.tenant).Scan(&firedAt); err != nil {
		t.Fatal(err)
	}
	if late := firedAt.Sub(due); late < 0 || late > time.Second {
		t.Fatalf("fired %s after due", late)
	}
	stop()
	<-done
}
