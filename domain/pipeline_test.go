package domain

import (
	"errors"
	"testing"
)

func statusNames(p *Pipeline) []string {
	var out []string
	for _, s := range p.Statuses() {
		out = append(out, s.Name)
	}
	return out
}

func applyAll(p *Pipeline, events []Event) {
	for _, e := range events {
		p.Apply(e)
	}
}

func TestDefaultPipelineMapsCratioStatuses(t *testing.T) {
	p := NewPipelineFromHistory(nil)
	for i, name := range []string{"New", "Contacted", "Qualified", "Proposal", "Won", "Lost"} {
		s, ok := p.StatusByKey(Status(name))
		if !ok || s.ID != int64(i+1) || s.Name != name {
			t.Fatalf("default status %s: %+v %v", name, s, ok)
		}
	}
}

func TestPipelineCreateRenameDeleteReorder(t *testing.T) {
	// Given the default pipeline
	p := NewPipelineFromHistory(nil)
	// When a status is created
	events, s, err := p.CreateStatus("Negotiation", "salmon")
	if err != nil || len(events) != 1 || s.ID != 7 || s.Key != "status:7" {
		t.Fatalf("create: %+v %v", s, err)
	}
	applyAll(p, events)
	// Then names are unique, case-insensitively, and colours come from the palette
	if _, _, err := p.CreateStatus("negotiation", "blue"); !errors.Is(err, ErrStatusExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	var invalid ValidationError
	if _, _, err := p.CreateStatus("Later", "mauve"); !errors.As(err, &invalid) || invalid.Field != "primaryColor" {
		t.Fatalf("colour outside the palette: %v", err)
	}
	// When it is renamed, the key stays
	events, s, err = p.ChangeStatus(7, "Negotiating", "")
	if err != nil || s.Key != "status:7" || s.Color != "salmon" {
		t.Fatalf("rename: %+v %v", s, err)
	}
	applyAll(p, events)
	if _, _, err := p.ChangeStatus(7, "Won", ""); !errors.Is(err, ErrStatusExists) {
		t.Fatalf("rename onto another status: %v", err)
	}
	if events, _, _ := p.ChangeStatus(7, "Negotiating", "salmon"); len(events) != 0 {
		t.Fatal("no-op change emitted events")
	}
	// When it moves to place 2
	events, err = p.Reorder(map[int64]int{7: 2})
	if err != nil {
		t.Fatal(err)
	}
	applyAll(p, events)
	if got := statusNames(p); got[1] != "Negotiating" || got[0] != "New" || got[2] != "Contacted" || len(got) != 7 {
		t.Fatalf("order after reorder: %v", got)
	}
	if _, err := p.Reorder(map[int64]int{99: 1}); !errors.Is(err, ErrStatusNotFound) {
		t.Fatalf("reorder unknown: %v", err)
	}
	// Then a status in use cannot be deleted; an unused one can
	if _, err := p.DeleteStatus(7, true); !errors.Is(err, ErrStatusInUse) {
		t.Fatalf("delete in use: %v", err)
	}
	events, err = p.DeleteStatus(7, false)
	if err != nil {
		t.Fatal(err)
	}
	applyAll(p, events)
	if _, ok := p.Status(7); ok || len(p.Statuses()) != 6 {
		t.Fatalf("after delete: %v", statusNames(p))
	}
	// Replaying the history gives the same pipeline
	if p.Version() != 4 {
		t.Fatalf("version %d, want 4", p.Version())
	}
}

func TestCommentsOnALead(t *testing.T) {
	l := NewLeadFromHistory([]Event{{Type: LeadCreated, Data: LeadCreatedData{LeadID: leadID, Number: 1, Profile: known(), Status: "New"}}})
	events, err := l.AddComment(3, "  First call went well  ", "api_key:k")
	if err != nil || events[0].Data.(CommentAddedData).Content != "First call went well" {
		t.Fatalf("add: %+v %v", events, err)
	}
	l.Apply(events[0])
	if !l.HasComment(3) {
		t.Fatal("comment not kept")
	}
	events, err = l.EditComment(3, "Second call too", "First call went well")
	if err != nil || events[0].Data.(CommentEditedData).Old != "First call went well" {
		t.Fatalf("edit: %+v %v", events, err)
	}
	if _, err := l.EditComment(4, "x", ""); !errors.Is(err, ErrCommentNotFound) {
		t.Fatalf("edit unknown: %v", err)
	}
	var invalid ValidationError
	if _, err := l.AddComment(5, "   ", "a"); !errors.As(err, &invalid) || invalid.Field != "content" {
		t.Fatalf("empty comment: %v", err)
	}
}

func TestStatusBook(t *testing.T) {
	p := NewPipelineFromHistory(nil)
	events, s, _ := p.CreateStatus("Negotiation", "salmon")
	applyAll(p, events)
	renamed, _, _ := p.ChangeStatus(5, "Closed Won", "")
	applyAll(p, renamed)
	book := StatusBook(p.Statuses())
	if book.Name(s.Key) != "Negotiation" || book.Name("Won") != "Closed Won" || book.Name("status:99") != "status:99" {
		t.Fatalf("names: %q %q", book.Name(s.Key), book.Name("Won"))
	}
	if k, ok := book.KeyByName("closed won"); !ok || k != "Won" {
		t.Fatalf("key by name: %q %v", k, ok)
	}
	if !IsDefaultStatus("Lost") || IsDefaultStatus(s.Key) {
		t.Fatal("IsDefaultStatus")
	}
}
