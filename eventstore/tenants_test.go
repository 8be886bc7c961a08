package eventstore_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/eventstore"
)

func TestEnsureTenant(t *testing.T) {
	s := newStore(t)
	ids := make([]uuid.UUID, 10)
	errs := make([]error, 10)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() { ids[i], errs[i] = s.EnsureTenant(t.Context(), "acme") })
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] || ids[i] == uuid.Nil {
			t.Fatalf("call %d: %v, %v (first %v)", i, ids[i], errs[i], ids[0])
		}
	}
	other, err := s.EnsureTenant(t.Context(), "globex")
	if err != nil || other == ids[0] {
		t.Fatalf("second tenant: %v, %v", other, err)
	}
}

func TestAPIKeys(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	acme, err := s.EnsureTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	globex, err := s.EnsureTenant(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}

	key, keyID, err := s.CreateAPIKey(ctx, acme, "crm_")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "crm_") || len(key) < 4+40 {
		t.Fatalf("key = %q", key)
	}
	p, err := s.Authenticate(ctx, key)
	if err != nil || p != (eventstore.Principal{TenantID: acme, KeyID: keyID, TenantName: "acme"}) {
		t.Fatalf("authenticate = %+v, %v", p, err)
	}
	for _, bad := range []string{"", "crm_", key + "x", key[:len(key)-1]} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, eventstore.ErrUnauthorized) {
			t.Errorf("authenticate %q: err = %v", bad, err)
		}
	}

	if err := s.RevokeAPIKey(ctx, keyID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, key); !errors.Is(err, eventstore.ErrUnauthorized) {
		t.Fatalf("revoked key: err = %v", err)
	}
	if err := s.RevokeAPIKey(ctx, keyID); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	if err := s.RevokeAPIKey(ctx, uuid.New()); !errors.Is(err, eventstore.ErrAPIKeyNotFound) {
		t.Fatalf("revoking unknown key: err = %v", err)
	}

	// A chosen key: idempotent for its tenant, refused for another.
	const dev = "dev_0123456789abcdef0123"
	id, err := s.CreateAPIKeyWithSecret(ctx, acme, dev)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.CreateAPIKeyWithSecret(ctx, acme, dev); err != nil || again != id {
		t.Fatalf("again = %v, %v, want %v", again, err, id)
	}
	if _, err := s.CreateAPIKeyWithSecret(ctx, globex, dev); !errors.Is(err, eventstore.ErrAPIKeyTaken) {
		t.Fatalf("other tenant: err = %v", err)
	}
	if p, err := s.Authenticate(ctx, dev); err != nil || p.TenantID != acme || p.KeyID != id {
		t.Fatalf("authenticate dev key = %+v, %v", p, err)
	}
	if _, _, err := s.CreateAPIKey(ctx, uuid.New(), "crm_"); err == nil {
		t.Fatal("key created for an unknown tenant")
	}
}

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
