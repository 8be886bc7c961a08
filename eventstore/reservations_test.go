package eventstore_test

import (
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/crmcore/crm/eventstore"
)

var (
	email = eventstore.Reservation{Kind: "email", Value: "ann@example.com"}
	phone = eventstore.Reservation{Kind: "phone", Value: "+33612345678"}
)

func TestReservations(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	tenant, ann, bob := newID(t), newID(t), newID(t)

	c := appendTo(tenant, ann, eventstore.NoStream, ev("lead.created", 1))
	c.Streams[0].Reserve = []eventstore.Reservation{email, phone, email}
	mustCommit(t, s, c)
	if owner, ok, err := s.LookupReservation(ctx, tenant, "email", email.Value); err != nil || !ok || owner != ann {
		t.Fatalf("lookup = %v %v %v", owner, ok, err)
	}
	if _, ok, _ := s.LookupReservation(ctx, newID(t), "email", email.Value); ok {
		t.Fatal("reservation visible to another tenant")
	}
	unknown := eventstore.Reservation{Kind: "email", Value: "nobody@example.com"}
	if owner, r, ok, err := s.FirstOwner(ctx, tenant, []eventstore.Reservation{unknown, phone, email}); err != nil || !ok || owner != ann || r != phone {
		t.Fatalf("first owner = %v %v %v %v, want the phone's owner", owner, r, ok, err)
	}
	if _, _, ok, err := s.FirstOwner(ctx, newID(t), []eventstore.Reservation{email}); err != nil || ok {
		t.Fatalf("first owner for another tenant = %v %v", ok, err)
	}
	if _, _, ok, err := s.FirstOwner(ctx, tenant, nil); err != nil || ok {
		t.Fatalf("first owner of nothing = %v %v", ok, err)
	}

	// Another stream cannot take it, and nothing of its commit is written.
	c = appendTo(tenant, bob, eventstore.NoStream, ev("lead.created", 2))
	c.Streams[0].Reserve = []eventstore.Reservation{{Kind: "email", Value: "bob@example.com"}, phone}
	var re *eventstore.ReservationError
	if _, err := s.Commit(ctx, c); !errors.As(err, &re) || re.Owner != ann || re.Reservation != phone {
		t.Fatalf("err = %v, want phone reserved by %s", err, ann)
	}
	if _, err := s.ReadStream(ctx, tenant, bob); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("failed commit wrote events: %v", err)
	}
	if _, ok, _ := s.LookupReservation(ctx, tenant, "email", "bob@example.com"); ok {
		t.Fatal("failed commit wrote a reservation")
	}
	// ... but another tenant can.
	c.TenantID, c.Streams[0].StreamID = newID(t), newID(t)
	mustCommit(t, s, c)

	// The owner reserving again is fine.
	c = appendTo(tenant, ann, 1, ev("lead.updated", 3))
	c.Streams[0].Reserve = []eventstore.Reservation{email}
	mustCommit(t, s, c)

	// Release one value: bob can take it in the same commit as ann lets go.
	c = eventstore.Commit{TenantID: tenant, Streams: []eventstore.StreamAppend{
		{StreamType: "lead", StreamID: bob, ExpectedVersion: eventstore.NoStream,
			Events: []eventstore.NewEvent{ev("lead.created", 4)}, Reserve: []eventstore.Reservation{email}},
		{StreamType: "lead", StreamID: ann, ExpectedVersion: 2,
			Events: []eventstore.NewEvent{ev("lead.updated", 5)}, Release: []eventstore.Reservation{email}},
	}}
	mustCommit(t, s, c)
	if owner, _, _ := s.LookupReservation(ctx, tenant, "email", email.Value); owner != bob {
		t.Fatalf("email owner = %s, want bob %s", owner, bob)
	}

	// Releasing what another stream owns does nothing.
	c = appendTo(tenant, ann, 3, ev("lead.updated", 6))
	c.Streams[0].Release = []eventstore.Reservation{email}
	mustCommit(t, s, c)
	if owner, _, _ := s.LookupReservation(ctx, tenant, "email", email.Value); owner != bob {
		t.Fatalf("email owner = %s after foreign release, want bob", owner)
	}

	// ReleaseAll drops everything ann owns.
	c = appendTo(tenant, ann, 4, ev("lead.deleted", 7))
	c.Streams[0].ReleaseAll = true
	mustCommit(t, s, c)
	if _, ok, _ := s.LookupReservation(ctx, tenant, "phone", phone.Value); ok {
		t.Fatal("phone still reserved after ReleaseAll")
	}
	if owner, _, _ := s.LookupReservation(ctx, tenant, "email", email.Value); owner != bob {
		t.Fatal("ReleaseAll of ann released bob's email")
	}
}

