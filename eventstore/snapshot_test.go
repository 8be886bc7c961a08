package eventstore_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
)

func snapshotAt(tenant, stream [16]byte, version int) eventstore.StreamSnapshot {
	return eventstore.StreamSnapshot{TenantID: tenant, StreamType: "lead", StreamID: stream, StreamVersion: version,
		SchemaVersion: 1, State: json.RawMessage(`{"name": "Asha"}`)}
}

// A snapshot is stored only at the stream's version, for its tenant; an
// older one never replaces a newer; a redacting commit deletes it.
func TestSnapshotsFollowTheirStream(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	tenant, stream := newID(t), newID(t)
	mustCommit(t, s, appendTo(tenant, stream, eventstore.NoStream, ev("lead.created", 1), ev("lead.updated", 2)))

	for _, tc := range []struct {
		what string
		snap eventstore.StreamSnapshot
	}{
		{"a version the stream is not at", snapshotAt(tenant, stream, 1)},
		{"another tenant's stream", snapshotAt(newID(t), stream, 2)},
	} {
		if ok, err := s.SaveSnapshot(ctx, tc.snap); err != nil || ok {
			t.Fatalf("%s: saved %v (%v), want nothing", tc.what, ok, err)
		}
	}
	if ok, err := s.SaveSnapshot(ctx, snapshotAt(tenant, stream, 2)); err != nil || !ok {
		t.Fatalf("save at the stream's version: %v %v", ok, err)
	}
	snap, ok, err := s.ReadSnapshot(ctx, tenant, stream)
	if err != nil || !ok || snap.StreamVersion != 2 || snap.StreamType != "lead" || string(snap.State) != `{"name": "Asha"}` {
		t.Fatalf("read back %+v %v %v", snap, ok, err)
	}
	if _, ok, _ := s.ReadSnapshot(ctx, newID(t), stream); ok {
		t.Fatal("another tenant reads the snapshot")
	}

	redact := appendTo(tenant, stream, 2, ev("lead.deleted", 3))
	redact.Streams[0].Redact = true
	mustCommit(t, s, redact)
	if _, ok, err := s.ReadSnapshot(ctx, tenant, stream); ok || err != nil {
		t.Fatalf("snapshot after the redaction: %v %v, want none", ok, err)
	}
}

// A snapshot saved while a commit on its stream is in flight waits for it
// and then finds the stream moved on: a redaction that deleted the
// snapshots before the save ran never ends with one left behind.
func TestSnapshotSaveWaitsForACommitInFlight(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	tenant, stream := newID(t), newID(t)
	mustCommit(t, s, appendTo(tenant, stream, eventstore.NoStream, ev("lead.created", 1)))

	// The redacting commit's first steps: the stream's row advanced, its
	// snapshots deleted; not committed yet.
	tx := storetest.Begin(t, s.Pool())
	if _, err := tx.Exec(ctx, `update streams set version = 2 where stream_id = $1`, stream); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `delete from snapshots where stream_id = $1`, stream); err != nil {
		t.Fatal(err)
	}
	type saved struct {
		ok  bool
		err error
	}
	done := make(chan saved, 1)
	go func() {
		ok, err := s.SaveSnapshot(ctx, snapshotAt(tenant, stream, 1))
		done <- saved{ok, err}
	}()
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		var waiting bool
		err := s.Pool().QueryRow(ctx, `select exists (select from pg_stat_activity
			where wait_event_type = 'Lock' and query like 'insert into snapshots%')`).Scan(&waiting)
		return waiting, err
	})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got.err != nil || got.ok {
		t.Fatalf("save behind the commit: %v %v, want nothing saved", got.ok, got.err)
	}
}

// ReadStreamItems pages a stream in which some events show twice.
func TestReadStreamItems(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	tenant, stream := newID(t), newID(t)
	// Versions 1..6, newest first: f e(twice) d c(twice) b a: 8 items.
	mustCommit(t, s, appendTo(tenant, stream, eventstore.NoStream, ev("a", 1), ev("b", 2), ev("twice", 3),
		ev("d", 4), ev("twice", 5), ev("f", 6)))
	for _, tc := range []struct {
		offset, limit int
		versions      []int
		firsts        []int
	}{
		{0, 8, []int{6, 5, 4, 3, 2, 1}, []int{0, 1, 3, 4, 6, 7}},
		{0, 2, []int{6, 5}, []int{0, 1}},
		{2, 1, []int{5}, []int{1}}, // the second item of a twice event
		{3, 2, []int{4, 3}, []int{3, 4}},
		{7, 5, []int{1}, []int{7}},
		{8, 5, nil, nil},
	} {
		page, err := s.ReadStreamItems(ctx, tenant, stream, []string{"twice"}, tc.offset, tc.limit)
		if err != nil || page.Total != 6 || page.Doubled != 2 {
			t.Fatalf("offset %d: %+v %v", tc.offset, page, err)
		}
		var versions []int
		for _, e := range page.Events {
			versions = append(versions, e.StreamVersion)
		}
		if !slices.Equal(versions, tc.versions) || !slices.Equal(page.Firsts, tc.firsts) {
			t.Fatalf("offset %d limit %d: versions %v firsts %v, want %v %v", tc.offset, tc.limit, versions, page.Firsts, tc.versions, tc.firsts)
		}
	}
}
