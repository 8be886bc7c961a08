package projections_test

import (
	"testing"

	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// Rebuilding every read model together from one shared scan gives the same
// rows, indexes and cursors as applying the events one by one.
func TestRebuildAllEqualsPerEventApply(t *testing.T) {
	store, ctx := newReadModelStore(t)
	hs := newHistory(t, ctx, store, 11)
	hs.runComplete(600)
	var reports int
	builds, err := projections.RebuildAll(ctx, store, readModels, "all_", func(string, int64, int64) { reports++ })
	for _, b := range builds {
		defer b.Drop()
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(builds) != len(readModels) || reports == 0 {
		t.Fatalf("%d builds of %d read models, %d progress reports", len(builds), len(readModels), reports)
	}
	for i, p := range readModels {
		sameAsPerEvent(t, ctx, store, p, builds[i], "shared")
	}
}

// ReplayAll while commands keep writing swaps in tables that, with the
// events after their checkpoints applied, equal a per-event rebuild: no
// event is lost or applied twice across the snapshot, the tail and the swap.
func TestReplayAllWhileWriting(t *testing.T) {
	store, ctx := newReadModelStore(t)
	hs := newHistory(t, ctx, store, 23)
	hs.runComplete(300)
	done := make(chan error, 1)
	go func() { done <- projections.ReplayAll(ctx, store, readModels, 7, nil) }()
	writes := 0
	for replaying := true; replaying || writes < 50; writes++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			replaying = false
		default:
		}
		hs.step()
	}
	t.Logf("%d writes during and after the replay", writes)
	// The writes may have emptied a table: on until none is (the live
	// catch-up below applies these too).
	hs.runComplete(0)
	for _, p := range readModels {
		// What a live projector would do next: apply the events after the
		// swapped-in checkpoint to the live tables.
		pool := store.Pool()
		cp, err := eventstore.LoadCheckpoint(ctx, pool, p.Name(), false)
		if err != nil {
			t.Fatal(err)
		}
		if cp == (eventstore.Position{}) {
			t.Fatalf("%s: no checkpoint after the replay", p.Name())
		}
		live := projections.LiveBuild(ctx, store, p, cp)
		if err := live.CatchUp(); err != nil {
			t.Fatal(err)
		}
		sameAsPerEvent(t, ctx, store, p, live, "replayed and caught-up")
		var schemas int
		if err := pool.QueryRow(ctx, `select count(*) from pg_namespace where nspname like 'replay\_%'`).Scan(&schemas); err != nil || schemas != 0 {
			t.Errorf("%d replay schemas left, %v", schemas, err)
		}
	}
}
