package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections/customers"
	"github.com/crmcore/crm/projections/feedback"
	"github.com/crmcore/crm/projections/leads"
	"github.com/crmcore/crm/projections/orders"
	"github.com/crmcore/crm/projections/pipelines"
)

// The reports workload seeds, when the tenant has fewer, reportLeads
// leads (at most the scale), and converts reportCustomers of them (at most
// a tenth) into customers with 0 to 6 orders each and feedback from every
// third: enough for every group of the counts to hold rows. The figures
// read counts tables whatever the number of leads.
const (
	reportLeads     = 2000
	reportCustomers = 200
)

// reportModels are the read models the seeding waits for.
var reportModels = []string{leads.Projection{}.Name(), customers.Projection{}.Name(), orders.Projection{}.Name(),
	feedback.Projection{}.Name(), pipelines.Projection{}.Name()}

// seedReports makes the tenant's customers, orders and feedback (and
// leads, if fewer than reportLeads) through the command handler.
func seedReports(ctx context.Context, env *benchEnv, cfg benchConfig) error {
	wantLeads := min(reportLeads, cfg.Scale)
	cc := commands.Context{TenantID: env.tenantID, Metadata: eventstore.Metadata{Actor: "bench", API: "bench"}}
	var last eventstore.Position
	var have int64
	if err := env.s.Pool.QueryRow(ctx, `select count(*) from rm_leads where tenant_id = $1`, env.tenantID).Scan(&have); err != nil {
		return err
	}
	for range max(0, wantLeads-int(have)) {
		p, status, err := benchLead(env.leads.take(1)).profile(env.cfg.Region)
		if err != nil {
			return err
		}
		res, err := env.cmds.CreateLead(ctx, cc, commands.CreateLead{Profile: p, Status: status, OnDuplicate: commands.MergeDuplicates})
		if err != nil {
			return fmt.Errorf("seed lead: %w", err)
		}
		last = res.Position
	}
	if !last.IsZero() && !env.s.Waiter.Wait(ctx, last, leads.Projection{}.Name()) {
		return fmt.Errorf("seed: the leads read model did not catch up")
	}
	rows, err := env.s.Pool.Query(ctx, `select id from rm_leads l where tenant_id = $1 and not exists
		(select 1 from rm_lead_customers c where c.tenant_id = l.tenant_id and c.lead_id = l.id) order by id limit $2`,
		env.tenantID, min(reportCustomers, max(1, wantLeads/10)))
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return err
	}
	for i, id := range ids {
		c, err := env.cmds.ConvertLead(ctx, cc, id)
		if err != nil {
			return fmt.Errorf("seed: convert lead %s: %w", id, err)
		}
		last = c.Position
		for range i % 7 {
			o, err := env.cmds.CreateOrder(ctx, cc, commands.CreateOrder{CustomerID: c.CustomerID,
				Order: domain.OrderDetails{ProductID: uuid.New(), Quantity: 1 + i%3}})
			if err != nil {
				return fmt.Errorf("seed: order: %w", err)
			}
			last = o.Position
		}
		if i%3 == 0 {
			f, err := env.cmds.RequestFeedback(ctx, cc, c.CustomerID)
			if err == nil {
				f, err = env.cmds.ReceiveFeedback(ctx, cc, f.FeedbackID, domain.FeedbackAnswer{Rating: 1 + i%5})
			}
			if err != nil {
				return fmt.Errorf("seed: feedback: %w", err)
			}
			last = f.Position
		}
	}
	if !last.IsZero() && !env.s.Waiter.Wait(ctx, last, reportModels...) {
		return fmt.Errorf("seed: the read models did not catch up")
	}
	return nil
}

// reportQuery is one report request: a window of days, or none.
type reportQuery struct {
	from, to time.Time // report days; zero: open
}

func randomReportQuery(rng *rand.Rand) reportQuery {
	today := leads.ReportDay(time.Now())
	switch rng.IntN(4) {
	case 0:
		return reportQuery{}
	case 1:
		return reportQuery{from: today.AddDate(0, 0, -6), to: today}
	case 2:
		return reportQuery{from: today.AddDate(0, 0, -29)}
	}
	return reportQuery{from: today.AddDate(0, 0, -89), to: today.AddDate(0, 0, -1)}
}

func (q reportQuery) String() string { return q.path("") }

// path is the route's request with the window.
func (q reportQuery) path(route string) string {
	v := url.Values{}
	if !q.from.IsZero() {
		v.Set("from", q.from.Format(time.DateOnly))
	}
	if !q.to.IsZero() {
		v.Set("to", q.to.Format(time.DateOnly))
	}
	return route + "?" + v.Encode()
}

// days are the window and the days of the per-day series, as the handler
// makes them (30 days without a first day).
func (q reportQuery) days() (window, series leads.Days) {
	window = leads.Days{First: q.from, Last: q.to}
	return window, window.Series(time.Now(), 30)
}

