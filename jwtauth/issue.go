package jwtauth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Grant is what a token crm issues says.
type Grant struct {
	Tenant      string // the tenant's name (ClaimTenant)
	Subject     string
	Permissions []string
	TTL         time.Duration
	Issuer      string // iss, when the installation checks one
	Audience    string // aud, when the installation checks one
}

// IssueHS256 signs a token for g with the installation's secret, valid
// from now for g.TTL.
func IssueHS256(secret []byte, g Grant, now time.Time) (string, error) {
	switch {
	case len(secret) < MinSecretBytes:
		return "", fmt.Errorf("issue token: want a secret of at least %d bytes", MinSecretBytes)
	case g.Tenant == "" || g.Subject == "":
		return "", errors.New("issue token: tenant and subject are required")
	case g.TTL <= 0:
		return "", errors.New("issue token: want a positive TTL")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	perms := g.Permissions
	if perms == nil {
		perms = []string{} // an empty array, so the claim's shape is always the same
	}
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    g.Issuer,
			Subject:   g.Subject,
			ExpiresAt: jwt.NewNumericDate(now.Add(g.TTL)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        id.String(),
		},
		Tenant:      g.Tenant,
		Permissions: perms,
	}
	if g.Audience != "" {
		c.Audience = jwt.ClaimStrings{g.Audience}
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	return token, nil
}
