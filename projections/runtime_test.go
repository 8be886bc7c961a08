package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// seen records every event applied to it, once per row: applying one twice
// fails on the primary key.
type seen struct{}

func (seen) Name() string     { return "seen" }
func (seen) Tables() []string { return []string{"rm_seen"} }
func (seen) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `create table if not exists rm_seen (event_id uuid primary key, pos bigint not null)`)
	return err
}
func (seen) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	_, err := tx.Exec(ctx, `insert into rm_seen values ($1, $2)`, e.ID, e.Position.Pos)
	return err
}

func newStore(t *testing.T) (*eventstore.Store, context.Context) {
	t.Helper()
	return newStoreWith(t, seen{})
}

// newStoreWith returns a store on a fresh, migrated database with the
// tables of ps set up.
func newStoreWith(t *testing.T, ps ...Projection) (*eventstore.Store, context.Context) {
	t.Helper()
	ctx := context.Background()
	store := storetest.Store(t)
	if err := SetupAll(ctx, store.Pool(), ps); err != nil {
		t.Fatal(err)
	}
	return store, ctx
}

func appendEvents(t *testing.T, ctx context.Context, store *eventstore.Store, n int) []eventstore.Event {
	t.Helper()
	tenant := uuid.New()
	for range n {
		_, err := store.Commit(ctx, eventstore.Commit{TenantID: tenant, Streams: []eventstore.StreamAppend{{
			StreamType: "thing", StreamID: uuid.New(), ExpectedVersion: eventstore.NoStream,
			Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "thing.happened", SchemaVersion: 1, Data: json.RawMessage(`{}`)}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	// ReadAll waits for every older transaction of the cluster, and other
	// packages' tests may hold one open on a shared server for a moment.
	var events []eventstore.Event
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		var err error
		events, err = store.ReadAll(ctx, eventstore.Position{}, 1000)
		return len(events) >= n, err
	})
	return events
}

func applied(t *testing.T, ctx context.Context, store *eventstore.Store) int {
	t.Helper()
	return countRows(t, ctx, store, "rm_seen")
}

// countRows counts the rows of table.
func countRows(t *testing.T, ctx context.Context, store *eventstore.Store, table string) int {
	t.Helper()
	var n int
	if err := store.Pool().QueryRow(ctx, `select count(*) from `+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A message whose predecessor is not the checkpoint means NATS lost or
// purged messages: the projector reads the gap from the store.
func TestApplyBatchFillsAGapFromTheStore(t *testing.T) {
	store, ctx := newStore(t)
	events := appendEvents(t, ctx, store, 5)
	prev := events[3].Position
	batch := []delivery{{event: events[4], prev: &prev}}
	err := pgx.BeginFunc(ctx, store.Pool(), func(tx pgx.Tx) error {
		cp, n, err := applyBatch(ctx, tx, store, seen{}, batch)
		if err == nil && (cp != events[4].Position || n != 5) {
			t.Errorf("checkpoint %s after %d events, want %s after 5", cp, n, events[4].Position)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := applied(t, ctx, store); got != 5 {
		t.Fatalf("%d events applied, want 5", got)
	}
}

// Redelivered events at or below the checkpoint are skipped.
func TestApplyBatchSkipsWhatItApplied(t *testing.T) {
	store, ctx := newStore(t)
	events := appendEvents(t, ctx, store, 3)
	var batch []delivery
	var prev eventstore.Position
	for _, e := range events {
		p := prev
		batch = append(batch, delivery{event: e, prev: &p})
		prev = e.Position
	}
	for range 2 { // the second round is a redelivery of the same batch
		if err := pgx.BeginFunc(ctx, store.Pool(), func(tx pgx.Tx) error {
			_, _, err := applyBatch(ctx, tx, store, seen{}, batch)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got := applied(t, ctx, store); got != 3 {
		t.Fatalf("%d events applied, want 3", got)
	}
	diffs, err := Verify(ctx, store, seen{})
	if err != nil {
		t.Fatal(err)
	}
	if diffs["rm_seen"] != 0 {
		t.Fatalf("%d rows differ from a replay", diffs["rm_seen"])
	}
}

// Replay swaps fresh tables in and moves the checkpoint to the store's head.
func TestReplaySwapsInAFreshCopy(t *testing.T) {
	store, ctx := newStore(t)
	events := appendEvents(t, ctx, store, 7)
	if _, err := store.Pool().Exec(ctx, `insert into rm_seen values ($1, 0)`, uuid.New()); err != nil {
		t.Fatal(err) // a row no event explains: replay must drop it
	}
	var reports int
	if err := Replay(ctx, store, seen{}, 3, func(string, int64, int64) { reports++ }); err != nil {
		t.Fatal(err)
	}
	if got := applied(t, ctx, store); got != 7 {
		t.Fatalf("%d rows after replay, want 7", got)
	}
	cp, err := eventstore.LoadCheckpoint(ctx, store.Pool(), "seen", false)
	if err != nil {
		t.Fatal(err)
	}
	if cp != events[6].Position || reports == 0 {
		t.Fatalf("checkpoint %s, %d progress reports", cp, reports)
	}
}

// TestReadModelTransactionsDoNotHoldBackReaders: a projector batch and a
// replay's build transaction declare that they write no events, so an
// event committed while one of them is open (and holds a transaction id)
// is readable at once, not when it ends: a replay's loads and index builds
// run for minutes.
func TestReadModelTransactionsDoNotHoldBackReaders(t *testing.T) {
	store, ctx := newStore(t)
	first := appendEvents(t, ctx, store, 1)[0]
	for _, tc := range []struct {
		name string
		open func(f func(tx pgx.Tx) error) error
	}{
		{"projector batch", func(f func(tx pgx.Tx) error) error {
			return inPipelinedTx(ctx, store.Pool(), func(tx pgx.Tx) error {
				if _, n, err := applyBatch(ctx, tx, store, seen{}, []delivery{{event: first}}); err != nil || n != 1 {
					return fmt.Errorf("apply: %d, %v", n, err)
				}
				return f(tx)
			})
		}},
		{"replay build", func(f func(tx pgx.Tx) error) error {
			return inSchemaTx(ctx, store.Pool(), "public", false, f)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.open(func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `select pg_current_xact_id()`); err != nil {
					return err
				}
				res, err := store.Commit(ctx, eventstore.Commit{TenantID: uuid.New(), Streams: []eventstore.StreamAppend{{
					StreamType: "thing", StreamID: uuid.New(), ExpectedVersion: eventstore.NoStream,
					Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "thing.happened", SchemaVersion: 1, Data: json.RawMessage(`{}`)}},
				}}})
				if err != nil {
					return err
				}
				// Other packages' tests may hold an undeclared transaction
				// open on a shared server for a moment: wait that out.
				storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
					head, err := store.Head(ctx)
					return head == res.Position, err
				})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
