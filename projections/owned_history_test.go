package projections_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// ownedHistory is what a tenant's history knows of its customers and of
// its owners' records. No command writes them on this branch yet, so the
// history commits their events directly, as the commands will: a customer's
// events decided by domain.Customer, records' events in the form
// domain/records.go gives them, customer deletes redacting the stream.
type ownedHistory struct {
	customers []*domain.Customer
	converted map[uuid.UUID]bool
	records   []*ownedRecord
	numbers   int64 // the tenant's last customer and record number
}

// ownedRecord is a record the history added: its owner, its form now and
// the ids of its added and changed events (to redact on a delete).
type ownedRecord struct {
	stream string
	owner  uuid.UUID
	form   any // domain.Interaction, domain.Contact or domain.Location
	events []uuid.UUID
	live   bool
}

// commit commits events to one stream each (in order) in one commit.
func (hs *history) commit(th *tenantHistory, appends ...eventstore.StreamAppend) {
	storetest.MustCommit(hs.t, hs.store, eventstore.Commit{TenantID: th.c.TenantID, Metadata: th.c.Metadata, Streams: appends})
}

// encode makes stored events of domain events, returning their ids too.
func (hs *history) encode(events ...domain.Event) ([]eventstore.NewEvent, []uuid.UUID) {
	var out []eventstore.NewEvent
	var ids []uuid.UUID
	for _, e := range events {
		data, err := json.Marshal(e.Data)
		if err != nil {
			hs.t.Fatal(err)
		}
		id := uuid.Must(uuid.NewV7())
		out = append(out, eventstore.NewEvent{ID: id, Type: e.Type, SchemaVersion: domain.SchemaVersion, Data: data})
		ids = append(ids, id)
	}
	return out, ids
}

// leadLive says whether the lead exists and was not deleted.
func (hs *history) leadLive(th *tenantHistory, lead uuid.UUID) bool {
	var live bool
	err := hs.store.Pool().QueryRow(hs.ctx, `select exists (select 1 from events where tenant_id=$1 and stream_id=$2 and event_type=$3)
		and not exists (select 1 from events where tenant_id=$1 and stream_id=$2 and event_type=$4)`,
		th.c.TenantID, lead, domain.LeadCreated, domain.LeadDeleted).Scan(&live)
	if err != nil {
		hs.t.Fatal(err)
	}
	return live
}

func (hs *history) customerProfile() domain.CustomerProfile {
	hs.seq++
	phone, err := domain.NormalizePhone(fmt.Sprintf("+91 97%08d", hs.seq), "")
	if err != nil {
		hs.t.Fatal(err)
	}
	p := domain.CustomerProfile{Name: fmt.Sprintf("Customer %d", hs.seq), Emails: []string{fmt.Sprintf("cust%d@example.com", hs.seq)},
		Phones: []string{phone}, Status: []domain.CustomerStatus{"", domain.CustomerInactive, domain.CustomerBlocked}[hs.pick(3)]}
	if hs.pick(2) == 0 {
		p.Company = fmt.Sprintf("Company %d", hs.pick(20))
	}
	if hs.pick(3) == 0 {
		v := float64(hs.pick(100000)) / 100
		p.CreditLimit = &v
	}
	p.AssignedTo = []string{"", "ana@example.com"}[hs.pick(2)]
	return p
}

