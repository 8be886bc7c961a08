package leads

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// A lead's comments read as their last edit, with the time of their
// creation and of that edit; other events and edits of comments not folded
// change nothing.
func TestFoldComments(t *testing.T) {
	lead := uuid.New()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	event := func(typ string, m int, data any) eventstore.Event {
		raw, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		return eventstore.Event{Type: typ, SchemaVersion: domain.SchemaVersion, Data: raw, RecordedAt: at(m)}
	}
	events := []eventstore.Event{
		event(domain.CommentAdded, 0, domain.CommentAddedData{LeadID: lead, CommentID: 7, Content: "first", Author: "a@example.com"}),
		event(domain.LeadStatusChanged, 1, domain.LeadStatusChangedData{LeadID: lead, From: "New", To: "Won"}),
		event(domain.CommentAdded, 2, domain.CommentAddedData{LeadID: lead, CommentID: 9, Content: "second", Author: "api_key:1"}),
		event(domain.CommentEdited, 3, domain.CommentEditedData{LeadID: lead, CommentID: 7, Old: "first", New: "first, edited"}),
		event(domain.CommentEdited, 4, domain.CommentEditedData{LeadID: lead, CommentID: 7, Old: "first, edited", New: "first, again"}),
		event(domain.CommentEdited, 5, domain.CommentEditedData{LeadID: lead, CommentID: 8, Old: "x", New: "y"}),
	}
	got, err := FoldComments(events)
	if err != nil {
		t.Fatal(err)
	}
	want := []Comment{
		{ID: 7, Content: "first, again", Author: "a@example.com", CreatedAt: at(0), UpdatedAt: at(4)},
		{ID: 9, Content: "second", Author: "api_key:1", CreatedAt: at(2), UpdatedAt: at(2)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("comments\n%+v\nwant\n%+v", got, want)
	}
	if none, err := FoldComments(nil); err != nil || len(none) != 0 {
		t.Errorf("no events: %v, %v", none, err)
	}
}
