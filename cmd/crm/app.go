package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/api/cratio"
	"github.com/crmcore/crm/api/leadsapi"
	"github.com/crmcore/crm/api/overplane"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/eventstore/relay"
	"github.com/crmcore/crm/projections"
)

// config is what the production commands read from the environment.
type config struct {
	DatabaseURL string // DATABASE_URL
	NATSURL     string // NATS_URL
	Addr        string // CRM_ADDR, default 127.0.0.1:8080
	Region      string // CRM_PHONE_REGION, default IN
	// Stream is CRM_NATS_STREAM (default CRM_EVENTS), CRM_NATS_SUBJECTS
	// (default crm.events) and CRM_NATS_REPLICAS (1, or 3 for a cluster).
	Stream relay.StreamConfig
	// RelayBatch and ProjectorBatch are CRM_RELAY_BATCH_SIZE (default 1000)
	// and CRM_PROJECTOR_BATCH_SIZE (default 500): events per round trip.
	RelayBatch, ProjectorBatch int
	// RelayReaders is CRM_RELAY_READERS (default 1): batches of a backlog
	// the relay reads at once (relay.Config.Readers).
	RelayReaders int
}

func configFromEnv() config {
	c := config{
		DatabaseURL: os.Getenv("DATABASE_URL"),
		NATSURL:     os.Getenv("NATS_URL"),
		Addr:        envOr("CRM_ADDR", "127.0.0.1:8080"),
		Region:      envOr("CRM_PHONE_REGION", "IN"),
		Stream:      relay.DefaultStream,
	}
	if n := os.Getenv("CRM_NATS_REPLICAS"); n == "3" {
		c.Stream.Replicas = 3
	}
	c.Stream.Name = envOr("CRM_NATS_STREAM", c.Stream.Name)
	c.Stream.Subjects = envOr("CRM_NATS_SUBJECTS", c.Stream.Subjects)
	c.RelayBatch, _ = strconv.Atoi(os.Getenv("CRM_RELAY_BATCH_SIZE"))
	c.ProjectorBatch, _ = strconv.Atoi(os.Getenv("CRM_PROJECTOR_BATCH_SIZE"))
	c.RelayReaders, _ = strconv.Atoi(os.Getenv("CRM_RELAY_READERS"))
	return c
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func require(name, value string) error {
	if value == "" {
		return fmt.Errorf("%s is not set", name)
	}
	return nil
}

// core is the Postgres side every command needs.
type core struct {
	pool     *pgxpool.Pool
	store    *eventstore.Store
	listener *eventstore.Listener
	logger   *slog.Logger
	// photoDir holds uploaded lead photos (CRM_PHOTO_DIR; crm dev: DATA/photos).
	photoDir string
	// maxPhotoBytes caps an upload (CRM_MAX_PHOTO_BYTES, default 5 MB).
	maxPhotoBytes int64
	// rateLimits bound each API key and tenant (CRM_RATE_LIMIT_KEY,
	// CRM_RATE_LIMIT_TENANT: LIMIT:BURST requests per second, or off).
	rateLimits api.RateLimits
}

func openCore(ctx context.Context, databaseURL string, logger *slog.Logger) (*core, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if cfg.MaxConns < 16 {
		cfg.MaxConns = 16
	}
	eventstore.ConfigurePool(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	store := eventstore.New(pool)
	maxPhoto, err := strconv.ParseInt(envOr("CRM_MAX_PHOTO_BYTES", "5000000"), 10, 64)
	if err != nil || maxPhoto <= 0 {
		pool.Close()
		return nil, fmt.Errorf("CRM_MAX_PHOTO_BYTES: want a positive number of bytes")
	}
	perKey, err := api.ParseRate(envOr("CRM_RATE_LIMIT_KEY", "100:200"))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("CRM_RATE_LIMIT_KEY: %w", err)
	}
	perTenant, err := api.ParseRate(envOr("CRM_RATE_LIMIT_TENANT", "300:600"))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("CRM_RATE_LIMIT_TENANT: %w", err)
	}
	return &core{pool: pool, store: store, listener: eventstore.NewListener(pool, logger), logger: logger,
		photoDir: envOr("CRM_PHOTO_DIR", "./photos"), maxPhotoBytes: maxPhoto,
		rateLimits: api.RateLimits{PerKey: perKey, PerTenant: perTenant}}, nil
}

// statisticsInterval is how often a writing process looks for tables that
// have doubled since their planner statistics were made (see
// eventstore.KeepStatistics).
const statisticsInterval = 2 * time.Second

// keepStatistics runs eventstore.KeepStatistics on the core's database.
func (c *core) keepStatistics(ctx context.Context) error {
	return eventstore.KeepStatistics(ctx, c.pool, statisticsInterval, c.logger)
}

// migrate brings the event store schema and the read-model tables up to
// date: a read model whose table schema version changed is rebuilt by replay.
func (c *core) migrate(ctx context.Context) error {
	if err := eventstore.Migrate(ctx, c.pool); err != nil {
		return err
	}
	return projections.Deploy(ctx, c.store, allProjections(), c.logger)
}

// allProjections lists every read model crm maintains.
func allProjections() []projections.Projection {
	return []projections.Projection{projections.Leads{}, projections.CallLogs{}, projections.Pipelines{},
		projections.LeadVolume{}}
}

