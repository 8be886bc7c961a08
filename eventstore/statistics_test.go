package eventstore_test

import (
	"slices"
	"testing"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
)

// TestAnalyzeStaleAsTablesDouble grows a table (autovacuum off for it, so
// only AnalyzeStale analyzes it) and wants it analyzed at 1,000 rows, not
// again until it has changed by as many rows as it had, then again.
func TestAnalyzeStaleAsTablesDouble(t *testing.T) {
	s := newStore(t)
	conn := storetest.Acquire(t, s.Pool())
	ctx := t.Context()
	if _, err := conn.Exec(ctx, `create table growing (id int primary key) with (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	next := 0
	grow := func(n int) {
		t.Helper()
		if _, err := conn.Exec(ctx, "insert into growing select g from generate_series($1::int, $2::int) g", next+1, next+n); err != nil {
			t.Fatal(err)
		}
		next += n
		// Table counters reach pg_stat_user_tables at most once a second
		// unless flushed: flush them at this statement's end.
		if _, err := conn.Exec(ctx, "select pg_stat_force_next_flush()"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "select 1"); err != nil {
			t.Fatal(err)
		}
	}
	analyzed := func() bool {
		t.Helper()
		tables, err := eventstore.AnalyzeStale(ctx, s.Pool())
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(tables, "public.growing")
	}
	reltuples := func() float64 {
		t.Helper()
		var n float64
		if err := s.Pool().QueryRow(ctx, "select reltuples from pg_class where oid = 'growing'::regclass").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	grow(999)
	if analyzed() {
		t.Fatal("analyzed at 999 rows, want the first analysis at 1,000")
	}
	grow(1)
	if !analyzed() {
		t.Fatal("not analyzed at 1,000 rows")
	}
	if n := reltuples(); n != 1000 {
		t.Fatalf("reltuples = %v after the analysis, want 1000", n)
	}
	grow(999)
	if analyzed() {
		t.Fatal("analyzed again after 999 more rows, want after 1,000 (the table doubled)")
	}
	grow(1)
	if !analyzed() {
		t.Fatal("not analyzed once the table doubled")
	}
	if n := reltuples(); n != 2000 {
		t.Fatalf("reltuples = %v, want 2000", n)
	}
}
