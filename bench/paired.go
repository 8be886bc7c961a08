package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// pairedBudget bounds the time a read workload measures for: at a million
// leads a slow query shape can take seconds, and past the budget (and at
// least 200 requests) the percentiles are taken as they are.
const pairedBudget = 2 * time.Minute

// pairedWarmup requests run before a read workload measures.
const pairedWarmup = 50

// pairedRound is one round of a read workload: a request to crm and the
// same query as raw SQL, each returning the total it counted.
type pairedRound struct {
	crm, raw func() (total int64, err error)
	// seen, when set, gets the round's times once it is measured (after
	// the warm-up).
	seen func(crm, raw time.Duration)
}

// timePaired times n rounds of a read workload after pairedWarmup, within
// pairedBudget: each round's crm request and raw query in turn (inTurn),
// and counts the rounds whose totals differ — a baseline that no longer
// asks what crm asks. done is how many rounds were measured.
func timePaired(n int, round func(i int) pairedRound) (crmLat, rawLat *latencies, mismatches, done int, err error) {
	crmLat, rawLat = &latencies{}, &latencies{}
	budget := time.Now().Add(pairedBudget)
	done = n
	for i := range n + pairedWarmup {
		if i >= pairedWarmup+200 && time.Now().After(budget) {
			done = i - pairedWarmup
			break
		}
		r := round(i)
		var crmTotal, rawTotal int64
		var crmD, rawD time.Duration
		timed := func(f func() (int64, error), total *int64, d *time.Duration) func() error {
			return func() (err error) {
				t := time.Now()
				*total, err = f()
				*d = time.Since(t)
				return err
			}
		}
		if err := inTurn(i, timed(r.crm, &crmTotal, &crmD), timed(r.raw, &rawTotal, &rawD)); err != nil {
			return crmLat, rawLat, mismatches, done, err
		}
		if crmTotal != rawTotal {
			mismatches++
		}
		if i >= pairedWarmup {
			crmLat.add(crmD)
			rawLat.add(rawD)
			if r.seen != nil {
				r.seen(crmD, rawD)
			}
		}
	}
	return crmLat, rawLat, mismatches, done, nil
}

// inTurn runs a and b, a first in even rounds and b first in odd ones, so
// that neither gets the other's warm cache for free.
func inTurn(round int, a, b func() error) error {
	if round%2 == 1 {
		a, b = b, a
	}
	if err := a(); err != nil {
		return err
	}
	return b()
}

// get is GET path's body, an error unless it answered 200.
func (a apiCall) get(ctx context.Context, path string) ([]byte, error) {
	status, _, body, err := a.do(ctx, http.MethodGet, path, nil)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("GET %s: HTTP %d: %.200s", path, status, body)
	}
	return body, err
}

// routeQuery is a random query of a read route: its path under the route,
// and how a note names it.
type routeQuery interface {
	path(route string) string
	String() string
}

// routeBench is a read route timed against its raw SQL, one request at a
// time: shape says what the queries ask, raw runs the same SQL via pgx,
// total reads the figure both count from crm's answer.
type routeBench[Q routeQuery] struct {
	workload, route, shape string
	raw                    func(Q) (int64, error)
	total                  func(body []byte) (int64, error)
}

// timeRoutes times n GETs of each route through client against its raw SQL
// in turn (timePaired), a query from next each round, and adds a row per
// route (target p99 ≤ 10 ms): auth says what the requests carry ("with a
// JWT"), tenant the tenant's size ("12 prospects").
func timeRoutes[Q routeQuery](ctx context.Context, env *benchEnv, r *benchReport, client apiCall, n int, next func() Q,
	auth, tenant string, routes ...routeBench[Q]) error {
	for _, w := range routes {
		env.logger.Info("bench: "+w.workload, "requests", n, "tenant", tenant)
		var slowest time.Duration
		var slowestQ Q
		crmLat, rawLat, mismatches, done, err := timePaired(n, func(int) pairedRound {
			q := next()
			return pairedRound{
				crm: func() (int64, error) {
					body, err := client.get(ctx, q.path(w.route))
					if err != nil {
						return 0, err
					}
					return w.total(body)
				},
				raw: func() (int64, error) { return w.raw(q) },
				seen: func(_, rawD time.Duration) {
					if rawD > slowest {
						slowest, slowestQ = rawD, q
					}
				},
			}
		})
		if err != nil {
			return err
		}
		crmP99, rawP99 := crmLat.pct(0.99), rawLat.pct(0.99)
		r.add(benchRow{
			workload: w.workload,
			crm: fmt.Sprintf("p50 %s, p99 %s (%d GET %s %s: %s; %s in the tenant)",
				ms(crmLat.pct(0.5)), ms(crmP99), done, w.route, auth, w.shape, tenant),
			baseline: fmt.Sprintf("p50 %s, p99 %s (the same SQL via pgx)", ms(rawLat.pct(0.5)), ms(rawP99)),
			ratio:    ratio(float64(crmP99), float64(rawP99)) + " (p99)",
			target:   "p99 ≤ 10 ms",
			met:      crmP99 <= 10*time.Millisecond,
		})
		if mismatches > 0 {
			r.note("%s: %d of %d requests answered other figures than the raw SQL: the baseline no longer matches the reader",
				w.workload, mismatches, done)
		}
		r.note("%s: slowest raw query %s (%s)", w.workload, ms(slowest), slowestQ)
	}
	return nil
}
