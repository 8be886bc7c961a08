package commands_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
)

func TestFeedbackLifecycle(t *testing.T) {
	f := newFixture(t)
	cust := f.customer(t, "Asha Rao", "asha@example.com")
	// A request; a keyed retry answers the first and writes nothing.
	keyed := f.c
	keyed.IdempotencyKey = "k-feedback"
	req, err := f.h.RequestFeedback(f.ctx, keyed, cust.CustomerID)
	if err != nil || req.CustomerID != cust.CustomerID || req.Status != domain.FeedbackStatusRequested || req.FeedbackID == uuid.Nil {
		t.Fatalf("request: %+v %v", req, err)
	}
	before := f.eventCount(t)
	if again, err := f.h.RequestFeedback(f.ctx, keyed, cust.CustomerID); err != nil || again.FeedbackID != req.FeedbackID ||
		again.Position != req.Position || f.eventCount(t) != before {
		t.Fatalf("retry: %+v %v", again, err)
	}
	// A bad answer names its field; a good one is stored normalized; a
	// keyed retry answers it again; a second answer is a conflict.
	_, err = f.h.ReceiveFeedback(f.ctx, f.c, req.FeedbackID, domain.FeedbackAnswer{Rating: 6})
	var ve domain.ValidationError
	if !errors.As(err, &ve) || ve.Field != "rating" || crmerr.Code(err) != crmerr.Invalid {
		t.Fatalf("rating 6: %v", err)
	}
	keyed.IdempotencyKey = "k-receive"
	got, err := f.h.ReceiveFeedback(f.ctx, keyed, req.FeedbackID, domain.FeedbackAnswer{Rating: 5, Comment: "Great service!", Category: " Support"})
	if err != nil || got.Status != domain.FeedbackStatusReceived || got.Answer != (domain.FeedbackAnswer{Rating: 5, Comment: "Great service!", Category: "support"}) {
		t.Fatalf("receive: %+v %v", got, err)
	}
	if again, err := f.h.ReceiveFeedback(f.ctx, keyed, req.FeedbackID, domain.FeedbackAnswer{Rating: 5}); err != nil || again.Position != got.Position || again.Answer != got.Answer {
		t.Fatalf("retried receive: %+v %v", again, err)
	}
	_, err = f.h.ReceiveFeedback(f.ctx, f.c, req.FeedbackID, domain.FeedbackAnswer{Rating: 4})
	var closed domain.FeedbackClosedError
	if !errors.As(err, &closed) || closed.Status != domain.FeedbackStatusReceived || crmerr.Code(err) != crmerr.Conflict {
		t.Fatalf("receive twice: %v", err)
	}
	// An expired request takes no answer.
	late, err := f.h.RequestFeedback(f.ctx, f.c, cust.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	if exp, err := f.h.ExpireFeedback(f.ctx, f.c, late.FeedbackID); err != nil || exp.Status != domain.FeedbackStatusExpired {
		t.Fatalf("expire: %+v %v", exp, err)
	}
	if _, err := f.h.ReceiveFeedback(f.ctx, f.c, late.FeedbackID, domain.FeedbackAnswer{Rating: 4}); !errors.As(err, &closed) || closed.Status != domain.FeedbackStatusExpired {
		t.Fatalf("receive expired: %v", err)
	}
	// Unknown ids, another tenant's and a customer's id are not found.
	other := f.c
	other.TenantID = uuid.New()
	for name, id := range map[string]struct {
		c  commands.Context
		id uuid.UUID
	}{"unknown": {f.c, uuid.New()}, "another tenant's": {other, req.FeedbackID}, "a customer": {f.c, cust.CustomerID}} {
		if _, err := f.h.ReceiveFeedback(f.ctx, id.c, id.id, domain.FeedbackAnswer{Rating: 3}); !errors.Is(err, domain.ErrFeedbackNotFound) || crmerr.Code(err) != crmerr.NotFound {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRequestFeedbackRefusals(t *testing.T) {
	f := newFixture(t)
	cust := f.customer(t, "Asha Rao", "asha@example.com")
	if _, err := f.h.UpdateCustomer(f.ctx, f.c, cust.CustomerID, func(p domain.CustomerProfile) (domain.CustomerProfile, error) {
		p.Status = domain.CustomerBlocked
		return p, nil
	}); err != nil {
		t.Fatal(err)
	}
	before := f.eventCount(t)
	if _, err := f.h.RequestFeedback(f.ctx, f.c, cust.CustomerID); !errors.Is(err, domain.ErrCustomerBlocked) || crmerr.Code(err) != crmerr.Conflict {
		t.Errorf("blocked: %v", err)
	}
	other := f.c
	other.TenantID = uuid.New()
	if _, err := f.h.RequestFeedback(f.ctx, other, cust.CustomerID); !errors.Is(err, domain.ErrCustomerNotFound) {
		t.Errorf("another tenant's customer: %v", err)
	}
	if _, err := f.h.RequestFeedback(f.ctx, f.c, uuid.New()); !errors.Is(err, domain.ErrCustomerNotFound) {
		t.Errorf("unknown customer: %v", err)
	}
	if n := f.eventCount(t) - before; n != 0 {
		t.Errorf("%d events written by refused requests", n)
	}
}
