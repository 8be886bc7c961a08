package main

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"golang.org/x/sync/errgroup"

	crmstack "github.com/crmcore/crm/stack"
)

// runServe is `crm serve`: HTTP only; writes go to Postgres, reads come
// from the read models, so a serve replica needs no NATS.
func runServe(ctx context.Context, cfg crmstack.Config, logger *slog.Logger) error {
	if err := crmstack.Require("DATABASE_URL", cfg.DatabaseURL); err != nil {
		return err
	}
	s, err := crmstack.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	metrics, err := crmstack.ListenMetrics(cfg.Metrics(crmstack.DefaultMetricsAddr))
	if err != nil {
		ln.Close()
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	crmstack.ServeMetrics(ctx, g, metrics, logger)
	s.Go(ctx, g, crmstack.Listener, crmstack.Waiter, crmstack.Statistics, crmstack.RequestExpiry)
	g.Go(func() error { return crmstack.ServeHTTP(ctx, ln, s.Handler(), logger) })
	return g.Wait()
}

// withNATSWorker runs the named parts of the stack, opened with a NATS
// connection: the shape of `crm relay` and `crm project`. With
// CRM_METRICS_ADDR set, it serves their Prometheus metrics there.
func withNATSWorker(ctx context.Context, cfg crmstack.Config, logger *slog.Logger, parts ...string) error {
	if err := errors.Join(crmstack.Require("DATABASE_URL", cfg.DatabaseURL), crmstack.Require("NATS_URL", cfg.NATSURL)); err != nil {
		return err
	}
	s, err := crmstack.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.ConnectNATS(); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	metrics, err := crmstack.ListenMetrics(cfg.Metrics(""))
	if err != nil {
		return err
	}
	crmstack.ServeMetrics(ctx, g, metrics, logger)
	s.Go(ctx, g, parts...)
	return g.Wait()
}

// runRelay is `crm relay`.
func runRelay(ctx context.Context, cfg crmstack.Config, logger *slog.Logger) error {
	return withNATSWorker(ctx, cfg, logger, crmstack.Listener, crmstack.Relay)
}

// runProject is `crm project`.
func runProject(ctx context.Context, cfg crmstack.Config, logger *slog.Logger) error {
	return withNATSWorker(ctx, cfg, logger, crmstack.Statistics, crmstack.Projectors)
}

// runMigrate is `crm migrate`.
func runMigrate(ctx context.Context, cfg crmstack.Config, logger *slog.Logger) error {
	if err := crmstack.Require("DATABASE_URL", cfg.DatabaseURL); err != nil {
		return err
	}
	s, err := crmstack.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	logger.Info("migrated")
	return nil
}
