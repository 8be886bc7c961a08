package projections_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/customers"
	"github.com/crmcore/crm/projections/records"
)

// applyCommitted applies every committed event not applied yet (after
// *from) to the read models, event by event, as a projector does.
func applyCommitted(t *testing.T, hs *history, from *eventstore.Position) {
	t.Helper()
	waitVisible(t, hs.ctx, hs.store)
	err := pgx.BeginFunc(hs.ctx, hs.store.Pool(), func(tx pgx.Tx) error {
		for {
			events, err := hs.store.ReadAll(hs.ctx, *from, 1000)
			if err != nil || len(events) == 0 {
				return err
			}
			for _, e := range events {
				for _, p := range readModels {
					if err := p.Apply(hs.ctx, tx, e); err != nil {
						return err
					}
				}
				*from = e.Position
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// createCustomer commits a customer of th made from p (converted from lead,
// if set).
func (hs *history) createCustomer(th *tenantHistory, number int64, lead uuid.UUID, p domain.CustomerProfile) *domain.Customer {
	id := uuid.Must(uuid.NewV7())
	events, err := domain.CreateCustomer(id, number, lead, p, "")
	if err != nil {
		hs.t.Fatal(err)
	}
	created, _ := hs.encode(events...)
	appends := []eventstore.StreamAppend{{StreamType: domain.CustomerStream, StreamID: id, ExpectedVersion: eventstore.NoStream, Events: created}}
	if lead != uuid.Nil {
		converted, _ := hs.encode(domain.Event{Type: domain.LeadConverted, Data: domain.LeadConvertedData{LeadID: lead, CustomerID: id, CustomerNumber: number}})
		appends = append(appends, eventstore.StreamAppend{StreamType: domain.LeadStream, StreamID: lead, ExpectedVersion: eventstore.AnyVersion, Events: converted})
	}
	hs.commit(th, appends...)
	return domain.NewCustomerFromHistory(events)
}

// ownedRecordOf commits the added (verb 0) or changed (verb 1) event of
// form in owner's stream.
func (hs *history) ownedRecordOf(th *tenantHistory, stream string, owner uuid.UUID, form any, verb int) {
	events, _ := hs.encode(domain.Event{Type: recordEventType(stream, form, verb), Data: recordData(owner, form)})
	hs.commit(th, eventstore.StreamAppend{StreamType: stream, StreamID: owner, ExpectedVersion: eventstore.AnyVersion, Events: events})
}

func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, projections.ErrNotFound) {
		t.Errorf("%s: got %v, want not found", what, err)
	}
}

// The customer queries: by id and number, the list's filters, search,
// paging and total, a converted lead's customer; another tenant's rows are
// never returned.
func TestCustomerQueries(t *testing.T) {
	store, ctx := newReadModelStore(t)
	hs := newHistory(t, ctx, store, 1)
	a, b := hs.tenants[0], hs.tenants[1]
	r := customers.NewReader(store.Pool())
	lead, err := hs.h.CreateLead(ctx, a.c, commands.CreateLead{Profile: domain.LeadProfile{Name: "Lead One", Emails: []string{"one@example.com"}}, Status: "New"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := hs.h.CreateLead(ctx, a.c, commands.CreateLead{Profile: domain.LeadProfile{Name: "Lead Two", Emails: []string{"two@example.com"}}, Status: "New"})
	if err != nil {
		t.Fatal(err)
	}
	var cs []*domain.Customer
	for i, p := range []domain.CustomerProfile{
		{Name: "Asha Rao", Emails: []string{"asha@example.com"}},
		{Name: "Bina Shah", Company: "Acme Traders", Status: domain.CustomerInactive},
		{Name: "Chetan Iyer", Company: "Acme Labs"},
		{Name: "Dev Patel", Status: domain.CustomerBlocked},
		{Name: "Esha Nair", Company: "Zen Corp"},
	} {
		var from uuid.UUID
		switch i {
		case 0:
			from = lead.LeadID
		case 1:
			from = other.LeadID
		}
		cs = append(cs, hs.createCustomer(a, int64(i+1), from, p))
	}
	bc := hs.createCustomer(b, 1, uuid.Nil, domain.CustomerProfile{Name: "Acme Person", Company: "Acme B"})
	var from eventstore.Position
	applyCommitted(t, hs, &from)

	got, err := r.Get(ctx, a.c.TenantID, cs[0].ID())
	if err != nil || got.Number != 1 || got.LeadID != lead.LeadID || got.Follow != "Won" || got.Profile.Name != "Asha Rao" ||
		got.Profile.Type != domain.CustomerIndividual || got.Profile.Status != domain.CustomerActive || got.CreatedAt.IsZero() {
		t.Errorf("get: %+v, %v", got, err)
	}
	if got, err := r.GetByNumber(ctx, b.c.TenantID, 1); err != nil || got.ID != bc.ID() || got.LeadID != uuid.Nil {
		t.Errorf("another tenant's number 1: %+v, %v", got, err)
	}
	_, err = r.Get(ctx, a.c.TenantID, bc.ID())
	notFound(t, "another tenant's customer", err)
	_, err = r.GetByNumber(ctx, a.c.TenantID, 99)
	notFound(t, "no such number", err)

	names := func(f customers.Filter) ([]string, int64) {
		t.Helper()
		f.TenantID = a.c.TenantID
		if f.Limit == 0 {
			f.Limit = 10
		}
		list, total, err := r.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range list {
			out = append(out, c.Profile.Name)
		}
		return out, total
	}
	for _, c := range []struct {
		f     customers.Filter
		want  []string
		total int64
	}{
		{customers.Filter{}, []string{"Esha Nair", "Dev Patel", "Chetan Iyer", "Bina Shah", "Asha Rao"}, 5},
		{customers.Filter{Limit: 2, Offset: 1}, []string{"Dev Patel", "Chetan Iyer"}, 5},
		{customers.Filter{Status: "active"}, []string{"Esha Nair", "Chetan Iyer", "Asha Rao"}, 3},
		{customers.Filter{Type: "business"}, []string{"Esha Nair", "Chetan Iyer", "Bina Shah"}, 3},
		{customers.Filter{Type: "business", Status: "inactive"}, []string{"Bina Shah"}, 1},
		{customers.Filter{Search: "ACME"}, []string{"Chetan Iyer", "Bina Shah"}, 2},
		{customers.Filter{Search: "asha@"}, []string{"Asha Rao"}, 1},
		{customers.Filter{Search: "100%"}, nil, 0},
	} {
		if got, total := names(c.f); !slices.Equal(got, c.want) || total != c.total {
			t.Errorf("%+v: %q (%d), want %q (%d)", c.f, got, total, c.want, c.total)
		}
	}

	if lc, err := r.CustomerOfLead(ctx, a.c.TenantID, lead.LeadID); err != nil || lc.CustomerID != cs[0].ID() || lc.CustomerNumber != 1 {
		t.Errorf("customer of lead: %+v, %v", lc, err)
	}
	_, err = r.CustomerOfLead(ctx, b.c.TenantID, lead.LeadID)
	notFound(t, "customer of another tenant's lead", err)

	// An update shows; a deleted customer and a deleted lead's link go.
	p := cs[2].Profile()
	p.Name = "Chetan Menon"
	hs.customerEvents(a, cs[2], false)(cs[2].Update(p))
	hs.customerEvents(a, cs[1], true)(cs[1].Delete())
	if _, err := hs.h.DeleteLead(ctx, a.c, lead.LeadID); err != nil {
		t.Fatal(err)
	}
	applyCommitted(t, hs, &from)
	if got, total := names(customers.Filter{Search: "acme"}); !slices.Equal(got, []string{"Chetan Menon"}) || total != 1 {
		t.Errorf("after the update and delete: %q (%d)", got, total)
	}
	_, err = r.Get(ctx, a.c.TenantID, cs[1].ID())
	notFound(t, "deleted customer", err)
	_, err = r.CustomerOfLead(ctx, a.c.TenantID, other.LeadID)
	notFound(t, "customer of a lead whose customer was deleted", err)
	_, err = r.CustomerOfLead(ctx, a.c.TenantID, lead.LeadID)
	notFound(t, "customer of a deleted lead", err)
	if got, err := r.Get(ctx, a.c.TenantID, cs[0].ID()); err != nil || got.LeadID != uuid.Nil {
		t.Errorf("a deleted lead's customer stays, its lead_id null: %+v, %v", got, err)
	}
	if n := rowCount(t, ctx, store, "public", "rm_lead_customers"); n != 1 {
		t.Errorf("%d links left, want the deleted customer's", n)
	}
	// A customer created naming the lead after its delete (a race the
	// command's check can lose) shows no lead either, and a rebuild has
	// them as applying the events did.
	late := uuid.Must(uuid.NewV7())
	events, err := domain.CreateCustomer(late, 6, lead.LeadID, domain.CustomerProfile{Name: "Late", Emails: []string{"late@example.com"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	created, _ := hs.encode(events...)
	hs.commit(a, eventstore.StreamAppend{StreamType: domain.CustomerStream, StreamID: late, ExpectedVersion: eventstore.NoStream, Events: created})
	again := hs.createCustomer(a, 7, other.LeadID, domain.CustomerProfile{Name: "Again", Emails: []string{"again@example.com"}})
	applyCommitted(t, hs, &from)
	if got, err := r.Get(ctx, a.c.TenantID, late); err != nil || got.LeadID != uuid.Nil {
		t.Errorf("a customer naming a deleted lead: %+v, %v", got, err)
	}
	if got, err := r.Get(ctx, a.c.TenantID, again.ID()); err != nil || got.LeadID != other.LeadID {
		t.Errorf("a live lead's customer: %+v, %v", got, err)
	}
	bulk, err := projections.Rebuild(ctx, store, customers.Projection{}, "bulk_customers", true)
	if bulk != nil {
		defer bulk.Drop()
	}
	if err != nil {
		t.Fatal(err)
	}
	sameAsPerEvent(t, ctx, store, customers.Projection{}, bulk, "bulk")
	var linked int
	if err := store.Pool().QueryRow(ctx, `select count(*) from `+bulk.Schema()+`.rm_customers where lead_id is not null`).Scan(&linked); err != nil || linked != 1 {
		t.Errorf("rebuilt: %d customers with a lead, want the live lead's (%v)", linked, err)
	}
}

// The record queries: an owner's records, one by number or id, and the
// calendar with every filter; removed records, deleted owners' and another
// tenant's are never returned.
func TestRecordQueries(t *testing.T) {
	store, ctx := newReadModelStore(t)
	hs := newHistory(t, ctx, store, 2)
	a, b := hs.tenants[0], hs.tenants[1]
	r := records.NewReader(store.Pool())
	newLead := func(th *tenantHistory, p domain.LeadProfile, status domain.Status) uuid.UUID {
		t.Helper()
		res, err := hs.h.CreateLead(ctx, th.c, commands.CreateLead{Profile: p, Status: status})
		if err != nil {
			t.Fatal(err)
		}
		return res.LeadID
	}
	l1 := newLead(a, domain.LeadProfile{Name: "Ana", Emails: []string{"ana@acme.example"}, Company: "Acme", AssignedTo: "maria@example.com",
		CampaignID: "q1", ProspectType: 3}, "Contacted")
	l2 := newLead(a, domain.LeadProfile{Name: "Ben", Emails: []string{"ben@zen.example"}, Company: "Zen"}, "New")
	archived := newLead(a, domain.LeadProfile{Name: "Old", Emails: []string{"old@example.com"}}, "New")
	if _, err := hs.h.ArchiveLeads(ctx, a.c, []uuid.UUID{archived}); err != nil {
		t.Fatal(err)
	}
	c1 := hs.createCustomer(a, 1, uuid.Nil, domain.CustomerProfile{Name: "Cara"})
	lb := newLead(b, domain.LeadProfile{Name: "Ana", Emails: []string{"ana@acme.example"}, Company: "Acme"}, "Contacted")

	day := func(d, h int) *time.Time {
		at := time.Date(2026, 4, d, h, 0, 0, 0, time.UTC)
		return &at
	}
	met := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ix := func(n int64, next *time.Time, hours int) domain.Interaction {
		return domain.Interaction{ID: uuid.Must(uuid.NewV7()), Number: n, Kind: domain.KindCall, Subject: "s", Notes: "n",
			NextAction: "call back", NextActionAt: next, OccurredAt: met.Add(time.Duration(hours) * time.Hour), Author: "maria"}
	}
	i1, i2, i3, i4, i5 := ix(1, day(5, 9), 1), ix(2, nil, 2), ix(3, day(10, 9), 3), ix(4, day(6, 9), 4), ix(5, day(7, 9), 5)
	i6 := ix(6, day(8, 9), 6)
	hs.ownedRecordOf(a, domain.LeadStream, l1, i1, 0)
	hs.ownedRecordOf(a, domain.LeadStream, l1, i2, 0)
	hs.ownedRecordOf(a, domain.LeadStream, l2, i3, 0)
	hs.ownedRecordOf(a, domain.CustomerStream, c1.ID(), i4, 0) // a customer's: not in the calendar
	hs.ownedRecordOf(a, domain.LeadStream, l1, i5, 0)
	hs.ownedRecordOf(a, domain.LeadStream, archived, i6, 0)
	i5.NextActionAt, i5.Kind = day(20, 9), domain.KindMeeting
	hs.ownedRecordOf(a, domain.LeadStream, l1, i5, 1)
	ct := domain.Contact{Number: 7, Name: "Jane", Email: "jane@acme.example", Position: "CTO"}
	hs.ownedRecordOf(a, domain.LeadStream, l1, ct, 0)
	ct.Position = "CEO"
	hs.ownedRecordOf(a, domain.LeadStream, l1, ct, 1)
	hs.ownedRecordOf(a, domain.CustomerStream, c1.ID(), domain.Contact{Number: 8, Name: "Kim"}, 0)
	loc := domain.Location{Number: 9, Name: "HQ", Link: "https://maps.example/1", Type: "headquarters"}
	hs.ownedRecordOf(a, domain.LeadStream, l1, loc, 0)
	removed, _ := hs.encode(domain.Event{Type: domain.LeadLocationRemoved, Data: domain.RecordRemovedData{OwnerID: l1, Number: 9}})
	hs.commit(a, eventstore.StreamAppend{StreamType: domain.LeadStream, StreamID: l1, ExpectedVersion: eventstore.AnyVersion, Events: removed})
	hs.ownedRecordOf(a, domain.CustomerStream, c1.ID(), domain.Location{Number: 10, Name: "Store", Link: "https://maps.example/2", Type: "branch"}, 0)
	ib := ix(1, day(5, 9), 1) // another tenant's number 1
	hs.ownedRecordOf(b, domain.LeadStream, lb, ib, 0)
	hs.ownedRecordOf(b, domain.LeadStream, lb, domain.Contact{Number: 7, Name: "Other"}, 0)
	var from eventstore.Position
	applyCommitted(t, hs, &from)

	numbers := func(xs []records.Interaction, err error) []int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, x := range xs {
			out = append(out, x.Number)
		}
		return out
	}
	if got := numbers(r.Interactions(ctx, a.c.TenantID, l1)); !slices.Equal(got, []int64{5, 2, 1}) {
		t.Errorf("interactions of a lead: %v", got)
	}
	if got := numbers(r.Interactions(ctx, a.c.TenantID, l1, c1.ID())); !slices.Equal(got, []int64{5, 4, 2, 1}) {
		t.Errorf("interactions of a lead and a customer: %v", got)
	}
	if got := numbers(r.Interactions(ctx, b.c.TenantID, l1)); len(got) != 0 {
		t.Errorf("another tenant's lead's interactions: %v", got)
	}
	got, err := r.InteractionByNumber(ctx, a.c.TenantID, 5)
	if err != nil || got.ID != i5.ID || got.Kind != domain.KindMeeting || !got.NextActionAt.Equal(*i5.NextActionAt) ||
		got.Owner != (records.Owner{Type: domain.LeadStream, ID: l1}) || got.Subject != "s" || got.Author != "maria" || !got.OccurredAt.Equal(i5.OccurredAt) {
		t.Errorf("interaction 5: %+v, %v", got, err)
	}
	if got, err := r.InteractionByID(ctx, a.c.TenantID, i2.ID); err != nil || got.Number != 2 || got.NextActionAt != nil {
		t.Errorf("interaction by id: %+v, %v", got, err)
	}
	_, err = r.InteractionByID(ctx, b.c.TenantID, i2.ID)
	notFound(t, "another tenant's interaction by id", err)
	if got, err := r.InteractionByNumber(ctx, b.c.TenantID, 1); err != nil || got.ID != ib.ID {
		t.Errorf("another tenant's number 1: %+v, %v", got, err)
	}
	if got, err := r.ContactByNumber(ctx, a.c.TenantID, 7); err != nil || got.Position != "CEO" || got.Email != "jane@acme.example" || got.Owner.ID != l1 {
		t.Errorf("contact 7: %+v, %v", got, err)
	}
	if cs, err := r.Contacts(ctx, a.c.TenantID, l1, c1.ID()); err != nil || len(cs) != 2 || cs[0].Number != 7 || cs[1].Owner.Type != domain.CustomerStream {
		t.Errorf("contacts: %+v, %v", cs, err)
	}
	_, err = r.LocationByNumber(ctx, a.c.TenantID, 9)
	notFound(t, "removed location", err)
	if ls, err := r.Locations(ctx, a.c.TenantID, l1, c1.ID()); err != nil || len(ls) != 1 || ls[0].Number != 10 || ls[0].Type != "branch" {
		t.Errorf("locations: %+v, %v", ls, err)
	}

	activities := func(f records.ActivityFilter) []int64 {
		t.Helper()
		f.TenantID = a.c.TenantID
		if f.From.IsZero() {
			f.From, f.To = *day(1, 0), *day(30, 0)
		}
		list, err := r.Activities(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, x := range list {
			out = append(out, x.Number)
		}
		return out
	}
	full, err := r.Activities(ctx, records.ActivityFilter{TenantID: a.c.TenantID, From: *day(1, 0), To: *day(30, 0), Limit: 1})
	if err != nil || len(full) != 1 || full[0].Number != 1 || full[0].LeadName != "Ana" || full[0].LeadCompany != "Acme" ||
		full[0].LeadStatus != "Contacted" || full[0].LeadNumber == 0 || full[0].Owner.ID != l1 {
		t.Errorf("first activity: %+v, %v", full, err)
	}
	for _, c := range []struct {
		f    records.ActivityFilter
		want []int64
	}{
		{records.ActivityFilter{}, []int64{1, 3, 5}},
		{records.ActivityFilter{IncludeArchived: true}, []int64{1, 6, 3, 5}},
		{records.ActivityFilter{From: *day(5, 9), To: *day(10, 9)}, []int64{1, 3}}, // inclusive bounds
		{records.ActivityFilter{From: *day(5, 10), To: *day(10, 8)}, nil},
		{records.ActivityFilter{Search: "ACME"}, []int64{1, 5}},
		{records.ActivityFilter{Statuses: []string{"New"}}, []int64{3}},
		{records.ActivityFilter{Statuses: []string{"New", "Contacted"}}, []int64{1, 3, 5}},
		{records.ActivityFilter{Types: []int{3}}, []int64{1, 5}},
		{records.ActivityFilter{Types: []int{1}}, []int64{3}},
		{records.ActivityFilter{Campaign: "q1"}, []int64{1, 5}},
		{records.ActivityFilter{Salesman: "maria@example.com"}, []int64{1, 5}},
		{records.ActivityFilter{Salesman: "nobody"}, nil},
		{records.ActivityFilter{ByRole: true}, nil},
	} {
		if got := activities(c.f); !slices.Equal(got, c.want) {
			t.Errorf("activities %+v: %v, want %v", c.f, got, c.want)
		}
	}

	// Owners' deletes take their records along.
	hs.customerEvents(a, c1, true)(c1.Delete())
	if _, err := hs.h.DeleteLead(ctx, a.c, l2); err != nil {
		t.Fatal(err)
	}
	applyCommitted(t, hs, &from)
	if got := numbers(r.Interactions(ctx, a.c.TenantID, l1, l2, c1.ID())); !slices.Equal(got, []int64{5, 2, 1}) {
		t.Errorf("interactions after the owners' deletes: %v", got)
	}
	_, err = r.ContactByNumber(ctx, a.c.TenantID, 8)
	notFound(t, "a deleted customer's contact", err)
	_, err = r.LocationByNumber(ctx, a.c.TenantID, 10)
	notFound(t, "a deleted customer's location", err)
	if got := activities(records.ActivityFilter{}); !slices.Equal(got, []int64{1, 5}) {
		t.Errorf("activities after a lead's delete: %v", got)
	}
}
