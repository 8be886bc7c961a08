package leads

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/devenv/storetest"

	"github.com/crmcore/crm/projections"
)

// newLeadsDB returns a pool on a fresh database with the Leads tables.
func newLeadsDB(t *testing.T) (*pgxpool.Pool, context.Context) {
	t.Helper()
	ctx := context.Background()
	pool := storetest.Store(t).Pool()
	if err := projections.SetupAll(ctx, pool, []projections.Projection{Projection{}}); err != nil {
		t.Fatal(err)
	}
	return pool, ctx
}

// countsDiff is how many rows of the count tables in schema differ from the
// groups of that schema's rm_leads.
func countsDiff(t *testing.T, ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, schema string) int64 {
	t.Helper()
	day := fmt.Sprintf(`((created_at at time zone 'UTC') + interval '%d seconds')::date`, countsZoneOffset)
	sql := strings.NewReplacer("S.", schema+".", "DAY", day).Replace(`select
		(select count(*) from (select tenant_id, status, source, priority, archived, count(*) from S.rm_leads group by 1, 2, 3, 4, 5
			except all select tenant_id, status, source, priority, archived, n from S.rm_lead_counts) a) +
		(select count(*) from (select tenant_id, status, source, priority, archived, n from S.rm_lead_counts
			except all select tenant_id, status, source, priority, archived, count(*) from S.rm_leads group by 1, 2, 3, 4, 5) b) +
		(select count(*) from (select tenant_id, DAY, status, source, priority, archived, count(*) from S.rm_leads group by 1, 2, 3, 4, 5, 6
			except all select tenant_id, day, status, source, priority, archived, n from S.rm_lead_counts_daily) c) +
		(select count(*) from (select tenant_id, day, status, source, priority, archived, n from S.rm_lead_counts_daily
			except all select tenant_id, DAY, status, source, priority, archived, count(*) from S.rm_leads group by 1, 2, 3, 4, 5, 6) d) +
		(select count(*) from (select tenant_id, status, prospect_type, archived, count(*), sum(deal_value) from S.rm_leads group by 1, 2, 3, 4
			except all select tenant_id, status, prospect_type, archived, n, value from S.rm_prospect_counts) e) +
		(select count(*) from (select tenant_id, status, prospect_type, archived, n, value from S.rm_prospect_counts
			except all select tenant_id, status, prospect_type, archived, count(*), sum(deal_value) from S.rm_leads group by 1, 2, 3, 4) f)`)
	var n int64
	if err := db.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var (
	testStatuses   = []string{"New", "Contacted", "Won"}
	testSources    = []string{"", "web", "ads"}
	testPriorities = []string{"", "Low", "High"}
	testAgents     = []string{"", "a@x.example", "b@x.example"}
)

// execer is a pool or a transaction.
type execer interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}

