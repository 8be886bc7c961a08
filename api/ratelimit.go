package api

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/time/rate"
)

// ErrRateLimited is what a dialect renders as its own 429.
var ErrRateLimited = errors.New("rate limit exceeded")

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

// RateLimits are the buckets every API key and every tenant get.
type RateLimits struct {
	PerKey, PerTenant Rate
}

// limiters holds one bucket per key or tenant; idle ones are dropped.
type limiters struct {
	rate Rate
	mu   sync.Mutex
	m    map[uuid.UUID]*bucket
	n    int
}

type bucket struct {
	l    *rate.Limiter
	seen time.Time
}

// reserve takes a token from id's bucket; the caller cancels it if
// another bucket refuses the request, so a refused request costs nothing.
func (ls *limiters) reserve(id uuid.UUID, now time.Time) (*rate.Reservation, *rate.Limiter) {
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
	return b.l.ReserveN(now, 1), b.l
}

// rateLimiter holds the buckets, shared by every dialect of a server, so a
// key's budget is one whichever API it calls.
type rateLimiter struct {
	cfg           RateLimits
	keys, tenants *limiters
}

func newRateLimiter(cfg RateLimits) *rateLimiter {
	return &rateLimiter{cfg: cfg,
		keys:    &limiters{rate: cfg.PerKey, m: map[uuid.UUID]*bucket{}},
		tenants: &limiters{rate: cfg.PerTenant, m: map[uuid.UUID]*bucket{}}}
}

// RateLimit limits requests per API key and per tenant (after RequireKey):
// past a bucket, 429 in the dialect's shape (fail gets ErrRateLimited) with
// Retry-After; every answer carries RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset for the key's bucket.
func (d *Deps) RateLimit(fail func(*gin.Context, error)) gin.HandlerFunc {
	d.limiterOnce.Do(func() { d.limiter = newRateLimiter(d.RateLimits) })
	rl := d.limiter
	cfg := rl.cfg
	return func(c *gin.Context) {
		p := Principal(c)
		now := time.Now()
		var retry time.Duration
		var taken []*rate.Reservation
		var keyBucket *rate.Limiter
		for _, l := range []struct {
			ls *limiters
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
