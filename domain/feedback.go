package domain

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Feedback is the feedback aggregate: one request for a customer's opinion
// and its answer. Its state only changes through Apply; decisions read it
// and return the events to append.
type Feedback struct {
	id         uuid.UUID
	customerID uuid.UUID
	status     FeedbackStatus
	answer     FeedbackAnswer
	reminders  int // reminders sent
	exists     bool
	version    int
}

// FeedbackAnswer is what a customer answered: a rating of MinRating to
// MaxRating, an optional comment and an optional category (free text,
// stored trimmed and lower-cased, at most 64 characters).
type FeedbackAnswer struct {
	Rating   int
	Comment  string
	Category string
}

// Errors of feedback decisions.
var (
	// ErrFeedbackNotFound: no feedback request has this id.
	ErrFeedbackNotFound = newError("not_found", "feedback not found")
	// ErrCustomerBlocked refuses asking a blocked customer for feedback.
	ErrCustomerBlocked = newError("conflict", "customer is blocked")
	// ErrFeedbackReminded refuses a reminder sent before (or a later one
	// already sent): each reminder goes once.
	ErrFeedbackReminded = newError("conflict", "feedback reminder already sent")
)

// FeedbackClosedError refuses answering or expiring a feedback request that
// is no longer waiting; Status says what it became (received or expired).
type FeedbackClosedError struct{ Status FeedbackStatus }

// Error reads as "feedback already received".
func (e FeedbackClosedError) Error() string { return fmt.Sprintf("feedback already %s", e.Status) }

// ErrorCode names the error's kind in crm's vocabulary (crmerr).
func (e FeedbackClosedError) ErrorCode() string { return "conflict" }

// NewFeedbackFromHistory rebuilds a feedback request's state from its
// stored events, in order. It is not a constructor and validates nothing.
func NewFeedbackFromHistory(events []Event) *Feedback {
	f := &Feedback{}
	for _, e := range events {
		f.Apply(e)
	}
	return f
}

// Apply evolves the feedback by one event: a pure switch over event types.
func (f *Feedback) Apply(e Event) {
	f.version++
	switch e.Type {
	case FeedbackRequested:
		d := eventData[FeedbackRequestedData](e)
		f.exists, f.id, f.customerID, f.status = true, d.FeedbackID, d.CustomerID, FeedbackStatusRequested
	case FeedbackReceived:
		d := eventData[FeedbackReceivedData](e)
		f.status, f.answer = FeedbackStatusReceived, FeedbackAnswer{Rating: d.Rating, Comment: d.Comment, Category: d.Category}
	case FeedbackExpired:
		f.status = FeedbackStatusExpired
	case FeedbackReminded:
		f.reminders = max(f.reminders, eventData[FeedbackRemindedData](e).Reminder)
	case FeedbackDeleted:
		f.exists = false
	}
}

// Exists reports whether the feedback was requested.
func (f *Feedback) Exists() bool { return f.exists }

// ID returns the feedback's id.
func (f *Feedback) ID() uuid.UUID { return f.id }

// CustomerID returns the customer asked.
func (f *Feedback) CustomerID() uuid.UUID { return f.customerID }

// Status returns where the request is.
func (f *Feedback) Status() FeedbackStatus { return f.status }

// Answer returns the customer's answer (zero until received).
func (f *Feedback) Answer() FeedbackAnswer { return f.answer }

// Reminders returns how many reminders were sent.
func (f *Feedback) Reminders() int { return f.reminders }

// Version returns the number of events applied.
func (f *Feedback) Version() int { return f.version }

// RequestFeedback decides asking customer c for feedback, as request id:
// feedback.requested in the request's new stream, and
// customer.feedback_requested in the customer's, one commit. A customer
// never created or deleted is ErrCustomerNotFound, a blocked one
// ErrCustomerBlocked.
func RequestFeedback(id uuid.UUID, c *Customer) (customer, feedback []Event, err error) {
	if id == uuid.Nil {
		return nil, nil, invalid("feedback_id", "must be set")
	}
	if err := c.mustExist(); err != nil {
		return nil, nil, err
	}
	if c.profile.Status == CustomerBlocked {
		return nil, nil, ErrCustomerBlocked
	}
	return []Event{{Type: CustomerFeedbackRequested, Data: CustomerFeedbackData{FeedbackID: id}}},
		[]Event{{Type: FeedbackRequested, Data: FeedbackRequestedData{FeedbackID: id, CustomerID: c.id}}}, nil
}

