package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func commentAdded(id int64, content string) Event {
	return Event{Type: CommentAdded, Data: CommentAddedData{LeadID: leadID, CommentID: id, Content: content, Author: "api_key:1"}}
}

// Given a history, a lead restored from its snapshot (through JSON, as
// stored) equals the lead folded from the history, and decides alike.
func TestSnapshotRestoresTheFoldedLead(t *testing.T) {
	history := []Event{
		created(asha()), updated(change("city", `null`, `"Pune"`)), statusChanged(DefaultStatus, "Contacted"),
		callLogged(callA), callLogged(callB), callDeleted(callA), commentAdded(3, "call back"),
		lifecycle(LeadArchived),
	}
	folded := NewLeadFromHistory(history)
	raw, err := json.Marshal(folded.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var snap LeadSnapshot
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	restored, err := UnmarshalLeadFromSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored, folded) {
		t.Fatalf("restored %+v\nwant     %+v", restored, folded)
	}
	// The deleted call log's id stays used, the live one is live.
	if _, err := restored.LogCall(call(callA)); !errors.Is(err, ErrCallLogExists) {
		t.Fatalf("log a deleted call log's id again: %v, want ErrCallLogExists", err)
	}
	if got, want := restored.CallLogIDs(), []uuid.UUID{callB}; !reflect.DeepEqual(got, want) {
		t.Fatalf("call logs %v, want %v", got, want)
	}
	next := lifecycle(LeadRestored)
	restored.Apply(next)
	folded.Apply(next)
	if !reflect.DeepEqual(restored, folded) || restored.Version() != len(history)+1 {
		t.Fatalf("after one more event: restored %+v, folded %+v", restored, folded)
	}
}

// A snapshot of another form's version is refused, so the caller folds the
// stream from the start instead of trusting a state it cannot read.
func TestStaleSnapshotIsRefused(t *testing.T) {
	snap := NewLeadFromHistory([]Event{created(asha())}).Snapshot()
	snap.SchemaVersion = LeadSnapshotVersion + 1
	if _, err := UnmarshalLeadFromSnapshot(snap); !errors.Is(err, ErrStaleSnapshot) {
		t.Fatalf("err %v, want ErrStaleSnapshot", err)
	}
}

// Given a lead holding MaxCommentsPerLead comments, when another is added,
// then LimitError naming comments, which reads as a ValidationError too.
func TestCommentsPerLeadAreBounded(t *testing.T) {
	history := []Event{created(asha())}
	for i := range MaxCommentsPerLead - 1 {
		history = append(history, commentAdded(int64(i+1), "note"))
	}
	lead := NewLeadFromHistory(history)
	decided, err := lead.AddComment(MaxCommentsPerLead, "the last one", "api_key:1")
	if err != nil || len(decided) != 1 {
		t.Fatalf("comment number %d: %v %v", MaxCommentsPerLead, decided, err)
	}
	lead.Apply(decided[0])
	_, err = lead.AddComment(MaxCommentsPerLead+1, "one too many", "api_key:1")
	var limit LimitError
	var invalid ValidationError
	if !errors.As(err, &limit) || limit.Field != "comments" || !errors.As(err, &invalid) || invalid.Field != "comments" {
		t.Fatalf("err %#v, want LimitError on comments", err)
	}
	// Editing stays possible at the bound.
	if _, err := lead.EditComment(1, "edited", "note"); err != nil {
		t.Fatalf("edit at the bound: %v", err)
	}
}

// Given a lead that logged MaxCallLogsPerLead calls (deleted ones count:
// their ids stay used), when another is logged, then LimitError.
func TestCallLogsPerLeadAreBounded(t *testing.T) {
	history := []Event{created(asha())}
	for range MaxCallLogsPerLead {
		history = append(history, callLogged(uuid.New()))
	}
	history = append(history, callDeleted(history[1].Data.(CallLoggedData).CallLogID))
	_, err := NewLeadFromHistory(history).LogCall(call(uuid.New()))
	var limit LimitError
	if !errors.As(err, &limit) || limit.Field != "call_logs" || !errors.Is(err, ErrInvalid) {
		t.Fatalf("err %#v, want LimitError on call_logs", err)
	}
}

// Given a comment of the longest content, the lead's state (its snapshot)
// keeps a digest of it, not the content: a lead at the bound on comments
// stays small whatever they say.
func TestLeadKeepsCommentDigestsNotContents(t *testing.T) {
	long := strings.Repeat("é", maxCommentLen)
	lead := NewLeadFromHistory([]Event{created(asha()), commentAdded(1, long)})
	raw, err := json.Marshal(lead.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 1024 {
		t.Fatalf("snapshot of a lead with one %d-byte comment is %d bytes", len(long), len(raw))
	}
	// When the caller gives the content as the stream holds it, the edit
	// carries it as the old value.
	events, err := lead.EditComment(1, "short now", long)
	if err != nil || events[0].Data.(CommentEditedData).Old != long {
		t.Fatalf("edit: %v", err)
	}
}

// Given a comment edited since the caller read it, when the caller edits
// with the content it read, then ErrCommentChanged (the handler reads again).
func TestEditCommentRefusesContentReadBeforeAnotherEdit(t *testing.T) {
	lead := NewLeadFromHistory([]Event{created(asha()), commentAdded(1, "first"),
		{Type: CommentEdited, Data: CommentEditedData{LeadID: leadID, CommentID: 1, Old: "first", New: "second"}}})
	if _, err := lead.EditComment(1, "third", "first"); !errors.Is(err, ErrCommentChanged) {
		t.Fatalf("edit from stale content: %v, want ErrCommentChanged", err)
	}
	if events, err := lead.EditComment(1, "second", "second"); err != nil || len(events) != 0 {
		t.Fatalf("same content: %v %v, want no change", events, err)
	}
}

// Given a lead whose emails merges have grown to the bound, when one more
// merge brings a new email, then a ValidationError naming emails: merges
// cannot grow a lead's profile, loaded by every command, without end.
func TestMergesCannotGrowAProfileWithoutEnd(t *testing.T) {
	lead := NewLeadFromHistory([]Event{created(asha())})
	for i := 1; i < maxEmails; i++ {
		events, err := lead.Merge(LeadProfile{Emails: []string{fmt.Sprintf("asha.%d@example.com", i)}})
		if err != nil {
			t.Fatalf("merge %d: %v", i, err)
		}
		lead.Apply(events[0])
	}
	_, err := lead.Merge(LeadProfile{Emails: []string{"one.more@example.com"}})
	var invalid ValidationError
	if !errors.As(err, &invalid) || invalid.Field != "emails" {
		t.Fatalf("merge past the bound: %v, want a ValidationError naming emails", err)
	}
}
