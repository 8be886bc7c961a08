package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/api/cratio"
	"github.com/crmcore/crm/api/devcrm"
	"github.com/crmcore/crm/api/leadsapi"
	"github.com/crmcore/crm/api/overplane"
	"github.com/crmcore/crm/api/prospects"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/imports"
	"github.com/crmcore/crm/jwtauth"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/calllogs"
	"github.com/crmcore/crm/projections/customers"
	"github.com/crmcore/crm/projections/feedback"
	"github.com/crmcore/crm/projections/leads"
	"github.com/crmcore/crm/projections/orders"
	"github.com/crmcore/crm/projections/photos"
	"github.com/crmcore/crm/projections/pipelines"
	"github.com/crmcore/crm/projections/records"
	"github.com/crmcore/crm/projections/volume"
	"github.com/crmcore/crm/requestlog"
	"github.com/crmcore/crm/tenants"
	"github.com/crmcore/crm/timers"
)

// Stack is crm opened on one Postgres database: what every command needs.
// ConnectNATS adds what the relay and the projectors need.
type Stack struct {
	Config   Config
	Logger   *slog.Logger
	Pool     *pgxpool.Pool
	Store    *eventstore.Store
	Listener *eventstore.Listener
	// Tenants holds the tenants and their API keys.
	Tenants *tenants.Store
	// Requests stores idempotent requests' responses for replay; a
	// permanent delete purges those made from its stream (Store's eraser).
	Requests *requestlog.Log
	// Waiter lets a write's answer wait for the read models it serves; it
	// follows checkpoints only while its part (Waiter) runs.
	Waiter *projections.Waiter
	// Importer runs the /dev/crm API's CSV imports, durable jobs that
	// ResumeImports takes up again after a crash.
	Importer *imports.Importer
	// JWT verifies the prospects & clients API's bearer tokens; nil when
	// Config.JWT sets no secret and no JWKS (those routes answer 503).
	JWT *jwtauth.Verifier
	// Timers fires durable timers (feedback reminders) with the commands'
	// handlers; its part (Timers) runs it while leading.
	Timers *timers.Scheduler
	// NC and JS are set by ConnectNATS.
	NC *nats.Conn
	JS jetstream.JetStream
}

// Open connects to the Postgres of cfg.DatabaseURL (at least 16
// connections: the listener, the relay's and the projectors' leadership and
// the API share the pool). Close releases it.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Stack, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if pcfg.MaxConns < 16 {
		pcfg.MaxConns = 16
	}
	eventstore.ConfigurePool(pcfg)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	if cfg.PhotoDir == "" {
		cfg.PhotoDir = DefaultPhotoDir
	}
	store := eventstore.New(pool, requestlog.Purge, imports.Purge)
	s := &Stack{Config: cfg, Logger: logger, Pool: pool, Store: store,
		Listener: eventstore.NewListener(pool, logger),
		Tenants:  tenants.New(pool), Requests: requestlog.New(store)}
	s.Waiter = projections.NewWaiter(s.Store, s.Listener, logger)
	cmds := commands.New(store, cfg.Region)
	s.Timers = timers.NewScheduler(pool, timers.SystemClock{}, logger)
	for kind, fire := range cmds.TimerHandlers() {
		s.Timers.Handle(kind, fire)
	}
	s.Importer = imports.New(store, devcrm.ImportOptions(cmds, cfg.Region))
	if cfg.JWT.Enabled() {
		// Tokens name tenants that exist: the lookup never creates one.
		if s.JWT, err = jwtauth.New(cfg.JWT, jwtauth.Options{Tenants: s.Tenants, Logger: logger}); err != nil {
			pool.Close()
			return nil, fmt.Errorf("JWT verification: %w", err)
		}
	}
	return s, nil
}

