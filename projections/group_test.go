package projections

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
)

// flaky records the events applied to it, once each (a primary key), and
// fails while broken is set.
type flaky struct{ broken *atomic.Bool }

func (flaky) Name() string     { return "flaky" }
func (flaky) Tables() []string { return []string{"rm_flaky"} }
func (flaky) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `create table if not exists rm_flaky (event_id uuid primary key)`)
	return err
}
func (f flaky) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if f.broken.Load() {
		return errors.New("the photo folder is gone")
	}
	_, err := tx.Exec(ctx, `insert into rm_flaky values ($1)`, e.ID)
	return err
}

// TestGroupGoesOnWithoutAFailingReadModel: the projectors apply every read
// model in one transaction, but one whose Apply fails must not hold the
// others back; it is left out for a while, then caught up alone from the
// store, every event once.
func TestGroupGoesOnWithoutAFailingReadModel(t *testing.T) {
	broken := &atomic.Bool{}
	store, ctx := newStoreWith(t, seen{}, flaky{broken})
	g := newGroup(RunnerConfig{Store: store, BatchSize: 20, Logger: storetest.Logger()}, []Projection{seen{}, flaky{broken}})
	now := time.Now()
	g.now = func() time.Time { return now }

	broken.Store(true)
	appendEvents(t, ctx, store, 50)
	if err := g.catchUp(ctx); err != nil {
		t.Fatalf("the group stopped for one failing read model: %v", err)
	}
	if got := applied(t, ctx, store); got != 50 {
		t.Fatalf("the healthy read model has %d of 50 events", got)
	}
	if got := countRows(t, ctx, store, "rm_flaky"); got != 0 {
		t.Fatalf("the failing read model has %d events", got)
	}
	if g.members[1].failed == nil {
		t.Fatal("the failing read model is still in the group")
	}

	// Mended, but its pause is not over: it waits.
	broken.Store(false)
	appendEvents(t, ctx, store, 10)
	if err := g.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, ctx, store, "rm_flaky"); got != 0 {
		t.Fatalf("the paused read model has %d events", got)
	}
	// After its pause it catches up alone and rejoins.
	now = now.Add(memberBackoffMax)
	appendEvents(t, ctx, store, 10)
	if err := g.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if a, f := applied(t, ctx, store), countRows(t, ctx, store, "rm_flaky"); a != 70 || f != 70 {
		t.Fatalf("%d and %d of 70 events applied", a, f)
	}
	if g.members[1].failed != nil {
		t.Fatalf("the mended read model is still out: %v", g.members[1].failed)
	}
	cps, err := store.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cps["seen"] != cps["flaky"] {
		t.Fatalf("checkpoints %s and %s", cps["seen"], cps["flaky"])
	}

	// Every read model failing (Postgres refusing, say) ends the session.
	broken.Store(true)
	appendEvents(t, ctx, store, 1)
	g2 := newGroup(RunnerConfig{Store: store, BatchSize: 20, Logger: storetest.Logger()}, []Projection{flaky{broken}})
	if err := g2.catchUp(ctx); err == nil {
		t.Fatal("a group whose every read model fails caught up")
	}
}