// ownedStep commits one random customer or record change of th.
func (hs *history) ownedStep(th *tenantHistory) {
	o := &th.owned
	if o.converted == nil {
		o.converted = map[uuid.UUID]bool{}
	}
	var live []*domain.Customer
	for _, c := range o.customers {
		if !c.Deleted() {
			live = append(live, c)
		}
	}
	switch op := hs.pick(100); {
	case op < 15 || len(live) == 0:
		o.numbers++
		id, lead := uuid.Must(uuid.NewV7()), uuid.Nil
		if len(th.leads) > 0 && hs.pick(2) == 0 {
			if l := th.leads[hs.pick(len(th.leads))]; !o.converted[l] && hs.leadLive(th, l) {
				lead = l
			}
		}
		events, err := domain.CreateCustomer(id, o.numbers, lead, hs.customerProfile(), "")
		if err != nil {
			hs.t.Fatal(err)
		}
		created, _ := hs.encode(events...)
		appends := []eventstore.StreamAppend{{StreamType: domain.CustomerStream, StreamID: id, ExpectedVersion: eventstore.NoStream, Events: created}}
		if lead != uuid.Nil {
			converted, _ := hs.encode(domain.Event{Type: domain.LeadConverted,
				Data: domain.LeadConvertedData{LeadID: lead, CustomerID: id, CustomerNumber: o.numbers}})
			appends = append(appends, eventstore.StreamAppend{StreamType: domain.LeadStream, StreamID: lead,
				ExpectedVersion: eventstore.AnyVersion, Events: converted})
			o.converted[lead] = true
		}
		hs.commit(th, appends...)
		o.customers = append(o.customers, domain.NewCustomerFromHistory(events))
	case op < 25:
		c := live[hs.pick(len(live))]
		p := c.Profile()
		next := hs.customerProfile()
		p.Name, p.Company, p.Status, p.CreditLimit = next.Name, next.Company, next.Status, next.CreditLimit
		hs.customerEvents(th, c, false)(c.Update(p))
	case op < 30:
		// Through the command: it refuses a customer with orders and takes
		// its feedback requests along.
		c := live[hs.pick(len(live))]
		if hs.pick(2) == 0 {
			hs.clearOrders(th, c.ID())
		}
		if _, err := hs.h.DeleteCustomer(hs.ctx, th.c, c.ID()); errors.Is(err, domain.ErrCustomerHasOrders) {
			return
		} else if err != nil {
			hs.t.Fatal(err)
		}
		deleted, err := c.Delete()
		if err != nil {
			hs.t.Fatal(err)
		}
		for _, e := range deleted {
			c.Apply(e)
		}
	case op < 45:
		hs.salesStep(th, live)
	case op < 60:
		hs.addRecord(th, live)
	default:
		var recs []*ownedRecord
		for _, r := range o.records {
			if r.live && hs.ownerLive(th, r) {
				recs = append(recs, r)
			}
		}
		if len(recs) == 0 {
			hs.addRecord(th, live)
			return
		}
		r := recs[hs.pick(len(recs))]
		if op < 85 {
			hs.changeRecord(th, r)
		} else {
			hs.removeRecord(th, r, op >= 95)
		}
	}
}

// customerEvents returns what commits the events a decision on c made,
// redacting the stream on a delete.
func (hs *history) customerEvents(th *tenantHistory, c *domain.Customer, del bool) func([]domain.Event, error) {
	return func(events []domain.Event, err error) {
		if err != nil {
			hs.t.Fatal(err)
		}
		if len(events) == 0 {
			return
		}
		stored, _ := hs.encode(events...)
		hs.commit(th, eventstore.StreamAppend{StreamType: domain.CustomerStream, StreamID: c.ID(),
			ExpectedVersion: eventstore.AnyVersion, Events: stored, Redact: del, ReleaseAll: del})
		for _, e := range events {
			c.Apply(e)
		}
	}
}

// ownerLive says whether r's owner is live.
func (hs *history) ownerLive(th *tenantHistory, r *ownedRecord) bool {
	if r.stream == domain.LeadStream {
		return hs.leadLive(th, r.owner)
	}
	for _, c := range th.owned.customers {
		if c.ID() == r.owner {
			return !c.Deleted()
		}
	}
	return false
}

// recordEventType is the event type of a record form's change in stream:
// verb 0 added, 1 changed, 2 removed.
func recordEventType(stream string, form any, verb int) string {
	kinds := map[string][3][3]string{
		domain.LeadStream: {
			{domain.LeadInteractionLogged, domain.LeadInteractionChanged, domain.LeadInteractionDeleted},
			{domain.LeadContactAdded, domain.LeadContactChanged, domain.LeadContactRemoved},
			{domain.LeadLocationAdded, domain.LeadLocationChanged, domain.LeadLocationRemoved}},
		domain.CustomerStream: {
			{domain.CustomerInteractionLogged, domain.CustomerInteractionChanged, domain.CustomerInteractionDeleted},
			{domain.CustomerContactAdded, domain.CustomerContactChanged, domain.CustomerContactRemoved},
			{domain.CustomerLocationAdded, domain.CustomerLocationChanged, domain.CustomerLocationRemoved}},
	}[stream]
	switch form.(type) {
	case domain.Interaction:
		return kinds[0][verb]
	case domain.Contact:
		return kinds[1][verb]
	}
	return kinds[2][verb]
}

// recordData is the data of an added or changed event of form.
func recordData(owner uuid.UUID, form any) any {
	switch f := form.(type) {
	case domain.Interaction:
		return domain.InteractionData{OwnerID: owner, Interaction: f}
	case domain.Contact:
		return domain.ContactData{OwnerID: owner, Contact: f}
	}
	return domain.LocationData{OwnerID: owner, Location: form.(domain.Location)}
}

