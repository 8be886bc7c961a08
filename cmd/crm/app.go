package main

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"golang.org/x/sync/errgroup"

	"github.com/crmcore/crm/stack"
)

// runServe is `crm serve`: HTTP, and the durable timers while this replica
// holds their lock; writes go to Postgres, reads come from the read
// models, so a serve replica needs no NATS.
func runServe(ctx context.Context, cfg stack.Config, logger *slog.Logger) error {
	if err := stack.Require("DATABASE_URL", cfg.DatabaseURL); err != nil {
		return err
	}
	s, err := stack.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	metrics, err := stack.ListenMetrics(cfg.Metrics(stack.DefaultMetricsAddr))
	if err != nil {
		ln.Close()
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	stack.ServeMetrics(ctx, g, metrics, logger)
	s.Go(ctx, g, stack.Listener, stack.Waiter, stack.Statistics, stack.RequestExpiry, stack.Timers, stack.Imports)
	g.Go(func() error { return stack.ServeHTTP(ctx, ln, s.Handler(), logger) })
	return g.Wait()
}

// withNATSWorker runs the named parts of the stack, opened with a NATS
// connection: the shape of `crm relay` and `crm project`. With
// CRM_METRICS_ADDR set, it serves their Prometheus metrics there.
func withNATSWorker(ctx context.Context, cfg stack.Config, logger *slog.Logger, parts ...string) error {
	if err := errors.Join(stack.Require("DATABASE_URL", cfg.DatabaseURL), stack.Require("NATS_URL", cfg.NATSURL)); err != nil {
		return err
	}
	s, err := stack.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.ConnectNATS(); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	metrics, err := stack.ListenMetrics(cfg.Metrics(""))
	if err != nil {
		return err
	}
	stack.ServeMetrics(ctx, g, metrics, logger)
	s.Go(ctx, g, parts...)
	return g.Wait()
}

// runRelay is `crm relay`.
func runRelay(ctx context.Context, cfg stack.Config, logger *slog.Logger) error {
	return withNATSWorker(ctx, cfg, logger, stack.Listener, stack.Relay)
}

// runProject is `crm project`.
func runProject(ctx context.Context, cfg stack.Config, logger *slog.Logger) error {
	return withNATSWorker(ctx, cfg, logger, stack.Statistics, stack.Projectors)
}

// runMigrate is `crm migrate`.
func runMigrate(ctx context.Context, cfg stack.Config, logger *slog.Logger) error {
	if err := stack.Require("DATABASE_URL", cfg.DatabaseURL); err != nil {
		return err
	}
	s, err := stack.OpenMigrated(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer s.Close()
	logger.Info("migrated")
	return nil
}
