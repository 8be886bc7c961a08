// Package leader elects one process of many to run a role ("relay",
// "projector:leads") through a Postgres advisory lock held on a connection
// of its own, with the others standing by.
package leader

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// LockKey derives a stable advisory-lock key from a role name ("relay",
// "projector:leads"), so every process agrees on it without a registry.
func LockKey(role string) int64 {
	h := fnv.New64a()
	h.Write([]byte("crm:" + role))
	return int64(h.Sum64())
}

// Lead runs work while this process holds the Postgres advisory lock for
// role, and waits as a standby while another process holds it. The lock lives
// on a dedicated connection: if that connection dies the lock is gone, so work
// is cancelled and Lead goes back to waiting. Lead returns when ctx ends.
func Lead(ctx context.Context, cfg *pgx.ConnConfig, role string, logger *slog.Logger, work func(ctx context.Context) error) error {
	key := LockKey(role)
	// The delay before trying again doubles, from 100 ms up to 5 s.
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := leadOnce(ctx, cfg, key, role, logger, work)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			logger.Warn("leadership lost", "role", role, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
	return nil
}

func leadOnce(ctx context.Context, cfg *pgx.ConnConfig, key int64, role string, logger *slog.Logger, work func(context.Context) error) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect for %s lock: %w", role, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	// Standby: poll the lock. A blocking pg_advisory_lock would hold a
	// backend in a lock wait that survives our own cancellation.
	standby := false
	for {
		var ok bool
		if err := conn.QueryRow(ctx, `select pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
			return fmt.Errorf("try %s lock: %w", role, err)
		}
		if ok {
			break
		}
		if !standby {
			logger.Info("standing by", "role", role)
			standby = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	logger.Info("leading", "role", role)

	workCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- work(workCtx) }()

	// Watch the lock's connection: once it is gone another process may lead.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("%s: %w", role, err)
		case <-tick.C:
			pingCtx, pingCancel := context.WithTimeout(ctx, 3*time.Second)
			err := conn.Ping(pingCtx)
			pingCancel()
			if err != nil && ctx.Err() == nil {
				cancel()
				<-done
				return fmt.Errorf("%s lock connection: %w", role, err)
			}
		}
	}
}
