// Package eventstore is the write side's source of truth: an append-only log
// of events in Postgres, written in one transaction per commit, read per
// stream or globally in commit order, with NOTIFY wakeups for tailing readers.
package eventstore

import (
	"github.com/jackc/pgx/v5/pgxpool"
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
	// stepByStep turns the pipelined commit off (tests compare the paths).
	stepByStep bool
}

// New returns a Store on pool. The schema must be migrated (see Migrate).
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, notifier: NewNotifier(pool, notifyChannel)}
}

// Pool returns the connection pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
