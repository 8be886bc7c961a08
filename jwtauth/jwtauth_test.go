package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/crmcore/crm/crmerr"
)

const (
	testIssuer   = "https://idp.example"
	testAudience = "crm"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef-test")
	acmeID     = uuid.MustParse("0193a8f0-0000-7000-8000-000000000001")
	epoch      = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
)

// testKeys are the identity provider's signing keys, made once per test binary.
var testKeys = sync.OnceValue(func() map[string]crypto.Signer {
	rsa1, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	rsa2, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return map[string]crypto.Signer{"rsa-1": rsa1, "rsa-2": rsa2, "ec-1": ec, "ed-1": ed}
})

// jwksOf is the JWKS document publishing the public halves of the named keys.
func jwksOf(t *testing.T, kids ...string) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, kid := range kids {
		k, err := jwk.Import(testKeys()[kid].Public())
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Set(jwk.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
		if err := set.AddKey(k); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clock is the tests' adjustable time.
type clock struct{ now atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.now.Store(epoch.UnixNano())
	return c
}
func (c *clock) Now() time.Time            { return time.Unix(0, c.now.Load()).UTC() }
func (c *clock) Advance(d time.Duration)   { c.now.Add(int64(d)) }
func (c *clock) At(d time.Duration) *int64 { v := c.Now().Add(d).Unix(); return &v }

// idp serves a JWKS on 127.0.0.1 that a test can change or break, and
// counts the fetches.
type idp struct {
	srv     *httptest.Server
	mu      sync.Mutex
	doc     []byte
	broken  bool
	fetches atomic.Int32
}

func newIDP(t *testing.T, doc []byte) *idp {
	p := &idp{doc: doc}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.broken {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(p.doc)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) serve(doc []byte, broken bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.doc, p.broken = doc, broken
}

var acme = TenantsFunc(func(_ context.Context, name string) (uuid.UUID, error) {
	if name == "acme" {
		return acmeID, nil
	}
	return uuid.Nil, fmt.Errorf("tenant %q: %w", name, ErrUnknownTenant)
})

func newVerifier(t *testing.T, s Settings, c *clock, tenants Tenants) *Verifier {
	t.Helper()
	v, err := New(s, Options{Tenants: tenants, Now: c.Now, HTTPClient: &http.Client{Timeout: 5 * time.Second},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// claimsAt are valid claims at the clock's time; edit tweaks them.
func claimsAt(c *clock, edit func(jwt.MapClaims)) jwt.MapClaims {
	m := jwt.MapClaims{
		"sub":         "user-7",
		"iss":         testIssuer,
		"aud":         testAudience,
		"exp":         *c.At(time.Hour),
		"iat":         *c.At(0),
		"tenant":      "acme",
		"permissions": []any{"319", "crm-menu"},
	}
	if edit != nil {
		edit(m)
	}
	return m
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	c := newClock()
	p := newIDP(t, jwksOf(t, "rsa-1", "ec-1", "ed-1"))
	v := newVerifier(t, Settings{Secret: testSecret, JWKSURL: p.srv.URL, Issuer: testIssuer, Audience: testAudience}, c, acme)
	keys := testKeys()
	pubPEM, err := x509.MarshalPKIXPublicKey(keys["rsa-1"].Public())
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubPEM})
	hs := func(edit func(jwt.MapClaims)) string {
		return sign(t, jwt.SigningMethodHS256, testSecret, "", claimsAt(c, edit))
	}
	rs := func(kid string, edit func(jwt.MapClaims)) string {
		return sign(t, jwt.SigningMethodRS256, keys["rsa-1"], kid, claimsAt(c, edit))
	}
	set := func(name string, value any) func(jwt.MapClaims) {
		return func(m jwt.MapClaims) { m[name] = value }
	}
	drop := func(name string) func(jwt.MapClaims) {
		return func(m jwt.MapClaims) { delete(m, name) }
	}
	cases := []struct {
		name  string
		token string
		want  error    // nil: valid
		perms []string // of a valid token
	}{
		{"HS256 with the secret", hs(nil), nil, []string{"319", "crm-menu"}},
		{"RS256 from the JWKS", rs("rsa-1", nil), nil, []string{"319", "crm-menu"}},
		{"ES256 from the JWKS", sign(t, jwt.SigningMethodES256, keys["ec-1"], "ec-1", claimsAt(c, nil)), nil, []string{"319", "crm-menu"}},
		{"EdDSA from the JWKS", sign(t, jwt.SigningMethodEdDSA, keys["ed-1"], "ed-1", claimsAt(c, nil)), nil, []string{"319", "crm-menu"}},
		{"RS256 without kid", rs("", nil), nil, []string{"319", "crm-menu"}},
		{"numeric permissions", hs(set("permissions", []any{319, "crm-partners"})), nil, []string{"319", "crm-partners"}},
		{"no permissions claim", hs(drop("permissions")), nil, nil},
		{"audience among several", hs(set("aud", []string{"other", testAudience})), nil, []string{"319", "crm-menu"}},
		{"expired within the skew", hs(set("exp", *c.At(-20 * time.Second))), nil, []string{"319", "crm-menu"}},
		{"nbf within the skew", hs(set("nbf", *c.At(20 * time.Second))), nil, []string{"319", "crm-menu"}},

		{"expired", hs(set("exp", *c.At(-31 * time.Second))), ErrTokenExpired, nil},
		{"expired RS256", rs("rsa-1", set("exp", *c.At(-time.Hour))), ErrTokenExpired, nil},
		{"nbf in the future", hs(set("nbf", *c.At(time.Minute))), ErrInvalidToken, nil},
		{"no exp", hs(drop("exp")), ErrInvalidToken, nil},
		{"exp not a number", hs(set("exp", "tomorrow")), ErrInvalidToken, nil},
		{"wrong issuer", hs(set("iss", "https://evil.example")), ErrInvalidToken, nil},
		{"no issuer", hs(drop("iss")), ErrInvalidToken, nil},
		{"wrong audience", hs(set("aud", "billing")), ErrInvalidToken, nil},
		{"no audience", hs(drop("aud")), ErrInvalidToken, nil},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claimsAt(c, nil)), ErrInvalidToken, nil},
		{"alg none with a kid", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa-1", claimsAt(c, nil)), ErrInvalidToken, nil},
		{"HS256 signed with the RSA public key", sign(t, jwt.SigningMethodHS256, rsaPEM, "rsa-1", claimsAt(c, nil)), ErrInvalidToken, nil},
		{"HS256 signed with the RSA modulus", sign(t, jwt.SigningMethodHS256, keys["rsa-1"].Public().(*rsa.PublicKey).N.Bytes(), "", claimsAt(c, nil)), ErrInvalidToken, nil},
		{"RS256 naming the EC key", rs("ec-1", nil), ErrInvalidToken, nil},
		{"ES256 naming the RSA key", sign(t, jwt.SigningMethodES256, keys["ec-1"], "rsa-1", claimsAt(c, nil)), ErrInvalidToken, nil},
		{"RS512 is not accepted", sign(t, jwt.SigningMethodRS512, keys["rsa-1"], "rsa-1", claimsAt(c, nil)), ErrInvalidToken, nil},
		{"HS512 with the secret is not accepted", sign(t, jwt.SigningMethodHS512, testSecret, "", claimsAt(c, nil)), ErrInvalidToken, nil},
		{"signed with another secret", sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-0123"), "", claimsAt(c, nil)), ErrInvalidToken, nil},
		{"signed with another RSA key", sign(t, jwt.SigningMethodRS256, keys["rsa-2"], "rsa-1", claimsAt(c, nil)), ErrInvalidToken, nil},
		{"payload changed after signing", tamper(t, hs(nil)), ErrInvalidToken, nil},
		{"no tenant claim", hs(drop("tenant")), ErrInvalidToken, nil},
		{"tenant not a string", hs(set("tenant", 7)), ErrInvalidToken, nil},
		{"unknown tenant", hs(set("tenant", "globex")), ErrInvalidToken, nil},
		{"no subject", hs(drop("sub")), ErrInvalidToken, nil},
		{"permissions not an array", hs(set("permissions", "319")), ErrInvalidToken, nil},
		{"permission neither string nor integer", hs(set("permissions", []any{true})), ErrInvalidToken, nil},
		{"not a JWT", "not.a.jwt", ErrInvalidToken, nil},
		{"huge", strings.Repeat("a", maxTokenBytes+1), ErrInvalidToken, nil},
		{"empty", "", ErrNoToken, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(t.Context(), tc.token)
			if tc.want != nil {
				if !errors.Is(err, tc.want) || crmerr.Code(err) != crmerr.Unauthorized {
					t.Fatalf("Verify: %v, want %v (unauthorized)", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.TenantID != acmeID || p.Tenant != "acme" || p.Subject != "user-7" || !slices.Equal(p.Permissions, tc.perms) {
				t.Fatalf("principal %+v, want tenant acme, subject user-7, permissions %v", p, tc.perms)
			}
		})
	}
}

// tamper changes a signed token's payload (a permission added) and keeps
// its signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	var claims map[string]any
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	claims["permissions"] = []any{"319", "crm-menu", "crm-partners"}
	b, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// A verifier without a secret takes no HS256 token at all, whatever key
// signed it: the JWKS's public keys are never HMAC secrets.
func TestHS256RefusedWithoutSecret(t *testing.T) {
	c := newClock()
	p := newIDP(t, jwksOf(t, "rsa-1"))
	v := newVerifier(t, Settings{JWKSURL: p.srv.URL}, c, acme)
	der, err := x509.MarshalPKIXPublicKey(testKeys()["rsa-1"].Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range [][]byte{der, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), testSecret} {
		token := sign(t, jwt.SigningMethodHS256, secret, "rsa-1", claimsAt(c, nil))
		if _, err := v.Verify(t.Context(), token); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("HS256 token: %v, want ErrInvalidToken", err)
		}
	}
	if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodRS256, testKeys()["rsa-1"], "rsa-1", claimsAt(c, nil))); err != nil {
		t.Fatalf("RS256 token: %v", err)
	}
}

func TestJWKSRefreshOnUnknownKid(t *testing.T) {
	c := newClock()
	p := newIDP(t, jwksOf(t, "rsa-1"))
	v := newVerifier(t, Settings{JWKSURL: p.srv.URL}, c, acme)
	keys := testKeys()
	token := func(kid string) string {
		signer := keys[kid]
		if signer == nil {
			signer = keys["rsa-1"]
		}
		return sign(t, jwt.SigningMethodRS256, signer, kid, claimsAt(c, nil))
	}
	steps := []struct {
		name    string
		before  func()
		kid     string
		want    error // nil: valid; crmerr.Unavailable's marker below
		fetches int32 // after the step
	}{
		{"first token loads the keys", nil, "rsa-1", nil, 1},
		{"known kid, keys fresh: no fetch", nil, "rsa-1", nil, 1},
		{"provider rotates in rsa-2: unknown kid reloads", func() {
			p.serve(jwksOf(t, "rsa-1", "rsa-2"), false)
			c.Advance(31 * time.Second)
		}, "rsa-2", nil, 2},
		{"made-up kid right after a load: no fetch", nil, "nope", ErrInvalidToken, 2},
		{"made-up kid after the interval: one fetch", func() { c.Advance(31 * time.Second) }, "nope", ErrInvalidToken, 3},
		{"and not again at once", nil, "other", ErrInvalidToken, 3},
		{"keys past their age reload", func() { c.Advance(time.Hour) }, "rsa-2", nil, 4},
		{"provider down: stale keys serve", func() { p.serve(nil, true); c.Advance(time.Hour) }, "rsa-1", nil, 5},
		{"provider down: unknown kid is unavailable", func() { c.Advance(31 * time.Second) }, "rsa-3", errUnavailable, 6},
		{"provider back: rsa-1 dropped", func() { p.serve(jwksOf(t, "rsa-2"), false); c.Advance(31 * time.Second) }, "rsa-1", ErrInvalidToken, 7},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		_, err := v.Verify(t.Context(), token(s.kid))
		switch {
		case s.want == nil && err != nil:
			t.Fatalf("%s: %v", s.name, err)
		case s.want == errUnavailable && crmerr.Code(err) != crmerr.Unavailable:
			t.Fatalf("%s: %v, want unavailable", s.name, err)
		case s.want != nil && s.want != errUnavailable && !errors.Is(err, s.want):
			t.Fatalf("%s: %v, want %v", s.name, err, s.want)
		}
		if got := p.fetches.Load(); got != s.fetches {
			t.Fatalf("%s: %d fetches, want %d", s.name, got, s.fetches)
		}
	}
}

// errUnavailable marks a step that must answer crmerr.Unavailable.
var errUnavailable = errors.New("unavailable")

func TestJWKSUnreachableAtFirstUse(t *testing.T) {
	c := newClock()
	p := newIDP(t, nil)
	p.serve(nil, true)
	v := newVerifier(t, Settings{JWKSURL: p.srv.URL}, c, acme)
	token := sign(t, jwt.SigningMethodRS256, testKeys()["rsa-1"], "rsa-1", claimsAt(c, nil))
	if _, err := v.Verify(t.Context(), token); crmerr.Code(err) != crmerr.Unavailable {
		t.Fatalf("Verify: %v, want unavailable", err)
	}
}

// Concurrent tokens with a kid not yet loaded share one fetch.
func TestJWKSConcurrentLoadsShareOneFetch(t *testing.T) {
	c := newClock()
	p := newIDP(t, jwksOf(t, "ec-1"))
	v := newVerifier(t, Settings{JWKSURL: p.srv.URL}, c, acme)
	token := sign(t, jwt.SigningMethodES256, testKeys()["ec-1"], "ec-1", claimsAt(c, nil))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := v.Verify(t.Context(), token)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

func TestJWKSFile(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	path := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(path, jwksOf(t, "ed-1"), 0o600); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, Settings{JWKSFile: path}, c, acme)
	if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodEdDSA, testKeys()["ed-1"], "ed-1", claimsAt(c, nil))); err != nil {
		t.Fatalf("EdDSA token: %v", err)
	}
	// A key added to the file is read on the first token that names it.
	if err := os.WriteFile(path, jwksOf(t, "ed-1", "ec-1"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Advance(31 * time.Second)
	if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodES256, testKeys()["ec-1"], "ec-1", claimsAt(c, nil))); err != nil {
		t.Fatalf("ES256 token after the file changed: %v", err)
	}

	bad := map[string][]byte{
		"not JSON":                []byte("{"),
		"no signature key":        []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`),
		"only an encryption key":  encryptionOnly(t),
		"only a short RSA key":    shortRSA(t),
		"only a P-384 key":        p384(t),
		"larger than the maximum": append([]byte(`{"keys":[],"x":"`), append([]byte(strings.Repeat("a", maxJWKSBytes)), `"}`...)...),
	}
	for name, doc := range bad {
		if err := os.WriteFile(path, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := New(Settings{JWKSFile: path}, Options{Tenants: acme}); err == nil {
			t.Errorf("%s: New accepted the JWKS file", name)
		}
	}
	if _, err := New(Settings{JWKSFile: filepath.Join(dir, "missing.json")}, Options{Tenants: acme}); err == nil {
		t.Error("New accepted a missing JWKS file")
	}
}

func jwkDoc(t *testing.T, pub any, set func(jwk.Key)) []byte {
	t.Helper()
	k, err := jwk.Import(pub)
	if err != nil {
		t.Fatal(err)
	}
	if set != nil {
		set(k)
	}
	b, err := json.Marshal(map[string]any{"keys": []jwk.Key{k}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encryptionOnly(t *testing.T) []byte {
	return jwkDoc(t, testKeys()["rsa-1"].Public(), func(k jwk.Key) { k.Set(jwk.KeyUsageKey, "enc") })
}

func shortRSA(t *testing.T) []byte {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	// jwx refuses to make such a key: the document is written by hand.
	n := base64.RawURLEncoding.EncodeToString(k.N.Bytes())
	return []byte(`{"keys":[{"kty":"RSA","kid":"short","n":"` + n + `","e":"AQAB"}]}`)
}

func p384(t *testing.T) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jwkDoc(t, &k.PublicKey, nil)
}

// A JWK that names its algorithm verifies that algorithm only.
func TestJWKAlgorithmMustMatch(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "jwks.json")
	doc := jwkDoc(t, testKeys()["rsa-1"].Public(), func(k jwk.Key) {
		k.Set(jwk.KeyIDKey, "rsa-1")
		k.Set(jwk.AlgorithmKey, "PS256")
	})
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, Settings{JWKSFile: path}, c, acme)
	if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodRS256, testKeys()["rsa-1"], "rsa-1", claimsAt(c, nil))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("RS256 token for a PS256 key: %v, want ErrInvalidToken", err)
	}
}

func TestSettingsCheck(t *testing.T) {
	cases := []struct {
		name string
		s    Settings
		want string // in the error; "" for none
	}{
		{"none", Settings{}, ""},
		{"secret", Settings{Secret: testSecret}, ""},
		{"short secret", Settings{Secret: []byte("short")}, "CRM_JWT_SECRET"},
		{"url and file", Settings{JWKSURL: "https://idp.example/jwks", JWKSFile: "/etc/crm/jwks.json"}, "set one, not both"},
		{"url without scheme", Settings{JWKSURL: "idp.example/jwks"}, "CRM_JWT_JWKS_URL"},
		{"file URL", Settings{JWKSURL: "file:///etc/passwd"}, "CRM_JWT_JWKS_URL"},
	}
	for _, tc := range cases {
		err := tc.s.Check()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Check() = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(Settings{}, Options{Tenants: acme}); err == nil {
		t.Error("New without a secret or JWKS succeeded")
	}
	if _, err := New(Settings{Secret: testSecret}, Options{}); err == nil {
		t.Error("New without Tenants succeeded")
	}
}

// Tenants are resolved once a minute, not on every token; a store that
// cannot answer is unavailable, not unauthorized.
func TestTenantResolution(t *testing.T) {
	c := newClock()
	var calls atomic.Int32
	var down atomic.Bool
	tenants := TenantsFunc(func(ctx context.Context, name string) (uuid.UUID, error) {
		calls.Add(1)
		if down.Load() {
			return uuid.Nil, errors.New("connection refused")
		}
		return acme(ctx, name)
	})
	v := newVerifier(t, Settings{Secret: testSecret}, c, tenants)
	token := func() string { return sign(t, jwt.SigningMethodHS256, testSecret, "", claimsAt(c, nil)) }
	for range 3 {
		if _, err := v.Verify(t.Context(), token()); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d lookups for 3 tokens of one tenant, want 1", n)
	}
	down.Store(true)
	c.Advance(2 * time.Minute)
	if _, err := v.Verify(t.Context(), token()); crmerr.Code(err) != crmerr.Unavailable {
		t.Fatalf("tenant store down: %v, want unavailable", err)
	}
}

func TestIssueHS256(t *testing.T) {
	c := newClock()
	v := newVerifier(t, Settings{Secret: testSecret, Issuer: testIssuer, Audience: testAudience}, c, acme)
	g := Grant{Tenant: "acme", Subject: "operator", Permissions: []string{"319", "crm-menu", "crm-partners"},
		TTL: time.Hour, Issuer: testIssuer, Audience: testAudience}
	token, err := IssueHS256(testSecret, g, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(t.Context(), token)
	if err != nil {
		t.Fatal(err)
	}
	if p.TenantID != acmeID || p.Subject != "operator" || !slices.Equal(p.Permissions, g.Permissions) ||
		!p.ExpiresAt.Equal(c.Now().Add(time.Hour)) || p.TokenID == "" {
		t.Fatalf("principal %+v", p)
	}
	c.Advance(time.Hour + DefaultLeeway)
	if _, err := v.Verify(t.Context(), token); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("after its TTL: %v, want ErrTokenExpired", err)
	}
	for _, bad := range []Grant{{Subject: "s", TTL: time.Hour}, {Tenant: "acme", TTL: time.Hour}, {Tenant: "acme", Subject: "s"}} {
		if _, err := IssueHS256(testSecret, bad, c.Now()); err == nil {
			t.Errorf("IssueHS256(%+v) succeeded", bad)
		}
	}
	if _, err := IssueHS256([]byte("short"), g, c.Now()); err == nil {
		t.Error("IssueHS256 with a short secret succeeded")
	}
}
