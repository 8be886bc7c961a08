package commands_test

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

func jane(email string) domain.Contact {
	return domain.Contact{Name: "Jane Smith", Email: email, Phone: "+525559876543", Position: "CTO"}
}

func call(notes string) domain.Interaction {
	return domain.Interaction{Kind: domain.KindCall, Notes: notes, OccurredAt: time.Date(2026, 3, 19, 9, 0, 0, 0, time.UTC)}
}

func (f *fixture) contact(t *testing.T, owner commands.RecordOwner, c domain.Contact) commands.RecordResult[domain.Contact] {
	t.Helper()
	res, err := commands.AddRecord(f.ctx, f.h, f.c, owner, c)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRecordsOfLeadsAndCustomers(t *testing.T) {
	f := newFixture(t)
	lead := commands.RecordOwner{Stream: domain.LeadStream, ID: f.lead(t, "Acme", "buyer@acme.com")}
	cust := commands.RecordOwner{Stream: domain.CustomerStream, ID: f.customer(t, "Globex", "info@globex.com").CustomerID}

	// A contact of the lead, numbered per tenant, its email normalized;
	// a keyed retry answers the first add and writes nothing.
	keyed := f.c
	keyed.IdempotencyKey = "k-contact"
	added, err := commands.AddRecord(f.ctx, f.h, keyed, lead, jane(" Jane@Acme.com "))
	if err != nil || added.Number != 1 || added.Record.Email != "jane@acme.com" || added.Owner != lead {
		t.Fatalf("add contact: %+v %v", added, err)
	}
	before := f.eventCount(t)
	again, err := commands.AddRecord(f.ctx, f.h, keyed, lead, jane("jane@acme.com"))
	if err != nil || again.Number != added.Number || again.Position != added.Position || f.eventCount(t) != before {
		t.Fatalf("retry: %+v %v", again, err)
	}
	// Contact emails are unique among the tenant's contacts, and may not be
	// another lead's; the owner's own email is fine.
	var dup *commands.DuplicateError
	if _, err := commands.AddRecord(f.ctx, f.h, f.c, cust, jane("jane@acme.com")); !errors.As(err, &dup) || !dup.Contact || dup.LeadID != lead.ID {
		t.Fatalf("another contact's email: %v", err)
	}
	other := f.lead(t, "Other", "other@example.com")
	if _, err := commands.AddRecord(f.ctx, f.h, f.c, cust, jane("other@example.com")); !errors.As(err, &dup) || dup.Contact || dup.LeadID != other {
		t.Fatalf("a lead's email: %v", err)
	}
	f.contact(t, lead, jane("buyer@acme.com"))

	// Records of a customer: an interaction gets a UUID that finds it.
	logged, err := commands.AddRecord(f.ctx, f.h, f.c, cust, call("Discussed pricing"))
	if err != nil || logged.Number != 1 || logged.Record.ID == uuid.Nil {
		t.Fatalf("log interaction: %+v %v", logged, err)
	}
	owner, number, err := f.h.InteractionByID(f.ctx, f.c.TenantID, logged.Record.ID)
	if err != nil || owner != cust || number != logged.Number {
		t.Fatalf("interaction by id: %+v %d %v", owner, number, err)
	}
	office, err := commands.AddRecord(f.ctx, f.h, f.c, cust, domain.Location{Name: "HQ", Link: "https://maps.example.com/1", Type: "headquarters"})
	if err != nil || office.Number != 1 {
		t.Fatalf("add location: %+v %v", office, err)
	}

	// A change from the form read: its email moves.
	changed, err := commands.ChangeRecord(f.ctx, f.h, f.c, added.Number, func(c domain.Contact) (domain.Contact, error) {
		c.Email, c.Position = "jane.smith@acme.com", "CEO"
		return c, nil
	})
	if err != nil || changed.Record.Position != "CEO" || changed.Record.Name != "Jane Smith" || changed.Owner != lead {
		t.Fatalf("change: %+v %v", changed, err)
	}
	f.contact(t, cust, jane("jane@acme.com")) // released by the change
	if _, err := commands.ChangeRecord(f.ctx, f.h, f.c, 999, func(c domain.Contact) (domain.Contact, error) { return c, nil }); !errors.Is(err, domain.ErrRecordNotFound) {
		t.Fatalf("change unknown: %v", err)
	}

	// Removing a contact redacts its events: only owner and number stay. A
	// keyed retry answers the first removal.
	keyed.IdempotencyKey = "k-remove"
	removed, err := commands.RemoveRecord[domain.Contact](f.ctx, f.h, keyed, added.Number)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := commands.RemoveRecord[domain.Contact](f.ctx, f.h, keyed, added.Number); err != nil || again.Position != removed.Position {
		t.Fatalf("retried removal: %+v %v, want %+v", again, err, removed)
	}
	rows, err := f.store.Pool().Query(f.ctx, `select data::text from events where stream_id = $1 and event_type like 'lead.contact_%' and data @> '{"number":1}'`, lead.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			t.Fatal(err)
		}
		n++
		if strings.Contains(data, "Jane") || strings.Contains(data, "acme") || strings.Contains(data, "+52") {
			t.Fatalf("a removed contact's event keeps personal data: %s", data)
		}
	}
	if n != 3 {
		t.Fatalf("%d events of the removed contact, want added, changed, removed", n)
	}
	if _, err := commands.RemoveRecord[domain.Contact](f.ctx, f.h, f.c, added.Number); !errors.Is(err, domain.ErrRecordNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
	f.contact(t, cust, jane("jane.smith@acme.com")) // its email is free again

	// Removing an interaction releases its UUID; a location is removed too.
	if _, err := commands.RemoveRecord[domain.Interaction](f.ctx, f.h, f.c, logged.Number); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.h.InteractionByID(f.ctx, f.c.TenantID, logged.Record.ID); !errors.Is(err, domain.ErrRecordNotFound) {
		t.Fatalf("removed interaction by id: %v", err)
	}
	if strings.Contains(f.rawData(t, cust.ID), "pricing") {
		t.Fatal("a removed interaction's notes are still stored")
	}
	if _, err := commands.RemoveRecord[domain.Location](f.ctx, f.h, f.c, office.Number); err != nil {
		t.Fatal(err)
	}
	if _, err := commands.AddRecord(f.ctx, f.h, f.c, commands.RecordOwner{Stream: domain.LeadStream, ID: uuid.New()}, call("x")); !errors.Is(err, domain.ErrLeadNotFound) {
		t.Fatalf("record of an unknown lead: %v", err)
	}
}

// Two changes of one contact read concurrently, each editing one field:
// the one that loses the race reads again, so both end applied.
func TestConcurrentRecordChangesAreNotLost(t *testing.T) {
	f := newFixture(t)
	lead := commands.RecordOwner{Stream: domain.LeadStream, ID: f.lead(t, "Acme", "buyer@acme.com")}
	added := f.contact(t, lead, jane("jane@acme.com"))
	// A second handler is another process: the two do not take turns.
	other := commands.New(f.store, "IN")
	edits := []struct {
		h    *commands.Handler
		edit func(domain.Contact) (domain.Contact, error)
	}{
		{f.h, func(c domain.Contact) (domain.Contact, error) { c.Position = "CEO"; return c, nil }},
		{other, func(c domain.Contact) (domain.Contact, error) { c.Name = "Jane Doe"; return c, nil }},
	}
	for round := range 5 {
		var wg sync.WaitGroup
		errs := make([]error, len(edits))
		for i, e := range edits {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = commands.ChangeRecord(f.ctx, e.h, f.c, added.Number, e.edit)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		got, live, err := commands.RecordOf[domain.Contact](f.ctx, f.h, f.c.TenantID, lead, added.Number)
		if err != nil || !live || got.Position != "CEO" || got.Name != "Jane Doe" {
			t.Fatalf("round %d: %+v %v %v, want both changes", round, got, live, err)
		}
		// Back to the start for the next round.
		if _, err := commands.ChangeRecord(f.ctx, f.h, f.c, added.Number, func(c domain.Contact) (domain.Contact, error) {
			c.Position, c.Name = "CTO", "Jane Smith"
			return c, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// Deleting an owner redacts its records with it and releases their
// numbers and emails.
func TestDeletingAnOwnerReleasesItsRecords(t *testing.T) {
	f := newFixture(t)
	leadID := f.lead(t, "Acme", "buyer@acme.com")
	lead := commands.RecordOwner{Stream: domain.LeadStream, ID: leadID}
	contact := f.contact(t, lead, jane("jane@acme.com"))
	logged, err := commands.AddRecord(f.ctx, f.h, f.c, lead, call("Discussed pricing"))
	if err != nil {
		t.Fatal(err)
	}
	cust := commands.RecordOwner{Stream: domain.CustomerStream, ID: f.customer(t, "Globex", "info@globex.com").CustomerID}
	custContact := f.contact(t, cust, jane("john@globex.com"))

	if _, err := f.h.DeleteLead(f.ctx, f.c, leadID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.DeleteCustomer(f.ctx, f.c, cust.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uuid.UUID{leadID, cust.ID} {
		if n := f.reservations(t, id); n != 0 {
			t.Fatalf("deleted owner %s keeps %d reservations", id, n)
		}
		if raw := f.rawData(t, id); strings.Contains(raw, "Jane") || strings.Contains(raw, "pricing") {
			t.Fatalf("deleted owner's records keep personal data: %s", raw)
		}
	}
	for _, number := range []int64{contact.Number, custContact.Number} {
		if _, err := commands.ChangeRecord(f.ctx, f.h, f.c, number, func(c domain.Contact) (domain.Contact, error) { return c, nil }); !errors.Is(err, domain.ErrRecordNotFound) {
			t.Fatalf("change a deleted owner's contact %d: %v", number, err)
		}
	}
	if _, _, err := f.h.InteractionByID(f.ctx, f.c.TenantID, logged.Record.ID); !errors.Is(err, domain.ErrRecordNotFound) {
		t.Fatalf("a deleted owner's interaction by id: %v", err)
	}
	other := commands.RecordOwner{Stream: domain.LeadStream, ID: f.lead(t, "Other", "other@example.com")}
	f.contact(t, other, jane("jane@acme.com"))
	f.contact(t, other, jane("john@globex.com"))
}

// A customer whose stream is long loads from a snapshot, and a record
// added before it still changes from the form read back.
func TestCustomersLoadFromSnapshots(t *testing.T) {
	f := newFixture(t)
	cust := f.customer(t, "Globex", "info@globex.com")
	const n = 600
	events := make([]eventstore.NewEvent, n)
	reserve := make([]eventstore.Reservation, n)
	for i := range events {
		number := int64(100000 + i)
		reserve[i] = eventstore.Reservation{Kind: domain.ReserveLocation, Value: strconv.FormatInt(number, 10)}
		data, err := domain.Event{Type: domain.CustomerLocationAdded, Data: domain.LocationData{OwnerID: cust.CustomerID, Number: number,
			Location: domain.Location{Number: number, Name: "Depot", Link: "https://maps.example.com/d", Type: "warehouse"}}}.MarshalData()
		if err != nil {
			t.Fatal(err)
		}
		events[i] = eventstore.NewEvent{ID: uuid.New(), Type: domain.CustomerLocationAdded, SchemaVersion: domain.SchemaVersion, Data: data}
	}
	if _, err := f.store.Commit(f.ctx, eventstore.Commit{TenantID: f.c.TenantID, Streams: []eventstore.StreamAppend{{
		StreamType: domain.CustomerStream, StreamID: cust.CustomerID, ExpectedVersion: 1, Events: events, Reserve: reserve}}}); err != nil {
		t.Fatal(err)
	}
	rename := func(name string) func(domain.Location) (domain.Location, error) {
		return func(l domain.Location) (domain.Location, error) { l.Name = name; return l, nil }
	}
	if _, err := commands.ChangeRecord(f.ctx, f.h, f.c, 100000, rename("North depot")); err != nil {
		t.Fatal(err)
	}
	if v := f.snapshotVersion(t, cust.CustomerID); v != n+1 {
		t.Fatalf("snapshot at version %d, want %d", v, n+1)
	}
	res, err := commands.ChangeRecord(f.ctx, f.h, f.c, 100001, rename("South depot"))
	if err != nil || res.Record.Name != "South depot" {
		t.Fatalf("change from the snapshot: %+v %v", res, err)
	}
	if _, err := f.h.DeleteCustomer(f.ctx, f.c, cust.CustomerID); err != nil {
		t.Fatal(err)
	}
	if v := f.snapshotVersion(t, cust.CustomerID); v != 0 {
		t.Fatalf("a deleted customer keeps its snapshot at %d", v)
	}
}

// A note that moves its lead (the prospects API's note with a follow-up
// status) is one commit: the interaction and the status change land
// together, and on a customer nothing lands at all.
func TestRecordMovingItsLeadIsOneCommit(t *testing.T) {
	f := newFixture(t)
	lead := commands.RecordOwner{Stream: domain.LeadStream, ID: f.lead(t, "Acme", "buyer@acme.com")}
	cust := commands.RecordOwner{Stream: domain.CustomerStream, ID: f.customer(t, "Globex", "info@globex.com").CustomerID}
	before := f.eventCount(t)
	res, err := commands.AddRecord(f.ctx, f.h, f.c, lead, call("moved"), commands.MovingTo("Qualified"))
	if err != nil {
		t.Fatal(err)
	}
	events, err := f.store.ReadStream(f.ctx, f.c.TenantID, lead.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-2:]
	if f.eventCount(t) != before+2 || last[0].Type != domain.LeadInteractionLogged || last[1].Type != domain.LeadStatusChanged ||
		last[0].Position.Tx != last[1].Position.Tx || last[1].Position != res.Position {
		t.Fatalf("one commit of the note and the move: %+v", last)
	}
	before = f.eventCount(t)
	var ve domain.ValidationError
	if _, err := commands.AddRecord(f.ctx, f.h, f.c, cust, call("no"), commands.MovingTo("Qualified")); !errors.As(err, &ve) || ve.Field != "status" {
		t.Fatalf("moving a customer: %v", err)
	}
	if f.eventCount(t) != before {
		t.Fatal("a refused move wrote the note")
	}
}
