package leads

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

var prospectBase = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// applyProspects applies, through Projection.Apply, the events of n random
// prospects of tenant (created, status changes, interactions logged,
// changed and deleted, archives), then gives some of them the profile
// fields LeadProfile does not have yet, as a later writer will.
func applyProspects(t *testing.T, ctx context.Context, pool *pgxpool.Pool, rng *rand.Rand, tenant uuid.UUID, n int) {
	t.Helper()
	at := func() time.Time { return prospectBase.Add(time.Duration(rng.IntN(60*24)) * time.Hour) }
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for i := 1; i <= n; i++ {
			lead := uuid.New()
			apply := func(typ string, data any, recorded time.Time) error {
				b, err := json.Marshal(data)
				if err != nil {
					return err
				}
				return Projection{}.Apply(ctx, tx, eventstore.Event{ID: uuid.New(), TenantID: tenant, StreamType: domain.LeadStream,
					StreamID: lead, Type: typ, SchemaVersion: domain.SchemaVersion, Data: b, RecordedAt: recorded})
			}
			p := domain.LeadProfile{Name: fmt.Sprintf("n%03d", rng.IntN(1000)), Company: fmt.Sprintf("co%03d", rng.IntN(1000)),
				Emails: []string{fmt.Sprintf("e%04d@x.example", i)}, ProspectType: rng.IntN(4),
				MonthlyShipments: []string{"", "150", "100-500", "20", "many"}[rng.IntN(5)],
				CampaignID:       []string{"", "c1", "c2"}[rng.IntN(3)], QualificationState: []string{"", "qualified", "unqualified"}[rng.IntN(3)],
				AssignedTo: testAgents[rng.IntN(3)]}
			if rng.IntN(4) > 0 {
				v := float64(rng.IntN(1000000)) / 100
				p.DealValue = &v
			}
			if rng.IntN(3) == 0 {
				lc := at()
				p.LastContact = &lc
			}
			created := at()
			if err := apply(domain.LeadCreated, domain.LeadCreatedData{LeadID: lead, Number: int64(i), Profile: p,
				Status: domain.Status(testStatuses[rng.IntN(3)])}, created); err != nil {
				return err
			}
			if rng.IntN(3) == 0 {
				if err := apply(domain.LeadStatusChanged, domain.LeadStatusChangedData{LeadID: lead, To: domain.Status(testStatuses[rng.IntN(3)])},
					created.Add(time.Duration(1+rng.IntN(100))*time.Hour)); err != nil {
					return err
				}
			}
			for k := range rng.IntN(4) {
				it := domain.Interaction{ID: uuid.New(), Number: int64(i*10 + k), Kind: domain.KindCall, OccurredAt: at()}
				if rng.IntN(2) == 0 {
					next := at()
					it.NextActionAt = &next
				}
				if err := apply(domain.LeadInteractionLogged, domain.InteractionData{OwnerID: lead, Interaction: it}, at()); err != nil {
					return err
				}
				switch rng.IntN(4) {
				case 0:
					it.OccurredAt, it.NextActionAt = at(), nil
					if err := apply(domain.LeadInteractionChanged, domain.InteractionData{OwnerID: lead, Interaction: it}, at()); err != nil {
						return err
					}
				case 1:
					if err := apply(domain.LeadInteractionDeleted, domain.RecordRemovedData{OwnerID: lead, Number: it.Number}, at()); err != nil {
						return err
					}
				}
			}
			if rng.IntN(8) == 0 {
				if err := apply(domain.LeadArchived, domain.LeadLifecycleData{LeadID: lead}, at()); err != nil {
					return err
				}
			}
		}
		_, err := tx.Exec(ctx, `update rm_leads set profile = profile || jsonb_build_object(
				'ecommerce_type_id', 1 + number % 3, 'weight_id', 1 + number % 2, 'content_id', 1 + number % 4,
				'estimated_close_date', to_char(date '2026-03-01' + (number * 7 % 90)::int, 'YYYY-MM-DD'))
			where tenant_id = $1 and number % 5 <> 0`, tenant)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// refProspect is a prospect with what the test's own filter and order
// read of it.
type refProspect struct {
	Prospect
	name, email, phone, company, campaign, leadStatus, assigned string
	ecommerce, weight, content, estClose                        *string
}

func loadRefs(t *testing.T, ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID) []refProspect {
	t.Helper()
	rows, err := pool.Query(ctx, `select `+prospectColumns+`, name, email, phone, company, campaign_id, qualification_status, assigned_to,
		profile->>'ecommerce_type_id', profile->>'weight_id', profile->>'content_id', `+estimatedClose+`
		from rm_leads where tenant_id = $1`, tenant)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (refProspect, error) {
		var r refProspect
		var profile []byte
		err := row.Scan(&r.ID, &r.Number, &r.Status, &r.Archived, &profile, &r.CreatedAt, &r.UpdatedAt,
			&r.ProspectType, &r.DealValue, &r.MonthlyShipments, &r.FirstContact, &r.LastContact, &r.NextContact,
			&r.StatusChangedAt, &r.EstimatedCloseDate, &r.name, &r.email, &r.phone, &r.company, &r.campaign, &r.leadStatus,
			&r.assigned, &r.ecommerce, &r.weight, &r.content, &r.estClose)
		return r, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

// matches is f, read independently of the SQL.
func (r refProspect) matches(f ProspectFilter) bool {
	in := func(v string, set []string) bool { return len(set) == 0 || slices.Contains(set, v) }
	inIDs := func(v *string, ids []int64) bool {
		if len(ids) == 0 {
			return true
		}
		return v != nil && slices.ContainsFunc(ids, func(id int64) bool { return fmt.Sprint(id) == *v })
	}
	timeIn := func(v *time.Time, from, to time.Time) bool {
		if from.IsZero() && to.IsZero() {
			return true
		}
		return v != nil && (from.IsZero() || !v.Before(from)) && (to.IsZero() || v.Before(to))
	}
	typeOK := (r.ProspectType == 3) == (f.Source == SourcePartner)
	est := func() bool {
		if f.EstimatedCloseFrom.IsZero() && f.EstimatedCloseTo.IsZero() && f.EstimatedCloseMonth == "" {
			return true
		}
		if r.estClose == nil {
			return false
		}
		d := *r.estClose
		return (f.EstimatedCloseFrom.IsZero() || d >= f.EstimatedCloseFrom.Format(time.DateOnly)) &&
			(f.EstimatedCloseTo.IsZero() || d < f.EstimatedCloseTo.Format(time.DateOnly)) &&
			(f.EstimatedCloseMonth == "" || strings.HasPrefix(d, f.EstimatedCloseMonth))
	}
	return !r.Archived && typeOK && !f.RoleFilter &&
		(f.Category == "" || r.Status == f.Category) && in(r.Status, f.Follow) &&
		(len(f.Types) == 0 || slices.Contains(f.Types, r.ProspectType)) &&
		(f.Search == "" || strings.Contains(strings.ToLower(r.name+" "+r.email+" "+r.phone+" "+r.company), strings.ToLower(f.Search))) &&
		inIDs(r.ecommerce, f.Ecommerce) && inIDs(r.weight, f.WeightIDs) && inIDs(r.content, f.ContentIDs) &&
		in(r.campaign, f.Campaigns) && in(r.assigned, f.Salesmen) && in(r.leadStatus, f.LeadStatuses) &&
		(f.MinShipments == nil || (r.MonthlyShipments != nil && *r.MonthlyShipments >= *f.MinShipments)) &&
		timeIn(&r.CreatedAt, f.CreatedFrom, f.CreatedTo) && timeIn(r.NextContact, f.NextContactFrom, f.NextContactTo) && est()
}

// key is r's value of a sort expression; nil is SQL's null.
func (r refProspect) key(expr string) any {
	switch expr {
	case "number":
		return r.Number
	case "company":
		return r.company
	case "name":
		return r.name
	case "email":
		return r.email
	case "status":
		return r.Status
	case "assigned_to":
		return r.assigned
	case "campaign_id":
		return r.campaign
	case "qualification_status":
		return r.leadStatus
	case "deal_value":
		return r.DealValue
	case "monthly_shipments":
		if r.MonthlyShipments == nil {
			return nil
		}
		return *r.MonthlyShipments
	case "first_contact", "last_contact", "next_contact":
		v := map[string]*time.Time{"first_contact": r.FirstContact, "last_contact": r.LastContact, "next_contact": r.NextContact}[expr]
		if v == nil {
			return nil
		}
		return v.UnixMicro()
	case "status_changed_at":
		return r.StatusChangedAt.UnixMicro()
	case estimatedClose:
		if r.estClose == nil {
			return nil
		}
		return *r.estClose
	}
	panic("no key " + expr)
}

func compareKeys(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1 // nulls last, ascending
	case b == nil:
		return -1
	}
	switch a := a.(type) {
	case int64:
		return cmp.Compare(a, b.(int64))
	case float64:
		return cmp.Compare(a, b.(float64))
	case string:
		return strings.Compare(a, b.(string))
	}
	panic(fmt.Sprintf("key %T", a))
}

// The test's reading of what each shown column sorts on: days since a
// time sort as the time the other way round; a column with one value for
// every record (of a category) sorts by number.
var (
	wantListSorts = map[string]sortKey{
		"id": {expr: "number"}, "company_name": {expr: "company"}, "follow_name": {expr: "status"},
		"salesman_name": {expr: "assigned_to"}, "balance": {expr: "number"}, "account_value": {expr: "deal_value"},
		"first_contact": {expr: "first_contact"}, "last_contact": {expr: "last_contact"},
		"days_uc": {expr: "status_changed_at", inverted: true}, "days_without_contact": {expr: "last_contact", inverted: true},
		"next_contact": {expr: "next_contact"}, "monthly_shipments_desc": {expr: "monthly_shipments"},
		"campaign": {expr: "campaign_id"}, "lead_status": {expr: "qualification_status"},
		"estimated_close_date": {expr: estimatedClose},
	}
	wantKanbanSorts = map[string]sortKey{
		"id": {expr: "number"}, "company_name": {expr: "company"}, "name": {expr: "name"}, "email": {expr: "email"},
		"account_value": {expr: "deal_value"}, "last_contact": {expr: "last_contact"},
		"monthly_shipments": {expr: "monthly_shipments"}, "salesman_name": {expr: "assigned_to"},
		"follow_up_id": {expr: "number"}, "follow_name": {expr: "number"}, "balance": {expr: "number"},
		"verified": {expr: "number"}, "tier": {expr: "number"}, "services": {expr: "number"},
	}
)

// ordered is refs in order s among sorts: ascending by key then number,
// and exactly the reverse for the other direction.
func ordered(refs []refProspect, sorts map[string]sortKey, s ProspectSort) []refProspect {
	out := slices.Clone(refs)
	k, desc := sortKey{expr: "number"}, true
	if s.By != "" {
		k, desc = sorts[s.By], s.Desc != sorts[s.By].inverted
	}
	slices.SortFunc(out, func(a, b refProspect) int {
		return cmp.Or(compareKeys(a.key(k.expr), b.key(k.expr)), cmp.Compare(a.Number, b.Number))
	})
	if desc {
		slices.Reverse(out)
	}
	return out
}

func numbers[T interface{ number() int64 }](rows []T) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.number()
	}
	return out
}

