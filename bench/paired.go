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
