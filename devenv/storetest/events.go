package storetest

import (
	"testing"
	"time"

	"github.com/crmcore/crm/eventstore"
)

// Committed returns every committed event of store, in commit order.
//
// ReadAll shows an event once every older transaction of the whole Postgres
// cluster has ended, and tests of other packages may hold one open on a
// shared server for a moment: Committed waits, up to timeout, until
// ReadAll returns as many events as the table holds.
func Committed(tb testing.TB, store *eventstore.Store, timeout time.Duration) []eventstore.Event {
	tb.Helper()
	var committed int
	if err := store.Pool().QueryRow(tb.Context(), `select count(*) from events`).Scan(&committed); err != nil {
		tb.Fatal(err)
	}
	var all []eventstore.Event
	WaitFor(tb, timeout, func() (bool, error) {
		all = all[:0]
		var after eventstore.Position
		for {
			batch, err := store.ReadAll(tb.Context(), after, 1000)
			if err != nil {
				return false, err
			}
			if len(batch) == 0 {
				return len(all) >= committed, nil
			}
			all = append(all, batch...)
			after = batch[len(batch)-1].Position
		}
	})
	return all
}

// MustCommit commits c to store, failing the test on an error.
func MustCommit(tb testing.TB, store *eventstore.Store, c eventstore.Commit) eventstore.CommitResult {
	tb.Helper()
	res, err := store.Commit(tb.Context(), c)
	if err != nil {
		tb.Fatalf("commit: %v", err)
	}
	return res
}