func (p Prospect) number() int64     { return p.Number }
func (r refProspect) number() int64  { return r.Number }
func (r KanbanRecord) number() int64 { return r.Number }

func randomProspectFilter(rng *rand.Rand, tenant uuid.UUID) ProspectFilter {
	f := ProspectFilter{TenantID: tenant}
	some := func() bool { return rng.IntN(5) == 0 }
	if some() {
		f.Category = []string{"New", "Won", "Nope"}[rng.IntN(3)]
	}
	if some() {
		f.Follow = []string{"Contacted", "Won"}[:1+rng.IntN(2)]
	}
	if some() {
		f.Types = []int{1, 3, 2}[:1+rng.IntN(3)]
	}
	f.Source = []ProspectSource{"", SourceCompany, SourcePartner}[rng.IntN(3)]
	if rng.IntN(3) == 0 { // the counts' filters only
		return f
	}
	if some() {
		f.Search = []string{"co0", "N01", "e001", "%"}[rng.IntN(4)]
	}
	if some() {
		f.Ecommerce = []int64{1, 3}[:1+rng.IntN(2)]
	}
	if some() {
		f.WeightIDs = []int64{2}
	}
	if some() {
		f.ContentIDs = []int64{1, 4}
	}
	if some() {
		f.Campaigns = []string{"c1"}
	}
	if some() {
		f.Salesmen = testAgents[1 : 2+rng.IntN(2)]
	}
	if some() {
		f.LeadStatuses = []string{"qualified", ""}[:1+rng.IntN(2)]
	}
	if rng.IntN(20) == 0 {
		f.RoleFilter = true
	}
	if some() {
		m := []int64{20, 100, 150}[rng.IntN(3)]
		f.MinShipments = &m
	}
	day := func() time.Time { return prospectBase.AddDate(0, 0, rng.IntN(60)) }
	if some() {
		f.CreatedFrom = day()
	}
	if some() {
		f.CreatedTo = day()
	}
	if some() {
		f.NextContactFrom, f.NextContactTo = day(), day().AddDate(0, 0, 30)
	}
	if some() {
		f.EstimatedCloseFrom = day()
	}
	if some() {
		f.EstimatedCloseTo = day().AddDate(0, 1, 0)
	}
	if some() {
		f.EstimatedCloseMonth = []string{"2026-04", "2026-05"}[rng.IntN(2)]
	}
	return f
}

