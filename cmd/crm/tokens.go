package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/crmcore/crm/jwtauth"
	"github.com/crmcore/crm/stack"
)

// devJWTSecretFile holds the HS256 secret crm dev makes in its data folder
// when CRM_JWT_SECRET is not set; crm tokens issue --data DIR signs with it.
const devJWTSecretFile = "jwt-secret"

const tokensUsage = "usage: crm tokens issue --tenant NAME [--permissions 319,crm-menu,crm-partners] [--ttl 1h] [--subject operator] [--data DIR]"

// runTokens is `crm tokens issue`: one HS256 token, signed with
// CRM_JWT_SECRET or the data folder's secret, printed alone on stdout, for
// a tenant that exists (created if new, as crm keys create does).
func runTokens(ctx context.Context, cfg stack.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "issue" {
		fmt.Fprintln(stderr, tokensUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("tokens issue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data folder of a running crm dev (instead of DATABASE_URL and CRM_JWT_SECRET)")
	tenant := fs.String("tenant", "", "tenant name (created if new)")
	perms := fs.String("permissions", "", "permissions granted, comma-separated")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	subject := fs.String("subject", "operator", "the token's subject (sub): whom rate limits and the audit trail name")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if *tenant == "" || *subject == "" || *ttl <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, tokensUsage)
		return errUsage
	}
	secret := cfg.JWT.Secret
	if len(secret) == 0 {
		if *data == "" {
			return errors.New("CRM_JWT_SECRET is not set (or give --data DIR of a crm dev)")
		}
		var err error
		if secret, err = readDevJWTSecret(*data); err != nil {
			return err
		}
	}
	s, err := openStack(ctx, cfg, *data, slog.New(slog.NewTextHandler(stderr, nil)), stack.OpenMigrated)
	if err != nil {
		return err
	}
	defer s.Close()
	id, err := s.Tenants.EnsureTenant(ctx, *tenant)
	if err != nil {
		return err
	}
	g := jwtauth.Grant{
		Tenant:      *tenant,
		Subject:     *subject,
		Permissions: splitList(*perms),
		TTL:         *ttl,
		Issuer:      cfg.JWT.Issuer,
		Audience:    cfg.JWT.Audience,
	}
	token, err := jwtauth.IssueHS256(secret, g, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	fmt.Fprintf(stderr, "token for tenant %q (%s), subject %q, permissions [%s], valid for %s\n",
		*tenant, id, *subject, strings.Join(g.Permissions, ","), *ttl)
	return nil
}

// splitList is the non-empty items of a comma-separated list.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// devJWTSecret is the data folder's JWT secret, made on the first run.
func devJWTSecret(dir string) ([]byte, error) {
	secret, err := readDevJWTSecret(dir)
	if !errors.Is(err, os.ErrNotExist) {
		return secret, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("JWT secret: %w", err)
	}
	// Text, so that it can be copied into CRM_JWT_SECRET as it is.
	secret = []byte(base64.RawURLEncoding.EncodeToString(b))
	if err := os.WriteFile(filepath.Join(dir, devJWTSecretFile), append(secret, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("JWT secret: %w", err)
	}
	return secret, nil
}

func readDevJWTSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, devJWTSecretFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("JWT secret of crm dev: %w", err)
	}
	secret := bytes.TrimSpace(b)
	if len(secret) < jwtauth.MinSecretBytes {
		return nil, fmt.Errorf("%s: want at least %d bytes", path, jwtauth.MinSecretBytes)
	}
	return secret, nil
}
