// Command crm is the one binary of the crm CRM backend: crm dev runs
// everything in one process with no set-up; serve, relay, project and
// migrate are the production split; keys, tokens and replay are operator
// tools.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/crmcore/crm/bench"
	"github.com/crmcore/crm/stack"
)

const usage = `usage: crm <command> [flags]

commands:
  dev       run everything in one process (private Postgres and NATS unless DATABASE_URL / NATS_URL)
  serve     serve the HTTP APIs (DATABASE_URL, CRM_ADDR)
  relay     relay events from Postgres to NATS JetStream (DATABASE_URL, NATS_URL)
  project   run the projector workers (DATABASE_URL, NATS_URL)
  migrate   migrate the event store and create read-model tables (DATABASE_URL)
  keys      create or revoke API keys: crm keys create --tenant NAME; crm keys revoke KEY_ID
  tokens    issue a signed JWT: crm tokens issue --tenant NAME --permissions 319,crm-menu [--ttl 1h]
  replay    rebuild read models from the event store: crm replay PROJECTION | --all
  import    import a CSV file of leads: crm import --tenant NAME --file F [--data DIR]
  bench     measure crm against Postgres and NATS themselves: crm bench [--scale N]
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "crm:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel()}))
	slog.SetDefault(logger)
	cmd, rest := args[0], args[1:]
	commands := map[string]func(context.Context, stack.Config) error{
		"dev":     func(ctx context.Context, cfg stack.Config) error { return runDev(ctx, cfg, rest, stdout, logger) },
		"serve":   func(ctx context.Context, cfg stack.Config) error { return runServe(ctx, cfg, logger) },
		"relay":   func(ctx context.Context, cfg stack.Config) error { return runRelay(ctx, cfg, logger) },
		"project": func(ctx context.Context, cfg stack.Config) error { return runProject(ctx, cfg, logger) },
		"migrate": func(ctx context.Context, cfg stack.Config) error { return runMigrate(ctx, cfg, logger) },
		"keys":    func(ctx context.Context, cfg stack.Config) error { return runKeys(ctx, cfg, rest, stdout, stderr) },
		"tokens":  func(ctx context.Context, cfg stack.Config) error { return runTokens(ctx, cfg, rest, stdout, stderr) },
		"replay":  func(ctx context.Context, cfg stack.Config) error { return runReplay(ctx, cfg, rest, stderr, logger) },
		"import":  func(ctx context.Context, cfg stack.Config) error { return runImport(ctx, cfg, rest, stdout, stderr) },
		"bench": func(ctx context.Context, cfg stack.Config) error {
			err := bench.Run(ctx, cfg, rest, stdout, logger)
			if errors.Is(err, bench.ErrUsage) {
				return errUsage
			}
			return err
		},
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	command, ok := commands[cmd]
	if !ok {
		fmt.Fprintf(stderr, "crm: unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
	// The environment is read here, once, for every command.
	cfg, err := stack.ConfigFromEnv()
	if err != nil {
		return err
	}
	return command(ctx, cfg)
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("CRM_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}
