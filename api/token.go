package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/jwtauth"
	"github.com/crmcore/crm/tenants"
)

// Where RequireToken leaves the token's principal for the handlers and its
// subject for CommandContext.
const (
	tokenKey   = "crm.token.principal"
	subjectKey = "crm.token.subject"
)

// subjectSpace names the UUIDs that stand for a token's subject in the
// per-key rate limit (tenants.Principal.KeyID), so a subject's budget is
// one whichever token it holds.
var subjectSpace = uuid.MustParse("6f1d3c52-1d0e-4d43-9a55-6b1b1d2f4c11")

// ErrNoVerifier is the answer of a JWT route when the installation
// configured no way to verify tokens (CRM_JWT_SECRET, CRM_JWT_JWKS_*).
var ErrNoVerifier = crmerr.New(crmerr.Unavailable, "no JWT verification is configured")

// Forbidden is the 403 of a valid token without permission, naming it.
func Forbidden(permission string) *BadInput {
	return &BadInput{Status: http.StatusForbidden, Code: "forbidden", Field: "permission",
		Reason: "missing permission: " + permission}
}

// RequireToken authenticates a bearer JWT (d.JWT) holding permission
// (jwtauth.AnyToken: any valid token) and makes its tenant the request's:
// Principal then returns the token's tenant, with KeyID standing for its
// subject, so RateLimit keys its per-key bucket by subject. fail renders
// 401 (a missing, malformed, forged, expired token, or an API key),
// 403 (Forbidden), 503 (keys or tenants unreadable, or no verifier) and 429
// in the dialect's shape. Like RequireKey, a client IP that spent its
// bucket of refused credentials (RateLimits.PerIP) is refused with 429
// before its token is looked at; a refused token takes from it.
func (d *Deps) RequireToken(permission string, fail func(*gin.Context, error)) gin.HandlerFunc {
	if permission == "" {
		panic("api: RequireToken needs a permission (jwtauth.AnyToken for any valid token)")
	}
	ips := d.rateLimiter().ips
	return func(c *gin.Context) {
		if d.JWT == nil {
			fail(c, ErrNoVerifier)
			c.Abort()
			return
		}
		bucket, spent := refusedBucket(c, ips, fail)
		if spent {
			return
		}
		p, err := d.JWT.Verify(c.Request.Context(), bearer(c.GetHeader("Authorization")))
		if err != nil {
			if crmerr.Code(err) == crmerr.Unauthorized {
				if bucket != nil {
					bucket.Allow() // the refused token takes its token
				}
				challenge := "Bearer"
				if !errors.Is(err, jwtauth.ErrNoToken) {
					challenge = `Bearer error="invalid_token"`
				}
				c.Header("WWW-Authenticate", challenge)
			}
			fail(c, err)
			c.Abort()
			return
		}
		if !p.Has(permission) {
			c.Header("WWW-Authenticate", `Bearer error="insufficient_scope"`)
			fail(c, Forbidden(permission))
			c.Abort()
			return
		}
		c.Set(tokenKey, p)
		c.Set(subjectKey, p.Subject)
		c.Set(principalKey, tenants.Principal{TenantID: p.TenantID, TenantName: p.Tenant,
			KeyID: uuid.NewSHA1(subjectSpace, []byte(p.TenantID.String()+"\x00"+p.Subject))})
		c.Next()
	}
}

// TokenPrincipal is the principal of the token RequireToken let through.
func TokenPrincipal(c *gin.Context) jwtauth.Principal {
	v, _ := c.Get(tokenKey)
	p, _ := v.(jwtauth.Principal)
	return p
}