// TestProspectQueries checks Kanban, ProspectList and KPIs against the
// test's own reading of random filters, sorts and pages over prospects
// folded from events: every filter, every sort both ways, pages, counts
// from rm_prospect_counts and from rm_leads, and another tenant's
// prospects never showing.
func TestProspectQueries(t *testing.T) {
	pool, ctx := newLeadsDB(t)
	rng := rand.New(rand.NewPCG(11, 12))
	a, b := uuid.New(), uuid.New()
	applyProspects(t, ctx, pool, rng, a, 300)
	applyProspects(t, ctx, pool, rng, b, 120)
	if d := countsDiff(t, ctx, pool, "public"); d != 0 {
		t.Fatalf("%d count rows differ from rm_leads", d)
	}
	refs := map[uuid.UUID][]refProspect{a: loadRefs(t, ctx, pool, a), b: loadRefs(t, ctx, pool, b)}
	var withContacts int
	for _, r := range refs[a] {
		if r.FirstContact != nil && r.NextContact != nil && r.EstimatedCloseDate != "" {
			withContacts++
		}
	}
	if withContacts == 0 {
		t.Fatal("no prospect with contact times and an estimated close date")
	}
	r := NewReader(pool)
	var counted, uncounted int
	for i := range 300 {
		tenant := []uuid.UUID{a, b}[rng.IntN(2)]
		f := randomProspectFilter(rng, tenant)
		if _, c := prospectWhere(f); c {
			counted++
		} else {
			uncounted++
		}
		var want []refProspect
		for _, p := range refs[tenant] {
			if p.matches(f) {
				want = append(want, p)
			}
		}
		// KPIs.
		type kpi struct {
			n int64
			v float64
		}
		wantKPI := map[string]kpi{}
		for _, p := range want {
			k := wantKPI[p.Status]
			wantKPI[p.Status] = kpi{k.n + 1, k.v + p.DealValue}
		}
		kpis, err := r.KPIs(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(kpis) != len(wantKPI) {
			t.Fatalf("filter %+v: kpis %+v, want %+v", f, kpis, wantKPI)
		}
		for _, k := range kpis {
			w := wantKPI[k.Status]
			if k.Count != w.n || math.Abs(k.Value-w.v) > 1e-6 {
				t.Fatalf("filter %+v: kpi %+v, want %+v", f, k, w)
			}
		}
		// The list, in a random order and page.
		cols := make([]string, 0, len(wantListSorts))
		for c := range wantListSorts {
			cols = append(cols, c)
		}
		slices.Sort(cols)
		s := ProspectSort{By: append(cols, "")[rng.IntN(len(cols)+1)], Desc: rng.IntN(2) == 0}
		start, length := rng.IntN(40), 1+rng.IntN(60)
		total, filtered, rows, err := r.ProspectList(ctx, f, start, length, s)
		if err != nil {
			t.Fatal(err)
		}
		var wantTotal int64
		for _, p := range refs[tenant] {
			if p.matches(ProspectFilter{TenantID: tenant, Source: f.Source}) {
				wantTotal++
			}
		}
		all := ordered(want, wantListSorts, s)
		page := all[min(start, len(all)):min(start+length, len(all))]
		if total != wantTotal || filtered != int64(len(want)) || !slices.Equal(numbers(rows), numbers(page)) {
			t.Fatalf("%d: filter %+v sort %+v [%d,+%d): total %d filtered %d rows %v, want %d %d %v",
				i, f, s, start, length, total, filtered, numbers(rows), wantTotal, len(want), numbers(page))
		}
		// The Kanban.
		kcols := make([]string, 0, len(wantKanbanSorts))
		for c := range wantKanbanSorts {
			kcols = append(kcols, c)
		}
		slices.Sort(kcols)
		ks := ProspectSort{By: append(kcols, "")[rng.IntN(len(kcols)+1)], Desc: rng.IntN(2) == 0}
		offset, limit := rng.IntN(10), rng.IntN(8)
		cats, err := r.Kanban(ctx, f, offset, limit, ks)
		if err != nil {
			t.Fatal(err)
		}
		if len(cats) != len(wantKPI) {
			t.Fatalf("filter %+v: %d categories, want %d", f, len(cats), len(wantKPI))
		}
		for _, c := range cats {
			var in []refProspect
			for _, p := range want {
				if p.Status == c.Status {
					in = append(in, p)
				}
			}
			all := ordered(in, wantKanbanSorts, ks)
			page := all[min(offset, len(all)):min(offset+limit, len(all))]
			if c.Count != int64(len(in)) || !slices.Equal(numbers(c.Records), numbers(page)) {
				t.Fatalf("filter %+v sort %+v [%d,+%d) %s: count %d records %v, want %d %v",
					f, ks, offset, limit, c.Status, c.Count, numbers(c.Records), len(in), numbers(page))
			}
		}
	}
	if counted < 30 || uncounted < 30 {
		t.Fatalf("%d filters counted, %d not: want both", counted, uncounted)
	}
	// Every sort of both, both ways, on the whole tenant.
	if len(wantListSorts) != len(listSorts) || len(wantKanbanSorts) != len(kanbanSorts) {
		t.Errorf("the queries sort by %d and %d columns, the test reads %d and %d",
			len(listSorts), len(kanbanSorts), len(wantListSorts), len(wantKanbanSorts))
	}
	for sorts, valid := range map[*map[string]sortKey]func(string) bool{&wantListSorts: ValidListSort, &wantKanbanSorts: ValidKanbanSort} {
		for by := range *sorts {
			if !valid(by) {
				t.Errorf("%s: not valid", by)
			}
			for _, desc := range []bool{false, true} {
				s := ProspectSort{By: by, Desc: desc}
				f := ProspectFilter{TenantID: a}
				var want []refProspect
				for _, p := range refs[a] {
					if p.matches(f) {
						want = append(want, p)
					}
				}
				_, _, rows, err := r.ProspectList(ctx, f, 0, 1000, s)
				got := numbers(rows)
				if sorts == &wantKanbanSorts {
					var cats []KanbanCategory
					cats, err = r.Kanban(ctx, f, 0, 1000, s)
					got = nil
					for _, c := range cats {
						got = append(got, numbers(c.Records)...)
					}
					slices.SortStableFunc(want, func(x, y refProspect) int { return strings.Compare(x.Status, y.Status) })
					var byStatus []refProspect
					for _, st := range []string{"Contacted", "New", "Won"} {
						var in []refProspect
						for _, p := range want {
							if p.Status == st {
								in = append(in, p)
							}
						}
						byStatus = append(byStatus, ordered(in, wantKanbanSorts, s)...)
					}
					want = byStatus
				} else {
					want = ordered(want, wantListSorts, s)
				}
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, numbers(want)) {
					t.Errorf("sort %+v: %v\nwant %v", s, got, numbers(want))
				}
			}
		}
	}
	for _, by := range []string{"nope", "days", "profile"} {
		if ValidListSort(by) || ValidKanbanSort(by) {
			t.Errorf("%s: valid", by)
		}
		if _, err := r.Kanban(ctx, ProspectFilter{TenantID: a}, 0, 5, ProspectSort{By: by}); err == nil {
			t.Errorf("Kanban sorted by %s: no error", by)
		}
		if _, _, _, err := r.ProspectList(ctx, ProspectFilter{TenantID: a}, 0, 5, ProspectSort{By: by}); err == nil {
			t.Errorf("list sorted by %s: no error", by)
		}
	}
	// A tenant with no prospects sees none of the others'.
	if cats, err := r.Kanban(ctx, ProspectFilter{TenantID: uuid.New()}, 0, 10, ProspectSort{}); err != nil || len(cats) != 0 {
		t.Errorf("another tenant's Kanban: %v, %v", cats, err)
	}
	if total, filtered, rows, err := r.ProspectList(ctx, ProspectFilter{TenantID: uuid.New(), Search: "co"}, 0, 10, ProspectSort{}); err != nil ||
		total != 0 || filtered != 0 || len(rows) != 0 {
		t.Errorf("another tenant's list: %d %d %d, %v", total, filtered, len(rows), err)
	}
}

