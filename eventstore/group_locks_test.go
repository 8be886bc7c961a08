package eventstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
)

// pending is a commit running in the background.
type pending struct {
	done chan struct{}
	res  eventstore.CommitResult
	err  error
}

// commitAsync starts c on s.
func commitAsync(ctx context.Context, s *eventstore.Store, c eventstore.Commit) *pending {
	p := &pending{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.res, p.err = s.Commit(ctx, c)
	}()
	return p
}

func (p *pending) finished() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// TestGroupCommitLockWaitIsTheWaitersAlone: an outside transaction holds
// the row of a stream one member of a group appends to. The other members
// commit while the row is still locked; the blocked member commits once
// it is released. (Before, the whole group waited with it, up to 30 s.)
func TestGroupCommitLockWaitIsTheWaitersAlone(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	tenant, locked := newID(t), newID(t)
	mustCommit(t, s, appendTo(tenant, locked, eventstore.NoStream, ev("lead.created", 0)))

	holder := storetest.Begin(t, s.Pool())
	if _, err := holder.Exec(ctx, "select 1 from streams where stream_id = $1 for update", locked); err != nil {
		t.Fatal(err)
	}

	queued, release := eventstore.HoldGroups(s)
	blocked := commitAsync(ctx, s, appendTo(tenant, locked, 1, ev("lead.updated", 1)))
	waitFor(t, func() bool { return queued() == 1 })
	var others []*pending
	for i := range 3 {
		others = append(others, commitAsync(ctx, s, appendTo(tenant, newID(t), eventstore.NoStream, ev("lead.created", 2+i))))
		waitFor(t, func() bool { return queued() == 2+i })
	}
	release()

	for i, p := range others {
		waitFor(t, p.finished)
		if p.err != nil {
			t.Errorf("member %d: %v", i, p.err)
		}
	}
	if blocked.finished() {
		t.Fatalf("the blocked member finished while the row was still locked: %v", blocked.err)
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, blocked.finished)
	if blocked.err != nil {
		t.Fatalf("the blocked member, once the row was free: %v", blocked.err)
	}
	events, err := s.ReadStream(ctx, tenant, locked)
	if err != nil || len(events) != 2 {
		t.Fatalf("the locked stream holds %d events (%v), want 2", len(events), err)
	}
}

