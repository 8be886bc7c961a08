package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/calllogs"
	"github.com/crmcore/crm/projections/customers"
	"github.com/crmcore/crm/projections/feedback"
	"github.com/crmcore/crm/projections/leads"
	"github.com/crmcore/crm/projections/orders"
	"github.com/crmcore/crm/projections/pipelines"
	"github.com/crmcore/crm/projections/records"
	"github.com/crmcore/crm/projections/volume"
)

// readModels are the read models the random history feeds: those with a
// bulk rebuild, and orders and feedback (rebuilt event by event).
var readModels = []projections.Projection{leads.Projection{}, calllogs.Projection{}, volume.Projection{}, pipelines.Projection{},
	customers.Projection{}, records.Projection{}, orders.Projection{}, feedback.Projection{}}

// history drives the command handlers through a random history of two
// tenants: creates (some merging into an existing lead), full and partial
// updates that clear fields, status changes to default and added statuses,
// archives and restores, permanent deletes (redacting the stream), call logs
// and their deletes, comments and their edits, interactions logged, changed
// and deleted, pipeline changes, customers and owners' records
// (ownedStep), orders and feedback requests (salesStep).
type history struct {
	t       *testing.T
	ctx     context.Context
	store   *eventstore.Store
	h       *commands.Handler
	rnd     *rand.Rand
	tenants []*tenantHistory
	seq     int
}

type tenantHistory struct {
	c        commands.Context
	leads    []uuid.UUID
	calls    []uuid.UUID
	comments []int64
	statuses []domain.PipelineStatus
	owned    ownedHistory
	sales    salesHistory
	// interactions are those logged and not deleted, with their lead.
	interactions []loggedInteraction
}

type loggedInteraction struct {
	lead uuid.UUID
	i    domain.Interaction
}

func newHistory(t *testing.T, ctx context.Context, store *eventstore.Store, seed uint64) *history {
	hs := &history{t: t, ctx: ctx, store: store, h: commands.New(store, "IN"), rnd: rand.New(rand.NewPCG(seed, seed))}
	for i := range 2 {
		hs.tenants = append(hs.tenants, &tenantHistory{c: commands.Context{TenantID: uuid.New(),
			Metadata: eventstore.Metadata{Actor: fmt.Sprintf("user%d@example.com", i), API: "test"}}})
	}
	return hs
}

func (hs *history) pick(n int) int { return hs.rnd.IntN(n) }

// profile is a random valid profile; email/phone numbers come from a small
// range so that creates sometimes match an existing lead and merge.
func (hs *history) profile() domain.LeadProfile {
	hs.seq++
	n := hs.pick(400)
	p := domain.LeadProfile{Name: fmt.Sprintf("Lead %d", hs.seq)}
	if hs.pick(4) > 0 {
		p.Emails = []string{fmt.Sprintf("lead%d@example.com", n)}
	}
	if len(p.Emails) == 0 || hs.pick(2) == 0 {
		p.Phones = []string{fmt.Sprintf("+91 98%08d", n)}
	}
	if hs.pick(2) == 0 {
		p.Company = fmt.Sprintf("Company %d", hs.pick(20))
	}
	p.Source = []string{"", "website", "referral", "google_ads"}[hs.pick(4)]
	p.Priority = []domain.Priority{"", domain.PriorityLow, domain.PriorityMedium, domain.PriorityHigh}[hs.pick(4)]
	if hs.pick(2) == 0 {
		p.Tags = []string{"vip", "cold", "hot"}[:1+hs.pick(3)]
	}
	if hs.pick(3) == 0 {
		v := float64(hs.pick(100000)) / 100
		p.DealValue = &v
	}
	if hs.pick(3) == 0 {
		s := hs.pick(101)
		p.Score = &s
	}
	if hs.pick(3) == 0 {
		p.CustomFields = json.RawMessage(fmt.Sprintf(`{"b": %d, "a": {"x": [1, 2.50, "<&>"]}, "note": "ünïcode %d"}`, hs.pick(9), hs.seq))
	}
	if hs.pick(3) == 0 {
		at := time.Date(2024, 1, 1+hs.pick(300), hs.pick(24), 0, 0, 0, time.FixedZone("IST", 19800))
		p.LastContact = &at
	}
	if hs.pick(3) == 0 {
		p.Social = map[string]string{"twitter": "@x", "linkedin": "in/y"}
	}
	p.AssignedTo = []string{"", "ana@example.com", "raj@example.com"}[hs.pick(3)]
	p.City = []string{"", "Pune", "Delhi"}[hs.pick(3)]
	p.Notes = []string{"", "call back", "interested in plan B"}[hs.pick(3)]
	p.ProspectType = hs.pick(4)
	p.MonthlyShipments = []string{"", "150", "100-500"}[hs.pick(3)]
	p.CampaignID = []string{"", "q1"}[hs.pick(2)]
	p.QualificationState = []string{"", "qualified"}[hs.pick(2)]
	return p
}

