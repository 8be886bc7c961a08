package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/timers"
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

// RequestFeedback is RequestFeedbackAt now.
func (h *Handler) RequestFeedback(ctx context.Context, c Context, customerID uuid.UUID) (FeedbackResult, error) {
	return h.RequestFeedbackAt(ctx, c, customerID, time.Now())
}

// RequestFeedbackAt asks customer customerID for feedback at time at:
// feedback.requested in a new feedback stream and
// customer.feedback_requested in the customer's, one commit (the
// customer's delete then deletes the request, and a request racing the
// delete fails its version check), which also schedules the request's
// reminders and expiry (domain.FeedbackReminders, domain.FeedbackExpiry
// after at) as timers. Errors: domain.ErrCustomerNotFound,
// domain.ErrCustomerBlocked, ErrBusy.
func (h *Handler) RequestFeedbackAt(ctx context.Context, c Context, customerID uuid.UUID, at time.Time) (FeedbackResult, error) {
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
			u.create(domain.FeedbackStream, id, decided, withTimers(feedbackTimers(at, customerID)))
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
	return h.onFeedback(ctx, c, id, func(f *domain.Feedback) ([]domain.Event, error) { return f.Receive(a) },
		withTimers(timers.Cancel()))
}

// ExpireFeedback closes request id unanswered: feedback.expired (what the
// reminder timers do when a request has waited too long), cancelling its
// timers. Errors: domain.ErrFeedbackNotFound, domain.FeedbackClosedError,
// ErrBusy.
func (h *Handler) ExpireFeedback(ctx context.Context, c Context, id uuid.UUID) (FeedbackResult, error) {
	return h.onFeedback(ctx, c, id, (*domain.Feedback).Expire, withTimers(timers.Cancel()))
}

// onFeedback loads request id, decides on it and appends what was decided
// with opts.
func (h *Handler) onFeedback(ctx context.Context, c Context, id uuid.UUID, decide func(*domain.Feedback) ([]domain.Event, error),
	opts ...func(*eventstore.StreamAppend)) (FeedbackResult, error) {
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
			u.append(f, decided, opts...)
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
		u.append(f, decided, erasing, withTimers(timers.Cancel()))
	}
	return nil
}

// The timer kinds of a feedback request, scheduled by its request's
// commit: a reminder (FeedbackTimer.Reminder says which) and the expiry.
// These strings are stored: never rename one.
const (
	FeedbackRemindTimer = "feedback.remind"
	FeedbackExpireTimer = "feedback.expire"
)

// FeedbackTimer is the payload of a feedback request's timers.
type FeedbackTimer struct {
	CustomerID uuid.UUID `json:"customer_id"`
	Reminder   int       `json:"reminder,omitempty"` // 1 or 2; 0 for the expiry
}

// FeedbackTimerOf reads a feedback timer's payload.
func FeedbackTimerOf(t timers.Timer) (FeedbackTimer, error) {
	var p FeedbackTimer
	if err := json.Unmarshal(t.Payload, &p); err != nil {
		return p, fmt.Errorf("feedback timer %s: %w", t.ID, err)
	}
	return p, nil
}

// feedbackTimers schedules a request's reminders and expiry, from at.
func feedbackTimers(at time.Time, customerID uuid.UUID) eventstore.TxWrite {
	ts := make([]timers.New, 0, domain.MaxFeedbackReminders+1)
	for i, after := range domain.FeedbackReminders {
		ts = append(ts, timers.New{Kind: FeedbackRemindTimer, DueAt: at.Add(after),
			Payload: FeedbackTimer{CustomerID: customerID, Reminder: i + 1}})
	}
	ts = append(ts, timers.New{Kind: FeedbackExpireTimer, DueAt: at.Add(domain.FeedbackExpiry),
		Payload: FeedbackTimer{CustomerID: customerID}})
	return timers.Schedule(ts...)
}

// withTimers adds writes to the stream's commit (timers scheduled, cancelled
// or fired with its events).
func withTimers(writes ...eventstore.TxWrite) func(*eventstore.StreamAppend) {
	return func(sa *eventstore.StreamAppend) { sa.Within = append(sa.Within, writes...) }
}

// TimerHandlers are the handlers of the timer kinds commands schedule, for
// the scheduler (timers.Scheduler.Handle).
func (h *Handler) TimerHandlers() map[string]timers.Handler {
	return map[string]timers.Handler{FeedbackRemindTimer: h.fireFeedback, FeedbackExpireTimer: h.fireFeedback}
}

// TimerContext is the context of a timer's firing: its tenant, and its id
// as the events' causation.
func TimerContext(t timers.Timer) Context {
	return Context{TenantID: t.TenantID, Metadata: eventstore.Metadata{Actor: "timers", CausationID: timers.Causation(t)}}
}

// fireFeedback fires a feedback request's timer: feedback.reminded (its
// reminder) or feedback.expired, the timer marked fired in the same commit
// (the expiry also cancels what is left). A request answered, expired,
// reminded or deleted meanwhile makes the timer obsolete.
func (h *Handler) fireFeedback(ctx context.Context, t timers.Timer) (eventstore.Position, error) {
	p, err := FeedbackTimerOf(t)
	if err != nil {
		return eventstore.Position{}, err
	}
	decide, writes := func(f *domain.Feedback) ([]domain.Event, error) { return f.Remind(p.Reminder) }, []eventstore.TxWrite{timers.Fire(t)}
	if t.Kind == FeedbackExpireTimer {
		decide, writes = (*domain.Feedback).Expire, append(writes, timers.Cancel())
	}
	res, err := h.onFeedback(ctx, TimerContext(t), t.StreamID, decide, withTimers(writes...))
	var closed domain.FeedbackClosedError
	if errors.Is(err, domain.ErrFeedbackNotFound) || errors.Is(err, domain.ErrFeedbackReminded) || errors.As(err, &closed) {
		return eventstore.Position{}, fmt.Errorf("%w: %w", timers.ErrObsolete, err)
	}
	return res.Position, err
}
