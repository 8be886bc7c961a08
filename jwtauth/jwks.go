package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/crmcore/crm/crmerr"
)

// Bounds of a JWKS: its size, its keys, how long one load may take and the
// weakest RSA key taken.
const (
	maxJWKSBytes       = 1 << 20
	maxJWKSKeys        = 100
	jwksTimeout        = 10 * time.Second
	minRSABits         = 2048
	defaultMaxAge      = time.Hour
	defaultMinInterval = 30 * time.Second
)

// errNoSuchKey is a lookup that found no key for a token: a reload may.
var errNoSuchKey = errors.New("no JWKS key for the token")

// verificationKey is one key of a JWKS that tokens may be verified with.
type verificationKey struct {
	kid string
	alg string // the JWK's own alg, "" when it names none
	key any    // *rsa.PublicKey, *ecdsa.PublicKey on P-256 or ed25519.PublicKey
}

// accepts says whether a token signed with alg may be verified with k: the
// algorithm of k's kind, and the one k names if it names one.
func (k verificationKey) accepts(alg string) bool {
	return algorithmOf(k.key) == alg && (k.alg == "" || k.alg == alg)
}

// algorithmOf is the one algorithm a key of its kind verifies.
func algorithmOf(key any) string {
	switch key := key.(type) {
	case *rsa.PublicKey:
		return algRS256
	case *ecdsa.PublicKey:
		if key.Curve == elliptic.P256() {
			return algES256
		}
	case ed25519.PublicKey:
		return algEdDSA
	}
	return ""
}

// loadedKeys is one load of the JWKS.
type loadedKeys struct {
	keys []verificationKey
	at   time.Time
}

// match returns the key a token with kid and alg is verified with (all the
// keys of alg's kind for a token without kid).
func (l *loadedKeys) match(kid, alg string) (any, error) {
	if l == nil {
		return nil, errNoSuchKey
	}
	var keys []jwt.VerificationKey
	named := false
	for _, k := range l.keys {
		if kid != "" && k.kid != kid {
			continue
		}
		named = true
		if k.accepts(alg) {
			keys = append(keys, k.key)
		}
	}
	switch {
	case len(keys) == 1:
		return keys[0], nil
	case len(keys) > 1:
		return jwt.VerificationKeySet{Keys: keys}, nil
	case named && kid != "":
		// No reload turns a key into another kind: this is a token that
		// names a key with an algorithm not its own.
		return nil, fmt.Errorf("JWKS key %q does not verify %s", kid, alg)
	}
	return nil, errNoSuchKey
}

// keySet is the identity provider's keys, loaded when first needed,
// reloaded when older than maxAge or when a token names a key it lacks,
// never twice within minInterval.
type keySet struct {
	source      string // the URL or file, for errors and logs
	read        func(ctx context.Context) ([]byte, error)
	now         func() time.Time
	maxAge      time.Duration
	minInterval time.Duration
	logger      *slog.Logger

	current atomic.Pointer[loadedKeys]
	mu      sync.Mutex // one load at a time; guards lastTry and lastErr
	lastTry time.Time
	lastErr error
}

func newKeySet(s Settings, o Options) (*keySet, error) {
	ks := &keySet{
		now:         o.Now,
		maxAge:      o.KeysMaxAge,
		minInterval: o.KeysMinInterval,
		logger:      o.Logger,
	}
	if ks.maxAge <= 0 {
		ks.maxAge = defaultMaxAge
	}
	if ks.minInterval <= 0 {
		ks.minInterval = defaultMinInterval
	}
	if ks.logger == nil {
		ks.logger = slog.Default()
	}
	if s.JWKSURL != "" {
		client := o.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: jwksTimeout}
		}
		ks.source = s.JWKSURL
		ks.read = func(ctx context.Context) ([]byte, error) { return fetchJWKS(ctx, client, s.JWKSURL) }
		return ks, nil
	}
	ks.source = s.JWKSFile
	ks.read = func(context.Context) ([]byte, error) { return readJWKSFile(s.JWKSFile) }
	// A file is there at start: a bad one is a configuration error now,
	// not a 401 on every request.
	b, err := readJWKSFile(s.JWKSFile)
	if err != nil {
		return nil, fmt.Errorf("CRM_JWT_JWKS_FILE: %w", err)
	}
	keys, err := parseJWKS(b)
	if err != nil {
		return nil, fmt.Errorf("CRM_JWT_JWKS_FILE %s: %w", s.JWKSFile, err)
	}
	ks.current.Store(&loadedKeys{keys: keys, at: ks.now()})
	ks.lastTry = ks.now()
	return ks, nil
}