func (hs *history) status(th *tenantHistory) domain.Status {
	if len(th.statuses) > 0 && hs.pick(3) == 0 {
		return th.statuses[hs.pick(len(th.statuses))].Key
	}
	return []domain.Status{"New", "Contacted", "Qualified", "Proposal", "Won", "Lost"}[hs.pick(6)]
}

// expected are the errors a random command may meet: a lead deleted or a
// duplicate email or phone.
func expected(err error) bool {
	var dup *commands.DuplicateError
	var invalid *domain.ValidationError
	return err == nil || errors.Is(err, domain.ErrLeadNotFound) || errors.Is(err, domain.ErrCallLogNotFound) ||
		errors.As(err, &dup) || errors.As(err, &invalid) || errors.Is(err, domain.ErrStatusNotFound) ||
		errors.Is(err, domain.ErrStatusExists) || errors.Is(err, domain.ErrStatusInUse) ||
		errors.Is(err, domain.ErrLeadDeleted) || errors.Is(err, domain.ErrCommentNotFound)
}

// run takes n steps, then waits until the store shows them all.
func (hs *history) run(n int) {
	for range n {
		hs.step()
	}
	waitVisible(hs.t, hs.ctx, hs.store)
}

// step runs one random command.
func (hs *history) step() {
	ctx, th := hs.ctx, hs.tenants[hs.pick(len(hs.tenants))]
	lead := func() uuid.UUID {
		if len(th.leads) == 0 {
			return uuid.New()
		}
		return th.leads[hs.pick(len(th.leads))]
	}
	if len(th.leads) >= 3 && hs.pick(4) == 0 {
		hs.ownedStep(th)
		return
	}
	if len(th.leads) >= 3 && hs.pick(8) == 0 {
		hs.interaction(th, lead())
		return
	}
	var err error
	switch op := hs.pick(100); {
	case op < 25 || len(th.leads) < 3:
		var res commands.LeadResult
		res, err = hs.h.CreateLead(ctx, th.c, commands.CreateLead{Profile: hs.profile(), Status: hs.status(th),
			OnDuplicate: commands.MergeDuplicates, Archived: hs.pick(10) == 0})
		if err == nil && !res.Merged {
			th.leads = append(th.leads, res.LeadID)
		}
	case op < 40:
		full := hs.pick(2) == 0
		next := hs.profile()
		var status domain.Status
		if hs.pick(3) == 0 {
			status = hs.status(th)
		}
		_, err = hs.h.UpdateLead(ctx, th.c, lead(), commands.UpdateLead{Status: status, Edit: func(cur domain.LeadProfile) (domain.LeadProfile, error) {
			if full {
				return next, nil // PUT: clears what next leaves empty
			}
			cur.Company, cur.Notes, cur.Tags, cur.Score = next.Company, "", next.Tags, nil
			cur.CustomFields = next.CustomFields
			if hs.pick(2) == 0 {
				cur.Social = nil
			}
			return cur, nil
		}})
	case op < 50:
		_, err = hs.h.ChangeStatus(ctx, th.c, lead(), hs.status(th))
	case op < 55:
		_, err = hs.h.ArchiveLeads(ctx, th.c, []uuid.UUID{lead(), lead()})
	case op < 59:
		_, err = hs.h.RestoreLeads(ctx, th.c, []uuid.UUID{lead()})
	case op < 64:
		_, err = hs.h.DeleteLead(ctx, th.c, lead())
	case op < 66:
		_, err = hs.h.DeleteLeads(ctx, th.c, []uuid.UUID{lead(), lead()})
	case op < 78:
		var res commands.CallLogResult
		res, err = hs.h.LogCall(ctx, th.c, lead(), domain.CallLog{Type: domain.CallInbound, DurationSeconds: hs.pick(600),
			Outcome: "answered", Notes: fmt.Sprintf("call %d", hs.pick(1000)), CalledAt: time.Now().Add(-time.Duration(hs.pick(1000)) * time.Hour)})
		if err == nil {
			th.calls = append(th.calls, res.CallLogID)
		}
	case op < 83:
		if len(th.calls) > 0 {
			_, err = hs.h.DeleteCallLog(ctx, th.c, th.calls[hs.pick(len(th.calls))])
		}
	case op < 90:
		var res commands.CommentResult
		res, err = hs.h.AddComment(ctx, th.c, lead(), fmt.Sprintf("comment %d", hs.pick(1000)))
		if err == nil {
			th.comments = append(th.comments, res.CommentID)
		}
	case op < 92:
		if len(th.comments) > 0 {
			_, err = hs.h.EditComment(ctx, th.c, th.comments[hs.pick(len(th.comments))], "edited")
		}
	case op < 95:
		var res commands.PipelineResult
		res, err = hs.h.CreateStatus(ctx, th.c, fmt.Sprintf("Stage %d", hs.pick(1000)), domain.Palette[hs.pick(len(domain.Palette))])
		if err == nil {
			th.statuses = append(th.statuses, res.Status)
		}
	case op < 97:
		if len(th.statuses) > 0 {
			s := th.statuses[hs.pick(len(th.statuses))]
			_, err = hs.h.ChangeStatusDefinition(ctx, th.c, s.ID, fmt.Sprintf("Renamed %d", hs.pick(1000)), "")
		}
	case op < 98:
		_, err = hs.h.DeleteStatus(ctx, th.c, int64(1+hs.pick(8)), func(domain.Status) (bool, error) { return false, nil })
	default:
		_, err = hs.h.ReorderStatuses(ctx, th.c, map[int64]int{int64(1 + hs.pick(6)): 1 + hs.pick(6)})
	}
	if !expected(err) {
		hs.t.Fatalf("step: %v", err)
	}
}

