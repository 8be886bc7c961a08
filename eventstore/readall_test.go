package eventstore_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
)

func TestReadAllOrderAndLimit(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if head, err := s.Head(ctx); err != nil || !head.IsZero() {
		t.Fatalf("empty head = %v, %v", head, err)
	}
	tenant := newID(t)
	var want []string
	var last eventstore.CommitResult
	for i := range 5 {
		last = mustCommit(t, s, appendTo(tenant, newID(t), eventstore.NoStream,
			ev(fmt.Sprintf("e%d.a", i), i), ev(fmt.Sprintf("e%d.b", i), i)))
		want = append(want, fmt.Sprintf("e%d.a", i), fmt.Sprintf("e%d.b", i))
	}
	all := readAll(t, s)
	if !slices.Equal(types(all), want) {
		t.Fatalf("types = %v, want %v", types(all), want)
	}
	for i := 1; i < len(all); i++ {
		if !all[i-1].Position.Less(all[i].Position) {
			t.Fatalf("positions out of order: %v then %v", all[i-1].Position, all[i].Position)
		}
	}
	if head, err := s.Head(ctx); err != nil || head != last.Position {
		t.Fatalf("head = %v, %v, want %v", head, err, last.Position)
	}

	batch, err := s.ReadAll(ctx, all[2].Position, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(types(batch), want[3:6]) {
		t.Fatalf("after %v limit 3: %v", all[2].Position, types(batch))
	}
	if rest, err := s.ReadAll(ctx, last.Position, 10); err != nil || len(rest) != 0 {
		t.Fatalf("after head: %d events, %v", len(rest), err)
	}
}

// insertRaw writes an event of type typ in tx directly, so the test controls
// when the transaction that wrote it commits.
func insertRaw(t *testing.T, tx pgx.Tx, tenant uuid.UUID, typ string) {
	t.Helper()
	_, err := tx.Exec(t.Context(), `insert into events
		(tenant_id, stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
		values ($1, 'lead', $2, 1, $3, $4, 1, '{}', '{}')`, tenant, newID(t), newID(t), typ)
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadAllWaitsForOlderTransactions is the reason for the xid8 rule: a
// transaction that started writing earlier but commits later must never be
// skipped by a reader whose cursor moved past later commits.
func TestReadAllWaitsForOlderTransactions(t *testing.T) {
	for _, tc := range []struct {
		name string
		// openA starts transaction A, which commits after B.
		openA func(t *testing.T, tx pgx.Tx, tenant uuid.UUID)
		// afterB runs in A once B has committed.
		afterB func(t *testing.T, tx pgx.Tx, tenant uuid.UUID)
	}{{
		// A's event has a lower position than B's: a reader by position alone
		// would read B, move its cursor past A's position and skip A.
		name:   "older position commits later",
		openA:  func(t *testing.T, tx pgx.Tx, tenant uuid.UUID) { insertRaw(t, tx, tenant, "A") },
		afterB: func(*testing.T, pgx.Tx, uuid.UUID) {},
	}, {
		// A holds an older transaction id but writes after B: commit order
		// by (transaction, position) puts A first although its position is
		// higher, so B must not be returned while A may still write.
		name: "older transaction writes later",
		openA: func(t *testing.T, tx pgx.Tx, _ uuid.UUID) {
			if _, err := tx.Exec(t.Context(), "select pg_current_xact_id()"); err != nil {
				t.Fatal(err)
			}
		},
		afterB: func(t *testing.T, tx pgx.Tx, tenant uuid.UUID) { insertRaw(t, tx, tenant, "A") },
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s, tenant, first, cursor := tailedFirst(t)
			ctx := t.Context()

			txA := storetest.Begin(t, s.Pool())
			tc.openA(t, txA, tenant)

			b := mustCommit(t, s, appendTo(tenant, newID(t), eventstore.NoStream, ev("B", 1)))
			tc.afterB(t, txA, tenant)

			// B is committed, but A is older and still open: nothing is visible.
			if got, err := s.ReadAll(ctx, cursor, 10); err != nil || len(got) != 0 {
				t.Fatalf("read past an open older transaction: %v, %v", types(got), err)
			}
			if head, err := s.Head(ctx); err != nil || head != first.Position {
				t.Fatalf("head = %v, %v, want %v", head, err, first.Position)
			}

			if err := txA.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			// Another package's test may hold a transaction open on a
			// shared server for a moment: wait for the horizon to pass.
			var got []eventstore.Event
			storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
				var err error
				got, err = s.ReadAll(ctx, cursor, 10)
				return len(got) >= 2, err
			})
			if !slices.Equal(types(got), []string{"A", "B"}) {
				t.Fatalf("after A commits: %v, want [A B]", types(got))
			}
			if got[1].Position != b.Position || !got[0].Position.Less(got[1].Position) || !cursor.Less(got[0].Position) {
				t.Fatalf("positions: cursor %v, A %v, B %v (commit said %v)", cursor, got[0].Position, got[1].Position, b.Position)
			}
		})
	}
}

