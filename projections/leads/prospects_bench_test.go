package leads

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/projections"
)

// BenchmarkProspects times a Kanban page and the KPIs over one tenant's
// prospects (CRM_PROSPECTS_BENCH_N of them, 100,000 unless set; the
// issue's scale is 1,000,000), written straight into rm_leads as a bulk
// rebuild would, six statuses, three prospect types:
//
//	go test ./projections/leads -run '^$' -bench Prospects -benchtime 200x
func BenchmarkProspects(b *testing.B) {
	n := 100000
	if s := os.Getenv("CRM_PROSPECTS_BENCH_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	pool := storetest.Store(b).Pool()
	if err := projections.SetupAll(ctx, pool, []projections.Projection{Projection{}}); err != nil {
		b.Fatal(err)
	}
	tenant := uuid.New()
	if _, err := pool.Exec(ctx, `insert into rm_leads (tenant_id, id, number, name, email, company, status, assigned_to, archived,
			created_at, updated_at, deal_value, prospect_type, monthly_shipments, last_contact, status_changed_at)
		select $1, gen_random_uuid(), g, 'n' || g, 'e' || g || '@x.example', 'co' || (g % 5000),
			(array['New', 'Contacted', 'Qualified', 'Proposal', 'Won', 'Lost'])[1 + g % 6], 'agent' || (g % 40) || '@x.example',
			g % 50 = 0, now() - g * interval '1 minute', now(), (g % 1000) * 10.5, 1 + (g / 7) % 3, g % 700,
			case when g % 3 = 0 then null else now() - g * interval '1 second' end, now()
		from generate_series(1, $2) g`, tenant, n); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `analyze rm_leads; analyze rm_prospect_counts`); err != nil {
		b.Fatal(err)
	}
	r := NewReader(pool)
	company := ProspectFilter{TenantID: tenant}
	for _, c := range []struct {
		name string
		run  func() error
	}{
		{"kanban-page/value", func() error {
			_, err := r.Kanban(ctx, company, 0, 25, ProspectSort{By: "account_value", Desc: true})
			return err
		}},
		{"kanban-page/last-contact-offset-500", func() error {
			_, err := r.Kanban(ctx, company, 500, 25, ProspectSort{By: "last_contact"})
			return err
		}},
		{"kanban-page/one-category", func() error {
			_, err := r.Kanban(ctx, ProspectFilter{TenantID: tenant, Category: "Won"}, 0, 25, ProspectSort{})
			return err
		}},
		{"kpis", func() error {
			_, err := r.KPIs(ctx, company)
			return err
		}},
		{"kpis/partner", func() error {
			_, err := r.KPIs(ctx, ProspectFilter{TenantID: tenant, Source: SourcePartner})
			return err
		}},
		{"kpis/salesman (counted on rm_leads)", func() error {
			_, err := r.KPIs(ctx, ProspectFilter{TenantID: tenant, Salesmen: []string{"agent7@x.example"}})
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