// interaction logs an interaction on lead, or changes or deletes one
// logged before. No command writes them yet (the prospects and /dev/crm
// APIs bring them), so it commits their events straight to the store: on a
// lead deleted since, they are appended after the delete.
func (hs *history) interaction(th *tenantHistory, lead uuid.UUID) {
	at := func() time.Time {
		return time.Date(2025, 1, 1+hs.pick(300), hs.pick(24), hs.pick(60), 0, 0, time.UTC)
	}
	form := func(i domain.Interaction) domain.Interaction {
		i.OccurredAt, i.NextActionAt, i.Notes = at(), nil, fmt.Sprintf("note %d", hs.pick(1000))
		if hs.pick(2) == 0 {
			next := at()
			i.NextActionAt = &next
		}
		return i
	}
	var typ string
	var data any
	switch k := hs.pick(len(th.interactions) + 1); {
	case k == len(th.interactions) || hs.pick(3) == 0:
		th.owned.numbers++ // one numbering with the owned records
		i := form(domain.Interaction{ID: uuid.New(), Number: th.owned.numbers, Kind: domain.KindCall})
		th.interactions = append(th.interactions, loggedInteraction{lead, i})
		typ, data = domain.LeadInteractionLogged, domain.InteractionData{OwnerID: lead, Interaction: i}
	case hs.pick(2) == 0:
		li := &th.interactions[k]
		li.i = form(li.i)
		lead, typ, data = li.lead, domain.LeadInteractionChanged, domain.InteractionData{OwnerID: li.lead, Interaction: li.i}
	default:
		li := th.interactions[k]
		th.interactions = slices.Delete(th.interactions, k, k+1)
		lead, typ, data = li.lead, domain.LeadInteractionDeleted, domain.RecordRemovedData{OwnerID: li.lead, Number: li.i.Number}
	}
	b, err := json.Marshal(data)
	if err != nil {
		hs.t.Fatal(err)
	}
	storetest.MustCommit(hs.t, hs.store, eventstore.Commit{TenantID: th.c.TenantID, Metadata: th.c.Metadata,
		Streams: []eventstore.StreamAppend{{StreamType: domain.LeadStream, StreamID: lead, ExpectedVersion: eventstore.AnyVersion,
			Events: []eventstore.NewEvent{{ID: uuid.New(), Type: typ, SchemaVersion: domain.SchemaVersion, Data: b}}}}})
}