// tailedFirst is the start of the tests of what readers are held back by:
// a fresh store holding one event, "first", of tenant, committed as first
// and read by a reader who stands at cursor after it.
func tailedFirst(t *testing.T) (s *eventstore.Store, tenant uuid.UUID, first eventstore.CommitResult, cursor eventstore.Position) {
	t.Helper()
	s, tenant = newStore(t), newID(t)
	first = mustCommit(t, s, appendTo(tenant, newID(t), eventstore.NoStream, ev("first", 0)))
	return s, tenant, first, tailOnce(t, s, eventstore.Position{}, "first")
}

// tailOnce reads the one event of type want after cursor and returns its position.
// It waits out transactions other tests may hold open on a shared server.
func tailOnce(t *testing.T, s *eventstore.Store, cursor eventstore.Position, want string) eventstore.Position {
	t.Helper()
	var got []eventstore.Event
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		var err error
		got, err = s.ReadAll(t.Context(), cursor, 10)
		return len(got) > 0, err
	})
	if len(got) != 1 || got[0].Type != want {
		t.Fatalf("read %v, want [%s]", types(got), want)
	}
	return got[0].Position
}

// TestConcurrentWritersTailedOnce has a reader tail ReadAll while writers
// commit concurrently: it must see every event exactly once, in order.
func TestConcurrentWritersTailedOnce(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	const writers, commits = 8, 50
	tenant := newID(t)

	written := make(chan uuid.UUID, writers*commits)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			stream := newID(t)
			for i := range commits {
				e := ev(fmt.Sprintf("w%d", w), i)
				e.ID = newID(t)
				if _, err := s.Commit(ctx, appendTo(tenant, stream, i, e)); err != nil {
					t.Errorf("writer %d commit %d: %v", w, i, err)
					return
				}
				written <- e.ID
			}
		})
	}

	seen := make(map[uuid.UUID]int)
	var cursor eventstore.Position
	storetest.WaitFor(t, 60*time.Second, func() (bool, error) {
		batch, err := s.ReadAll(ctx, cursor, 64)
		if err != nil {
			return false, err
		}
		for _, e := range batch {
			if !cursor.Less(e.Position) {
				return false, fmt.Errorf("event at %v after cursor %v; batch %v", e.Position, cursor, positions(batch))
			}
			cursor = e.Position
			seen[e.ID]++
		}
		return len(seen) >= writers*commits, nil
	})
	wg.Wait()
	close(written)

	for id := range written {
		if seen[id] != 1 {
			t.Errorf("event %s seen %d times", id, seen[id])
		}
	}
	if len(seen) != writers*commits {
		t.Fatalf("saw %d events, want %d", len(seen), writers*commits)
	}
	if rest, err := s.ReadAll(ctx, cursor, 10); err != nil || len(rest) != 0 {
		t.Fatalf("after the tail: %d more events, %v", len(rest), err)
	}
}

