package commands_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
)

// TestKeyedCommandsReplayOrRefuse: a command retried with the idempotency
// key of its committed first attempt answers that attempt's result (not a
// 404 for the lead it deleted, not a second status); the key reused on
// another lead is refused and changes nothing. No command answers success
// for work it did not do.
func TestKeyedCommandsReplayOrRefuse(t *testing.T) {
	f := newFixture(t)
	a, b := f.lead(t, "Asha", "asha@example.com"), f.lead(t, "Bala", "bala@example.com")
	keyed := f.c
	keyed.IdempotencyKey = "k-123"

	first, err := f.h.ChangeStatus(f.ctx, keyed, a, "Contacted")
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.h.ChangeStatus(f.ctx, keyed, a, "Contacted")
	if err != nil || again.Position != first.Position {
		t.Fatalf("retry: %v %v, want %v", again, err, first.Position)
	}
	before := f.eventCount(t)
	steps := map[string]func() error{
		"status": func() error { _, err := f.h.ChangeStatus(f.ctx, keyed, b, "Won"); return err },
		"update": func() error {
			_, err := f.h.UpdateLead(f.ctx, keyed, b, commands.UpdateLead{Edit: func(p domain.LeadProfile) (domain.LeadProfile, error) {
				p.Name = "Changed"
				return p, nil
			}})
			return err
		},
		"delete":  func() error { _, err := f.h.DeleteLead(f.ctx, keyed, b); return err },
		"archive": func() error { _, err := f.h.ArchiveLeads(f.ctx, keyed, []uuid.UUID{b}); return err },
	}
	for name, step := range steps {
		if err := step(); !errors.Is(err, commands.ErrKeyReused) {
			t.Errorf("%s of another lead with the key: %v, want ErrKeyReused", name, err)
		}
	}
	if after := f.eventCount(t); after != before {
		t.Fatalf("refused commands wrote %d events", after-before)
	}

	del := f.c
	del.IdempotencyKey = "k-delete"
	gone, err := f.h.DeleteLead(f.ctx, del, b)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := f.h.DeleteLead(f.ctx, del, b); err != nil || res.Position != gone.Position {
		t.Fatalf("delete retried: %v %v", res, err)
	}
	if _, err := f.h.DeleteLead(f.ctx, f.c, b); !errors.Is(err, domain.ErrLeadNotFound) {
		t.Fatalf("delete again without the key: %v", err)
	}
}
