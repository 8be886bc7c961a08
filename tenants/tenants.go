// Package tenants is who may call crm: the tenants and their API keys.
// A key is random, shown once and stored as its SHA-256 hash; a caller is
// authenticated by looking its key's hash up (see Authenticate). The tables
// are created by eventstore's migrations, crm's one schema history.
package tenants

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/jwtauth"
)

// ErrUnauthorized is returned by Authenticate for an unknown or revoked key.
var ErrUnauthorized = crmerr.New(crmerr.Unauthorized, "unauthorized")

// ErrAPIKeyNotFound is returned by RevokeAPIKey for an unknown key id.
var ErrAPIKeyNotFound = crmerr.New(crmerr.NotFound, "api key not found")

// ErrAPIKeyTaken is returned by CreateAPIKeyWithSecret when the key is
// already registered for another tenant, or was revoked.
var ErrAPIKeyTaken = crmerr.New(crmerr.Duplicate, "api key already in use")

// Store keeps the tenants and their API keys in Postgres.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool, whose schema eventstore.Migrate made.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// keyEncoding renders an API key's random part: lowercase base32, no padding,
// so keys survive URLs, headers and shells.
var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Principal is who an API key authenticates.
type Principal struct {
	TenantID   uuid.UUID
	KeyID      uuid.UUID
	TenantName string
}

// EnsureTenant returns the id of the tenant called name, creating it if it
// does not exist. Concurrent calls with one name all return the same id.
func (s *Store) EnsureTenant(ctx context.Context, name string) (uuid.UUID, error) {
	if name == "" {
		return uuid.Nil, errors.New("ensure tenant: empty name")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, fmt.Errorf("ensure tenant %q: %w", name, err)
	}
	// On a conflict with a concurrent insert, the insert waits for it to
	// commit; the select then sees its row.
	err = s.pool.QueryRow(ctx, `insert into tenants (id, name) values ($1, $2)
		on conflict (name) do nothing returning id`, id, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.pool.QueryRow(ctx, "select id from tenants where name = $1", name).Scan(&id)
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("ensure tenant %q: %w", name, err)
	}
	return id, nil
}

// ErrUnknownTenant is TenantID's answer for a name no tenant has: a
// caller naming it is not authorized. It wraps jwtauth.ErrUnknownTenant, so
// a token naming it is refused as invalid.
var ErrUnknownTenant = crmerr.Wrap(crmerr.Unauthorized, fmt.Errorf("tenants: %w", jwtauth.ErrUnknownTenant))

// TenantID returns the id of the tenant called name, or an error wrapping
// ErrUnknownTenant when there is none. Unlike EnsureTenant it never creates
// one: a token must not make a tenant spring into being by naming it.
func (s *Store) TenantID(ctx context.Context, name string) (uuid.UUID, error) {
	var id uuid.UUID
	err := s.pool.QueryRow(ctx, "select id from tenants where name = $1", name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, fmt.Errorf("%q: %w", name, ErrUnknownTenant)
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("tenant %q: %w", name, err)
	}
	return id, nil
}

// CreateAPIKey creates a key for the tenant: prefix followed by 32 random
// bytes. The key is returned once; only its SHA-256 hash is stored.
func (s *Store) CreateAPIKey(ctx context.Context, tenantID uuid.UUID, prefix string) (key string, keyID uuid.UUID, err error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", uuid.Nil, fmt.Errorf("create api key: %w", err)
	}
	key = prefix + keyEncoding.EncodeToString(secret)
	keyID, err = uuid.NewV7()
	if err != nil {
		return "", uuid.Nil, fmt.Errorf("create api key: %w", err)
	}
	hash := hashKey(key)
	if _, err := s.pool.Exec(ctx, "insert into api_keys (id, tenant_id, prefix, hash) values ($1, $2, $3, $4)",
		keyID, tenantID, prefix, hash[:]); err != nil {
		return "", uuid.Nil, fmt.Errorf("create api key for tenant %s: %w", tenantID, err)
	}
	return key, keyID, nil
}

// CreateAPIKeyWithSecret registers a key chosen by the caller (for
// `crm dev --api-key KEY`). It is idempotent for the same tenant and returns
// ErrAPIKeyTaken if the key belongs to another tenant or was revoked.
func (s *Store) CreateAPIKeyWithSecret(ctx context.Context, tenantID uuid.UUID, key string) (uuid.UUID, error) {
	if key == "" {
		return uuid.Nil, errors.New("create api key: empty key")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, fmt.Errorf("create api key: %w", err)
	}
	hash := hashKey(key)
	err = s.pool.QueryRow(ctx, `insert into api_keys (id, tenant_id, prefix, hash) values ($1, $2, $3, $4)
		on conflict (hash) do nothing returning id`, id, tenantID, keyPrefix(key), hash[:]).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, fmt.Errorf("create api key for tenant %s: %w", tenantID, err)
	}
	var owner uuid.UUID
	var revoked *time.Time
	if err := s.pool.QueryRow(ctx, "select id, tenant_id, revoked_at from api_keys where hash = $1",
		hash[:]).Scan(&id, &owner, &revoked); err != nil {
		return uuid.Nil, fmt.Errorf("create api key for tenant %s: %w", tenantID, err)
	}
	if owner != tenantID || revoked != nil {
		return uuid.Nil, ErrAPIKeyTaken
	}
	return id, nil
}

// Authenticate returns the principal of key, or ErrUnauthorized if the key is
// unknown or revoked.
func (s *Store) Authenticate(ctx context.Context, key string) (Principal, error) {
	if key == "" {
		return Principal{}, ErrUnauthorized
	}
	// Looking up by hash leaks nothing about the key through timing: an
	// attacker controls the hash's input, not its bytes.
	hash := hashKey(key)
	var (
		p       Principal
		stored  []byte
		revoked *time.Time
	)
	err := s.pool.QueryRow(ctx, `select k.id, k.tenant_id, t.name, k.hash, k.revoked_at
		from api_keys k join tenants t on t.id = k.tenant_id where k.hash = $1`, hash[:]).
		Scan(&p.KeyID, &p.TenantID, &p.TenantName, &stored, &revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare(stored, hash[:]) != 1 || revoked != nil {
		return Principal{}, ErrUnauthorized
	}
	return p, nil
}

// RevokeAPIKey revokes a key for good; revoking a revoked key does nothing.
// It returns ErrAPIKeyNotFound for an unknown key id.
func (s *Store) RevokeAPIKey(ctx context.Context, keyID uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, "update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1", keyID)
	if err != nil {
		return fmt.Errorf("revoke api key %s: %w", keyID, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrAPIKeyNotFound
	}
	return nil
}

func hashKey(key string) [sha256.Size]byte {
	return sha256.Sum256([]byte(key))
}

// keyPrefix is the displayable head of a caller-chosen key: up to and
// including its first '_' when a secret of at least 16 bytes follows, else
// nothing, so the stored prefix never gives away much of the secret.
func keyPrefix(key string) string {
	i := strings.IndexByte(key, '_')
	if i < 0 || len(key)-(i+1) < 16 {
		return ""
	}
	return key[:i+1]
}
