// Package jwtauth verifies bearer JWTs: HS256 signed with the
// installation's secret, and RS256, ES256 or EdDSA signed by an external
// identity provider whose keys come from a JWKS (a URL or a file). A valid
// token names its tenant and carries its permissions; a route asks for one
// permission (Require).
//
// golang-jwt/jwt verifies signatures and the registered claims and
// lestrrat-go/jwx reads JWKS documents; this package only decides which key
// a token may be verified with, so an algorithm never meets a key of
// another kind.
package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/crmcore/crm/crmerr"
)

// The claims crm reads besides the registered ones.
const (
	// ClaimTenant names the token's tenant by its name, as `crm keys create
	// --tenant NAME` and `crm tokens issue --tenant NAME` do: an identity
	// provider knows an installation's tenant names, never crm's ids.
	ClaimTenant = "tenant"
	// ClaimPermissions is an array of the permissions granted, as strings
	// or integers (`["319", "crm-menu"]` and `[319, "crm-menu"]` alike).
	ClaimPermissions = "permissions"
)

// AnyToken is the permission every valid token has: a route that requires
// it needs a token and nothing more.
const AnyToken = "token_admin"

// DefaultLeeway is the clock skew allowed on exp and nbf.
const DefaultLeeway = 30 * time.Second

// MinSecretBytes is the shortest HS256 secret accepted: RFC 7518 §3.2 asks
// for a key at least as long as the hash.
const MinSecretBytes = 32

// maxTokenBytes bounds what is parsed at all; real tokens are far smaller.
const maxTokenBytes = 16 << 10

// The algorithms accepted: HS256 only with the installation's secret, the
// others only with a JWKS key of their kind.
const (
	algHS256 = "HS256"
	algRS256 = "RS256"
	algES256 = "ES256"
	algEdDSA = "EdDSA"
)

// Errors of Verify. Each is crmerr.Unauthorized; a key or tenant store that
// cannot answer is crmerr.Unavailable instead.
var (
	ErrNoToken      = crmerr.New(crmerr.Unauthorized, "missing authentication")
	ErrInvalidToken = crmerr.New(crmerr.Unauthorized, "invalid token")
	ErrTokenExpired = crmerr.New(crmerr.Unauthorized, "token expired")
)

// ErrUnknownTenant is what Tenants returns for a name no tenant has.
var ErrUnknownTenant = errors.New("unknown tenant")

// Settings are an installation's JWT settings; stack reads them from the
// variables named on each field.
type Settings struct {
	Secret   []byte // CRM_JWT_SECRET: verifies (and crm tokens issue signs) HS256
	JWKSURL  string // CRM_JWT_JWKS_URL: the identity provider's keys
	JWKSFile string // CRM_JWT_JWKS_FILE: the same, from a file
	Issuer   string // CRM_JWT_ISSUER: the iss every token must carry, if set
	Audience string // CRM_JWT_AUDIENCE: an aud every token must carry, if set
}

// Check reports the first malformed setting, naming its variable.
func (s Settings) Check() error {
	if len(s.Secret) > 0 && len(s.Secret) < MinSecretBytes {
		return fmt.Errorf("CRM_JWT_SECRET: want at least %d bytes", MinSecretBytes)
	}
	if s.JWKSURL != "" && s.JWKSFile != "" {
		return errors.New("CRM_JWT_JWKS_URL and CRM_JWT_JWKS_FILE: set one, not both")
	}
	if s.JWKSURL != "" {
		u, err := url.Parse(s.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New("CRM_JWT_JWKS_URL: want an http(s) URL")
		}
	}
	return nil
}

// Enabled says whether any token can be verified with these settings.
func (s Settings) Enabled() bool {
	return len(s.Secret) > 0 || s.JWKSURL != "" || s.JWKSFile != ""
}

// Tenants resolves the tenant a token names.
type Tenants interface {
	// TenantID returns the id of the tenant called name, or an error
	// wrapping ErrUnknownTenant when there is none.
	TenantID(ctx context.Context, name string) (uuid.UUID, error)
}

// TenantsFunc adapts a function to Tenants.
type TenantsFunc func(ctx context.Context, name string) (uuid.UUID, error)

// TenantID implements Tenants.
func (f TenantsFunc) TenantID(ctx context.Context, name string) (uuid.UUID, error) {
	return f(ctx, name)
}

// Options are a Verifier's collaborators and bounds; only Tenants is required.
type Options struct {
	Tenants Tenants
	// Now is the clock (default time.Now): tests set it.
	Now func() time.Time
	// Leeway is the clock skew allowed on exp and nbf (default DefaultLeeway).
	Leeway time.Duration
	// HTTPClient fetches CRM_JWT_JWKS_URL (default: a 10 s timeout).
	HTTPClient *http.Client
	// KeysMaxAge is how long JWKS keys serve before they are reloaded
	// (default 1 h); KeysMinInterval is the least time between two loads
	// (default 30 s), so tokens with made-up key ids cannot make crm hammer
	// the identity provider.
	KeysMaxAge, KeysMinInterval time.Duration
	// Logger reports JWKS loads that fail (default slog.Default()).
	Logger *slog.Logger
}

// Principal is who a valid token speaks for.
type Principal struct {
	TenantID    uuid.UUID
	Tenant      string // the tenant claim: the tenant's name
	Subject     string // sub: whom the rate limits and the audit trail name
	Permissions []string
	TokenID     string // jti, when the token has one
	ExpiresAt   time.Time
}

