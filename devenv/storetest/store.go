package storetest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/eventstore"
)

// Store returns a store on a fresh, migrated database of this test's own
// (Postgres); its pool closes when the test ends.
func Store(tb testing.TB) *eventstore.Store {
	tb.Helper()
	// Not the test's context: the pool outlives it, until the cleanup.
	pool, err := pgxpool.New(context.Background(), Postgres(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	if err := eventstore.Migrate(tb.Context(), pool); err != nil {
		tb.Fatal(err)
	}
	return eventstore.New(pool)
}