// runComplete runs n steps, then on (bounded) until the history has every
// event type and every read model table a row: a random history may miss a
// rare one, and an empty table proves nothing.
func (hs *history) runComplete(n int) {
	t, ctx, store := hs.t, hs.ctx, hs.store
	t.Helper()
	hs.run(n)
	missing := func() (types []string) {
		rows, err := store.Pool().Query(ctx, `select distinct event_type from events order by 1`)
		if err != nil {
			t.Fatal(err)
		}
		have, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range slices.Concat(domain.LeadEventTypes(), domain.PipelineEventTypes(), domain.CustomerEventTypes(),
			domain.OrderEventTypes(), domain.CustomerOrderEventTypes(), domain.FeedbackEventTypes(), domain.CustomerFeedbackEventTypes()) {
			if !slices.Contains(have, want) {
				types = append(types, want)
			}
		}
		if len(types) > 0 {
			return types
		}
		// And a row in each read model table, in a rebuild of them all (the
		// counts' deltas table is empty between transactions).
		builds, err := projections.RebuildAll(ctx, store, readModels, "probe_", nil)
		for _, b := range builds {
			defer b.Drop()
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range readModels {
			for _, table := range p.Tables() {
				if table != "rm_lead_count_deltas" && rowCount(t, ctx, store, builds[i].Schema(), table) == 0 {
					types = append(types, "a row of "+table)
				}
			}
		}
		return types
	}
	for i := 0; i < 40 && len(missing()) > 0; i++ {
		hs.run(100)
	}
	for _, want := range missing() {
		t.Errorf("the history lacks %s", want)
	}
}

func newReadModelStore(t *testing.T) (*eventstore.Store, context.Context) {
	t.Helper()
	return projections.NewStoreWith(t, readModels...)
}

// waitVisible waits until ReadAll reaches the store's last event (a shared
// server's other tests may hold a transaction open for a moment).
func waitVisible(t *testing.T, ctx context.Context, store *eventstore.Store) {
	t.Helper()
	var last eventstore.Position
	var txt string
	if err := store.Pool().QueryRow(ctx, `select transaction_id::text, position from events order by position desc limit 1`).Scan(&txt, &last.Pos); err != nil {
		t.Fatal(err)
	}
	storetest.WaitFor(t, 2*time.Minute, func() (bool, error) {
		head, err := store.Head(ctx)
		return head.Pos >= last.Pos, err
	})
}

// rowCount is the number of rows of table in schema.
func rowCount(t *testing.T, ctx context.Context, store *eventstore.Store, schema, table string) int64 {
	t.Helper()
	var n int64
	if err := store.Pool().QueryRow(ctx, `select count(*) from `+schema+`.`+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The bulk rebuild of every read model gives the same rows as applying the
// events one by one, on a rich random history.
func TestBulkRebuildEqualsPerEventApply(t *testing.T) {
	store, ctx := newReadModelStore(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	hs := newHistory(t, ctx, store, seed)
	hs.runComplete(600)
	var redacted int
	if err := store.Pool().QueryRow(ctx, `select count(*) from events where data = '{"redacted": true}'`).Scan(&redacted); err != nil || redacted == 0 {
		t.Errorf("%d redacted events, %v", redacted, err)
	}

	for _, p := range readModels {
		bulk, err := projections.Rebuild(ctx, store, p, "bulk_"+p.Name(), true)
		if bulk != nil {
			defer bulk.Drop()
		}
		if err != nil {
			t.Fatal(err)
		}
		sameAsPerEvent(t, ctx, store, p, bulk, "bulk")
		if p.Name() == "leads" {
			// The interactions reached the prospect columns.
			var n int
			if err := store.Pool().QueryRow(ctx, `select count(*) from `+bulk.Schema()+`.rm_leads
				where interactions <> '{}' and first_contact is not null and next_contact is not null`).Scan(&n); err != nil || n == 0 {
				t.Errorf("%d leads with interactions and contact times (%v)", n, err)
			}
			// The prospect counts are the groups of rm_leads.
			const groups = `select tenant_id, status, prospect_type, archived, count(*), sum(deal_value) from S.rm_leads group by 1, 2, 3, 4`
			const counts = `select tenant_id, status, prospect_type, archived, n, value from S.rm_prospect_counts`
			if err := store.Pool().QueryRow(ctx, strings.ReplaceAll(`select (select count(*) from (`+groups+` except all `+counts+`) a)
				+ (select count(*) from (`+counts+` except all `+groups+`) b)`, "S.", bulk.Schema()+".")).Scan(&n); err != nil || n != 0 {
				t.Errorf("%d prospect count rows differ from rm_leads (%v)", n, err)
			}
		}
	}
}

// sameAsPerEvent rebuilds p event by event beside got and checks that got
// has the same rows, indexes and cursor; what names got's kind of rebuild.
func sameAsPerEvent(t *testing.T, ctx context.Context, store *eventstore.Store, p projections.Projection, got *projections.Build, what string) {
	t.Helper()
	each, err := projections.Rebuild(ctx, store, p, "each_"+p.Name(), false)
	if each != nil {
		defer each.Drop()
	}
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := projections.CompareTables(ctx, store, p, got.Schema(), each.Schema())
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range p.Tables() {
		n := rowCount(t, ctx, store, each.Schema(), table)
		t.Logf("%s: %d rows, %d differ", table, n, diffs[table])
		// The counts' deltas table is empty whenever no transaction writes.
		if diffs[table] != 0 || (n == 0 && table != "rm_lead_count_deltas") {
			t.Errorf("%s: %d of %d rows differ between the %s and the per-event rebuild", table, diffs[table], n, what)
		}
		gotIdx, want := indexes(t, ctx, store, got.Name(), table), indexes(t, ctx, store, each.Name(), table)
		if !slices.Equal(gotIdx, want) || len(want) == 0 {
			t.Errorf("%s: indexes after the %s rebuild\n%q\nwant\n%q", table, what, gotIdx, want)
		}
	}
	if got.Cursor() != each.Cursor() {
		t.Errorf("%s: %s rebuild at %s, per-event at %s", p.Name(), what, got.Cursor(), each.Cursor())
	}
}

// indexes lists the definitions of table's indexes and constraints in
// schema, with the schema's name taken out.
func indexes(t *testing.T, ctx context.Context, store *eventstore.Store, schema, table string) []string {
	t.Helper()
	rows, err := store.Pool().Query(ctx, `select replace(indexdef, $1 || '.', '') from pg_indexes where schemaname = $1 and tablename = $2
		union all
		select conname || ' ' || pg_get_constraintdef(c.oid) from pg_constraint c join pg_class r on r.oid = c.conrelid
			join pg_namespace n on n.oid = r.relnamespace where n.nspname = $1 and r.relname = $2
		order by 1`, schema, table)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return defs
}

// Events committed after the bulk rebuild's snapshot are applied one by one
// on top of the bulk-loaded tables, and the result still equals a per-event
// rebuild.
func TestBulkRebuildThenTail(t *testing.T) {
	store, ctx := newReadModelStore(t)
	hs := newHistory(t, ctx, store, 7)
	hs.run(150)
	// An open transaction with an id holds the cut before what commits next.
	open, err := store.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Rollback(ctx)
	if _, err := open.Exec(ctx, `select pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	for range 150 {
		hs.step()
	}
	var builds []*projections.Build
	for _, p := range readModels {
		b, err := projections.Rebuild(ctx, store, p, "bulk_"+p.Name(), true)
		if b != nil {
			defer b.Drop()
		}
		if err != nil {
			t.Fatal(err)
		}
		builds = append(builds, b)
	}
	if err := open.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitVisible(t, ctx, store)
	for i, p := range readModels {
		b := builds[i]
		before := b.Applied()
		if err := b.CatchUp(); err != nil {
			t.Fatal(err)
		}
		if b.Applied() == before {
			t.Fatalf("%s: no events after the snapshot", p.Name())
		}
		each, err := projections.Rebuild(ctx, store, p, "each_"+p.Name(), false)
		if each != nil {
			defer each.Drop()
		}
		if err != nil {
			t.Fatal(err)
		}
		diffs, err := projections.CompareTables(ctx, store, p, b.Schema(), each.Schema())
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range p.Tables() {
			if diffs[table] != 0 {
				t.Errorf("%s: %d rows differ after the tail", table, diffs[table])
			}
		}
		if b.Cursor() != each.Cursor() {
			t.Errorf("%s: bulk rebuild at %s, per-event at %s", p.Name(), b.Cursor(), each.Cursor())
		}
	}
}

// TestBatchApplyEqualsPerEventApply: the projectors apply a batch at once
// (projections.BatchApplier); the rows must be those of applying its events
// one by one, whatever the batch boundaries (a lead created in one batch and
// changed in the next, or in the same one).
func TestBatchApplyEqualsPerEventApply(t *testing.T) {
	store, ctx := newReadModelStore(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	hs := newHistory(t, ctx, store, seed)
	hs.runComplete(600)
	var batchers int
	for _, p := range readModels {
		if _, ok := p.(projections.BatchApplier); !ok {
			continue
		}
		batchers++
		for _, size := range []int{1, 7, 100, 5000} {
			got, err := projections.RebuildBatched(ctx, store, p, fmt.Sprintf("batch%d_%s", size, p.Name()), size)
			if got != nil {
				defer got.Drop()
			}
			if err != nil {
				t.Fatal(err)
			}
			sameAsPerEvent(t, ctx, store, p, got, fmt.Sprintf("batches of %d", size))
		}
	}
	if batchers == 0 {
		t.Fatal("no read model applies batches")
	}
}
