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

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	// CRM_RATE_LIMIT_TENANT: LIMIT:BURST requests per second, or off) and
	// the refused keys of each client IP (CRM_RATE_LIMIT_IP).
	rateLimits api.RateLimits
	// idempotencyLease is how long a request holds its Idempotency-Key in
	// progress before a retry may take it over (CRM_IDEMPOTENCY_LEASE,
	// default 30s).
	idempotencyLease time.Duration
	// trustedProxies may name the client in X-Forwarded-For
	// (CRM_TRUSTED_PROXIES: IPs and CIDRs, comma-separated; default none).
	trustedProxies []string
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
	lease, err := time.ParseDuration(envOr("CRM_IDEMPOTENCY_LEASE", eventstore.DefaultRequestLease.String()))
	if err != nil || lease <= 0 {
		pool.Close()
		return nil, fmt.Errorf("CRM_IDEMPOTENCY_LEASE: want a positive duration such as 30s")
	}
	perIP, err := api.ParseRate(envOr("CRM_RATE_LIMIT_IP", defaultRateLimitIP))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("CRM_RATE_LIMIT_IP: %w", err)
	}
	proxies, err := api.ParseTrustedProxies(os.Getenv("CRM_TRUSTED_PROXIES"))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("CRM_TRUSTED_PROXIES: %w", err)
	}
	return &core{pool: pool, store: store, listener: eventstore.NewListener(pool, logger), logger: logger,
		photoDir: envOr("CRM_PHOTO_DIR", "./photos"), maxPhotoBytes: maxPhoto,
		rateLimits:     api.RateLimits{PerKey: perKey, PerTenant: perTenant, PerIP: perIP},
		trustedProxies: proxies, idempotencyLease: lease}, nil
}

// defaultRateLimitIP lets a client IP have 20 missing or refused keys at
// once and 2 a second after: a mistyped key is retried well within it, a
// flood of guesses costs the key store 2 lookups a second.
const defaultRateLimitIP = "2:20"

// requestExpiryInterval is how often a serving process deletes idempotency
// keys past their 24 hours (eventstore.Store.ExpireRequests).
const requestExpiryInterval = time.Minute

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
		projections.LeadVolume{}, projections.LeadPhotos{}}
}

// liveProjections is allProjections as the projectors run them: the photo
// projection removes the files of deleted leads from c's photo folder
// (replay and verify build its table and touch no file).
func (c *core) liveProjections() []projections.Projection {
	ps := allProjections()
	for i, p := range ps {
		if _, ok := p.(projections.LeadPhotos); ok {
			ps[i] = projections.LeadPhotos{Files: photoFiles{leadsapi.DirPhotoStore{Dir: c.photoDir}}}
		}
	}
	return ps
}

// photoFiles removes photo files from the Leads API's photo folder.
type photoFiles struct{ store leadsapi.DirPhotoStore }

// Remove implements projections.PhotoFiles. A file already gone is no
// error, but a photo folder this process cannot see is: a lead named a file
// in it, so crm serve saved one there, and skipping it would keep the file
// (the projector retries, and logs why, until CRM_PHOTO_DIR is right).
func (f photoFiles) Remove(ctx context.Context, tenantID uuid.UUID, name string) error {
	if _, err := os.Stat(f.store.Dir); err != nil {
		return fmt.Errorf("photo folder: %w", err)
	}
	if err := f.store.Delete(ctx, tenantID, name); err != nil && !errors.Is(err, leadsapi.ErrPhotoNotFound) {
		return err
	}
	return nil
}

// eraseOn picks what a permanent delete erases from JetStream: every earlier
// message of a deleted lead, the message that logged a deleted call log.
func eraseOn(e eventstore.Event) *relay.Erasure {
	switch e.Type {
	case domain.LeadDeleted:
		return &relay.Erasure{All: true}
	case domain.CallLogDeleted:
		id, ok := callLogIDOf(e)
		if !ok {
			return nil // redacted with its lead, whose deletion erases it all
		}
		return &relay.Erasure{Match: func(m eventstore.Event) bool {
			logged, ok := callLogIDOf(m)
			return ok && m.Type == domain.CallLogged && logged == id
		}}
	}
	return nil
}

// callLogIDOf is the call log id of a lead.call_logged or
// lead.call_log_deleted event, if its data still holds one.
func callLogIDOf(e eventstore.Event) (uuid.UUID, bool) {
	ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return uuid.Nil, false
	}
	switch d := ev.Data.(type) {
	case domain.CallLoggedData:
		return d.CallLogID, d.CallLogID != uuid.Nil
	case domain.CallLogDeletedData:
		return d.CallLogID, d.CallLogID != uuid.Nil
	}
	return uuid.Nil, false
}

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
	r := relay.New(relay.Config{Store: c.store, Listener: c.listener, JS: js, Stream: stream, EraseOn: eraseOn,
		Logger: c.logger, BatchSize: batch, Readers: readers})
	return relay.Lead(ctx, c.pool.Config().ConnConfig.Copy(), "relay", c.logger, r.Run)
}

// runProjectors runs one worker per read model.
func (c *core) runProjectors(ctx context.Context, js jetstream.JetStream, stream relay.StreamConfig, batch int) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, p := range c.liveProjections() {
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
	deps.IdempotencyLease = c.idempotencyLease
	deps.TrustedProxies = c.trustedProxies
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
	metrics, err := listenMetrics(metricsAddr(defaultMetricsAddr))
	if err != nil {
		ln.Close()
		return err
	}
	waiter := projections.NewWaiter(c.store, c.listener, logger)
	g, ctx := errgroup.WithContext(ctx)
	serveMetrics(ctx, g, metrics, logger)
	g.Go(func() error { return c.listener.Run(ctx) })
	g.Go(func() error { return waiter.Run(ctx) })
	g.Go(func() error { return c.keepStatistics(ctx) })
	g.Go(func() error { return c.store.KeepRequestsExpiring(ctx, requestExpiryInterval, logger) })
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
	metrics, err := listenMetrics(os.Getenv("CRM_METRICS_ADDR"))
	if err != nil {
		return err
	}
	serveMetrics(ctx, g, metrics, logger)
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