// OpenMigrated is Open, then Migrate: the start of every command that
// writes (dev, migrate, replay).
func OpenMigrated(ctx context.Context, cfg Config, logger *slog.Logger) (*Stack, error) {
	s, err := Open(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the NATS connection, if any, and the pool.
func (s *Stack) Close() {
	if s.NC != nil {
		s.NC.Close()
	}
	s.Pool.Close()
}

// ConnectNATS connects to cfg.NATSURL, reconnecting forever: a NATS
// restart costs a pause, never the process.
func (s *Stack) ConnectNATS() error {
	logger := s.Logger
	nc, err := nats.Connect(s.Config.NATSURL, nats.Name("crm"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { logger.Info("NATS reconnected") }))
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	// An async publish that never gets an answer (NATS restarted under it)
	// fails after this instead of holding a place in the relay's window forever.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(30*time.Second))
	if err != nil {
		nc.Close()
		return fmt.Errorf("JetStream: %w", err)
	}
	s.NC, s.JS = nc, js
	return nil
}

// Migrate brings the event store schema and the read-model tables up to
// date: a read model whose table schema version changed is rebuilt by replay.
func (s *Stack) Migrate(ctx context.Context) error {
	if err := eventstore.Migrate(ctx, s.Pool); err != nil {
		return err
	}
	return projections.Deploy(ctx, s.Store, Projections(), s.Logger)
}

// Projections lists every read model crm maintains.
func Projections() []projections.Projection {
	return []projections.Projection{leads.Projection{}, calllogs.Projection{}, pipelines.Projection{},
		volume.Projection{}, photos.Projection{}, customers.Projection{}, records.Projection{}, orders.Projection{}, feedback.Projection{}}
}

// liveProjections is Projections as the projectors run them: the photo
// projection removes the files of deleted leads from the photo folder
// (replay and verify build its table and touch no file).
func (s *Stack) liveProjections() []projections.Projection {
	ps := Projections()
	for i, p := range ps {
		if _, ok := p.(photos.Projection); ok {
			ps[i] = photos.Projection{Files: photoFiles{leadsapi.DirPhotoStore{Dir: s.Config.PhotoDir}}}
		}
	}
	return ps
}

// photoFiles removes photo files from the Leads API's photo folder.
type photoFiles struct{ store leadsapi.DirPhotoStore }

// Remove implements photos.Files. A file already gone is no
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

// importResumeInterval is how often a serving process looks for import
// jobs no process is running (their runner died) and runs them.
const importResumeInterval = 10 * time.Second

// ResumeImports runs, now and every importResumeInterval until ctx ends,
// the stored import jobs no process is running: those a crash (kill -9)
// interrupted resume after their last committed batch, no row twice. A
// failed attempt is logged and tried again.
func (s *Stack) ResumeImports(ctx context.Context) error {
	t := time.NewTicker(importResumeInterval)
	defer t.Stop()
	for {
		if err := s.Importer.ResumeStored(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Error("resume imports", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Handler builds the HTTP API over the read models and commands; options
// adjust the dependencies (tests shorten the read-your-writes bound).
func (s *Stack) Handler(options ...func(*api.Deps)) http.Handler {
	deps := &api.Deps{
		Commands:         commands.New(s.Store, s.Config.Region),
		Readers:          api.NewReaders(s.Pool),
		Waiter:           s.Waiter,
		Auth:             s.Tenants,
		JWT:              s.JWT,
		Requests:         s.Requests,
		Importer:         s.Importer,
		Logger:           s.Logger,
		Ready:            func(ctx context.Context) error { return s.Pool.Ping(ctx) },
		RateLimits:       s.Config.RateLimits,
		IdempotencyLease: s.Config.IdempotencyLease,
		TrustedProxies:   s.Config.TrustedProxies,
		Timers:           s.Timers,
		Clock:            s.Timers.Clock(),
	}
	for _, o := range options {
		o(deps)
	}
	return api.NewServer(deps, cratio.Dialect{}, overplane.Dialect{},
		leadsapi.Dialect{PhotoDir: s.Config.PhotoDir, MaxPhotoBytes: s.Config.MaxPhotoBytes}, prospects.Dialect{}, devcrm.Dialect{})
}
