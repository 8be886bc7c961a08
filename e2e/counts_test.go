package e2e

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/leads"
)

// countsLead is a lead the counts test made, as the test knows it.
type countsLead struct {
	number   int64
	email    string
	archived bool
}

// countsTenant is one tenant of the counts test and the leads it holds.
type countsTenant struct {
	id    uuid.UUID
	key   string
	leads []*countsLead // live (not deleted)
	seq   int
}

// ist is the zone of Cratio's calendar days (the list filters' dates).
var ist = time.FixedZone("IST", 5*3600+1800)

// TestListTotalsMatchCountsAfterRandomWrites creates, edits, moves between
// statuses, archives, restores and deletes leads at random through the
// three APIs in two tenants (with a replay of the leads read model in the
// middle, so later writes land on swapped-in tables), then checks every
// list total the APIs answer against count(*) on rm_leads, and the lead
// counts against a replay of the event store.
func TestListTotalsMatchCountsAfterRandomWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("hundreds of random writes and a replay, one at a time")
	}
	s := newStack(t)
	rng := rand.New(rand.NewPCG(7, 11))
	b, bKey := s.newTenant("counts-b")
	tenants := []*countsTenant{{id: s.tenantID, key: s.key}, {id: b, key: bKey}}
	for _, round := range []int{0, 1} {
		for range 70 {
			countsStep(t, s, rng, tenants[rng.IntN(2)])
		}
		if round == 0 {
			s.caughtUp()
			if err := projections.Replay(s.ctx, s.core.Store, leads.Projection{}, 7, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.caughtUp()
	for _, tn := range tenants {
		checkTotals(t, s, tn)
	}
	var stray int
	if err := s.core.Pool.QueryRow(s.ctx, `select
		(select count(*) from (select tenant_id, status, source, priority, archived, count(*) from rm_leads group by 1, 2, 3, 4, 5
			except all select tenant_id, status, source, priority, archived, n from rm_lead_counts) a) +
		(select count(*) from (select tenant_id, status, source, priority, archived, n from rm_lead_counts
			except all select tenant_id, status, source, priority, archived, count(*) from rm_leads group by 1, 2, 3, 4, 5) b) +
		(select count(*) from (select tenant_id, status, prospect_type, archived, count(*), sum(deal_value) from rm_leads group by 1, 2, 3, 4
			except all select tenant_id, status, prospect_type, archived, n, value from rm_prospect_counts) c) +
		(select count(*) from (select tenant_id, status, prospect_type, archived, n, value from rm_prospect_counts
			except all select tenant_id, status, prospect_type, archived, count(*), sum(deal_value) from rm_leads group by 1, 2, 3, 4) d)`).Scan(&stray); err != nil {
		t.Fatal(err)
	}
	if stray != 0 {
		t.Errorf("rm_lead_counts, rm_prospect_counts: %d rows differ from the groups of rm_leads", stray)
	}
	s.assertReplayEqual()
}

var (
	countsStatuses = []string{"New", "Contacted", "Qualified", "Proposal", "Won", "Lost"}
	countsSources  = []string{"web", "ads", ""}
	countsAgents   = []string{"a@agents.example", "b@agents.example"}
)

// countsStep makes one random write in tn.
func countsStep(t *testing.T, s *stack, rng *rand.Rand, tn *countsTenant) {
	t.Helper()
	ok := func(r response, status int) {
		t.Helper()
		if r.Status != status {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	}
	pick := func() *countsLead { return tn.leads[rng.IntN(len(tn.leads))] }
	op := rng.IntN(10)
	if len(tn.leads) < 3 {
		op = 0
	}
	switch op {
	case 0, 1, 2: // create, through one of the three APIs
		tn.seq++
		email := fmt.Sprintf("c%d-%s@counts.example", tn.seq, tn.id.String()[:8])
		var r response
		switch rng.IntN(3) {
		case 0:
			body := map[string]any{"name": fmt.Sprintf("Lead %d", tn.seq), "email": email,
				"status": countsStatuses[rng.IntN(6)], "priority": []string{"Low", "Medium", "High"}[rng.IntN(3)]}
			if src := countsSources[rng.IntN(3)]; src != "" {
				body["source"] = src
			}
			if rng.IntN(2) == 0 {
				body["assigned_to"] = countsAgents[rng.IntN(2)]
			}
			r = s.do(tn.key, "POST", "/api/v1/leads", body)
		case 1:
			body := laPerson(fmt.Sprintf("Lead%d", tn.seq), email)
			body["statusId"] = 1 + rng.IntN(6)
			if src := countsSources[rng.IntN(3)]; src != "" {
				body["source"] = src
			}
			r = s.do(tn.key, "POST", "/leads", body)
		default:
			r = s.do(tn.key, "POST", "/api/crm/lead", map[string]any{"lead_name": fmt.Sprintf("Lead %d", tn.seq), "email_id": email,
				"status": []string{"Lead", "Won", "Lost"}[rng.IntN(3)]})
		}
		ok(r, http.StatusCreated)
		// The response waits for the read models, up to a bound a loaded
		// machine can pass.
		var number int64
		storetest.WaitFor(t, 20*time.Second, func() (bool, error) {
			err := s.core.Pool.QueryRow(s.ctx, `select number from rm_leads where tenant_id = $1 and email = $2`, tn.id, email).Scan(&number)
			if errors.Is(err, pgx.ErrNoRows) {
				return false, nil
			}
			return err == nil, err
		})
		tn.leads = append(tn.leads, &countsLead{number: number, email: email})
	case 3: // replace the profile: a new source, no priority or assignee
		l := pick()
		body := map[string]any{"firstName": fmt.Sprintf("Edited%d", rng.IntN(100)), "email": l.email}
		if src := countsSources[rng.IntN(3)]; src != "" {
			body["source"] = src
		}
		ok(s.do(tn.key, "PUT", "/leads/"+strconv.FormatInt(l.number, 10), body), http.StatusOK)
	case 4, 5: // change statuses, in bulk
		ids := []int64{pick().number, pick().number}
		if ids[0] == ids[1] {
			ids = ids[:1]
		}
		ok(s.do(tn.key, "PUT", "/leads/change-status", map[string]any{"ids": ids, "statusId": 1 + rng.IntN(6)}), http.StatusOK)
	case 6: // archive or restore
		l := pick()
		path := "/leads/archive"
		if l.archived {
			path = "/leads/restore"
		}
		ok(s.do(tn.key, "PATCH", path, map[string]any{"ids": []int64{l.number}}), http.StatusOK)
		l.archived = !l.archived
	case 7: // status change through Overplane
		var id uuid.UUID
		l := pick()
		if err := s.core.Pool.QueryRow(s.ctx, `select id from rm_leads where tenant_id = $1 and number = $2`, tn.id, l.number).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ok(s.do(tn.key, "PATCH", "/api/crm/lead/lead_"+strings.ReplaceAll(id.String(), "-", ""),
			map[string]any{"status": []string{"Lead", "Contacted", "Won"}[rng.IntN(3)]}), http.StatusOK)
	default: // delete for good
		i := rng.IntN(len(tn.leads))
		ok(s.do(tn.key, "DELETE", "/leads", map[string]any{"ids": []int64{tn.leads[i].number}}), http.StatusOK)
		tn.leads = append(tn.leads[:i], tn.leads[i+1:]...)
	}
}

// checkTotals compares every kind of list total the three APIs answer for
// tn with count(*) on rm_leads.
func checkTotals(t *testing.T, s *stack, tn *countsTenant) {
	t.Helper()
	count := func(cond string, args ...any) int {
		t.Helper()
		var n int
		if err := s.core.Pool.QueryRow(s.ctx, `select count(*) from rm_leads where tenant_id = $1 and `+cond,
			append([]any{tn.id}, args...)...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Cratio: the filters with each kind of date range (the default 30
	// days, open ends, one day, a long range).
	today := time.Now().In(ist)
	day := func(d int) string { return today.AddDate(0, 0, d).Format(time.DateOnly) }
	start := func(date string) time.Time {
		d, err := time.ParseInLocation(time.DateOnly, date, ist)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ranges := [][2]string{{"", ""}, {day(-400), ""}, {"", day(0)}, {day(0), day(0)}, {day(-1), day(1)}, {day(-800), day(30)}, {day(1), day(40)}}
	checked := 0
	for _, rg := range ranges {
		for _, status := range append([]string{""}, countsStatuses...) {
			for _, source := range []string{"", "web", "ads"} {
				for _, priority := range []string{"", "High"} {
					for _, agent := range []string{"", countsAgents[0]} {
						q := url.Values{}
						cond, args := []string{"not archived"}, []any{}
						add := func(param, col, v string) {
							if v != "" {
								q.Set(param, v)
								args = append(args, v)
								cond = append(cond, fmt.Sprintf("%s = $%d", col, len(args)+1))
							}
						}
						add("status", "status", status)
						add("source", "source", source)
						add("priority", "priority", priority)
						add("assigned_to", "assigned_to", agent)
						from, to := rg[0], rg[1]
						if from == "" && to == "" {
							from, to = day(-29), day(0)
						} else {
							if from != "" {
								q.Set("from_date", from)
							}
							if to != "" {
								q.Set("to_date", to)
							}
						}
						if from != "" {
							args = append(args, start(from))
							cond = append(cond, fmt.Sprintf("created_at >= $%d", len(args)+1))
						}
						if to != "" {
							args = append(args, start(to).AddDate(0, 0, 1))
							cond = append(cond, fmt.Sprintf("created_at < $%d", len(args)+1))
						}
						want := count(strings.Join(cond, " and "), args...)
						if got := s.listLeads(tn.key, "?limit=1&"+q.Encode()).Total; got != want {
							t.Errorf("GET /api/v1/leads?%s: total %d, rm_leads has %d", q.Encode(), got, want)
						}
						checked++
					}
				}
			}
		}
	}
	// Leads API: the state and the status.
	for _, state := range []struct{ param, cond string }{{"", "not archived"}, {"Active", "not archived"}, {"Archived", "archived"}, {"All", "true"}} {
		for statusID := 0; statusID <= 6; statusID++ {
			q := url.Values{}
			if state.param != "" {
				q.Set("state", state.param)
			}
			cond, args := state.cond, []any{}
			if statusID > 0 {
				q.Set("statusId", strconv.Itoa(statusID))
				cond += " and status = $2"
				args = append(args, countsStatuses[statusID-1])
			}
			got, _ := s.laList(tn.key, "?"+q.Encode())
			if want := count(cond, args...); got != want {
				t.Errorf("GET /leads?%s: count %d, rm_leads has %d", q.Encode(), got, want)
			}
			checked++
		}
	}
	// Overplane: every live lead.
	if got, want := s.opList(tn.key, "?limit=1").Total, count("not archived"); got != want {
		t.Errorf("GET /api/crm/lead: total %d, rm_leads has %d", got, want)
	}
	// The Leads API's total-leads cards and status deletion read the counts.
	byStatus, err := leads.NewReader(s.core.Pool).CountByStatus(s.ctx, tn.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range countsStatuses {
		if got, want := byStatus[st], count("not archived and status = $2", st); int(got) != want {
			t.Errorf("CountByStatus %s: %d, rm_leads has %d", st, got, want)
		}
		used, err := leads.NewReader(s.core.Pool).StatusInUse(s.ctx, tn.id, st)
		if err != nil {
			t.Fatal(err)
		}
		if want := count("status = $2", st) > 0; used != want {
			t.Errorf("StatusInUse %s: %v, rm_leads says %v", st, used, want)
		}
	}
	t.Logf("tenant %s: %d live leads, %d list totals checked", tn.id, len(tn.leads), checked+1)
}