// sumCounts runs a counting statement and sums its last column (n); dated:
// its first column is a day, and the rows with one (a per-day series) are
// left out.
func sumCounts(ctx context.Context, pool *pgxpool.Pool, dated bool, sql string, args ...any) (int64, error) {
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var total, n int64
	var day *time.Time
	dest := make([]any, len(rows.FieldDescriptions())) // nil: skipped
	dest[len(dest)-1] = &n
	if dated {
		dest[0] = &day
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return 0, err
		}
		if day == nil {
			total += n
		}
	}
	return total, rows.Err()
}

// rawLeadReport runs the lead report's statement and, side by side as
// the handler does, the pipeline's statuses (pipelines.Reader.Statuses'
// statement), which name the tenant's own statuses.
func rawLeadReport(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, q reportQuery) (int64, error) {
	window, series := q.days()
	sql, args := leads.LeadReportSQL(tenant, window, series)
	var total int64
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		total, err = sumCounts(ctx, pool, true, sql, args...)
		return err
	})
	g.Go(func() error {
		_, err := pool.Exec(ctx, `select id, key, name, color from rm_pipeline_statuses where tenant_id=$1 order by position, id`, tenant)
		return err
	})
	return total, g.Wait()
}

// rawCustomerReport runs the customer report's statement.
func rawCustomerReport(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, q reportQuery) (int64, error) {
	_, series := q.days()
	sql, args := customers.ReportSQL(tenant, series)
	return sumCounts(ctx, pool, true, sql, args...)
}

// rawDashboard runs the dashboard's statements side by side, as the
// handler does: the lead report (with the pipeline's statuses), the
// customer report, the order counts and the feedback counts. Its total is leads + customers + orders,
// as the crm side sums it.
func rawDashboard(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID) (int64, error) {
	all := reportQuery{}
	var leadsN, customersN, ordersN int64
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		leadsN, err = rawLeadReport(ctx, pool, tenant, all)
		return err
	})
	g.Go(func() (err error) {
		customersN, err = rawCustomerReport(ctx, pool, tenant, all)
		return err
	})
	g.Go(func() (err error) {
		ordersN, err = sumCounts(ctx, pool, false, orders.CountsSQL, tenant)
		return err
	})
	g.Go(func() error {
		_, err := pool.Exec(ctx, feedback.CountsSQL, tenant)
		return err
	})
	err := g.Wait()
	return leadsN + customersN + ordersN, err
}

// benchReports times GET /dev/crm/reports/leads, /reports/customers and
// /analytics/dashboard through HTTP with an API key, one request at a
// time, each next to the same statements through pgx, alternating who
// goes first.
func benchReports(ctx context.Context, env *benchEnv, cfg benchConfig, r *benchReport) error {
	if err := seedReports(ctx, env, cfg); err != nil {
		return err
	}
	if err := settleReadModels(ctx, env); err != nil {
		return err
	}
	var nLeads, nCustomers int64
	if err := env.s.Pool.QueryRow(ctx, `select (select count(*) from rm_leads where tenant_id = $1),
		(select count(*) from rm_customers where tenant_id = $1)`, env.tenantID).Scan(&nLeads, &nCustomers); err != nil {
		return err
	}
	client := apiCall{client: newBenchClient(1), baseURL: env.baseURL, key: env.apiKey}
	n := max(200, min(cfg.Scale, 2000))
	total := func(field ...string) func([]byte) (int64, error) {
		return func(body []byte) (int64, error) {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(body, &m); err != nil {
				return 0, err
			}
			var sum int64
			for _, f := range field {
				var part struct{ Total int64 }
				if err := json.Unmarshal(m[f], &part); err != nil {
					return 0, err
				}
				sum += part.Total
			}
			return sum, nil
		}
	}
	whole := func(body []byte) (int64, error) {
		var t struct{ Total int64 }
		err := json.Unmarshal(body, &t)
		return t.Total, err
	}
	rng := rand.New(rand.NewPCG(5, 6))
	tenant := fmt.Sprintf("%d leads, %d customers", nLeads, nCustomers)
	if err := timeRoutes(ctx, env, r, client, n, func() reportQuery { return randomReportQuery(rng) }, "with an API key", tenant,
		routeBench[reportQuery]{"reports/leads", "/dev/crm/reports/leads", "by status and source, converted, new per day; no window or one of 7, 30 or 90 days",
			func(q reportQuery) (int64, error) { return rawLeadReport(ctx, env.s.Pool, env.tenantID, q) }, whole},
		routeBench[reportQuery]{"reports/customers", "/dev/crm/reports/customers", "by type, status and order segment, new per day; no window or one of 7, 30 or 90 days",
			func(q reportQuery) (int64, error) { return rawCustomerReport(ctx, env.s.Pool, env.tenantID, q) }, whole}); err != nil {
		return err
	}
	return timeRoutes(ctx, env, r, client, n, func() reportQuery { return reportQuery{} }, "with an API key", tenant,
		routeBench[reportQuery]{"analytics/dashboard", "/dev/crm/analytics/dashboard", "leads, customers, orders and feedback figures",
			func(reportQuery) (int64, error) { return rawDashboard(ctx, env.s.Pool, env.tenantID) },
			total("leads", "customers", "orders")})
}