func TestConcurrentReservations(t *testing.T) {
	s := newStore(t)
	tenant := newID(t)
	const writers = 10
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			c := appendTo(tenant, newID(t), eventstore.NoStream, ev("lead.created", i))
			c.Streams[0].Reserve = []eventstore.Reservation{email}
			_, errs[i] = s.Commit(t.Context(), c)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		var re *eventstore.ReservationError
		switch {
		case err == nil:
			won++
		case errors.As(err, &re):
		default:
			t.Errorf("err = %v, want a ReservationError", err)
		}
	}
	if won != 1 || len(readAll(t, s)) != 1 {
		t.Fatalf("%d commits won, want 1", won)
	}
}

func TestIdempotency(t *testing.T) {
	s := newStore(t)
	tenant := newID(t)
	c := appendTo(tenant, newID(t), eventstore.NoStream, ev("lead.created", 1))
	c.IdempotencyKey = "req-42"
	first := mustCommit(t, s, c)

	again := appendTo(tenant, newID(t), eventstore.NoStream, ev("lead.created", 2))
	again.IdempotencyKey = "req-42"
	var dup *eventstore.DuplicateCommitError
	if _, err := s.Commit(t.Context(), again); !errors.As(err, &dup) || !reflect.DeepEqual(dup.Result, first) || dup.Key != "req-42" {
		t.Fatalf("err = %v, want duplicate of %+v", err, first)
	}
	if n := len(readAll(t, s)); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
	// Keys are per tenant.
	again.TenantID = newID(t)
	mustCommit(t, s, again)
}

func TestIdempotencyFailedCommitFreesKey(t *testing.T) {
	s := newStore(t)
	tenant, stream := newID(t), newID(t)
	c := appendTo(tenant, stream, 5, ev("lead.created", 1))
	c.IdempotencyKey = "k"
	var ce *eventstore.ConcurrencyError
	if _, err := s.Commit(t.Context(), c); !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	c.Streams[0].ExpectedVersion = eventstore.NoStream
	mustCommit(t, s, c)
}

func TestConcurrentIdempotentCommits(t *testing.T) {
	s := newStore(t)
	tenant := newID(t)
	const writers = 20
	var wg sync.WaitGroup
	results := make([]eventstore.CommitResult, writers)
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			c := appendTo(tenant, newID(t), eventstore.NoStream, ev("lead.created", i))
			c.IdempotencyKey = "same"
			results[i], errs[i] = s.Commit(t.Context(), c)
		})
	}
	wg.Wait()
	var won []eventstore.CommitResult
	var dups []eventstore.CommitResult
	for i, err := range errs {
		var dup *eventstore.DuplicateCommitError
		switch {
		case err == nil:
			won = append(won, results[i])
		case errors.As(err, &dup):
			dups = append(dups, dup.Result)
		default:
			t.Fatalf("err = %v", err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d commits won, want 1", len(won))
	}
	for _, d := range dups {
		if !reflect.DeepEqual(d, won[0]) {
			t.Fatalf("duplicate result %+v, want %+v", d, won[0])
		}
	}
	if n := len(readAll(t, s)); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
}
