package commands_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// appendComments appends n comments (numbered from first) to the lead in
// one commit through the store, as a long-lived lead's stream would hold.
func (f *fixture) appendComments(t *testing.T, leadID uuid.UUID, version, first, n int) {
	t.Helper()
	events := make([]eventstore.NewEvent, n)
	reserve := make([]eventstore.Reservation, n)
	for i := range events {
		reserve[i] = eventstore.Reservation{Kind: domain.ReserveComment, Value: strconv.Itoa(first + i)}
		data, err := domain.Event{Type: domain.CommentAdded, Data: domain.CommentAddedData{
			LeadID: leadID, CommentID: int64(first + i), Content: "note", Author: "test"}}.MarshalData()
		if err != nil {
			t.Fatal(err)
		}
		events[i] = eventstore.NewEvent{ID: uuid.New(), Type: domain.CommentAdded, SchemaVersion: domain.SchemaVersion, Data: data}
	}
	if _, err := f.store.Commit(f.ctx, eventstore.Commit{TenantID: f.c.TenantID, Streams: []eventstore.StreamAppend{{
		StreamType: domain.LeadStream, StreamID: leadID, ExpectedVersion: version, Events: events, Reserve: reserve}}}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) snapshotVersion(t *testing.T, leadID uuid.UUID) int {
	t.Helper()
	snap, ok, err := f.store.ReadSnapshot(f.ctx, f.c.TenantID, leadID)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return 0
	}
	return snap.StreamVersion
}

// A command on a long stream writes a snapshot; the next ones start from
// it and decide as a fold of the whole stream would (a comment from before
// the snapshot edits with its old content); a snapshot of another form's
// version is ignored; deleting the lead deletes its snapshot.
func TestCommandsLoadLeadsFromSnapshots(t *testing.T) {
	f := newFixture(t)
	id := f.lead(t, "Long Lived", "long@example.com")
	f.appendComments(t, id, 1, 100000, 1200)

	if _, err := f.h.ChangeStatus(f.ctx, f.c, id, "Contacted"); err != nil {
		t.Fatal(err)
	}
	if v := f.snapshotVersion(t, id); v != 1201 {
		t.Fatalf("snapshot at version %d, want 1201 (the state the command loaded)", v)
	}
	res, err := f.h.EditComment(f.ctx, f.c, 100000, "edited")
	if err != nil {
		t.Fatal(err)
	}
	page, err := f.h.History(f.ctx, f.c.TenantID, id, 0, 1)
	if err != nil || page.Total != 1203 || len(page.Events) != 1 || page.Events[0].Position != res.Position {
		t.Fatalf("history after the edit: %+v %v", page, err)
	}
	edit, err := domain.DecodeLeadEvent(page.Events[0].Type, page.Events[0].SchemaVersion, page.Events[0].Data)
	if err != nil || edit.Data.(domain.CommentEditedData).Old != "note" {
		t.Fatalf("edit decided from the snapshot: %+v %v", edit, err)
	}

	// A stale form: commands fold the stream from the start instead.
	if _, err := f.store.Pool().Exec(f.ctx, `update snapshots set schema_version = $2, state = '{"x": 1}' where stream_id = $1`,
		id, domain.LeadSnapshotVersion+1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.EditComment(f.ctx, f.c, 100001, "edited too"); err != nil {
		t.Fatalf("edit with a stale snapshot: %v", err)
	}
	if v := f.snapshotVersion(t, id); v != 1203 {
		t.Fatalf("snapshot at version %d after a full fold, want 1203", v)
	}

	if _, err := f.h.DeleteLead(f.ctx, f.c, id); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := f.store.Pool().QueryRow(f.ctx, `select count(*) from snapshots where stream_id = $1`, id).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d snapshots of a deleted lead (%v), want 0: they hold its personal data", n, err)
	}
	if _, err := f.h.ChangeStatus(f.ctx, f.c, id, "Won"); !errors.Is(err, domain.ErrLeadNotFound) {
		t.Fatalf("command on the deleted lead: %v", err)
	}
}

// History reads one page of the stream, newest first, with its length.
func TestHistoryPages(t *testing.T) {
	f := newFixture(t)
	id := f.lead(t, "Paged", "paged@example.com")
	f.appendComments(t, id, 1, 1, 9)
	for _, tc := range []struct{ offset, limit, first, n int }{{0, 3, 10, 3}, {3, 3, 7, 3}, {8, 5, 2, 2}, {10, 5, 0, 0}, {50, 5, 0, 0}} {
		page, err := f.h.History(f.ctx, f.c.TenantID, id, tc.offset, tc.limit)
		if err != nil || page.Total != 10 || len(page.Events) != tc.n {
			t.Fatalf("offset %d limit %d: %d events of %d (%v)", tc.offset, tc.limit, len(page.Events), page.Total, err)
		}
		for i, e := range page.Events {
			if e.StreamVersion != tc.first-i {
				t.Fatalf("offset %d limit %d: event %d is version %d, want %d", tc.offset, tc.limit, i, e.StreamVersion, tc.first-i)
			}
		}
	}
	if _, err := f.h.History(f.ctx, uuid.New(), id, 0, 5); !errors.Is(err, domain.ErrLeadNotFound) {
		t.Fatalf("another tenant's history: %v", err)
	}
}

// Concurrent edits of one comment all land, each recording as its old
// content what the previous one wrote: the content a command reads from the
// stream is checked against the lead's digest and read again when stale.
func TestConcurrentCommentEditsChainTheirContents(t *testing.T) {
	f := newFixture(t)
	id := f.lead(t, "Busy", "busy@example.com")
	added, err := f.h.AddComment(f.ctx, f.c, id, "v0")
	if err != nil {
		t.Fatal(err)
	}
	const editors = 6
	errs := make(chan error, editors)
	for i := range editors {
		go func() {
			_, err := f.h.EditComment(f.ctx, f.c, added.CommentID, fmt.Sprintf("v%d", i+1))
			errs <- err
		}()
	}
	for range editors {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	events, err := f.h.CommentEvents(f.ctx, f.c.TenantID, id, added.CommentID)
	if err != nil || len(events) != editors+1 {
		t.Fatalf("%d events of the comment (%v), want %d", len(events), err, editors+1)
	}
	content := "v0"
	for _, e := range events[1:] {
		d, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
		if err != nil {
			t.Fatal(err)
		}
		edit := d.Data.(domain.CommentEditedData)
		if edit.Old != content {
			t.Fatalf("edit at version %d: old %q, want %q", e.StreamVersion, edit.Old, content)
		}
		content = edit.New
	}
}
