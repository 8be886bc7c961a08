package commands_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
)

func (f *fixture) customer(t *testing.T, name, email string) commands.CustomerResult {
	t.Helper()
	res, err := f.h.CreateCustomer(f.ctx, f.c, commands.CreateCustomer{Profile: domain.CustomerProfile{Name: name, Emails: []string{email}}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// reservations counts the reservations stream id owns.
func (f *fixture) reservations(t *testing.T, id uuid.UUID) int {
	t.Helper()
	var n int
	if err := f.store.Pool().QueryRow(f.ctx, `select count(*) from reservations where stream_id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// rawData is the stored data of every event of stream id, in order.
func (f *fixture) rawData(t *testing.T, id uuid.UUID) string {
	t.Helper()
	var s string
	if err := f.store.Pool().QueryRow(f.ctx, `select coalesce(string_agg(data::text, ' ' order by stream_version), '')
		from events where stream_id = $1`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCustomerLifecycle(t *testing.T) {
	f := newFixture(t)
	// A customer is numbered per tenant and normalized; a keyed retry
	// answers the first create and writes nothing.
	keyed := f.c
	keyed.IdempotencyKey = "k-customer"
	first, err := f.h.CreateCustomer(f.ctx, keyed, commands.CreateCustomer{Profile: domain.CustomerProfile{
		Name: "Asha Rao", Emails: []string{" Asha@Example.com "}, Phones: []string{"98765 43210"}, Company: "Rao Traders"}})
	if err != nil {
		t.Fatal(err)
	}
	if first.Number != 1 || first.Profile.Emails[0] != "asha@example.com" || first.Profile.Phones[0] != "+919876543210" ||
		first.Profile.Type != domain.CustomerBusiness || first.Follow != "Won" {
		t.Fatalf("created %+v", first)
	}
	before := f.eventCount(t)
	again, err := f.h.CreateCustomer(f.ctx, keyed, commands.CreateCustomer{Profile: domain.CustomerProfile{Name: "Asha Rao", Emails: []string{"asha@example.com"}}})
	if err != nil || again.CustomerID != first.CustomerID || again.Position != first.Position || f.eventCount(t) != before {
		t.Fatalf("retry: %+v %v, want %+v", again, err, first)
	}
	// Its email is taken among customers: a duplicate naming the customer.
	_, err = f.h.CreateCustomer(f.ctx, f.c, commands.CreateCustomer{Profile: domain.CustomerProfile{Name: "Other", Emails: []string{"ASHA@example.com"}}})
	var dup *commands.DuplicateError
	if !errors.As(err, &dup) || dup.Field != "email" || dup.CustomerID != first.CustomerID || crmerr.Code(err) != crmerr.Duplicate {
		t.Fatalf("duplicate email: %v", err)
	}
	second := f.customer(t, "Bala", "bala@example.com")
	if second.Number != 2 {
		t.Fatalf("second customer number %d", second.Number)
	}

	// A partial update: the primary email's reservation moves with it.
	updated, err := f.h.UpdateCustomer(f.ctx, f.c, first.CustomerID, func(p domain.CustomerProfile) (domain.CustomerProfile, error) {
		p.Emails = []string{"asha.rao@example.com"}
		p.TaxID = "GST-1"
		return p, nil
	})
	if err != nil || updated.Profile.TaxID != "GST-1" || updated.Profile.Name != "Asha Rao" || updated.Profile.Emails[0] != "asha.rao@example.com" {
		t.Fatalf("update: %+v %v", updated, err)
	}
	_, err = f.h.UpdateCustomer(f.ctx, f.c, second.CustomerID, func(p domain.CustomerProfile) (domain.CustomerProfile, error) {
		p.Emails = []string{"asha.rao@example.com"}
		return p, nil
	})
	if !errors.As(err, &dup) || dup.CustomerID != first.CustomerID {
		t.Fatalf("update to another customer's email: %v", err)
	}
	f.customer(t, "Asha again", "asha@example.com") // the old email is free

	// Delete: redacted, its email released, and it is gone.
	if _, err := f.h.DeleteCustomer(f.ctx, f.c, first.CustomerID); err != nil {
		t.Fatal(err)
	}
	if raw := f.rawData(t, first.CustomerID); strings.Contains(raw, "asha") || strings.Contains(raw, "GST") {
		t.Fatalf("deleted customer's events still hold personal data: %s", raw)
	}
	if n := f.reservations(t, first.CustomerID); n != 0 {
		t.Fatalf("deleted customer keeps %d reservations", n)
	}
	f.customer(t, "Asha new", "asha.rao@example.com")
	if _, err := f.h.DeleteCustomer(f.ctx, f.c, first.CustomerID); !errors.Is(err, domain.ErrCustomerNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if _, err := f.h.UpdateCustomer(f.ctx, f.c, uuid.New(), func(p domain.CustomerProfile) (domain.CustomerProfile, error) { return p, nil }); !errors.Is(err, domain.ErrCustomerNotFound) {
		t.Fatalf("update unknown: %v", err)
	}
	// A customer id is not a lead id, nor the other way round.
	if _, err := f.h.DeleteCustomer(f.ctx, f.c, f.lead(t, "Lead", "lead@example.com")); !errors.Is(err, domain.ErrCustomerNotFound) {
		t.Fatalf("delete a lead as a customer: %v", err)
	}
}

func TestConvertLead(t *testing.T) {
	f := newFixture(t)
	lead := f.lead(t, "Asha", "asha@example.com")
	keyed := f.c
	keyed.IdempotencyKey = "k-convert"
	res, err := f.h.ConvertLead(f.ctx, keyed, lead)
	if err != nil {
		t.Fatal(err)
	}
	if res.Linked || res.LeadID != lead || res.Number != 1 || res.Profile.Name != "Asha" || res.Profile.Emails[0] != "asha@example.com" {
		t.Fatalf("converted %+v", res)
	}
	// One commit: the lead's, the pipeline's and the customer's events.
	var streams int
	var types string
	if err := f.store.Pool().QueryRow(f.ctx, `select count(distinct stream_id), string_agg(event_type, ',' order by stream_type, stream_version)
		from events where transaction_id = (select transaction_id from events where stream_id = $1)`, res.CustomerID).Scan(&streams, &types); err != nil {
		t.Fatal(err)
	}
	if streams != 3 || types != "customer.created,lead.converted,lead.status_changed,pipeline.status_created" {
		t.Fatalf("the conversion's transaction wrote %d streams: %s", streams, types)
	}
	statuses, err := f.h.PipelineStatuses(f.ctx, f.c.TenantID)
	if err != nil || len(statuses) != 7 || statuses[6].Name != "Converted" || res.Follow != statuses[6].Key {
		t.Fatalf("pipeline %+v %v, customer follow %s", statuses, err, res.Follow)
	}
	// A keyed retry answers the first conversion.
	again, err := f.h.ConvertLead(f.ctx, keyed, lead)
	if err != nil || again.CustomerID != res.CustomerID || again.Position != res.Position {
		t.Fatalf("retry: %+v %v", again, err)
	}
	// Converting twice is a conflict naming the customer.
	_, err = f.h.ConvertLead(f.ctx, f.c, lead)
	var ac domain.AlreadyConvertedError
	if !errors.As(err, &ac) || ac.CustomerID != res.CustomerID || crmerr.Code(err) != crmerr.Conflict {
		t.Fatalf("convert twice: %v", err)
	}
	// The next conversion finds the Converted status: no second one.
	before := f.eventCount(t)
	other, err := f.h.ConvertLead(f.ctx, f.c, f.lead(t, "Bala", "bala@example.com"))
	if err != nil || other.Number != 2 || other.Follow != res.Follow || f.eventCount(t) != before+1+3 {
		t.Fatalf("second conversion: %+v %v, %d events", other, err, f.eventCount(t)-before)
	}
	if _, err := f.h.ConvertLead(f.ctx, f.c, uuid.New()); !errors.Is(err, domain.ErrLeadNotFound) {
		t.Fatalf("convert unknown: %v", err)
	}
}

func TestConvertLinksToTheCustomerWithTheLeadsEmail(t *testing.T) {
	f := newFixture(t)
	existing := f.customer(t, "Asha Rao", "asha@example.com")
	lead := f.lead(t, "Asha", "Asha@example.com")
	before := f.eventCount(t)
	res, err := f.h.ConvertLead(f.ctx, f.c, lead)
	if err != nil || !res.Linked || res.CustomerID != existing.CustomerID || res.Number != existing.Number {
		t.Fatalf("link: %+v %v", res, err)
	}
	// lead.converted, the status change and the Converted status: no customer.created.
	if got := f.eventCount(t) - before; got != 3 {
		t.Fatalf("%d events for a linking conversion, want 3", got)
	}
	var ac domain.AlreadyConvertedError
	if _, err := f.h.ConvertLead(f.ctx, f.c, lead); !errors.As(err, &ac) || ac.CustomerID != existing.CustomerID {
		t.Fatalf("convert a linked lead again: %v", err)
	}
}

// TestCustomerByNumber: a customer's number names it in its tenant until it
// is deleted; a record's number names its owner.
func TestCustomerByNumber(t *testing.T) {
	f := newFixture(t)
	a, b := f.customer(t, "Asha Rao", "asha@example.com"), f.customer(t, "Bela Rao", "bela@example.com")
	for _, c := range []commands.CustomerResult{a, b} {
		if id, err := f.h.CustomerByNumber(f.ctx, f.c.TenantID, c.Number); err != nil || id != c.CustomerID {
			t.Fatalf("CustomerByNumber(%d) = %v, %v; want %v", c.Number, id, err, c.CustomerID)
		}
	}
	if _, err := f.h.CustomerByNumber(f.ctx, uuid.New(), a.Number); !errors.Is(err, domain.ErrCustomerNotFound) {
		t.Fatalf("another tenant's number: %v", err)
	}
	owner := commands.RecordOwner{Stream: domain.CustomerStream, ID: b.CustomerID}
	loc, err := commands.AddRecord(f.ctx, f.h, f.c, owner, domain.Location{Name: "Depot", Link: "https://maps.example", Type: "warehouse"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := commands.RecordOwnerOf[domain.Location](f.ctx, f.h, f.c.TenantID, loc.Number); err != nil || got != owner {
		t.Fatalf("RecordOwnerOf = %+v, %v; want %+v", got, err, owner)
	}
	if _, err := commands.RecordOwnerOf[domain.Contact](f.ctx, f.h, f.c.TenantID, loc.Number); !errors.Is(err, domain.ErrRecordNotFound) {
		t.Fatalf("a location's number as a contact's: %v", err)
	}
	if _, err := f.h.DeleteCustomer(f.ctx, f.c, b.CustomerID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.CustomerByNumber(f.ctx, f.c.TenantID, b.Number); !errors.Is(err, domain.ErrCustomerNotFound) {
		t.Fatalf("a deleted customer's number: %v", err)
	}
}