// lookup returns the key for a token with kid and alg, reloading the JWKS
// when the keys in hand are stale or lack kid.
func (s *keySet) lookup(ctx context.Context, kid, alg string) (any, error) {
	cur := s.current.Load()
	key, err := cur.match(kid, alg)
	stale := cur == nil || s.now().Sub(cur.at) >= s.maxAge
	switch {
	case err == nil && !stale:
		return key, nil
	case err != nil && !errors.Is(err, errNoSuchKey):
		return nil, err
	case err == nil:
		// Stale keys serve on while another request reloads them.
		if !s.mu.TryLock() {
			return key, nil
		}
	default:
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if latest := s.current.Load(); latest != cur {
		return latest.match(kid, alg) // reloaded while this one waited
	}
	if !s.lastTry.IsZero() && s.now().Sub(s.lastTry) < s.minInterval {
		return s.fallback(key, err)
	}
	s.lastTry = s.now()
	loaded, loadErr := s.load(ctx)
	s.lastErr = loadErr
	if loadErr != nil {
		s.logger.Warn("JWKS load failed", "source", s.source, "err", loadErr)
		return s.fallback(key, err)
	}
	s.current.Store(loaded)
	return loaded.match(kid, alg)
}

// fallback answers a lookup that could not reload: with the key in hand,
// else unavailable if the last load failed, else err (no such key).
func (s *keySet) fallback(key any, err error) (any, error) {
	if err == nil {
		return key, nil
	}
	if s.lastErr != nil {
		return nil, crmerr.Wrap(crmerr.Unavailable, fmt.Errorf("JWKS: %w", s.lastErr))
	}
	return nil, err
}

func (s *keySet) load(ctx context.Context) (*loadedKeys, error) {
	// A request that gives up must not fail the load that every request
	// waiting behind it shares.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksTimeout)
	defer cancel()
	b, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := parseJWKS(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.source, err)
	}
	return &loadedKeys{keys: keys, at: s.now()}, nil
}

func fetchJWKS(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS %s: %s", url, resp.Status)
	}
	return readBounded(resp.Body, url)
}

func readJWKSFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read JWKS: %w", err)
	}
	defer f.Close()
	return readBounded(f, path)
}

func readBounded(r io.Reader, source string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read JWKS %s: %w", source, err)
	}
	if len(b) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS %s: larger than %d bytes", source, maxJWKSBytes)
	}
	return b, nil
}

// parseJWKS reads a JWK set (or a single JWK) and keeps the public
// signature keys crm verifies with; symmetric and private keys, keys for
// encryption, other curves and short RSA keys are left out.
func parseJWKS(b []byte) ([]verificationKey, error) {
	set, err := jwk.Parse(b, jwk.WithMaxKeys(maxJWKSKeys))
	if err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	var keys []verificationKey
	for i := range set.Len() {
		k, _ := set.Key(i)
		if use, ok := k.KeyUsage(); ok && use != "sig" {
			continue
		}
		var raw any
		if err := jwk.Export(k, &raw); err != nil {
			continue // a kind jwx cannot read is a kind crm does not verify
		}
		if pub, ok := raw.(*rsa.PublicKey); ok && pub.N.BitLen() < minRSABits {
			continue
		}
		if algorithmOf(raw) == "" {
			continue
		}
		vk := verificationKey{key: raw}
		vk.kid, _ = k.KeyID()
		if alg, ok := k.Algorithm(); ok {
			vk.alg = alg.String()
		}
		keys = append(keys, vk)
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no RS256, ES256 or EdDSA signature key")
	}
	return keys, nil
}