// recordForm is a random form of a record of the kind of like (nil: any
// kind), numbered number.
func (hs *history) recordForm(like any, number int64, id uuid.UUID) any {
	hs.seq++
	kind := hs.pick(3)
	switch like.(type) {
	case domain.Interaction:
		kind = 0
	case domain.Contact:
		kind = 1
	case domain.Location:
		kind = 2
	}
	switch kind {
	case 0:
		i := domain.Interaction{ID: id, Number: number, Kind: domain.InteractionKinds[hs.pick(len(domain.InteractionKinds))],
			Subject: fmt.Sprintf("subject %d", hs.seq), Notes: []string{"", "talked"}[hs.pick(2)], Outcome: []string{"", "positive"}[hs.pick(2)],
			OccurredAt: time.Date(2026, 3, 1+hs.pick(28), hs.pick(24), 0, 0, 0, time.UTC), Author: "ana@example.com"}
		if hs.pick(2) == 0 {
			at := time.Date(2026, 4, 1+hs.pick(28), 9, 0, 0, 0, time.UTC)
			i.NextAction, i.NextActionAt = "call back", &at
		}
		return i
	case 1:
		return domain.Contact{Number: number, Name: fmt.Sprintf("Contact %d", hs.seq), Email: fmt.Sprintf("contact%d@example.com", hs.seq),
			Position: []string{"", "CTO"}[hs.pick(2)]}
	}
	return domain.Location{Number: number, Name: fmt.Sprintf("Place %d", hs.seq), Link: "https://maps.example.com/?q=" + fmt.Sprint(hs.seq),
		Type: domain.LocationTypes[hs.pick(len(domain.LocationTypes))]}
}

// addRecord adds a random record to a live lead or customer of th.
func (hs *history) addRecord(th *tenantHistory, customers []*domain.Customer) {
	o := &th.owned
	r := &ownedRecord{stream: domain.LeadStream, live: true}
	if len(customers) > 0 && (len(th.leads) == 0 || hs.pick(2) == 0) {
		r.stream, r.owner = domain.CustomerStream, customers[hs.pick(len(customers))].ID()
	} else if len(th.leads) > 0 {
		r.owner = th.leads[hs.pick(len(th.leads))]
	}
	if r.owner == uuid.Nil || !hs.ownerLive(th, r) {
		return
	}
	o.numbers++
	r.form = hs.recordForm(nil, o.numbers, uuid.Must(uuid.NewV7()))
	events, ids := hs.encode(domain.Event{Type: recordEventType(r.stream, r.form, 0), Data: recordData(r.owner, r.form)})
	hs.commit(th, eventstore.StreamAppend{StreamType: r.stream, StreamID: r.owner, ExpectedVersion: eventstore.AnyVersion, Events: events})
	r.events = ids
	o.records = append(o.records, r)
}

// changeRecord replaces r's form by a new one, same number (and id).
func (hs *history) changeRecord(th *tenantHistory, r *ownedRecord) {
	var number int64
	var id uuid.UUID
	switch f := r.form.(type) {
	case domain.Interaction:
		number, id = f.Number, f.ID
	case domain.Contact:
		number = f.Number
	case domain.Location:
		number = f.Number
	}
	r.form = hs.recordForm(r.form, number, id)
	events, ids := hs.encode(domain.Event{Type: recordEventType(r.stream, r.form, 1), Data: recordData(r.owner, r.form)})
	hs.commit(th, eventstore.StreamAppend{StreamType: r.stream, StreamID: r.owner, ExpectedVersion: eventstore.AnyVersion, Events: events})
	r.events = append(r.events, ids...)
}

// removeRecord removes r, redacting its events if redact.
func (hs *history) removeRecord(th *tenantHistory, r *ownedRecord, redact bool) {
	var number int64
	switch f := r.form.(type) {
	case domain.Interaction:
		number = f.Number
	case domain.Contact:
		number = f.Number
	case domain.Location:
		number = f.Number
	}
	events, _ := hs.encode(domain.Event{Type: recordEventType(r.stream, r.form, 2), Data: domain.RecordRemovedData{OwnerID: r.owner, Number: number}})
	sa := eventstore.StreamAppend{StreamType: r.stream, StreamID: r.owner, ExpectedVersion: eventstore.AnyVersion, Events: events}
	if redact {
		sa.RedactEvents = r.events
	}
	hs.commit(th, sa)
	r.live = false
}