// TestKanbanPagesAreIndexScans: with the planner kept off other plans'
// cheap paths, each order of a Kanban page is a scan of its index per
// status, not a sort.
func TestKanbanPagesAreIndexScans(t *testing.T) {
	pool, ctx := newLeadsDB(t)
	applyProspects(t, ctx, pool, rand.New(rand.NewPCG(13, 14)), uuid.New(), 50)
	for by, k := range kanbanSorts {
		order, err := orderBy(kanbanSorts, ProspectSort{By: by, Desc: true})
		if err != nil {
			t.Fatal(err)
		}
		f := ProspectFilter{TenantID: uuid.New()}
		sql, args := kanbanSQL(f, order, 25, 50)
		var plan []string
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `set local enable_seqscan = off; set local enable_sort = off; set local enable_bitmapscan = off`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `explain `+sql, args...)
			if err != nil {
				return err
			}
			plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want := "rm_leads_kanban_" + k.expr
		// The one sort is of the pages' rows, by status then place.
		if text := strings.Join(plan, "\n"); !strings.Contains(text, want) || strings.Count(text, "Sort Key:") != 1 ||
			!strings.Contains(text, "Sort Key: c.status, (row_number()") {
			t.Errorf("sort %s: plan\n%s\nwant a scan of %s", by, text, want)
		}
	}
}
