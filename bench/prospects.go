package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/projections/leads"
)

// kanbanQuery is one Kanban page (or, without paging, the KPIs) of the
// prospects API: counts-only filters (type, source), a sort among the
// indexed columns, a page of each category.
type kanbanQuery struct {
	typ           int
	partner       bool
	sortBy        string
	desc          bool
	start, length int
}

func randomKanbanQuery(rng *rand.Rand) kanbanQuery {
	q := kanbanQuery{sortBy: []string{"", "id", "company_name", "account_value", "last_contact"}[rng.IntN(5)],
		desc: rng.IntN(2) == 0, start: []int{0, 0, 0, 25}[rng.IntN(4)], length: []int{10, 25}[rng.IntN(2)]}
	if rng.IntN(10) < 3 {
		q.typ = 1 + rng.IntN(2)
	}
	q.partner = rng.IntN(10) == 0
	return q
}

func (q kanbanQuery) String() string {
	return fmt.Sprintf("type %d partner %v sortBy %q desc %v start %d length %d", q.typ, q.partner, q.sortBy, q.desc, q.start, q.length)
}

// path is the route's request: the filters, and for the Kanban the page.
func (q kanbanQuery) path(route string) string {
	v := url.Values{}
	if q.typ > 0 {
		v.Set("type", strconv.Itoa(q.typ))
	}
	if q.partner {
		v.Set("source", "partner")
	}
	if route == "/prospects/grouped" {
		v.Set("start", strconv.Itoa(q.start))
		v.Set("length", strconv.Itoa(q.length))
		if q.sortBy != "" {
			v.Set("sortBy", q.sortBy)
			v.Set("sortType", map[bool]string{false: "asc", true: "desc"}[q.desc])
		}
	}
	return route + "?" + v.Encode()
}

// filter is the read model's filter the handler builds for q.
func (q kanbanQuery) filter(tenant uuid.UUID) leads.ProspectFilter {
	f := leads.ProspectFilter{TenantID: tenant, Source: leads.SourceCompany}
	if q.partner {
		f.Source = leads.SourcePartner
	}
	if q.typ > 0 {
		f.Types = []int{q.typ}
	}
	return f
}

// rawKPIs runs the KPI statement and returns the prospects counted.
func rawKPIs(ctx context.Context, pool *pgxpool.Pool, f leads.ProspectFilter) (int64, error) {
	sql, args := leads.KPIStatement(f)
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return 0, fmt.Errorf("kpis: %w", err)
	}
	defer rows.Close()
	var total int64
	for rows.Next() {
		var status string
		var n int64
		var value float64
		if err := rows.Scan(&status, &n, &value); err != nil {
			return 0, err
		}
		total += n
	}
	return total, rows.Err()
}

// rawKanban runs the statement leads.Reader.Kanban runs for q and reads
// each category's count, skipping the records' columns.
func rawKanban(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, q kanbanQuery) (int64, error) {
	sql, args, err := leads.KanbanStatement(q.filter(tenant), q.start, q.length, leads.ProspectSort{By: q.sortBy, Desc: q.desc})
	if err != nil {
		return 0, err
	}
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return 0, fmt.Errorf("kanban: %w", err)
	}
	defer rows.Close()
	var total, n int64
	var last, status string
	dest := make([]any, len(rows.FieldDescriptions())) // nil past the first two: skipped
	dest[0], dest[1] = &status, &n
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return 0, err
		}
		if status != last {
			total, last = total+n, status
		}
	}
	return total, rows.Err()
}

// benchProspects times the prospects API's Kanban page (GET
// /prospects/grouped) and KPIs (GET /prospects/kpis) through HTTP with a
// JWT, one request at a time, each next to the same statements through
// pgx, alternating who goes first.
func benchProspects(ctx context.Context, env *benchEnv, cfg benchConfig, r *benchReport) error {
	if err := settleReadModels(ctx, env); err != nil {
		return err
	}
	var prospects int64
	if err := env.s.Pool.QueryRow(ctx, `select count(*) from rm_leads where tenant_id = $1 and not archived`, env.tenantID).Scan(&prospects); err != nil {
		return err
	}
	client := apiCall{client: newBenchClient(1), baseURL: env.baseURL, key: env.token}
	n := max(200, min(cfg.Scale, 2000))
	rng := rand.New(rand.NewPCG(3, 4))
	return timeRoutes(ctx, env, r, client, n, func() kanbanQuery { return randomKanbanQuery(rng) },
		"with a JWT", fmt.Sprintf("%d prospects", prospects),
		routeBench[kanbanQuery]{"kanban", "/prospects/grouped", "a page of 10 or 25 per category, sorted by id, company, account value or last contact, type/source filters",
			func(q kanbanQuery) (int64, error) { return rawKanban(ctx, env.s.Pool, env.tenantID, q) },
			func(body []byte) (int64, error) {
				var k struct{ Categories []struct{ Count int64 } }
				err := json.Unmarshal(body, &k)
				var sum int64
				for _, c := range k.Categories {
					sum += c.Count
				}
				return sum, err
			}},
		routeBench[kanbanQuery]{"kpis", "/prospects/kpis", "count and account value per category, type/source filters",
			func(q kanbanQuery) (int64, error) {
				return rawKPIs(ctx, env.s.Pool, q.filter(env.tenantID))
			},
			func(body []byte) (int64, error) {
				var k []struct{ Count int64 }
				err := json.Unmarshal(body, &k)
				var sum int64
				for _, c := range k {
					sum += c.Count
				}
				return sum, err
			}})
}