// insertLeads writes n leads of tenant straight into rm_leads (as a bulk
// rebuild would), created at random times in the 90 days before now.
func insertLeads(t *testing.T, ctx context.Context, db execer, rng *rand.Rand, tenant uuid.UUID, first, n int, now time.Time) {
	t.Helper()
	for i := first; i < first+n; i++ {
		created := now.Add(-time.Duration(rng.Int64N(int64(90 * 24 * time.Hour))))
		if _, err := db.Exec(ctx, `insert into rm_leads (tenant_id, id, number, source, status, priority, assigned_to, archived, created_at, updated_at,
				prospect_type, deal_value)
			values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)`, tenant, uuid.New(), i,
			testSources[rng.IntN(3)], testStatuses[rng.IntN(3)], testPriorities[rng.IntN(3)], testAgents[rng.IntN(3)],
			rng.IntN(5) == 0, created, 1+rng.IntN(3), float64(rng.IntN(100000))/100); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLeadCountsFollowEveryWrite writes rm_leads every way there is (row
// inserts, a multi-row insert, COPY, updates of counted and uncounted
// columns, deletes, TRUNCATE) and checks the counts after each.
func TestLeadCountsFollowEveryWrite(t *testing.T) {
	pool, ctx := newLeadsDB(t)
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := uuid.New(), uuid.New()
	now := time.Now()
	insertLeads(t, ctx, pool, rng, a, 1, 200, now)
	insertLeads(t, ctx, pool, rng, b, 1, 100, now)
	steps := []struct{ name, sql string }{
		{"multi-row insert", `insert into rm_leads (tenant_id, id, number, status, created_at, updated_at)
			select $1, gen_random_uuid(), 1000 + g, 'Won', now() - g * interval '7 hours', now() from generate_series(1, 50) g`},
		{"status change", `update rm_leads set status = 'Lost' where tenant_id = $1 and number % 3 = 0`},
		{"profile edit", `update rm_leads set name = 'renamed', updated_at = now() where tenant_id = $1`},
		{"deal value", `update rm_leads set deal_value = deal_value + number where tenant_id = $1 and number % 3 = 1`},
		{"prospect type", `update rm_leads set prospect_type = 1 + number % 3 where tenant_id = $1`},
		{"archive", `update rm_leads set archived = not archived where tenant_id = $1 and number % 4 = 1`},
		{"re-date", `update rm_leads set created_at = created_at - interval '5 hours' where tenant_id = $1 and number % 5 = 2`},
		{"swap sources", `update rm_leads set source = case source when 'web' then 'ads' when 'ads' then 'web' else source end where tenant_id = $1`},
		{"empty a group", `delete from rm_leads where tenant_id = $1 and status = 'Lost'`},
		{"upsert", `insert into rm_leads (tenant_id, id, number, status, created_at, updated_at)
			select tenant_id, id, number, 'Contacted', created_at, now() from rm_leads where tenant_id = $1 and number % 2 = 0
			on conflict (tenant_id, id) do update set status = excluded.status`},
		{"delete", `delete from rm_leads where tenant_id = $1 and number % 7 = 0`},
	}
	for _, st := range steps {
		if _, err := pool.Exec(ctx, st.sql, a); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if d := countsDiff(t, ctx, pool, "public"); d != 0 {
			t.Fatalf("after %s: %d count rows differ from rm_leads", st.name, d)
		}
	}
	// Several statements in one transaction, a rolled-back savepoint among
	// them, then a TRUNCATE followed by more writes.
	for _, tx := range [][]string{
		{`insert into rm_leads (tenant_id, id, number, status, created_at, updated_at)
			select $1, gen_random_uuid(), 2000 + g, 'New', now() - g * interval '1 day', now() from generate_series(1, 20) g`,
			`savepoint s`,
			`update rm_leads set status = 'Won' where tenant_id = $1 and number > 2010`,
			`delete from rm_leads where tenant_id = $1 and number between 2001 and 2005`,
			`rollback to savepoint s`,
			`update rm_leads set archived = true where tenant_id = $1 and number between 2003 and 2008`,
			`delete from rm_leads where tenant_id = $1 and number = 2020`},
		{`delete from rm_leads where tenant_id = $1 and number = -1`, // matches nothing
			`update rm_leads set status = 'Contacted' where tenant_id = $1 and number = -1`,
			`insert into rm_leads (tenant_id, id, number, status, created_at, updated_at) values ($1, gen_random_uuid(), 3000, 'Won', now(), now())`},
		{`update rm_leads set status = 'Qualified' where tenant_id = $1`,
			`truncate rm_leads`,
			`insert into rm_leads (tenant_id, id, number, status, created_at, updated_at)
			select $1, gen_random_uuid(), g, 'New', now() - g * interval '3 hours', now() from generate_series(1, 40) g`,
			`update rm_leads set status = 'Won' where tenant_id = $1 and number % 2 = 0`},
	} {
		if err := pgx.BeginFunc(ctx, pool, func(t pgx.Tx) error {
			for _, st := range tx {
				var args []any
				if strings.Contains(st, "$1") {
					args = []any{a}
				}
				if _, err := t.Exec(ctx, st, args...); err != nil {
					return fmt.Errorf("%s: %w", st, err)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if d := countsDiff(t, ctx, pool, "public"); d != 0 {
			t.Fatalf("after transaction %q: %d count rows differ from rm_leads", tx, d)
		}
	}
	var zeros int
	if err := pool.QueryRow(ctx, `select (select count(*) from rm_lead_counts where n = 0) + (select count(*) from rm_lead_counts_daily where n = 0)
		+ (select count(*) from rm_prospect_counts where n = 0)
		+ (select count(*) from rm_lead_count_deltas)`).Scan(&zeros); err != nil || zeros != 0 {
		t.Fatalf("%d empty groups or deltas kept (%v)", zeros, err)
	}
	// COPY, as a set-based rebuild fills the table.
	rows := [][]any{}
	for i := range 300 {
		rows = append(rows, []any{b, uuid.New(), int64(5000 + i), testStatuses[i%3], testSources[i%3], now.Add(-time.Duration(i) * time.Hour), now})
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"rm_leads"}, []string{"tenant_id", "id", "number", "status", "source", "created_at", "updated_at"},
		pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	if d := countsDiff(t, ctx, pool, "public"); d != 0 {
		t.Fatalf("after COPY: %d count rows differ", d)
	}
	if _, err := pool.Exec(ctx, `truncate rm_leads`); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := pool.QueryRow(ctx, `select (select count(*) from rm_lead_counts) + (select count(*) from rm_lead_counts_daily)
		+ (select count(*) from rm_prospect_counts)`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("after TRUNCATE: %d count rows left (%v)", left, err)
	}
}

// TestLeadCountsInAReplaySchema builds the Leads tables in a schema of
// their own the way replay does (search_path), fills them, writes to them
// also by qualified name from a session whose search_path does not name
// the schema, swaps them into public, and writes again: the counts follow
// their own rm_leads throughout, and public's are never touched before the
// swap.
func TestLeadCountsInAReplaySchema(t *testing.T) {
	pool, ctx := newLeadsDB(t)
	rng := rand.New(rand.NewPCG(3, 4))
	tenant := uuid.New()
	now := time.Now()
	insertLeads(t, ctx, pool, rng, tenant, 1, 50, now)
	inSchema := func(f func(tx pgx.Tx) error) {
		t.Helper()
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `select set_config('search_path', 'replay_leads, public', true)`); err != nil {
				return err
			}
			return f(tx)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `create schema replay_leads`); err != nil {
		t.Fatal(err)
	}
	inSchema(func(tx pgx.Tx) error {
		if err := (Projection{}).Setup(ctx, tx); err != nil {
			return err
		}
		insertLeads(t, ctx, tx, rng, tenant, 1, 120, now)
		_, err := tx.Exec(ctx, `update rm_leads set status = 'Lost' where number % 2 = 0`)
		return err
	})
	// Qualified, from a session that resolves names elsewhere.
	if _, err := pool.Exec(ctx, `update replay_leads.rm_leads set archived = true where number % 3 = 0;
		delete from replay_leads.rm_leads where number % 11 = 0`); err != nil {
		t.Fatal(err)
	}
	for _, schema := range []string{"public", "replay_leads"} {
		if d := countsDiff(t, ctx, pool, schema); d != 0 {
			t.Fatalf("%s: %d count rows differ", schema, d)
		}
	}
	var public int64
	if err := pool.QueryRow(ctx, `select sum(n) from public.rm_lead_counts`).Scan(&public); err != nil || public != 50 {
		t.Fatalf("public counts %d (%v), want the 50 public leads", public, err)
	}
	// The swap, as replay does it.
	inSchema(func(tx pgx.Tx) error {
		for _, table := range (Projection{}).Tables() {
			if _, err := tx.Exec(ctx, `drop table if exists public.`+table+`; alter table replay_leads.`+table+` set schema public`); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `drop schema replay_leads cascade`)
		return err
	})
	insertLeads(t, ctx, pool, rng, tenant, 1000, 30, now)
	if _, err := pool.Exec(ctx, `update rm_leads set status = 'Won' where number % 5 = 0`); err != nil {
		t.Fatal(err)
	}
	if d := countsDiff(t, ctx, pool, "public"); d != 0 {
		t.Fatalf("after the swap: %d count rows differ", d)
	}
	// Setting up again finds everything in place and changes nothing.
	if err := projections.SetupAll(ctx, pool, []projections.Projection{Projection{}}); err != nil {
		t.Fatal(err)
	}
	if d := countsDiff(t, ctx, pool, "public"); d != 0 {
		t.Fatalf("after setup: %d count rows differ", d)
	}
}

// TestLeadCountsBackfill sets up the counts on an rm_leads that had none
// (a database from before them): they are counted from the rows.
func TestLeadCountsBackfill(t *testing.T) {
	pool, ctx := newLeadsDB(t)
	rng := rand.New(rand.NewPCG(5, 6))
	insertLeads(t, ctx, pool, rng, uuid.New(), 1, 80, time.Now())
	if _, err := pool.Exec(ctx, `drop table rm_lead_counts, rm_lead_counts_daily;
		drop trigger crm_counts_insert on rm_leads; drop trigger crm_counts_update on rm_leads;
		drop trigger crm_counts_delete on rm_leads; drop trigger crm_counts_truncate on rm_leads`); err != nil {
		t.Fatal(err)
	}
	if err := projections.SetupAll(ctx, pool, []projections.Projection{Projection{}}); err != nil {
		t.Fatal(err)
	}
	if d := countsDiff(t, ctx, pool, "public"); d != 0 {
		t.Fatalf("%d count rows differ", d)
	}
}

// TestListTotalsAreExact compares ListLeads' total with count(*) for random
// filters and creation ranges: open, long, shorter than a day, on counts
// days' boundaries and off them.
func TestListTotalsAreExact(t *testing.T) {
	pool, ctx := newLeadsDB(t)
	rng := rand.New(rand.NewPCG(7, 8))
	now := time.Now()
	a, b := uuid.New(), uuid.New()
	insertLeads(t, ctx, pool, rng, a, 1, 600, now)
	insertLeads(t, ctx, pool, rng, b, 1, 200, now)
	r := NewReader(pool)
	day := countsDay(now)
	instant := func() time.Time {
		switch rng.IntN(4) {
		case 0:
			return time.Time{}
		case 1: // a counts day's start
			return day.AddDate(0, 0, -rng.IntN(120)+10)
		case 2: // a UTC midnight
			return day.AddDate(0, 0, -rng.IntN(120)+10).Truncate(24 * time.Hour)
		default:
			return now.Add(-time.Duration(rng.Int64N(int64(120*24*time.Hour))) + 10*24*time.Hour)
		}
	}
	for i := range 600 {
		f := Filter{TenantID: []uuid.UUID{a, b}[rng.IntN(2)], CreatedFrom: instant(), CreatedTo: instant(),
			Status: []string{"", "New", "Won", "Nope"}[rng.IntN(4)], Source: testSources[rng.IntN(3)],
			Priority: testPriorities[rng.IntN(3)], Limit: 5}
		if rng.IntN(6) == 0 {
			f.AssignedTo = testAgents[1+rng.IntN(2)]
		}
		switch rng.IntN(3) {
		case 0:
			f.IncludeArchived = true
		case 1:
			f.OnlyArchived = true
		}
		if i%10 == 0 { // short ranges
			f.CreatedFrom = now.Add(-time.Duration(rng.Int64N(int64(90 * 24 * time.Hour))))
			f.CreatedTo = f.CreatedFrom.Add(time.Duration(rng.Int64N(int64(36 * time.Hour))))
		}
		_, got, err := r.ListLeads(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		w := leadWhere(f)
		var want int64
		if err := pool.QueryRow(ctx, `select count(*) from rm_leads where `+w.String(), w.Args...).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			sql, _ := countLeadsSQL(f, nil)
			t.Fatalf("filter %+v: total %d, count(*) %d\n%s", f, got, want, sql)
		}
	}
}
