package stack

import (
	"strings"
	"testing"
)

func TestConfigFromEnvReadsJWTSettings(t *testing.T) {
	t.Setenv("CRM_JWT_SECRET", "0123456789abcdef0123456789abcdef")
	t.Setenv("CRM_JWT_JWKS_URL", "https://idp.example/.well-known/jwks.json")
	t.Setenv("CRM_JWT_JWKS_FILE", "")
	t.Setenv("CRM_JWT_ISSUER", "https://idp.example")
	t.Setenv("CRM_JWT_AUDIENCE", "crm")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	j := c.JWT
	if string(j.Secret) != "0123456789abcdef0123456789abcdef" || j.JWKSURL != "https://idp.example/.well-known/jwks.json" ||
		j.JWKSFile != "" || j.Issuer != "https://idp.example" || j.Audience != "crm" {
		t.Fatalf("JWT settings %+v", j)
	}

	good := map[string]string{"CRM_JWT_SECRET": "0123456789abcdef0123456789abcdef",
		"CRM_JWT_JWKS_URL": "https://idp.example/jwks", "CRM_JWT_JWKS_FILE": ""}
	for _, tc := range []struct{ variable, value, want string }{
		{"CRM_JWT_SECRET", "too-short", "CRM_JWT_SECRET: want at least"},
		{"CRM_JWT_JWKS_URL", "ftp://idp.example/jwks", "CRM_JWT_JWKS_URL: want an http(s) URL"},
		{"CRM_JWT_JWKS_FILE", "/etc/crm/jwks.json", "set one, not both"},
	} {
		for k, v := range good {
			t.Setenv(k, v)
		}
		t.Setenv(tc.variable, tc.value)
		if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: ConfigFromEnv() = %v, want %q", tc.variable, tc.value, err, tc.want)
		}
	}
}
