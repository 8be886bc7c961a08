package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/google/uuid"

	"github.com/crmcore/crm/stack"
)

// runKeys is `crm keys create --tenant NAME [--prefix le_live_] [--data DIR]`
// and `crm keys revoke [--data DIR] KEY_ID`. A new key is printed alone on
// stdout, once: only its hash is stored.
func runKeys(ctx context.Context, cfg stack.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: crm keys create --tenant NAME [--prefix le_live_] [--data DIR] | crm keys revoke [--data DIR] KEY_ID")
		return errUsage
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data folder of a running crm dev (instead of DATABASE_URL)")
	tenant := fs.String("tenant", "", "tenant name (created if new)")
	prefix := fs.String("prefix", "le_live_", "key prefix")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	s, err := openStack(ctx, cfg, *data, slog.New(slog.NewTextHandler(stderr, nil)), stack.Open)
	if err != nil {
		return err
	}
	defer s.Close()
	switch args[0] {
	case "create":
		if *tenant == "" {
			fmt.Fprintln(stderr, "crm keys create: --tenant is required")
			return errUsage
		}
		if err := s.Migrate(ctx); err != nil {
			return err
		}
		id, err := s.Tenants.EnsureTenant(ctx, *tenant)
		if err != nil {
			return err
		}
		key, keyID, err := s.Tenants.CreateAPIKey(ctx, id, *prefix)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, key)
		fmt.Fprintf(stderr, "key id %s for tenant %q (%s); store the key now, it is not shown again\n", keyID, *tenant, id)
		return nil
	case "revoke":
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: crm keys revoke [--data DIR] KEY_ID")
			return errUsage
		}
		keyID, err := uuid.Parse(fs.Arg(0))
		if err != nil {
			return fmt.Errorf("key id: %w", err)
		}
		return s.Tenants.RevokeAPIKey(ctx, keyID)
	}
	fmt.Fprintf(stderr, "crm keys: unknown subcommand %q\n", args[0])
	return errUsage
}