// Has says whether the principal holds permission; every principal holds
// AnyToken.
func (p Principal) Has(permission string) bool {
	return permission == AnyToken || slices.Contains(p.Permissions, permission)
}

// Verifier verifies tokens. It is safe for concurrent use.
type Verifier struct {
	secret  []byte
	keys    *keySet // nil without a JWKS
	parser  *jwt.Parser
	tenants Tenants
	ids     tenantCache
}

// New returns a Verifier for settings s. A JWKS file is read now (a bad
// one is an error); a JWKS URL is fetched when the first token needs it.
func New(s Settings, o Options) (*Verifier, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	if !s.Enabled() {
		return nil, errors.New("jwtauth: no secret and no JWKS: no token could be verified")
	}
	if o.Tenants == nil {
		return nil, errors.New("jwtauth: Options.Tenants is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Leeway <= 0 {
		o.Leeway = DefaultLeeway
	}
	v := &Verifier{secret: s.Secret, tenants: o.Tenants, ids: tenantCache{now: o.Now}}
	var methods []string
	if len(s.Secret) > 0 {
		methods = append(methods, algHS256)
	}
	if s.JWKSURL != "" || s.JWKSFile != "" {
		methods = append(methods, algRS256, algES256, algEdDSA)
		keys, err := newKeySet(s, o)
		if err != nil {
			return nil, err
		}
		v.keys = keys
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(o.Leeway),
		jwt.WithTimeFunc(o.Now),
	}
	if s.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(s.Issuer))
	}
	if s.Audience != "" {
		opts = append(opts, jwt.WithAudience(s.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// claims is a token's payload as crm reads it.
type claims struct {
	jwt.RegisteredClaims
	Tenant      string      `json:"tenant"`
	Permissions permissions `json:"permissions"`
}

// Verify checks token and returns its principal. A missing, malformed,
// forged, expired or not yet valid token, one of another issuer or
// audience, or one without a subject or a known tenant is an error wrapping
// ErrNoToken, ErrTokenExpired or ErrInvalidToken; keys or tenants that
// cannot be read are crmerr.Unavailable.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrNoToken
	}
	if len(token) > maxTokenBytes {
		return Principal{}, fmt.Errorf("%w: %d bytes", ErrInvalidToken, len(token))
	}
	var c claims
	if _, err := v.parser.ParseWithClaims(token, &c, v.keyFor(ctx)); err != nil {
		switch {
		case crmerr.Code(err) == crmerr.Unavailable:
			return Principal{}, fmt.Errorf("verify token: %w", err)
		case errors.Is(err, jwt.ErrTokenExpired):
			// Only after the signature held: a forged token never hears
			// that it expired.
			return Principal{}, fmt.Errorf("%w: %w", ErrTokenExpired, err)
		}
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Subject == "" {
		return Principal{}, fmt.Errorf("%w: no sub claim", ErrInvalidToken)
	}
	if c.Tenant == "" {
		return Principal{}, fmt.Errorf("%w: no %s claim", ErrInvalidToken, ClaimTenant)
	}
	id, err := v.tenantID(ctx, c.Tenant)
	if err != nil {
		return Principal{}, err
	}
	return Principal{
		TenantID:    id,
		Tenant:      c.Tenant,
		Subject:     c.Subject,
		Permissions: c.Permissions,
		TokenID:     c.ID,
		ExpiresAt:   c.ExpiresAt.Time,
	}, nil
}

// keyFor picks the one key a token's algorithm may be verified with.
func (v *Verifier) keyFor(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if alg == algHS256 {
			// Only the installation's secret verifies HS256 (the parser
			// admits HS256 only when there is one), never a JWKS key: a
			// public key cannot become an HMAC secret.
			return v.secret, nil
		}
		kid, _ := t.Header["kid"].(string)
		return v.keys.lookup(ctx, kid, alg)
	}
}

// tenantID resolves a verified token's tenant claim, remembering the
// answer for a minute: tenants are created, never renamed or deleted.
func (v *Verifier) tenantID(ctx context.Context, name string) (uuid.UUID, error) {
	if id, ok := v.ids.get(name); ok {
		return id, nil
	}
	id, err := v.tenants.TenantID(ctx, name)
	switch {
	case errors.Is(err, ErrUnknownTenant):
		return uuid.Nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	case err != nil:
		return uuid.Nil, crmerr.Wrap(crmerr.Unavailable, fmt.Errorf("resolve tenant %q: %w", name, err))
	}
	v.ids.put(name, id)
	return id, nil
}

// tenantCache holds resolved tenant names; it forgets everything when full
// rather than tracking use, since an installation has few tenants.
type tenantCache struct {
	now func() time.Time
	mu  sync.Mutex
	ids map[string]cachedTenant
}

type cachedTenant struct {
	id      uuid.UUID
	expires time.Time
}

const (
	tenantCacheTTL  = time.Minute
	tenantCacheSize = 1024
)

func (c *tenantCache) get(name string) (uuid.UUID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.ids[name]
	if !ok || !c.now().Before(e.expires) {
		return uuid.Nil, false
	}
	return e.id, true
}

func (c *tenantCache) put(name string, id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil || len(c.ids) >= tenantCacheSize {
		c.ids = make(map[string]cachedTenant)
	}
	c.ids[name] = cachedTenant{id: id, expires: c.now().Add(tenantCacheTTL)}
}
