package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/tenants"
)

const principalKey = "crm.principal"

// RequireKey authenticates the bearer API key; fail renders the dialect's
// own 401 (tenants.ErrUnauthorized), 503 when the key store cannot be
// reached, and 429. A client IP that has spent its bucket of refused keys
// (RateLimits.PerIP) is refused with 429 before its key is looked up.
func (d *Deps) RequireKey(fail func(*gin.Context, error)) gin.HandlerFunc {
	ips := d.rateLimiter().ips
	return func(c *gin.Context) {
		bucket, spent := refusedBucket(c, ips, fail)
		if spent {
			return
		}
		refuse := func(err error) {
			if errors.Is(err, tenants.ErrUnauthorized) && bucket != nil {
				bucket.Allow() // the refused key takes its token
			}
			fail(c, err)
			c.Abort()
		}
		key := bearer(c.GetHeader("Authorization"))
		if key == "" {
			refuse(tenants.ErrUnauthorized)
			return
		}
		p, err := d.Auth.Authenticate(c.Request.Context(), key)
		if err != nil {
			if !errors.Is(err, tenants.ErrUnauthorized) {
				// Whatever kept the store from answering, the key is not
				// known bad: the client may retry.
				err = crmerr.Wrap(crmerr.Unavailable, fmt.Errorf("authenticate: %w", err))
			}
			refuse(err)
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// refusedBucket is the client IP's bucket of refused credentials (nil when
// unlimited); spent says it is empty, and the request was refused with 429
// (fail renders it) before its credential is looked at.
func refusedBucket(c *gin.Context, ips *limiters[string], fail func(*gin.Context, error)) (*rate.Limiter, bool) {
	bucket, retry := ips.refusedKeys(c.ClientIP(), time.Now())
	if retry <= 0 {
		return bucket, false
	}
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
	fail(c, ErrRateLimited)
	c.Abort()
	return bucket, true
}

// bearer is the credential of an Authorization header, "" for none or
// another scheme.
func bearer(header string) string {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// Principal is the authenticated caller of the request.
func Principal(c *gin.Context) tenants.Principal {
	p, _ := c.Get(principalKey)
	principal, _ := p.(tenants.Principal)
	return principal
}

// CommandContext is the tenant, metadata and idempotency key a request's
// commands run with; dialect names the API in the audit trail.
func CommandContext(c *gin.Context, dialect string) commands.Context {
	p := Principal(c)
	rid := c.GetString(HeaderRequestID)
	v, _ := c.Get(touchedKey)
	touched, _ := v.(*commands.Touched)
	actor, keyID := "api_key:"+p.KeyID.String(), p.KeyID.String()
	if sub, ok := c.Get(subjectKey); ok {
		// A token's caller is its subject; it used no API key.
		actor, keyID = "jwt:"+sub.(string), ""
	}
	return commands.Context{
		TenantID: p.TenantID,
		Metadata: eventstore.Metadata{
			Actor:         actor,
			APIKeyID:      keyID,
			API:           dialect,
			RequestID:     rid,
			CorrelationID: rid,
		},
		IdempotencyKey: idempotencyKey(c),
		Touched:        touched,
	}
}

// idempotencyKey is the commands' key of a request with an Idempotency-Key:
// the client's key scoped to the one request it was sent with (method,
// concrete path, query and body: Idempotent's fingerprint), so a commit is
// replayed only to a true retry, never to the key reused on another lead.
func idempotencyKey(c *gin.Context) string {
	fp := c.GetString(fingerprintKey)
	if fp == "" {
		return ""
	}
	return c.Request.Method + " " + c.Request.URL.Path + " " + fp + " " + c.GetHeader("Idempotency-Key")
}

// HeaderPosition tells the client the commit-order position of its write;
// HeaderConsistency is "pending" when the read models had not shown it yet
// when the response was sent.
const (
	HeaderPosition    = "X-Crm-Position"
	HeaderConsistency = "X-Crm-Consistency"
)

// AwaitReadModels waits (bounded) until the named read models show a
// command's effect, so a GET after the response sees it. It reports whether
// they did; either way the position goes into a response header.
func (d *Deps) AwaitReadModels(c *gin.Context, pos eventstore.Position, names ...string) bool {
	c.Header(HeaderPosition, pos.String())
	if pos.IsZero() {
		return true
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), d.WaitTimeout)
	defer cancel()
	if d.Waiter.Wait(ctx, pos, names...) {
		return true
	}
	c.Header(HeaderConsistency, "pending")
	return false
}
