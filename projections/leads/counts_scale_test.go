package leads

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/projections"
)

// scaleTenant holds the million leads of TestListsAtScale.
var scaleTenant = uuid.MustParse("11111111-1111-1111-1111-111111111111")

// TestListsAtScale times list totals and pages at a million leads in one
// tenant, before (count(*), the old indexes, in schema "before") and after
// (the lead counts and list indexes, in public). It runs only with
// CRM_COUNTS_SCALE_URL, a scratch database it fills on first use (a few
// minutes) and keeps for later runs:
//
//	CRM_COUNTS_SCALE_URL=postgres://…/scratch go test ./projections -run TestListsAtScale -v -timeout 30m
//
// The leads are spread like cmd/crm/bench_load.go's (status New ×4 and
// Contacted ×2 of 10, 5 sources, 3 priorities), 5000 to a creation instant
// like the benchmark's COPY batches, all within Cratio's default 30 days.
func TestListsAtScale(t *testing.T) {
	url := os.Getenv("CRM_COUNTS_SCALE_URL")
	if url == "" {
		t.Skip("CRM_COUNTS_SCALE_URL is not set")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	fillScale(t, ctx, pool)
	today := countsDay(time.Now())
	type timing struct{ med, worst time.Duration }
	run := func(sql string, args []any) (timing, int64) {
		var ds []time.Duration
		var n int64
		for range 11 {
			t0 := time.Now()
			rows, err := pool.Query(ctx, sql, args...)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				if len(rows.FieldDescriptions()) == 1 {
					_ = rows.Scan(&n)
				} else {
					_ = rows.RawValues()
				}
			}
			rows.Close()
			ds = append(ds, time.Since(t0))
		}
		slices.Sort(ds)
		return timing{ds[len(ds)/2], ds[len(ds)-1]}, n
	}
	t.Logf("| filter | count(*) before | counts after | ratio | page before (offset 1000) | page after | ratio | index after |")
	for _, st := range []string{"", "Proposal", "New"} {
		for _, so := range []string{"", "partner"} {
			for _, pr := range []string{"", "High"} {
				f := Filter{TenantID: scaleTenant, CreatedFrom: today.AddDate(0, 0, -29), CreatedTo: today.AddDate(0, 0, 1),
					Status: st, Source: so, Priority: pr, Limit: 100, Offset: 1000}
				w := leadWhere(f)
				newCount, newArgs := countLeadsSQL(f, nil)
				args := append(w.Args, f.Limit, f.Offset)
				page := func(schema string) string {
					return `select ` + leadColumns + ` from ` + schema + `.rm_leads where ` + w.String() +
						fmt.Sprintf(` order by created_at desc, id desc limit $%d offset $%d`, len(args)-1, len(args))
				}
				oldC, oldN := run(`select count(*) from before.rm_leads where `+w.String(), w.Args)
				newC, newN := run(newCount, newArgs)
				if oldN != newN {
					t.Errorf("%+v: count(*) %d, counts %d", f, oldN, newN)
				}
				oldP, _ := run(page("before"), args)
				newP, _ := run(page("public"), args)
				rows, err := pool.Query(ctx, "explain "+page("public"), args...)
				if err != nil {
					t.Fatal(err)
				}
				plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					t.Fatal(err)
				}
				index := ""
				for _, l := range plan {
					if _, after, ok := strings.Cut(l, " using "); ok {
						index, _, _ = strings.Cut(after, " ")
						break
					}
				}
				name := strings.TrimSpace(fmt.Sprintf("%s %s %s", st, so, pr))
				if name == "" {
					name = "none"
				}
				t.Logf("| %s (%d) | %s (max %s) | %s (max %s) | %.0f× | %s (max %s) | %s (max %s) | %.1f× | %s |", name, newN,
					ms(oldC.med), ms(oldC.worst), ms(newC.med), ms(newC.worst), float64(oldC.med)/float64(newC.med),
					ms(oldP.med), ms(oldP.worst), ms(newP.med), ms(newP.worst), float64(oldP.med)/float64(newP.med), index)
			}
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// fillScale builds the million leads in public (with the lead counts) and a
// copy in schema before with rm_leads' indexes as they were.
func fillScale(t *testing.T, ctx context.Context, pool *pgxpool.Pool) {
	t.Helper()
	if err := projections.SetupAll(ctx, pool, []projections.Projection{Projection{}}); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := pool.QueryRow(ctx, `select count(*) from rm_leads where tenant_id = $1`, scaleTenant).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < 1000000 {
		t.Log("filling 1M leads (a few minutes)")
		if _, err := pool.Exec(ctx, `insert into rm_leads (tenant_id, id, number, name, email, phone, emails, phones, company,
			source, status, priority, assigned_to, profile, created_at, updated_at)
		select $1, (lpad(to_hex(g), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(h % 281474976710655), 12, '0'))::uuid,
			g, 'Bench Lead ' || g, 'lead' || g || '@bench.example', '+9198' || lpad(g::text, 8, '0'),
			array['lead' || g || '@bench.example'], array['+9198' || lpad(g::text, 8, '0')], 'Company ' || (h % 5000) || ' Pvt Ltd',
			(array['website', 'referral', 'google_ads', 'trade_show', 'partner'])[1 + (h >> 16) % 5],
			(array['New', 'New', 'New', 'New', 'Contacted', 'Contacted', 'Qualified', 'Proposal', 'Won', 'Lost'])[1 + (h >> 24) % 10],
			(array['Low', 'Medium', 'High'])[1 + (h >> 32) % 3], 'agent' || ((h >> 40) % 20) || '@bench.example',
			jsonb_build_object('name', 'Bench Lead ' || g, 'city', 'Pune', 'deal_value', h % 200000, 'tags', array['bench', 'inbound'],
				'notes', 'Asked for a callback about pricing for the annual plan.'),
			now() - interval '3 hours' + (g / 5000) * interval '1 second', now() - interval '3 hours' + (g / 5000) * interval '1 second'
		from (select g, abs(hashint8(g)::bigint * 2654435761) as h from generate_series(1, 1000000) g) s`, scaleTenant); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `create schema if not exists before`); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `select count(*) from information_schema.tables where table_schema = 'before' and table_name = 'rm_leads'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		if _, err := pool.Exec(ctx, `create table before.rm_leads as select * from public.rm_leads;
			alter table before.rm_leads add primary key (tenant_id, id);
			create unique index on before.rm_leads (tenant_id, number);
			create index on before.rm_leads (tenant_id, created_at desc, id desc);
			create index on before.rm_leads (tenant_id, status, created_at desc);
			create index on before.rm_leads (tenant_id, source, created_at desc);
			create index on before.rm_leads (tenant_id, assigned_to, created_at desc)`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `analyze public.rm_leads; analyze before.rm_leads; analyze rm_lead_counts; analyze rm_lead_counts_daily`); err != nil {
		t.Fatal(err)
	}
}
