package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// FeedbackResult says which feedback request a command wrote, and the
// request as it is after the command.
type FeedbackResult struct {
	Result
	FeedbackID uuid.UUID
	CustomerID uuid.UUID
	Status     domain.FeedbackStatus
	Answer     domain.FeedbackAnswer // zero until received
}

func (r FeedbackResult) at(p eventstore.Position) FeedbackResult { r.Position = p; return r }

// feedbackResult is the answer about feedback f as it is.
func feedbackResult(f *domain.Feedback) FeedbackResult {
	return FeedbackResult{FeedbackID: f.ID(), CustomerID: f.CustomerID(), Status: f.Status(), Answer: f.Answer()}
}

// feedbackNote is what a feedback request keeps with its idempotency key:
// the request it made.
type feedbackNote struct {
	FeedbackID uuid.UUID `json:"feedback_id"`
}

// feedbacks are Feedback streams: three events at most, so not
// snapshotted; domain.ErrFeedbackNotFound when missing. An answer quotes
// the customer's comment, so it is quoted.
var feedbacks = &kind[*domain.Feedback]{
	stream:  domain.FeedbackStream,
	blank:   func() *domain.Feedback { return domain.NewFeedbackFromHistory(nil) },
	decode:  domain.DecodeEvent,
	missing: domain.ErrFeedbackNotFound,
	live:    (*domain.Feedback).Exists,
	quoted:  true,
}

// RequestFeedback asks customer customerID for feedback: feedback.requested
// in a new feedback stream and customer.feedback_requested in the
// customer's, one commit (the customer's delete then deletes the request,
// and a request racing the delete fails its version check). Errors:
// domain.ErrCustomerNotFound, domain.ErrCustomerBlocked, ErrBusy.
func (h *Handler) RequestFeedback(ctx context.Context, c Context, customerID uuid.UUID) (FeedbackResult, error) {
	return run(ctx, h, c, write[FeedbackResult]{
		// Known by its note: each attempt names a new feedback stream.
		streams: []uuid.UUID{customerID}, byNote: true,
		decide: func(u *unit) (FeedbackResult, error) {
			id, err := uuid.NewV7()
			if err != nil {
				return FeedbackResult{}, err
			}
			cust, err := u.customer(customerID)
			if err != nil {
				return FeedbackResult{}, err
			}
			ofCustomer, decided, err := domain.RequestFeedback(id, cust)
			if err != nil {
				return FeedbackResult{}, err
			}
			u.append(cust, ofCustomer)
			u.create(domain.FeedbackStream, id, decided)
			u.keep(feedbackNote{FeedbackID: id})
			return feedbackResult(domain.NewFeedbackFromHistory(decided)), nil
		},
		replay: func(prior eventstore.CommitResult) (FeedbackResult, error) {
			n, err := noted(c, prior, func(n feedbackNote) bool { return n.FeedbackID != uuid.Nil })
			if err != nil {
				return FeedbackResult{}, err
			}
			return h.replayFeedback(ctx, c, n.FeedbackID, prior)
		},
	})
}

// replayFeedback answers a retried feedback command with request id as it
// is now.
func (h *Handler) replayFeedback(ctx context.Context, c Context, id uuid.UUID, prior eventstore.CommitResult) (FeedbackResult, error) {
	return current(ctx, h, c, feedbacks, id, feedbackResult, prior)
}

// ReceiveFeedback records the customer's answer a to request id:
// feedback.received. Errors: domain.ErrFeedbackNotFound,
// domain.FeedbackClosedError (answered or expired before),
// domain.ValidationError (rating, category, comment), ErrBusy.
func (h *Handler) ReceiveFeedback(ctx context.Context, c Context, id uuid.UUID, a domain.FeedbackAnswer) (FeedbackResult, error) {
	return h.onFeedback(ctx, c, id, func(f *domain.Feedback) ([]domain.Event, error) { return f.Receive(a) })
}

// ExpireFeedback closes request id unanswered: feedback.expired (what the
// reminder scheduler does when a request has waited too long). Errors:
// domain.ErrFeedbackNotFound, domain.FeedbackClosedError, ErrBusy.
func (h *Handler) ExpireFeedback(ctx context.Context, c Context, id uuid.UUID) (FeedbackResult, error) {
	return h.onFeedback(ctx, c, id, (*domain.Feedback).Expire)
}

// onFeedback loads request id, decides on it and appends what was decided.
func (h *Handler) onFeedback(ctx context.Context, c Context, id uuid.UUID, decide func(*domain.Feedback) ([]domain.Event, error)) (FeedbackResult, error) {
	return run(ctx, h, c, write[FeedbackResult]{
		streams: []uuid.UUID{id},
		decide: func(u *unit) (FeedbackResult, error) {
			f, err := use(u, feedbacks, id)
			if err != nil {
				return FeedbackResult{}, err
			}
			decided, err := decide(f)
			if err != nil {
				return FeedbackResult{}, err
			}
			u.append(f, decided)
			return feedbackResult(f), nil
		},
		replay: func(prior eventstore.CommitResult) (FeedbackResult, error) {
			return h.replayFeedback(ctx, c, id, prior)
		},
	})
}

// deleteFeedbackOf stages, with customer cust's delete, feedback.deleted
// in each of its feedback requests' streams, each redacted: an answer
// quotes the customer. A request it cannot find (never committed) is
// skipped.
func deleteFeedbackOf(u *unit, cust *domain.Customer) error {
	ids := cust.FeedbackRequests()
	if err := u.turn(ids...); err != nil {
		return err
	}
	for _, id := range ids {
		f, err := use(u, feedbacks, id)
		if errors.Is(err, domain.ErrFeedbackNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		decided, err := f.Delete()
		if err != nil {
			return err
		}
		u.append(f, decided, erasing)
	}
	return nil
}
