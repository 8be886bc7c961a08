package eventstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
)

// TestNoEventsRefusedAfterAWrite: the declaration must come first. A
// transaction that has a transaction id already (it wrote, and may have
// written events) is refused, so "declare first" is a rule, not a habit.
func TestNoEventsRefusedAfterAWrite(t *testing.T) {
	s := newStore(t)
	tx := storetest.Begin(t, s.Pool())
	ctx := t.Context()
	if _, err := tx.Exec(ctx, `insert into counters (tenant_id, name, value) values ($1, 'n', 1)`, newID(t)); err != nil {
		t.Fatal(err)
	}
	_, err := tx.Exec(ctx, "select "+eventstore.NoEvents)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25001" {
		t.Fatalf("NoEvents after a write: err = %v, want refused (25001)", err)
	}
}

// TestAnalyzeDoesNotHoldReadersBack: an ANALYZE of KeepStatistics that is
// still running once it has taken a transaction id (here: waiting for a
// row of pg_statistic another transaction has locked) does not keep a later
// commit from readers: it declared it writes no events.
func TestAnalyzeDoesNotHoldReadersBack(t *testing.T) {
	s, tenant, _, cursor := tailedFirst(t)
	ctx := t.Context()

	conn := storetest.Acquire(t, s.Pool())
	grow := func() {
		t.Helper()
		for _, q := range []string{
			"insert into growing select g from generate_series(1, 1000) g",
			"select pg_stat_force_next_flush()",
			"select 1", // the counters reach pg_stat_user_tables at this statement's end
		} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := conn.Exec(ctx, `create table growing (id int) with (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	grow()
	if _, err := eventstore.AnalyzeStale(ctx, s.Pool()); err != nil {
		t.Fatal(err)
	}
	grow()

	// The holder locks the table's statistics, which the next ANALYZE
	// updates. (It declares first: its own lock takes a transaction id.)
	holder := storetest.Begin(t, s.Pool())
	if _, err := holder.Exec(ctx, `select `+eventstore.NoEvents+`,
		(select count(*) from (select from pg_statistic where starelid = 'growing'::regclass for update) s)`); err != nil {
		t.Fatal(err)
	}
	analyzed := make(chan error, 1)
	go func() {
		_, err := eventstore.AnalyzeStale(ctx, s.Pool())
		analyzed <- err
	}()
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		var n int
		err := s.Pool().QueryRow(ctx, `select count(*) from pg_stat_activity
			where datname = current_database() and query like 'analyze%' and wait_event_type = 'Lock'`).Scan(&n)
		return n == 1, err
	})

	b := mustCommit(t, s, appendTo(tenant, newID(t), eventstore.NoStream, ev("B", 1)))
	if got := tailOnce(t, s, cursor, "B"); got != b.Position {
		t.Fatalf("read B at %v, commit said %v", got, b.Position)
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-analyzed; err != nil {
		t.Fatal(err)
	}
}
