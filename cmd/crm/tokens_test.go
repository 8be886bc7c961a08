package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/jwtauth"
	"github.com/crmcore/crm/stack"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const testJWTSecret = "tokens-test-secret-0123456789abcdef"

// tenantsIn resolves tenant names in the database at url without creating any.
func tenantsIn(t *testing.T, url string) jwtauth.Tenants {
	return jwtauth.TenantsFunc(func(ctx context.Context, name string) (uuid.UUID, error) {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return uuid.Nil, err
		}
		defer conn.Close(ctx)
		var id uuid.UUID
		err = conn.QueryRow(ctx, "select id from tenants where name = $1", name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return uuid.Nil, fmt.Errorf("%q: %w", name, jwtauth.ErrUnknownTenant)
		}
		return id, err
	})
}

// issue runs crm tokens issue and returns its stdout.
func issue(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), append([]string{"tokens", "issue"}, args...), &stdout, &stderr)
	t.Logf("stderr: %s", stderr.String())
	return stdout.String(), err
}

// oneLine is the token of output that is exactly one line, or fails.
func oneLine(t *testing.T, out string) string {
	t.Helper()
	token, rest, _ := strings.Cut(out, "\n")
	if token == "" || rest != "" || strings.Count(token, ".") != 2 {
		t.Fatalf("crm tokens issue printed %q, want one token on one line", out)
	}
	return token
}

func TestTokensIssueWithEnvironmentSecret(t *testing.T) {
	db := storetest.Postgres(t)
	t.Setenv("DATABASE_URL", db)
	t.Setenv("CRM_JWT_SECRET", testJWTSecret)
	t.Setenv("CRM_JWT_ISSUER", "https://crm.example")
	t.Setenv("CRM_JWT_AUDIENCE", "crm")
	out, err := issue(t, "--tenant", "acme", "--permissions", "319, crm-menu,,crm-partners", "--ttl", "2h")
	if err != nil {
		t.Fatal(err)
	}
	token := oneLine(t, out)

	v, err := jwtauth.New(jwtauth.Settings{Secret: []byte(testJWTSecret), Issuer: "https://crm.example", Audience: "crm"},
		jwtauth.Options{Tenants: tenantsIn(t, db)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(t.Context(), token)
	if err != nil {
		t.Fatalf("the issued token does not verify: %v", err)
	}
	if p.Tenant != "acme" || p.TenantID == uuid.Nil || p.Subject != "operator" ||
		!slices.Equal(p.Permissions, []string{"319", "crm-menu", "crm-partners"}) {
		t.Fatalf("principal %+v", p)
	}
	if left := time.Until(p.ExpiresAt); left < 2*time.Hour-time.Minute || left > 2*time.Hour {
		t.Fatalf("expires in %s, want 2h", left)
	}
	// Another installation's secret does not verify it.
	other, err := jwtauth.New(jwtauth.Settings{Secret: []byte("another-installation-secret-0123456789")},
		jwtauth.Options{Tenants: tenantsIn(t, db)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(t.Context(), token); !errors.Is(err, jwtauth.ErrInvalidToken) {
		t.Fatalf("verified with another secret: %v", err)
	}
}

func TestTokensIssueWithDevDataFolder(t *testing.T) {
	db := storetest.Postgres(t)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("CRM_JWT_SECRET", "")
	t.Setenv("CRM_JWT_ISSUER", "")
	t.Setenv("CRM_JWT_AUDIENCE", "")
	dir := t.TempDir()
	if _, err := issue(t, "--tenant", "acme", "--data", dir); err == nil {
		t.Fatal("issued a token with no secret in the data folder")
	}
	// What crm dev leaves in its data folder.
	if err := stack.WriteDevState(dir, stack.DevState{DatabaseURL: db}); err != nil {
		t.Fatal(err)
	}
	secret, err := devJWTSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := devJWTSecret(dir); err != nil || !bytes.Equal(again, secret) {
		t.Fatalf("second run: %q, %v; want the first run's secret", again, err)
	}
	if st, err := os.Stat(filepath.Join(dir, devJWTSecretFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, %v; want mode 0600", st.Mode(), err)
	}

	out, err := issue(t, "--tenant", "globex", "--permissions", "319", "--subject", "ops@globex", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwtauth.New(jwtauth.Settings{Secret: secret}, jwtauth.Options{Tenants: tenantsIn(t, db)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(t.Context(), oneLine(t, out))
	if err != nil {
		t.Fatalf("the issued token does not verify with the data folder's secret: %v", err)
	}
	if p.Tenant != "globex" || p.Subject != "ops@globex" || !slices.Equal(p.Permissions, []string{"319"}) {
		t.Fatalf("principal %+v", p)
	}
}

func TestTokensIssueRefusesBadUse(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	t.Setenv("CRM_JWT_SECRET", "")
	for _, args := range [][]string{
		{"tokens"},
		{"tokens", "revoke"},
		{"tokens", "issue"},
		{"tokens", "issue", "--tenant", "acme", "--ttl", "-1h"},
		{"tokens", "issue", "--tenant", "acme", "--subject", ""},
		{"tokens", "issue", "--tenant", "acme", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), args, &stdout, &stderr); !errors.Is(err, errUsage) || stdout.Len() > 0 {
			t.Errorf("%v: %v, stdout %q; want a usage error and nothing on stdout", args, err, stdout.String())
		}
	}
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"tokens", "issue", "--tenant", "acme"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "CRM_JWT_SECRET") || stdout.Len() > 0 {
		t.Errorf("no secret: %v, stdout %q; want an error naming CRM_JWT_SECRET", err, stdout.String())
	}
}
