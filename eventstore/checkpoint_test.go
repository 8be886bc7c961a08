package eventstore_test

import (
	"testing"

	"github.com/crmcore/crm/eventstore"
)

func TestNextNumber(t *testing.T) {
	s := newStore(t)
	a, b := newID(t), newID(t)
	for want := int64(1); want <= 3; want++ {
		if n, err := s.NextNumber(t.Context(), a, "lead"); err != nil || n != want {
			t.Fatalf("a lead = %d, %v, want %d", n, err, want)
		}
	}
	if n, err := s.NextNumber(t.Context(), b, "lead"); err != nil || n != 1 {
		t.Fatalf("b lead = %d, %v", n, err)
	}
	if n, err := s.NextNumber(t.Context(), a, "client"); err != nil || n != 1 {
		t.Fatalf("a client = %d, %v", n, err)
	}
}

func TestCheckpoints(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if p, err := eventstore.LoadCheckpoint(ctx, s.Pool(), "relay", false); err != nil || !p.IsZero() {
		t.Fatalf("missing checkpoint = %v, %v", p, err)
	}
	want := eventstore.Position{Tx: 1234, Pos: 56}
	if err := eventstore.SaveCheckpoint(ctx, s.Pool(), "relay", want); err != nil {
		t.Fatal(err)
	}

	// Saved in a transaction that rolls back, it is not saved.
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := eventstore.LoadCheckpoint(ctx, tx, "relay", true); err != nil || p != want {
		t.Fatalf("load for update = %v, %v", p, err)
	}
	if err := eventstore.SaveCheckpoint(ctx, tx, "relay", eventstore.Position{Tx: 9999, Pos: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	if err := eventstore.SaveCheckpoint(ctx, s.Pool(), "leads", eventstore.Position{Tx: 7, Pos: 8}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all["relay"] != want || all["leads"] != (eventstore.Position{Tx: 7, Pos: 8}) {
		t.Fatalf("checkpoints = %v", all)
	}
}
