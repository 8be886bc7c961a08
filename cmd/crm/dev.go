package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/crmcore/crm/devenv/localnats"
	"github.com/crmcore/crm/devenv/localpg"
	"github.com/crmcore/crm/dirlock"
	"github.com/crmcore/crm/projections"
)

// devState is what `crm dev` leaves in its data folder for other commands
// (`crm keys --data DIR`) to find it.
type devState struct {
	DatabaseURL string `json:"database_url"`
}

const (
	devStateFile  = "dev.json"
	devKeyFile    = "dev-api-key"
	devTenantName = "default"
	// devLockFile is locked (dirlock) by the crm dev running on the folder,
	// for its whole life, and records its pid and address.
	devLockFile = "crm.lock"
)

// runDev is `crm dev`: Postgres, NATS, migrations, relay, projectors and the
// API in one process, with nothing to set up first.
func runDev(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "HTTP listen address")
	data := fs.String("data", "./.crm", "data folder (private Postgres cluster, NATS store)")
	apiKey := fs.String("api-key", os.Getenv("CRM_DEV_API_KEY"), "API key of the default tenant (default: generated once, kept in the data folder)")
	metricsAt := fs.String("metrics-addr", metricsAddr(defaultMetricsAddr), "Prometheus /metrics listen address (CRM_METRICS_ADDR); empty turns it off")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	dir, err := filepath.Abs(*data)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	// The folder's lock comes before anything is started: a second crm dev
	// on it leaves at once, without touching what the first one runs.
	lock, err := lockDataFolder(dir)
	if err != nil {
		return err
	}
	defer lock.Release()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := lock.Update(dirlock.Holder{PID: os.Getpid(), Addr: ln.Addr().String()}); err != nil {
		return err
	}
	metrics, err := listenMetrics(*metricsAt)
	if err != nil {
		return err
	}
	cfg := configFromEnv()

	if cfg.DatabaseURL == "" {
		cluster, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(dir, "postgres"), Logger: logger})
		if err != nil {
			return fmt.Errorf("start private Postgres: %w", err)
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := cluster.Stop(stopCtx); err != nil {
				logger.Error("stop Postgres", "err", err)
			} else {
				logger.Info("Postgres stopped")
			}
		}()
		if err := cluster.CreateDatabase(ctx, "crm"); err != nil {
			return err
		}
		cfg.DatabaseURL = cluster.URL("crm")
	}
	if cfg.NATSURL == "" {
		ns, err := localnats.Start(localnats.Options{Dir: filepath.Join(dir, "nats"), Host: "127.0.0.1"})
		if err != nil {
			return fmt.Errorf("start embedded NATS: %w", err)
		}
		defer ns.Shutdown()
		cfg.NATSURL = ns.URL()
	}
	if err := writeJSON(filepath.Join(dir, devStateFile), devState{DatabaseURL: cfg.DatabaseURL}); err != nil {
		return err
	}

	c, err := openCore(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return err
	}
	defer c.pool.Close()
	if os.Getenv("CRM_PHOTO_DIR") == "" {
		c.photoDir = filepath.Join(dir, "photos")
	}
	if err := c.migrate(ctx); err != nil {
		return err
	}
	key, err := devKey(ctx, c, dir, *apiKey)
	if err != nil {
		return err
	}
	nc, js, err := connectNATS(cfg.NATSURL, logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	fmt.Fprintf(stdout, "crm dev serving on http://%s\nAPI key (tenant %q): %s\n", ln.Addr(), devTenantName, key)
	if metrics != nil {
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", metrics.Addr())
	}

	waiter := projections.NewWaiter(c.store, c.listener, logger)
	g, gctx := errgroup.WithContext(ctx)
	serveMetrics(gctx, g, metrics, logger)
	g.Go(func() error { return c.listener.Run(gctx) })
	g.Go(func() error { return waiter.Run(gctx) })
	g.Go(func() error { return c.keepStatistics(gctx) })
	g.Go(func() error { return c.store.KeepRequestsExpiring(gctx, requestExpiryInterval, logger) })
	g.Go(func() error { return c.runRelayLoop(gctx, js, cfg.Stream, cfg.RelayBatch, cfg.RelayReaders) })
	g.Go(func() error { return c.runProjectors(gctx, js, cfg.Stream, cfg.ProjectorBatch) })
	g.Go(func() error { return serveHTTP(gctx, ln, c.handler(waiter, cfg.Region), logger) })
	err = g.Wait()
	logger.Info("shutting down")
	return err
}

// lockDataFolder takes the data folder's lock for this crm dev, or says
// which crm dev holds it.
func lockDataFolder(dir string) (*dirlock.Lock, error) {
	lock, err := dirlock.Acquire(filepath.Join(dir, devLockFile), dirlock.Holder{PID: os.Getpid()})
	var held *dirlock.HeldError
	if !errors.As(err, &held) {
		return lock, err
	}
	who := "another process"
	if held.Holder.PID > 0 {
		who = fmt.Sprintf("pid %d", held.Holder.PID)
	}
	if held.Holder.Addr != "" {
		who += ", serving on " + held.Holder.Addr
	} else {
		who += ", still starting"
	}
	return nil, fmt.Errorf("crm dev is already running on this data folder: %s (%s)", who, dir)
}

// devKey makes sure the default tenant has a key and returns it: the one
// given, else the one generated by an earlier run on this folder, else a new one.
func devKey(ctx context.Context, c *core, dir, given string) (string, error) {
	tenant, err := c.store.EnsureTenant(ctx, devTenantName)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, devKeyFile)
	if given == "" {
		if b, err := os.ReadFile(path); err == nil {
			given = strings.TrimSpace(string(b))
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	if given != "" {
		if _, err := c.store.CreateAPIKeyWithSecret(ctx, tenant, given); err != nil {
			return "", fmt.Errorf("API key: %w", err)
		}
		return given, nil
	}
	key, _, err := c.store.CreateAPIKey(ctx, tenant, "le_live_")
	if err != nil {
		return "", err
	}
	return key, os.WriteFile(path, []byte(key+"\n"), 0o600)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// databaseURL is DATABASE_URL, or that of the `crm dev` running on dataDir.
func databaseURL(dataDir string) (string, error) {
	if dataDir == "" {
		url := os.Getenv("DATABASE_URL")
		return url, require("DATABASE_URL", url)
	}
	b, err := os.ReadFile(filepath.Join(dataDir, devStateFile))
	if err != nil {
		return "", fmt.Errorf("no crm dev data in %s (is crm dev running there?): %w", dataDir, err)
	}
	var s devState
	if err := json.Unmarshal(b, &s); err != nil {
		return "", fmt.Errorf("%s: %w", devStateFile, err)
	}
	return s.DatabaseURL, nil
}
