package tenants_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/jwtauth"
	"github.com/crmcore/crm/tenants"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// newStore returns a tenants store on a fresh, migrated database.
func newStore(t *testing.T) *tenants.Store {
	t.Helper()
	return tenants.New(storetest.MigratedPool(t))
}

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
	if err != nil || p != (tenants.Principal{TenantID: acme, KeyID: keyID, TenantName: "acme"}) {
		t.Fatalf("authenticate = %+v, %v", p, err)
	}
	for _, bad := range []string{"", "crm_", key + "x", key[:len(key)-1]} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, tenants.ErrUnauthorized) {
			t.Errorf("authenticate %q: err = %v", bad, err)
		}
	}

	if err := s.RevokeAPIKey(ctx, keyID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, key); !errors.Is(err, tenants.ErrUnauthorized) {
		t.Fatalf("revoked key: err = %v", err)
	}
	if err := s.RevokeAPIKey(ctx, keyID); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	if err := s.RevokeAPIKey(ctx, uuid.New()); !errors.Is(err, tenants.ErrAPIKeyNotFound) {
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
	if _, err := s.CreateAPIKeyWithSecret(ctx, globex, dev); !errors.Is(err, tenants.ErrAPIKeyTaken) {
		t.Fatalf("other tenant: err = %v", err)
	}
	if p, err := s.Authenticate(ctx, dev); err != nil || p.TenantID != acme || p.KeyID != id {
		t.Fatalf("authenticate dev key = %+v, %v", p, err)
	}
	if _, _, err := s.CreateAPIKey(ctx, uuid.New(), "crm_"); err == nil {
		t.Fatal("key created for an unknown tenant")
	}
}

// TestTenantIDNeverCreates: TenantID finds a tenant by name; a name no
// tenant has is jwtauth.ErrUnknownTenant (unauthorized), and stays unknown.
func TestTenantIDNeverCreates(t *testing.T) {
	s := newStore(t)
	id, err := s.EnsureTenant(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.TenantID(t.Context(), "acme"); err != nil || got != id {
		t.Fatalf("TenantID(acme) = %v, %v; want %v", got, err, id)
	}
	for range 2 {
		got, err := s.TenantID(t.Context(), "nobody")
		if !errors.Is(err, jwtauth.ErrUnknownTenant) || !errors.Is(err, tenants.ErrUnknownTenant) ||
			crmerr.Code(err) != crmerr.Unauthorized || got != uuid.Nil {
			t.Fatalf("TenantID(nobody) = %v, %v; want ErrUnknownTenant", got, err)
		}
	}
}
