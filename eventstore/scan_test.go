package eventstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
)

// A snapshot is an exact cut: every event at or before its head, none after,
// even with an older transaction still open; ReadAll after the head reads
// the rest. Its scan returns each stream's events together and in order.
func TestSnapshotIsAnExactCut(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	tenant := newID(t)
	streams := []uuid.UUID{newID(t), newID(t), newID(t)}
	var last eventstore.CommitResult
	for v := range 2 { // interleaved in commit order, grouped by the scan
		for _, id := range streams {
			last = mustCommit(t, s, appendTo(tenant, id, v, ev("before", v)))
		}
	}
	open := storetest.Begin(t, s.Pool())
	insertRaw(t, open, tenant, "open") // older than "after", commits later
	mustCommit(t, s, appendTo(tenant, streams[0], 2, ev("after", 2)))

	// Another package's test may hold a transaction open on a shared server
	// for a moment: take the snapshot once the horizon has passed "before".
	var snap *eventstore.Snapshot
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		var err error
		if snap, err = s.Snapshot(ctx); err != nil {
			return false, err
		}
		if snap.Head().Less(last.Position) {
			snap.Close(ctx)
			return false, nil
		}
		return true, nil
	})
	defer snap.Close(ctx)
	if snap.Head() != last.Position {
		t.Fatalf("snapshot head %s, want %s", snap.Head(), last.Position)
	}

	var got []eventstore.Event
	if err := snap.ScanStreams(ctx, eventstore.ScanFilter{}, func(e eventstore.Event) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(types(got), []string{"before", "before", "before", "before", "before", "before"}) {
		t.Fatalf("scan: %v", types(got))
	}
	ordered := slices.IsSortedFunc(got, func(a, b eventstore.Event) int {
		if c := slices.Compare(a.StreamID[:], b.StreamID[:]); c != 0 {
			return c
		}
		return a.StreamVersion - b.StreamVersion
	})
	if !ordered {
		t.Fatalf("scan not in (stream, version) order: %v", positions(got))
	}
	for _, e := range got {
		if last.Position.Less(e.Position) {
			t.Fatalf("event %s after the head %s", e.Position, last.Position)
		}
	}
	for _, tc := range []struct {
		filter eventstore.ScanFilter
		want   int
	}{
		{eventstore.ScanFilter{StreamTypes: []string{"lead"}}, 6},
		{eventstore.ScanFilter{StreamTypes: []string{"pipeline"}}, 0},
		{eventstore.ScanFilter{EventTypes: []string{"before", "after"}}, 6},
		{eventstore.ScanFilter{EventTypes: []string{"after"}}, 0},
	} {
		n := 0
		if err := snap.ScanStreams(ctx, tc.filter, func(eventstore.Event) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != tc.want {
			t.Errorf("%+v: %d events, want %d", tc.filter, n, tc.want)
		}
	}

	if err := open.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var rest []eventstore.Event
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		var err error
		rest, err = s.ReadAll(ctx, snap.Head(), 10)
		return len(rest) >= 2, err
	})
	if !slices.Equal(types(rest), []string{"open", "after"}) {
		t.Fatalf("after the head: %v, want [open after]", types(rest))
	}
}
