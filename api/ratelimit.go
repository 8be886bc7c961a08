package api

import (
	"errors"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/crmcore/crm/crmerr"
)

// ErrRateLimited is what a dialect renders as its own 429.
var ErrRateLimited = crmerr.New(crmerr.RateLimited, "rate limit exceeded")

// Rate is a token bucket: Limit requests a second on average, bursts of
// up to Burst. A zero Limit means no limit.
type Rate struct {
	Limit float64
	Burst int
}

// ParseRate reads "LIMIT:BURST" (requests per second, burst), "LIMIT"
// (burst = 2×limit) or "off".
func ParseRate(s string) (Rate, error) {
	if s == "off" || s == "0" {
		return Rate{}, nil
	}
	limS, burstS, hasBurst := strings.Cut(s, ":")
	lim, err := strconv.ParseFloat(limS, 64)
	if err != nil || lim < 0 || math.IsInf(lim, 0) || math.IsNaN(lim) {
		return Rate{}, errors.New("want LIMIT[:BURST] requests per second, or off")
	}
	burst := int(math.Ceil(2 * lim))
	if hasBurst {
		if burst, err = strconv.Atoi(burstS); err != nil || burst < 1 {
			return Rate{}, errors.New("burst must be a positive integer")
		}
	}
	return Rate{Limit: lim, Burst: burst}, nil
}

// RateLimits are the buckets every API key and every tenant get, and the
// bucket of refused keys every client IP gets.
type RateLimits struct {
	PerKey, PerTenant Rate
	// PerIP bounds the requests with a missing or refused key from one
	// client IP: checked before authentication, so past it a flood of bad
	// keys costs no key lookup. Requests with a good key take nothing from
	// it, so it never holds back a working client.
	PerIP Rate
}

// limiters holds one bucket per key, tenant or IP; idle ones are dropped.
type limiters[K comparable] struct {
	rate Rate
	mu   sync.Mutex
	m    map[K]*bucket
	n    int
}

type bucket struct {
	l    *rate.Limiter
	seen time.Time
}

// reserve takes a token from id's bucket; the caller cancels it if
// another bucket refuses the request, so a refused request costs nothing.
func (ls *limiters[K]) reserve(id K, now time.Time) (*rate.Reservation, *rate.Limiter) {
	l := ls.bucket(id, now)
	return l.ReserveN(now, 1), l
}

// bucket returns id's bucket, made full on first use.
func (ls *limiters[K]) bucket(id K, now time.Time) *rate.Limiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.n++; ls.n%4096 == 0 { // now and then, forget the idle
		for k, b := range ls.m {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(ls.m, k)
			}
		}
	}
	b := ls.m[id]
	if b == nil {
		b = &bucket{l: rate.NewLimiter(rate.Limit(ls.rate.Limit), ls.rate.Burst)}
		ls.m[id] = b
	}
	b.seen = now
	return b.l
}

// refusedKeys returns ip's bucket of refused keys (nil when unlimited) and,
// when it is spent, how long until it holds a token again. It only looks:
// RequireKey takes a token when it refuses a key.
func (ls *limiters[K]) refusedKeys(ip K, now time.Time) (*rate.Limiter, time.Duration) {
	if ls.rate.Limit <= 0 {
		return nil, 0
	}
	b := ls.bucket(ip, now)
	if tokens := b.TokensAt(now); tokens < 1 {
		return b, time.Duration((1 - tokens) / ls.rate.Limit * float64(time.Second))
	}
	return b, 0
}

// rateLimiter holds the buckets, shared by every dialect of a server, so a
// key's budget is one whichever API it calls.
type rateLimiter struct {
	cfg           RateLimits
	keys, tenants *limiters[uuid.UUID]
	ips           *limiters[string]
}

func newRateLimiter(cfg RateLimits) *rateLimiter {
	return &rateLimiter{cfg: cfg,
		keys:    &limiters[uuid.UUID]{rate: cfg.PerKey, m: map[uuid.UUID]*bucket{}},
		tenants: &limiters[uuid.UUID]{rate: cfg.PerTenant, m: map[uuid.UUID]*bucket{}},
		ips:     &limiters[string]{rate: cfg.PerIP, m: map[string]*bucket{}}}
}

// rateLimiter returns the server's buckets, made on first use.
func (d *Deps) rateLimiter() *rateLimiter {
	d.limiterOnce.Do(func() { d.limiter = newRateLimiter(d.RateLimits) })
	return d.limiter
}

// RateLimit limits requests per API key and per tenant (after RequireKey):
// past a bucket, 429 in the dialect's shape (fail gets ErrRateLimited) with
// Retry-After; every answer carries RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset for the key's bucket.
func (d *Deps) RateLimit(fail func(*gin.Context, error)) gin.HandlerFunc {
	rl := d.rateLimiter()
	cfg := rl.cfg
	return func(c *gin.Context) {
		p := Principal(c)
		now := time.Now()
		var retry time.Duration
		var taken []*rate.Reservation
		var keyBucket *rate.Limiter
		for _, l := range []struct {
			ls *limiters[uuid.UUID]
			id uuid.UUID
		}{{rl.keys, p.KeyID}, {rl.tenants, p.TenantID}} {
			if l.ls.rate.Limit <= 0 {
				continue
			}
			r, bucket := l.ls.reserve(l.id, now)
			taken = append(taken, r)
			retry = max(retry, r.DelayFrom(now))
			if l.ls == rl.keys {
				keyBucket = bucket
			}
		}
		if retry > 0 {
			for _, r := range taken {
				r.CancelAt(now)
			}
		}
		remaining := 0
		if keyBucket != nil {
			remaining = max(int(keyBucket.TokensAt(now)), 0)
		}
		if cfg.PerKey.Limit > 0 {
			c.Header("RateLimit-Limit", strconv.Itoa(cfg.PerKey.Burst))
			c.Header("RateLimit-Remaining", strconv.Itoa(remaining))
			c.Header("RateLimit-Reset", strconv.Itoa(int(math.Ceil(float64(cfg.PerKey.Burst-remaining)/cfg.PerKey.Limit))))
		}
		if retry > 0 {
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
			fail(c, ErrRateLimited)
			c.Abort()
			return
		}
		c.Next()
	}
}

// ParseTrustedProxies reads a comma-separated list of IPs and CIDRs
// (CRM_TRUSTED_PROXIES); empty means none.
func ParseTrustedProxies(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			return nil, &net.ParseError{Type: "IP address or CIDR", Text: p}
		}
		out = append(out, p)
	}
	return out, nil
}
