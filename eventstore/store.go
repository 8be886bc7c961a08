// Package eventstore is the write side's source of truth: an append-only log
// of events in Postgres, written in one transaction per commit, read per
// stream or globally in commit order, with NOTIFY wakeups for tailing readers.
package eventstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

// notifyChannel is the LISTEN/NOTIFY channel every commit notifies.
const notifyChannel = "crm_events"

// NotifyChannel is the channel a Listener subscribes to for commit wakeups;
// the payload is the commit's last Position in "tx.pos" form.
const NotifyChannel = notifyChannel

// Store is the Postgres event store.
type Store struct {
	pool     *pgxpool.Pool
	notifier *Notifier // announces commits on NotifyChannel
	// committer makes pipelined commits, in groups when they come together.
	committer *committer
	// stepByStep turns the pipelined commit off (tests compare the paths).
	stepByStep bool
	// erasers run in every commit that redacts streams.
	erasers []Eraser
}

// New returns a Store on pool. The schema must be migrated (see Migrate).
// erasers run inside every commit that redacts streams (see Eraser).
func New(pool *pgxpool.Pool, erasers ...Eraser) *Store {
	s := &Store{pool: pool, notifier: NewNotifier(pool, notifyChannel), erasers: erasers}
	s.committer = &committer{store: s}
	return s
}

// Pool returns the connection pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// ConfigurePool prepares cfg for the store's pool: google/uuid values travel
// in Postgres's binary uuid form (pgx-google-uuid), not through their
// database/sql text form, which took 7% of a create's CPU in pgx's encoder;
// and JIT compilation is off unless the URL sets it (`?jit=on`). crm's queries
// are short index scans whose cost estimates can still pass jit_above_cost
// (a Kanban page of a rare prospect type): compiling them took 20–370 ms
// where running them takes 1, the Kanban's p99 at a million prospects was
// 22–47 ms with JIT and 3.9 ms without (crm bench, same machine).
func ConfigurePool(cfg *pgxpool.Config) {
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	next := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		pgxuuid.Register(conn.TypeMap())
		if next != nil {
			return next(ctx, conn)
		}
		return nil
	}
}

// OpenPool connects a pool to url configured by ConfigurePool.
func OpenPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	ConfigurePool(cfg)
	return pgxpool.NewWithConfig(ctx, cfg)
}
