package main

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/crmcore/crm/api"
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
	key2, _, err := s.core.store.CreateAPIKey(s.ctx, s.tenantID, "le_live_")
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
