package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/tenants"
)

// TestRateLimitsPerKeyAndTenant: past its bucket a key gets 429 in each
// API's own shape, with Retry-After and RateLimit-* headers; the budget is
// one across APIs; another tenant's key is not held back.
func TestRateLimitsPerKeyAndTenant(t *testing.T) {
	s := newStack(t, withRateLimits(api.RateLimits{
		PerKey:    api.Rate{Limit: 0.5, Burst: 3},
		PerTenant: api.Rate{Limit: 0.5, Burst: 5},
	}))
	paths := []string{"/api/v1/leads", "/leads", "/api/crm/lead"}
	var limited []response
	for i := range 6 {
		r := s.do(s.key, "GET", paths[i%3], nil)
		if r.Status == http.StatusTooManyRequests {
			limited = append(limited, r)
			continue
		}
		if r.Status != http.StatusOK || r.Header.Get("RateLimit-Limit") != "3" {
			t.Fatalf("request %d: %d %v %s", i, r.Status, r.Header, r.Body)
		}
	}
	if len(limited) != 3 {
		t.Fatalf("%d of 6 requests limited, want 3 (burst 3 per key, across APIs)", len(limited))
	}
	for _, r := range limited {
		if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 || r.Header.Get("RateLimit-Remaining") != "0" {
			t.Fatalf("429 headers: %v", r.Header)
		}
	}
	// A second key of the same tenant has its own bucket, but the tenant's
	// (burst 5) is nearly spent: it gets 2 more requests.
	key2, _, err := s.core.Tenants.CreateAPIKey(s.ctx, s.tenantID, "le_live_")
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for range 4 {
		if s.do(key2, "GET", "/api/v1/leads", nil).Status == http.StatusOK {
			ok++
		}
	}
	if ok != 2 {
		t.Fatalf("second key of the tenant got %d requests through, want 2", ok)
	}
	// Another tenant is not held back.
	_, other := s.newTenant("globex")
	if r := s.do(other, "GET", "/api/v1/leads", nil); r.Status != http.StatusOK {
		t.Fatalf("another tenant: %d %s", r.Status, r.Body)
	}
}

// countingAuth counts the key lookups the real key store is asked for.
type countingAuth struct {
	api.Authenticator
	lookups atomic.Int64
}

func (a *countingAuth) Authenticate(ctx context.Context, key string) (tenants.Principal, error) {
	a.lookups.Add(1)
	return a.Authenticator.Authenticate(ctx, key)
}

// TestRateLimitRefusedKeysPerIP: a flood of bad keys from one client IP
// gets 429 in each API's own shape once its bucket is spent, before any key
// lookup (the key store is asked only for the burst); a forged
// X-Forwarded-For does not buy a fresh bucket; good keys spend nothing.
func TestRateLimitRefusedKeysPerIP(t *testing.T) {
	auth := &countingAuth{}
	const burst = 5
	s := newStack(t, withRateLimits(api.RateLimits{PerIP: api.Rate{Limit: 0.001, Burst: burst}}),
		func(c *stackConfig) {
			c.deps = append(c.deps, func(d *api.Deps) { auth.Authenticator = d.Auth; d.Auth = auth })
		})
	paths := []string{"/api/v1/leads", "/leads", "/api/crm/lead"}
	for i := range 3 * burst { // a working client is never held back
		if r := s.do(s.key, "GET", paths[i%3], nil); r.Status != http.StatusOK {
			t.Fatalf("good key, request %d: %d %s", i, r.Status, r.Body)
		}
	}
	auth.lookups.Store(0)
	shapes := map[string]string{
		"/api/v1/leads": `"code":"rate_limited"`,
		"/leads":        `"message":"Too many requests; retry after Retry-After"`,
		"/api/crm/lead": `"code":"rate_limit"`,
	}
	for i := range 60 {
		path := paths[i%3]
		r := s.doWith("le_live_guess"+strconv.Itoa(i), "GET", path, nil,
			http.Header{"X-Forwarded-For": {"203.0.113." + strconv.Itoa(i)}})
		if i < burst {
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("bad key %d, within the burst: %d %s, want 401", i, r.Status, r.Body)
			}
			continue
		}
		if r.Status != http.StatusTooManyRequests || !strings.Contains(string(r.Body), shapes[path]) || r.Header.Get("Retry-After") == "" {
			t.Fatalf("bad key %d on %s past the burst: %d %v %s, want 429 %s with Retry-After", i, path, r.Status, r.Header, r.Body, shapes[path])
		}
	}
	if n := auth.lookups.Load(); n != burst {
		t.Fatalf("the key store was asked %d times for 60 bad keys, want %d (the burst)", n, burst)
	}
	// The IP's bucket is spent: its requests wait like the flood's.
	if r := s.do(s.key, "GET", "/api/v1/leads", nil); r.Status != http.StatusTooManyRequests {
		t.Fatalf("good key from the flooding IP: %d %s, want 429", r.Status, r.Body)
	}
}
