package jwtauth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/crmerr"
)

const principalKey = "crm.jwt.principal"

// Require is the middleware of a route that needs permission (AnyToken:
// any valid token). It answers in the Boom shape ({"statusCode", "error",
// "message"}): 401 for a missing or invalid token, 403 naming the missing
// permission, 503 when keys or tenants cannot be read. A request let
// through carries its Principal (PrincipalOf).
func (v *Verifier) Require(permission string) gin.HandlerFunc {
	if permission == "" {
		// A route mounted so would refuse every token: a wiring mistake.
		panic("jwtauth: Require needs a permission (AnyToken for any valid token)")
	}
	return func(c *gin.Context) {
		p, err := v.Verify(c.Request.Context(), bearerToken(c.GetHeader("Authorization")))
		if err != nil {
			refuse(c, err)
			return
		}
		if !p.Has(permission) {
			c.Header("WWW-Authenticate", `Bearer error="insufficient_scope"`)
			abortBoom(c, http.StatusForbidden, "missing permission: "+permission)
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// PrincipalOf is the principal Require let through.
func PrincipalOf(c *gin.Context) (Principal, bool) {
	v, ok := c.Get(principalKey)
	p, _ := v.(Principal)
	return p, ok
}

// bearerToken is the token of an Authorization header, "" for none or
// another scheme.
func bearerToken(header string) string {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

func refuse(c *gin.Context, err error) {
	switch {
	case crmerr.Code(err) == crmerr.Unavailable:
		c.Header("Retry-After", "1")
		abortBoom(c, http.StatusServiceUnavailable, "service unavailable")
	case errors.Is(err, ErrNoToken):
		c.Header("WWW-Authenticate", "Bearer")
		abortBoom(c, http.StatusUnauthorized, crmerr.Message(err))
	default:
		// Which check failed stays in the server: "expired" helps a client
		// renew, the rest would help a forger.
		c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
		abortBoom(c, http.StatusUnauthorized, crmerr.Message(err))
	}
}

// abortBoom answers in hapi's Boom shape, the one the prospects & clients
// API documents for every error.
func abortBoom(c *gin.Context, status int, message string) {
	c.AbortWithStatusJSON(status, gin.H{
		"statusCode": status,
		"error":      http.StatusText(status),
		"message":    message,
	})
}
