package eventstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/crmcore/crm/eventstore"
)

func TestBulkClaimsLikeCommitAndCreatesStreamsInOneTransaction(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tenant, old := newID(t), newID(t)
	taken := eventstore.Reservation{Kind: "email", Value: "taken@example.com"}
	c := appendTo(tenant, old, eventstore.NoStream, ev("lead.created", 0))
	c.Streams[0].Reserve = []eventstore.Reservation{taken}
	mustCommit(t, s, c)

	ids := newIDs(t, 3)
	phone := eventstore.Reservation{Kind: "phone", Value: "+14155552671"}
	free := eventstore.Reservation{Kind: "email", Value: "free@example.com"}
	b, err := s.BeginBulk(ctx, tenant, eventstore.Metadata{Actor: "bulk"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Rollback(ctx)
	refused, err := b.Claim(ctx, []eventstore.BulkClaim{
		{StreamID: ids[0], Reserve: []eventstore.Reservation{taken, phone}}, // an earlier commit's value
		{StreamID: ids[1], Reserve: []eventstore.Reservation{free}},
		{StreamID: ids[2], Reserve: []eventstore.Reservation{free}}, // the stream before it in this bulk has it
	})
	if err != nil {
		t.Fatal(err)
	}
	if refused[0] == nil || refused[0].Owner != old || refused[0].Reservation != taken {
		t.Fatalf("claim 0: %+v", refused[0])
	}
	if refused[1] != nil || refused[2] == nil || refused[2].Owner != ids[1] {
		t.Fatalf("claims 1, 2: %+v %+v", refused[1], refused[2])
	}
	if err := b.Create(ctx, []eventstore.NewStream{{StreamType: "lead", StreamID: ids[1], Events: []eventstore.NewEvent{ev("lead.created", 1), ev("lead.noted", 2)}}}); err != nil {
		t.Fatal(err)
	}
	last, err := b.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The refused stream kept nothing: its phone is free again.
	if _, ok, err := s.LookupReservation(ctx, tenant, phone.Kind, phone.Value); err != nil || ok {
		t.Fatalf("the refused stream's phone: owned %v (%v)", ok, err)
	}
	// Later commits see the bulk's values as taken, and its streams as they are.
	c = appendTo(tenant, newID(t), eventstore.NoStream, ev("lead.created", 3))
	c.Streams[0].Reserve = []eventstore.Reservation{free}
	var re *eventstore.ReservationError
	if _, err := s.Commit(ctx, c); !errors.As(err, &re) || re.Owner != ids[1] {
		t.Fatalf("commit with the bulk's value: %v", err)
	}
	mustCommit(t, s, appendTo(tenant, ids[1], 2, ev("lead.updated", 4)))
	events := readAll(t, s)
	if got := types(events); len(got) != 4 || got[1] != "lead.created" || got[2] != "lead.noted" {
		t.Fatalf("events %v", got)
	}
	if events[2].Position != last || events[1].StreamVersion != 1 || events[2].StreamVersion != 2 || events[2].Metadata.Actor != "bulk" {
		t.Fatalf("bulk events %+v, last %s", events[1:3], last)
	}
}

func TestBulkRolledBackWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tenant, id := newID(t), newID(t)
	b, err := s.BeginBulk(ctx, tenant, eventstore.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	r := eventstore.Reservation{Kind: "email", Value: "x@example.com"}
	if _, err := b.Claim(ctx, []eventstore.BulkClaim{{StreamID: id, Reserve: []eventstore.Reservation{r}}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Create(ctx, []eventstore.NewStream{{StreamType: "lead", StreamID: id, Events: []eventstore.NewEvent{ev("lead.created", 1)}}}); err != nil {
		t.Fatal(err)
	}
	b.Rollback(ctx)
	if _, ok, err := s.LookupReservation(ctx, tenant, r.Kind, r.Value); err != nil || ok {
		t.Fatalf("reservation after rollback: %v %v", ok, err)
	}
	first, err := s.NextNumbers(ctx, tenant, "lead", 5)
	if err != nil || first != 1 {
		t.Fatalf("NextNumbers = %d, %v", first, err)
	}
	if n, err := s.NextNumber(ctx, tenant, "lead"); err != nil || n != 6 {
		t.Fatalf("NextNumber after 5 = %d, %v", n, err)
	}
}
