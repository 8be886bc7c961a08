package projections

import (
	"slices"
	"testing"

	"github.com/crmcore/crm/eventstore"
)

// Rebuilding every read model together from one shared scan gives the same
// rows, indexes and cursors as applying the events one by one.
func TestRebuildAllEqualsPerEventApply(t *testing.T) {
	store, ctx := newReadModelStore(t)
	hs := newHistory(t, ctx, store, 11)
	for range 600 {
		hs.step()
	}
	waitVisible(t, ctx, store)
	var reports int
	builds, err := rebuildAll(ctx, store, readModels, "all_", 0, func(string, int64, int64) { reports++ })
	for _, b := range builds {
		defer b.drop()
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(builds) != len(readModels) || reports == 0 {
		t.Fatalf("%d builds of %d read models, %d progress reports", len(builds), len(readModels), reports)
	}
	for i, p := range readModels {
		all := builds[i]
		each, err := rebuild(ctx, store, p, "each_"+p.Name(), 0, nil, false)
		if each != nil {
			defer each.drop()
		}
		if err != nil {
			t.Fatal(err)
		}
		diffs, err := compareTables(ctx, store, p, all.schema, each.schema)
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range p.Tables() {
			n := rowCount(t, ctx, store, each.schema, table)
			if diffs[table] != 0 || (n == 0 && table != "rm_lead_count_deltas") {
				t.Errorf("%s: %d of %d rows differ between the shared and the per-event rebuild", table, diffs[table], n)
			}
			got, want := indexes(t, ctx, store, all.name, table), indexes(t, ctx, store, each.name, table)
			if !slices.Equal(got, want) || len(want) == 0 {
				t.Errorf("%s: indexes after the shared rebuild\n%q\nwant\n%q", table, got, want)
			}
		}
		if all.cursor != each.cursor {
			t.Errorf("%s: shared rebuild at %s, per-event at %s", p.Name(), all.cursor, each.cursor)
		}
	}
}

// ReplayAll while commands keep writing swaps in tables that, with the
// events after their checkpoints applied, equal a per-event rebuild: no
// event is lost or applied twice across the snapshot, the tail and the swap.
func TestReplayAllWhileWriting(t *testing.T) {
	store, ctx := newReadModelStore(t)
	hs := newHistory(t, ctx, store, 23)
	for range 300 {
		hs.step()
	}
	waitVisible(t, ctx, store)
	done := make(chan error, 1)
	go func() { done <- ReplayAll(ctx, store, readModels, 7, nil) }()
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
	waitVisible(t, ctx, store)
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
		live := &build{ctx: ctx, store: store, p: p, schema: "public", name: "public", batchSize: 100, cursor: cp}
		if err := live.catchUp(); err != nil {
			t.Fatal(err)
		}
		each, err := rebuild(ctx, store, p, "each_"+p.Name(), 0, nil, false)
		if each != nil {
			defer each.drop()
		}
		if err != nil {
			t.Fatal(err)
		}
		diffs, err := compareTables(ctx, store, p, "public", each.schema)
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range p.Tables() {
			if diffs[table] != 0 {
				t.Errorf("%s: %d rows differ from a per-event rebuild", table, diffs[table])
			}
		}
		if live.cursor != each.cursor {
			t.Errorf("%s: live tables at %s, per-event rebuild at %s", p.Name(), live.cursor, each.cursor)
		}
		var schemas int
		if err := pool.QueryRow(ctx, `select count(*) from pg_namespace where nspname like 'replay\_%'`).Scan(&schemas); err != nil || schemas != 0 {
			t.Errorf("%d replay schemas left, %v", schemas, err)
		}
	}
}