// purgeOn marks the events that end a stream for good (permanent delete).
func purgeOn(e eventstore.Event) bool { return e.Type == domain.LeadDeleted }

func connectNATS(url string, logger *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, nats.Name("crm"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { logger.Info("NATS reconnected") }))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS: %w", err)
	}
	// An async publish that never gets an answer (NATS restarted under it)
	// fails after this instead of holding a place in the relay's window forever.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(30*time.Second))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// runRelayLoop relays while leading; standby otherwise.
func (c *core) runRelayLoop(ctx context.Context, js jetstream.JetStream, stream relay.StreamConfig, batch, readers int) error {
	r := relay.New(relay.Config{Store: c.store, Listener: c.listener, JS: js, Stream: stream, PurgeOn: purgeOn,
		Logger: c.logger, BatchSize: batch, Readers: readers})
	return relay.Lead(ctx, c.pool.Config().ConnConfig.Copy(), "relay", c.logger, r.Run)
}

// runProjectors runs one worker per read model.
func (c *core) runProjectors(ctx context.Context, js jetstream.JetStream, stream relay.StreamConfig, batch int) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, p := range allProjections() {
		g.Go(func() error {
			return projections.Run(ctx, projections.RunnerConfig{Store: c.store, JS: js, Stream: stream,
				Logger: c.logger, BatchSize: batch}, p)
		})
	}
	return g.Wait()
}

// handler builds the HTTP API over the read models and commands; options
// adjust the dependencies (tests shorten the read-your-writes bound).
func (c *core) handler(waiter *projections.Waiter, region string, options ...func(*api.Deps)) http.Handler {
	deps := &api.Deps{
		Commands: commands.New(c.store, region),
		Reader:   projections.NewReader(c.pool),
		Waiter:   waiter,
		Auth:     c.store,
		Requests: c.store,
		Logger:   c.logger,
		Ready:    func(ctx context.Context) error { return c.pool.Ping(ctx) },
	}
	deps.RateLimits = c.rateLimits
	for _, o := range options {
		o(deps)
	}
	return api.NewServer(deps, cratio.Dialect{}, overplane.Dialect{},
		leadsapi.Dialect{PhotoDir: c.photoDir, MaxPhotoBytes: c.maxPhotoBytes})
}

// serveHTTP serves h on ln until ctx ends, then drains in-flight requests.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("serving HTTP", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runServe is `crm serve`: HTTP only; writes go to Postgres, reads come
// from the read models, so a serve replica needs no NATS.
func runServe(ctx context.Context, logger *slog.Logger) error {
	cfg := configFromEnv()
	if err := require("DATABASE_URL", cfg.DatabaseURL); err != nil {
		return err
	}
	c, err := openCore(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return err
	}
	defer c.pool.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	waiter := projections.NewWaiter(c.store, c.listener, logger)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.listener.Run(ctx) })
	g.Go(func() error { return waiter.Run(ctx) })
	g.Go(func() error { return c.keepStatistics(ctx) })
	g.Go(func() error { return serveHTTP(ctx, ln, c.handler(waiter, cfg.Region), logger) })
	return g.Wait()
}

// withNATSWorker runs work with the Postgres core and a NATS connection
// configured from the environment: the shape of `crm relay` and `crm project`.
// With CRM_METRICS_ADDR set, it serves their Prometheus metrics there.
func withNATSWorker(ctx context.Context, logger *slog.Logger, work func(context.Context, *core, jetstream.JetStream, config) error) error {
	cfg := configFromEnv()
	if err := errors.Join(require("DATABASE_URL", cfg.DatabaseURL), require("NATS_URL", cfg.NATSURL)); err != nil {
		return err
	}
	c, err := openCore(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return err
	}
	defer c.pool.Close()
	nc, js, err := connectNATS(cfg.NATSURL, logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	g, ctx := errgroup.WithContext(ctx)
	if addr := os.Getenv("CRM_METRICS_ADDR"); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("CRM_METRICS_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.Handler())
		g.Go(func() error { return serveHTTP(ctx, ln, mux, logger) })
	}
	g.Go(func() error { return work(ctx, c, js, cfg) })
	return g.Wait()
}

// runRelay is `crm relay`.
func runRelay(ctx context.Context, logger *slog.Logger) error {
	return withNATSWorker(ctx, logger, func(ctx context.Context, c *core, js jetstream.JetStream, cfg config) error {
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return c.listener.Run(ctx) })
		g.Go(func() error { return c.runRelayLoop(ctx, js, cfg.Stream, cfg.RelayBatch, cfg.RelayReaders) })
		return g.Wait()
	})
}

// runProject is `crm project`.
func runProject(ctx context.Context, logger *slog.Logger) error {
	return withNATSWorker(ctx, logger, func(ctx context.Context, c *core, js jetstream.JetStream, cfg config) error {
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return c.keepStatistics(ctx) })
		g.Go(func() error { return c.runProjectors(ctx, js, cfg.Stream, cfg.ProjectorBatch) })
		return g.Wait()
	})
}

// runMigrate is `crm migrate`.
func runMigrate(ctx context.Context, logger *slog.Logger) error {
	cfg := configFromEnv()
	if err := require("DATABASE_URL", cfg.DatabaseURL); err != nil {
		return err
	}
	c, err := openCore(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return err
	}
	defer c.pool.Close()
	if err := c.migrate(ctx); err != nil {
		return err
	}
	logger.Info("migrated")
	return nil
}
