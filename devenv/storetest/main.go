// Package storetest is the environment of every package's integration
// tests: a PostgreSQL server and a NATS server with JetStream, each either
// given by TEST_DATABASE_URL and TEST_NATS_URL or started privately for the
// test binary, and per-test isolation on top of them.
//
// A package's tests opt in with
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
package storetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crmcore/crm/devenv/localnats"
	"github.com/crmcore/crm/devenv/localpg"
)

// Environment variables naming shared servers; unset, Main starts private ones.
const (
	DatabaseURLEnv = "TEST_DATABASE_URL"
	NATSURLEnv     = "TEST_NATS_URL"
)

// env is set by Main before any test runs and only read afterwards.
var env struct {
	adminURL string
	natsURL  string
}

// Main runs the test binary's tests with the servers they need, starting a
// private PostgreSQL cluster and an embedded NATS server for those not
// given by the environment, and exits with the tests' status.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Main is the test binary's main: the root of every context below.
	ctx := context.Background()
	env.adminURL = os.Getenv(DatabaseURLEnv)
	env.natsURL = os.Getenv(NATSURLEnv)
	if env.adminURL != "" && env.natsURL != "" {
		return m.Run()
	}

	dir, err := os.MkdirTemp("", "crmtest-")
	if err != nil {
		return fail("create temp dir: %v", err)
	}
	defer os.RemoveAll(dir)
	// When we are root, PostgreSQL runs as another user, who must be able to
	// enter the folder; MkdirTemp makes it private to us.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fail("chmod %s: %v", dir, err)
	}

	if env.adminURL == "" {
		pgDir := filepath.Join(dir, "postgres")
		if err := watchForExit(pgDir, dir); err != nil {
			return fail("%v", err)
		}
		c, err := localpg.Start(ctx, localpg.Options{Dir: pgDir})
		if err != nil {
			return fail("start private PostgreSQL (or set %s): %v", DatabaseURLEnv, err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := c.Stop(ctx); err != nil {
				fmt.Fprintf(os.Stderr, "storetest: %v\n", err)
			}
		}()
		env.adminURL = c.URL("postgres")
	}

	if env.natsURL == "" {
		s, err := localnats.Start(localnats.Options{Dir: filepath.Join(dir, "nats")})
		if err != nil {
			return fail("start embedded NATS (or set %s): %v", NATSURLEnv, err)
		}
		defer s.Shutdown()
		env.natsURL = s.URL()
	}

	return m.Run()
}

func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "storetest: "+format+"\n", args...)
	return 1
}
