package storetest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Begin opens a transaction on pool that the test holds open as long as it
// likes; the test's cleanup rolls it back (a no-op once it has committed or
// rolled back itself), so no early return leaves it open.
func Begin(tb testing.TB, pool *pgxpool.Pool) pgx.Tx {
	tb.Helper()
	tx, err := pool.Begin(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	// Not the test's context: it is canceled before the cleanups run.
	tb.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

// Acquire takes a connection of pool for the test alone, such as one that
// holds a session setting or a lock; the test's cleanup releases it.
func Acquire(tb testing.TB, pool *pgxpool.Pool) *pgxpool.Conn {
	tb.Helper()
	conn, err := pool.Acquire(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(conn.Release)
	return conn
}
