package commands_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

func TestMain(m *testing.M) { storetest.Main(m) }

type fixture struct {
	ctx   context.Context
	store *eventstore.Store
	h     *commands.Handler
	c     commands.Context
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool, err := eventstore.OpenPool(ctx, storetest.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := eventstore.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	store := eventstore.New(pool)
	return &fixture{ctx: ctx, store: store, h: commands.New(store, "IN"),
		c: commands.Context{TenantID: uuid.New(), Metadata: eventstore.Metadata{Actor: "test"}}}
}

func (f *fixture) lead(t *testing.T, name, email string) uuid.UUID {
	t.Helper()
	res, err := f.h.CreateLead(f.ctx, f.c, commands.CreateLead{Profile: domain.LeadProfile{Name: name, Emails: []string{email}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.LeadID
}

func (f *fixture) eventCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := f.store.Pool().QueryRow(f.ctx, `select count(*) from events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBulkArchiveIsAllOrNothing(t *testing.T) {
	f := newFixture(t)
	a, b := f.lead(t, "A", "a@example.com"), f.lead(t, "B", "b@example.com")
	before := f.eventCount(t)
	missing := uuid.New()
	_, err := f.h.ArchiveLeads(f.ctx, f.c, []uuid.UUID{a, missing, b})
	var notFound *commands.LeadsNotFoundError
	if !errors.As(err, &notFound) || len(notFound.IDs) != 1 || notFound.IDs[0] != missing || !errors.Is(err, domain.ErrLeadNotFound) {
		t.Fatalf("archive with an unknown id: %v", err)
	}
	if f.eventCount(t) != before {
		t.Fatal("a failed bulk archive wrote events")
	}
	if _, err := f.h.ArchiveLeads(f.ctx, f.c, []uuid.UUID{a, b, a}); err != nil {
		t.Fatal(err)
	}
	if got := f.eventCount(t); got != before+2 {
		t.Fatalf("%d events for archiving two leads, want 2", got-before)
	}
	// Archiving again changes nothing; restoring brings both back.
	if _, err := f.h.ArchiveLeads(f.ctx, f.c, []uuid.UUID{a, b}); err != nil || f.eventCount(t) != before+2 {
		t.Fatalf("re-archive: %v", err)
	}
	if _, err := f.h.RestoreLeads(f.ctx, f.c, []uuid.UUID{a, b}); err != nil || f.eventCount(t) != before+4 {
		t.Fatalf("restore: %v", err)
	}
	// Another tenant's leads do not exist for this one.
	other := f.c
	other.TenantID = uuid.New()
	if _, err := f.h.ArchiveLeads(f.ctx, other, []uuid.UUID{a}); !errors.As(err, &notFound) {
		t.Fatalf("archive across tenants: %v", err)
	}
}

func TestCreateLeadDuplicatePolicies(t *testing.T) {
	f := newFixture(t)
	id := f.lead(t, "Rahul", "rahul@example.com")
	_, err := f.h.CreateLead(f.ctx, f.c, commands.CreateLead{
		Profile:     domain.LeadProfile{Name: "Other", Emails: []string{"RAHUL@example.com"}},
		OnDuplicate: commands.RejectDuplicates,
	})
	var dup *commands.DuplicateError
	if !errors.As(err, &dup) || dup.Field != "email" || dup.LeadID != id {
		t.Fatalf("reject policy: %v", err)
	}
	res, err := f.h.CreateLead(f.ctx, f.c, commands.CreateLead{
		Profile: domain.LeadProfile{Name: "Rahul Sharma", Emails: []string{"rahul@example.com"}, Phones: []string{"+91 98765 43210"}},
	})
	if err != nil || !res.Merged || res.LeadID != id || len(res.Profile.Phones) != 1 || res.Profile.Phones[0] != "+919876543210" {
		t.Fatalf("merge policy: %+v %v", res, err)
	}
}

func TestChangeStatusAndCallLogs(t *testing.T) {
	f := newFixture(t)
	id := f.lead(t, "Asha", "asha@example.com")
	if _, err := f.h.ChangeStatus(f.ctx, f.c, id, "Qualified"); err != nil {
		t.Fatal(err)
	}
	call, err := f.h.LogCall(f.ctx, f.c, id, domain.CallLog{Type: domain.CallOutbound, CalledAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.DeleteCallLog(f.ctx, f.c, call.CallLogID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.DeleteCallLog(f.ctx, f.c, call.CallLogID); !errors.Is(err, domain.ErrCallLogNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := f.h.LogCall(f.ctx, f.c, uuid.New(), domain.CallLog{Type: domain.CallOutbound, CalledAt: time.Now()}); !errors.Is(err, domain.ErrLeadNotFound) {
		t.Fatalf("call on unknown lead: %v", err)
	}
	var invalid domain.ValidationError
	if _, err := f.h.LogCall(f.ctx, f.c, id, domain.CallLog{Type: "Missed", CalledAt: time.Now()}); !errors.As(err, &invalid) {
		t.Fatalf("invalid call: %v", err)
	}
}

func TestUpdateLeadMovesReservations(t *testing.T) {
	f := newFixture(t)
	a := f.lead(t, "A", "a@example.com")
	b := f.lead(t, "B", "b@example.com")
	patch := func(email string) commands.UpdateLead {
		return commands.UpdateLead{Edit: func(p domain.LeadProfile) (domain.LeadProfile, error) {
			p.Emails = []string{email}
			return p, nil
		}, Status: "Won"}
	}
	var dup *commands.DuplicateError
	if _, err := f.h.UpdateLead(f.ctx, f.c, a, patch("B@example.com")); !errors.As(err, &dup) || dup.LeadID != b {
		t.Fatalf("taking another lead's email: %v", err)
	}
	res, err := f.h.UpdateLead(f.ctx, f.c, a, patch("a2@example.com"))
	if err != nil || res.Status != "Won" || res.Profile.Emails[0] != "a2@example.com" {
		t.Fatalf("update: %+v %v", res, err)
	}
	// The old email is free again: a new lead gets it.
	if res, err := f.h.CreateLead(f.ctx, f.c, commands.CreateLead{Profile: domain.LeadProfile{Name: "C", Emails: []string{"a@example.com"}}}); err != nil || res.Merged {
		t.Fatalf("released email: %+v %v", res, err)
	}
	if _, err := f.h.UpdateLead(f.ctx, f.c, uuid.New(), patch("x@example.com")); !errors.Is(err, domain.ErrLeadNotFound) {
		t.Fatalf("unknown lead: %v", err)
	}
}

func TestBulkDeleteAndChangeStatusAreAllOrNothing(t *testing.T) {
	f := newFixture(t)
	a, b := f.lead(t, "A", "a@example.com"), f.lead(t, "B", "b@example.com")
	before := f.eventCount(t)
	var notFound *commands.LeadsNotFoundError
	if _, err := f.h.DeleteLeads(f.ctx, f.c, []uuid.UUID{a, uuid.New()}); !errors.As(err, &notFound) {
		t.Fatalf("delete with an unknown id: %v", err)
	}
	if _, err := f.h.ChangeStatuses(f.ctx, f.c, []uuid.UUID{uuid.New(), b}, "Won"); !errors.As(err, &notFound) {
		t.Fatalf("change status with an unknown id: %v", err)
	}
	if f.eventCount(t) != before {
		t.Fatal("a failed bulk call wrote events")
	}
	if _, err := f.h.ChangeStatuses(f.ctx, f.c, []uuid.UUID{a, b}, "Won"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.DeleteLeads(f.ctx, f.c, []uuid.UUID{a, b}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.History(f.ctx, f.c.TenantID, a, 0, 50); !errors.Is(err, domain.ErrLeadNotFound) {
		t.Fatalf("deleted lead's history: %v", err)
	}
	var redacted int
	if err := f.store.Pool().QueryRow(f.ctx, `select count(*) from events where redacted_at is not null`).Scan(&redacted); err != nil || redacted != 4 {
		t.Fatalf("%d redacted events, want 4 (%v)", redacted, err)
	}
	// Both emails are free again.
	if res, err := f.h.CreateLead(f.ctx, f.c, commands.CreateLead{Profile: domain.LeadProfile{Name: "A2", Emails: []string{"a@example.com"}}}); err != nil || res.Merged {
		t.Fatalf("email after bulk delete: %+v %v", res, err)
	}
}

// TestNormalizedProfileIsTakenAsItIs: a profile its caller normalized (as
// the API dialects do, with domain.NormalizeProfile) is not normalized a
// second time, only validated by the domain; one it did not is normalized
// by the command.
func TestNormalizedProfileIsTakenAsItIs(t *testing.T) {
	f := newFixture(t)
	raw := domain.LeadProfile{Name: "Asha", Emails: []string{"Asha@Example.com"}}
	var invalid domain.ValidationError
	if _, err := f.h.CreateLead(f.ctx, f.c, commands.CreateLead{Profile: raw, Normalized: true}); !errors.As(err, &invalid) || invalid.Field != "emails" {
		t.Fatalf("create with a profile said normalized that is not: %v", err)
	}
	res, err := f.h.CreateLead(f.ctx, f.c, commands.CreateLead{Profile: raw})
	if err != nil || res.Profile.Emails[0] != "asha@example.com" {
		t.Fatalf("create normalized by the command: %+v %v", res.Profile, err)
	}
	edit := func(p domain.LeadProfile) (domain.LeadProfile, error) {
		p.Phones = []string{"98765 43210"}
		return p, nil
	}
	if _, err := f.h.UpdateLead(f.ctx, f.c, res.LeadID, commands.UpdateLead{Edit: edit, Normalized: true}); !errors.As(err, &invalid) || invalid.Field != "phones" {
		t.Fatalf("update with an edit said normalized that is not: %v", err)
	}
	res, err = f.h.UpdateLead(f.ctx, f.c, res.LeadID, commands.UpdateLead{Edit: edit})
	if err != nil || res.Profile.Phones[0] != "+919876543210" {
		t.Fatalf("update normalized by the command: %+v %v", res.Profile, err)
	}
}