func TestConcurrentMigrate(t *testing.T) {
	url := storetest.Postgres(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			pool, err := pgxpool.New(t.Context(), url)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			errs[i] = eventstore.Migrate(t.Context(), pool)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	pool, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := eventstore.Migrate(t.Context(), pool); err != nil {
		t.Fatalf("migrating again: %v", err)
	}
	s := eventstore.New(pool)
	mustCommit(t, s, appendTo(newID(t), newID(t), eventstore.NoStream, ev("a", 1)))
}

func positions(events []eventstore.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Position.String())
	}
	return out
}

// TestReadAllOrdersTransactionsNumerically guards against sorting
// transaction ids as text, where 10 comes before 9.
func TestReadAllOrdersTransactionsNumerically(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for _, xid := range []string{"10", "9", "100"} {
		_, err := s.Pool().Exec(ctx, `insert into events (transaction_id, tenant_id, stream_type, stream_id,
			stream_version, event_id, event_type, schema_version, data, metadata)
			values ($1::text::xid8, $2, 'lead', $3, 1, $4, $5, 1, '{}', '{}')`,
			xid, newID(t), newID(t), newID(t), "tx"+xid)
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := types(readAll(t, s)); !slices.Equal(got, []string{"tx9", "tx10", "tx100"}) {
		t.Fatalf("order = %v", got)
	}
	if head, err := s.Head(ctx); err != nil || head.Tx != 100 {
		t.Fatalf("head = %v, %v", head, err)
	}
}

// TestReadAllPassesTransactionsWithoutEvents: a transaction that declared
// it writes no events (a projector batch, a replay's load) does not hold
// readers back while it runs, and cannot append.
func TestReadAllPassesTransactionsWithoutEvents(t *testing.T) {
	s, tenant, _, cursor := tailedFirst(t)
	ctx := t.Context()

	// A declares, then takes a transaction id (writes), and stays open.
	txA := storetest.Begin(t, s.Pool())
	if _, err := txA.Exec(ctx, "select "+eventstore.NoEvents); err != nil {
		t.Fatal(err)
	}
	var xidA uint64
	if err := txA.QueryRow(ctx, "select pg_current_xact_id()::text::bigint").Scan(&xidA); err != nil {
		t.Fatal(err)
	}

	b := mustCommit(t, s, appendTo(tenant, newID(t), eventstore.NoStream, ev("B", 1)))
	if xidA >= b.Position.Tx {
		t.Fatalf("A's transaction %d is not older than B's %d", xidA, b.Position.Tx)
	}
	// B is readable while the older A is open: A said it writes no events.
	// (Another package's test may hold an undeclared transaction open on a
	// shared server for a moment: wait for that one.)
	cursor = tailOnce(t, s, cursor, "B")
	if cursor != b.Position {
		t.Fatalf("read B at %v, commit said %v", cursor, b.Position)
	}
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		head, err := s.Head(ctx)
		return head == b.Position, err
	})
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		sn, err := s.Snapshot(ctx)
		if err != nil {
			return false, err
		}
		defer sn.Close(ctx)
		return sn.Head() == b.Position, nil
	})

	// A cannot append: the events table refuses a declared transaction, so
	// nothing can land behind the cursor that just passed it.
	_, err := txA.Exec(ctx, `insert into events
		(tenant_id, stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
		values ($1, 'lead', $2, 1, $3, 'A', 1, '{}', '{}')`, tenant, newID(t), newID(t))
	if err == nil || !strings.Contains(err.Error(), "declared it writes none") {
		t.Fatalf("append in a declared transaction: %v, want refused", err)
	}
	if err := txA.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReadAll(ctx, cursor, 10); err != nil || len(got) != 0 {
		t.Fatalf("after B: %v, %v", types(got), err)
	}
}
