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

// TestDeletingACustomerDeletesItsFeedback: a request is written in the
// customer's stream too, and the customer's delete ends every request in
// the same commit with the requests' streams redacted: the answers quote
// the customer.
func TestDeletingACustomerDeletesItsFeedback(t *testing.T) {
	f := newFixture(t)
	cust := f.customer(t, "Asha Rao", "asha@example.com")
	answered, err := f.h.RequestFeedback(f.ctx, f.c, cust.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.commitTypes(t, answered.FeedbackID); got != "customer.feedback_requested,feedback.requested" {
		t.Fatalf("request's commit: %s", got)
	}
	const comment = "Zanderfoss was rude on the phone"
	if _, err := f.h.ReceiveFeedback(f.ctx, f.c, answered.FeedbackID, domain.FeedbackAnswer{Rating: 1, Comment: comment}); err != nil {
		t.Fatal(err)
	}
	waiting, err := f.h.RequestFeedback(f.ctx, f.c, cust.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	del, err := f.h.DeleteCustomer(f.ctx, f.c, cust.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []uuid.UUID{answered.FeedbackID, waiting.FeedbackID} {
		if data := f.rawData(t, id); strings.Contains(data, comment) || !strings.Contains(data, `"redacted": true`) {
			t.Errorf("feedback %s after its customer's delete: %s", id, data)
		}
		var tx uint64
		if err := f.store.Pool().QueryRow(f.ctx, `select transaction_id::text::bigint from events where stream_id = $1 and event_type = $2`,
			id, domain.FeedbackDeleted).Scan(&tx); err != nil || tx != del.Position.Tx {
			t.Errorf("feedback %s: %s in transaction %d (%v), the customer's delete in %d", id, domain.FeedbackDeleted, tx, err, del.Position.Tx)
		}
		if _, err := f.h.ReceiveFeedback(f.ctx, f.c, id, domain.FeedbackAnswer{Rating: 5}); !errors.Is(err, domain.ErrFeedbackNotFound) {
			t.Errorf("answering feedback %s of a deleted customer: %v", id, err)
		}
	}
}
