package eventstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
)

// ReadMarks and ReadRange read the visible events in ranges: the ranges
// between the marks hold every event up to the last mark once, in commit
// order, and an older transaction still open holds the marks back as it
// holds ReadAll back, even when it writes after later commits.
func TestReadMarksSplitVisibleEventsIntoRanges(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	tenant := newID(t)
	for i := range 22 { // 53 events in commits of 1 to 4
		evs := []eventstore.NewEvent{ev("e", i)}
		for k := range i % 4 {
			evs = append(evs, ev("e", 100*i+k))
		}
		mustCommit(t, s, appendTo(tenant, newID(t), eventstore.NoStream, evs...))
	}
	before := readAll(t, s)
	if len(before) != 53 {
		t.Fatalf("%d events committed, want 53", len(before))
	}

	txA := storetest.Begin(t, s.Pool())
	if _, err := txA.Exec(ctx, "select pg_current_xact_id()"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustCommit(t, s, appendTo(tenant, newID(t), eventstore.NoStream, ev("B", i), ev("B", i)))
	}

	// A is open: only the first 53 events are visible, in 10 ranges of 5.
	marks, err := s.ReadMarks(ctx, eventstore.Position{}, 5, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(marks) != 10 {
		t.Fatalf("%d marks, want 10", len(marks))
	}
	var got []eventstore.Event
	from := eventstore.Position{}
	for i, m := range marks {
		if m != before[5*i+4].Position {
			t.Fatalf("mark %d at %s, want %s", i, m, before[5*i+4].Position)
		}
		r, err := s.ReadRange(ctx, from, m)
		if err != nil {
			t.Fatal(err)
		}
		if len(r) != 5 {
			t.Fatalf("range %d holds %d events, want 5", i, len(r))
		}
		got, from = append(got, r...), m
	}
	if limited, err := s.ReadMarks(ctx, eventstore.Position{}, 5, 3); err != nil || !slices.Equal(limited, marks[:3]) {
		t.Fatalf("3 marks: %v, %v, want %v", limited, err, marks[:3])
	}
	if tail, err := s.ReadMarks(ctx, from, 5, 100); err != nil || len(tail) != 0 {
		t.Fatalf("marks after the last full range: %v, %v", tail, err)
	}

	insertRaw(t, txA, tenant, "A")
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// 3 left of the first events, then A, then the 10 B: 2 ranges of 5.
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		marks, err = s.ReadMarks(ctx, from, 5, 100)
		return len(marks) == 2, err
	})
	for _, m := range marks {
		r, err := s.ReadRange(ctx, from, m)
		if err != nil {
			t.Fatal(err)
		}
		got, from = append(got, r...), m
	}
	rest, err := s.ReadAll(ctx, from, 100)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, rest...)
	all := readAll(t, s)
	if len(got) != len(all) || len(all) != 64 {
		t.Fatalf("ranges and the rest hold %d events, %d committed, want 64", len(got), len(all))
	}
	for i := range all {
		if got[i].ID != all[i].ID || got[i].Position != all[i].Position {
			t.Fatalf("event %d: %s at %s, want %s at %s", i, got[i].ID, got[i].Position, all[i].ID, all[i].Position)
		}
	}
	if got[53].Type != "A" {
		t.Fatalf("event 53 is %s, want A (older transaction first)", got[53].Type)
	}
}

// Each event read back has its own commit's metadata, whether it is the
// same as the event's before it or not.
func TestReadAllKeepsEachCommitsMetadata(t *testing.T) {
	s := newStore(t)
	tenant := newID(t)
	var want []eventstore.Metadata
	for i := range 6 {
		c := appendTo(tenant, newID(t), eventstore.NoStream, ev("e", i), ev("e", i))
		c.Metadata = eventstore.Metadata{Actor: "a", RequestID: string(rune('a' + i/2))}
		if i == 5 {
			c.Metadata = eventstore.Metadata{}
		}
		mustCommit(t, s, c)
		want = append(want, c.Metadata, c.Metadata)
	}
	got := readAll(t, s)
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range got {
		if !got[i].Metadata.Equal(want[i]) {
			t.Fatalf("event %d metadata %+v, want %+v", i, got[i].Metadata, want[i])
		}
	}
}
