package commands_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// The one write path serves the pipeline as it serves leads: a keyed
// pipeline command retried answers its first commit (the status it made,
// at that position) and writes nothing again; its key on a lead command is
// refused; a decision that changes nothing answers without committing; and
// every command notes the streams it loaded or wrote, a deleted one as not
// to be quoted.
func TestWritePathServesEveryAggregate(t *testing.T) {
	f := newFixture(t)
	keyed := f.c
	keyed.IdempotencyKey = "k-status"
	first, err := f.h.CreateStatus(f.ctx, keyed, "Nurture", "blue")
	if err != nil {
		t.Fatal(err)
	}
	before := f.eventCount(t)
	again, err := f.h.CreateStatus(f.ctx, keyed, "Nurture", "blue")
	if err != nil || again.Position != first.Position || again.Status != first.Status || len(again.Statuses) != 7 {
		t.Fatalf("retry: %+v %v, want %+v", again, err, first)
	}
	if f.eventCount(t) != before {
		t.Fatal("a replayed pipeline command wrote events")
	}
	id := f.lead(t, "Asha", "asha@example.com")
	if _, err := f.h.ChangeStatus(f.ctx, keyed, id, "Won"); !errors.Is(err, commands.ErrKeyReused) {
		t.Fatalf("the pipeline command's key on a lead: %v, want ErrKeyReused", err)
	}
	unchanged, err := f.h.ReorderStatuses(f.ctx, f.c, map[int64]int{first.Status.ID: 7})
	if err != nil || unchanged.Position != (eventstore.Position{}) || f.eventCount(t) != before+1 {
		t.Fatalf("a reorder that moves nothing: %+v %v", unchanged, err)
	}

	var touched commands.Touched
	c := f.c
	c.Touched = &touched
	other := f.lead(t, "Bala", "bala@example.com")
	if _, err := f.h.ChangeStatus(f.ctx, c, id, "Won"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.DeleteLead(f.ctx, c, other); err != nil {
		t.Fatal(err)
	}
	if got := touched.Streams(); len(got) != 1 || got[0] != id {
		t.Fatalf("touched %v, want only %v (the deleted lead quotes nothing)", got, id)
	}
	if _, err := f.h.ChangeStatus(f.ctx, c, uuid.New(), "Won"); !errors.Is(err, domain.ErrLeadNotFound) {
		t.Fatalf("unknown lead: %v", err)
	}
}