// Delete decides ending the request with its deleted customer:
// feedback.deleted, whatever its status (the caller has the store redact
// the request's stream). A request deleted before is ErrFeedbackNotFound.
func (f *Feedback) Delete() ([]Event, error) {
	if !f.exists {
		return nil, ErrFeedbackNotFound
	}
	return []Event{{Type: FeedbackDeleted, Data: FeedbackDeletedData{FeedbackID: f.id, CustomerID: f.customerID}}}, nil
}

// Receive decides recording the customer's answer a: feedback.received. A
// request answered or expired before is FeedbackClosedError; a bad rating,
// category or comment a ValidationError naming it.
func (f *Feedback) Receive(a FeedbackAnswer) ([]Event, error) {
	if err := f.mustWait(); err != nil {
		return nil, err
	}
	a, err := a.complete()
	if err != nil {
		return nil, err
	}
	return []Event{{Type: FeedbackReceived, Data: FeedbackReceivedData{FeedbackID: f.id, CustomerID: f.customerID,
		Rating: a.Rating, Comment: a.Comment, Category: a.Category}}}, nil
}

// Expire decides closing an unanswered request: feedback.expired. One
// answered or expired before is FeedbackClosedError.
func (f *Feedback) Expire() ([]Event, error) {
	if err := f.mustWait(); err != nil {
		return nil, err
	}
	return []Event{{Type: FeedbackExpired, Data: FeedbackExpiredData{FeedbackID: f.id, CustomerID: f.customerID}}}, nil
}

// Remind decides sending the n-th reminder (1 to MaxFeedbackReminders) of
// a request still waiting: feedback.reminded. A request answered or
// expired is FeedbackClosedError; reminder n or a later one sent before
// ErrFeedbackReminded; n out of range a ValidationError naming reminder.
func (f *Feedback) Remind(n int) ([]Event, error) {
	if err := f.mustWait(); err != nil {
		return nil, err
	}
	if n < 1 || n > MaxFeedbackReminders {
		return nil, invalid("reminder", fmt.Sprintf("must be between 1 and %d", MaxFeedbackReminders))
	}
	if n <= f.reminders {
		return nil, ErrFeedbackReminded
	}
	return []Event{{Type: FeedbackReminded, Data: FeedbackRemindedData{FeedbackID: f.id, CustomerID: f.customerID, Reminder: n}}}, nil
}

// mustWait refuses a request that does not exist or no longer waits.
func (f *Feedback) mustWait() error {
	switch {
	case !f.exists:
		return ErrFeedbackNotFound
	case f.status != FeedbackStatusRequested:
		return FeedbackClosedError{Status: f.status}
	}
	return nil
}

// complete checks a and returns it in stored form.
func (a FeedbackAnswer) complete() (FeedbackAnswer, error) {
	a.Category = strings.ToLower(strings.TrimSpace(a.Category))
	a.Comment = strings.TrimSpace(a.Comment)
	switch {
	case a.Rating < MinRating || a.Rating > MaxRating:
		return a, invalid("rating", fmt.Sprintf("must be an integer between %d and %d", MinRating, MaxRating))
	case utf8.RuneCountInString(a.Category) > maxFeedbackCategory:
		return a, invalid("category", fmt.Sprintf("must be at most %d characters", maxFeedbackCategory))
	case utf8.RuneCountInString(a.Comment) > maxLongTextLen:
		return a, invalid("comment", fmt.Sprintf("must be at most %d characters", maxLongTextLen))
	case !utf8.ValidString(a.Comment) || !utf8.ValidString(a.Category):
		return a, invalid("comment", "must be valid UTF-8")
	}
	return a, nil
}