// TestGroupCommitClaimsValuesInOneOrderAcrossGroups runs two groups (of two
// stores, as of two processes) whose members claim the same values in
// opposite orders, the first group held up by a value an outside
// transaction holds: member by member, the first group would hold b and
// wait for a, the second hold c and wait for b, and once a is let go the
// first would wait for c: a deadlock. Claimed in one order across each group,
// nothing waits in a cycle: Postgres detects no deadlock, and each value
// goes to exactly one stream.
func TestGroupCommitClaimsValuesInOneOrderAcrossGroups(t *testing.T) {
	ctx := t.Context()
	url := storetest.Postgres(t)
	pool, err := eventstore.OpenPool(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := eventstore.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	first, second := eventstore.New(pool), eventstore.New(pool)
	for _, s := range []*eventstore.Store{first, second} {
		// Long, so this test is about the order alone: no lock wait ends early.
		eventstore.SetGroupLockTimeout(s, time.Minute)
	}
	tenant := newID(t)

	// The outside transaction holds a@x.com, which sorts first.
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(context.WithoutCancel(ctx))
	if _, err := holder.Exec(ctx, `insert into reservations (tenant_id, kind, value, stream_id)
		values ($1, 'email', 'a@x.com', $2)`, tenant, newID(t)); err != nil {
		t.Fatal(err)
	}

	claim := func(values ...string) eventstore.Commit {
		c := appendTo(tenant, newID(t), eventstore.NoStream, ev("lead.created", 0))
		for _, v := range values {
			c.Streams[0].Reserve = append(c.Streams[0].Reserve, reserveEmail(v)...)
		}
		return c
	}
	var (
		all      []*pending
		releases []func()
	)
	queue := func(s *eventstore.Store, commits ...eventstore.Commit) {
		queued, release := eventstore.HoldGroups(s)
		for i, c := range commits {
			all = append(all, commitAsync(ctx, s, c))
			waitFor(t, func() bool { return queued() == i+1 })
		}
		releases = append(releases, release)
	}
	queue(first, claim("b@x.com"), claim("a@x.com", "c@x.com"))
	queue(second, claim("c@x.com"), claim("b@x.com"))
	// The first group goes, and waits for a@x.com; then the second goes,
	// and finishes or waits too; then a@x.com is let go.
	waiting := func() int {
		var n int
		if err := pool.QueryRow(ctx, `select count(*) from pg_stat_activity
			where datname = current_database() and wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	releases[0]()
	waitFor(t, func() bool { return waiting() == 1 })
	releases[1]()
	waitFor(t, func() bool { return (all[2].finished() && all[3].finished()) || waiting() >= 2 })
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for i, p := range all {
		waitFor(t, p.finished)
		var taken *eventstore.ReservationError
		var pgErr *pgconn.PgError
		switch {
		case errors.As(p.err, &pgErr):
			t.Errorf("commit %d: Postgres error %s: %v", i, pgErr.Code, p.err)
		case p.err != nil && !errors.As(p.err, &taken):
			t.Errorf("commit %d: %v", i, p.err)
		}
	}
	for _, v := range []string{"a@x.com", "b@x.com", "c@x.com"} {
		var owners int
		if err := pool.QueryRow(ctx, `select count(*) from reservations where tenant_id = $1 and value = $2`,
			tenant, v).Scan(&owners); err != nil {
			t.Fatal(err)
		}
		if owners > 1 || (owners == 0 && v != "a@x.com") {
			t.Errorf("%s has %d owners, want 1", v, owners)
		}
	}

	// A backend reports the deadlocks it met to pg_stat_database by the time
	// it exits at the latest: close them all, then read the count.
	pool.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		var others int
		err := conn.QueryRow(ctx, `select count(*) from pg_stat_activity
			where datname = current_database() and pid <> pg_backend_pid()`).Scan(&others)
		return others == 0, err
	})
	var deadlocks int64
	if err := conn.QueryRow(ctx, `select deadlocks from pg_stat_database
		where datname = current_database()`).Scan(&deadlocks); err != nil {
		t.Fatal(err)
	}
	if deadlocks != 0 {
		t.Errorf("Postgres detected %d deadlocks between the groups", deadlocks)
	}
}

// TestGroupCommitFallbackKeepsStreamOrder: a member that leaves its group
// for the step-by-step path (here after its group was tried groupAttempts
// times, each time failing another member) must still commit before the
// commit queued behind it on the same stream. Before, its stream was freed
// when the group ended, and the later commit, taken into the next group at
// once, usually landed first and failed its version check.
func TestGroupCommitFallbackKeepsStreamOrder(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	tenant := newID(t)
	used := ev("lead.created", 0)
	used.ID = newID(t)
	mustCommit(t, s, appendTo(tenant, newID(t), eventstore.NoStream, used))

	for round := range 10 {
		stream := newID(t)
		mustCommit(t, s, appendTo(tenant, stream, eventstore.NoStream, ev("lead.created", 1)))
		queued, release := eventstore.HoldGroups(s)
		var commits []*pending
		add := func(c eventstore.Commit) {
			commits = append(commits, commitAsync(ctx, s, c))
			n := len(commits)
			waitFor(t, func() bool { return queued() == n })
		}
		add(appendTo(tenant, stream, 1, ev("lead.updated", 2)))
		for range 3 { // each fails the group once: an event id already stored
			add(appendTo(tenant, newID(t), eventstore.NoStream, used))
		}
		add(appendTo(tenant, stream, 2, ev("lead.updated", 3)))
		release()
		for i, p := range commits {
			waitFor(t, p.finished)
			if failing := i >= 1 && i <= 3; failing != (p.err != nil) {
				t.Fatalf("round %d, commit %d: err = %v", round, i, p.err)
			}
		}
		events, err := s.ReadStream(ctx, tenant, stream)
		if err != nil {
			t.Fatal(err)
		}
		if got := types(events); len(got) != 3 || string(events[1].Data) != `{"n": 2}` {
			t.Fatalf("round %d: stream holds %v", round, got)
		}
	}
}
