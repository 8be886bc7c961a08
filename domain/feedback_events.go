package domain

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// FeedbackStream is the stream type of a feedback request: asked of a
// customer, answered (rating, comment, category) or expired unanswered.
const FeedbackStream = "feedback"

// Event types of the feedback stream. These strings are stored: never rename one.
const (
	FeedbackRequested = "feedback.requested"
	FeedbackReceived  = "feedback.received"
	FeedbackExpired   = "feedback.expired"
	// FeedbackReminded records that the customer was reminded of a request
	// still waiting (at most MaxFeedbackReminders times).
	FeedbackReminded = "feedback.reminded"
	// FeedbackDeleted ends a request whose customer was deleted for good:
	// the store redacts the request's stream in the customer's deleting
	// commit, so the answer (a comment is personal) goes with the customer.
	FeedbackDeleted = "feedback.deleted"
)

// CustomerFeedbackRequested is written in the customer's stream in the
// same commit as a request's feedback.requested: the customer knows its
// requests, so deleting it erases them too, and a request and a delete
// racing each other cannot both commit (both advance the customer's
// stream). This string is stored: never rename it.
const CustomerFeedbackRequested = "customer.feedback_requested"

// FeedbackStatus is where a feedback request is: requested, then received
// or expired, never both.
type FeedbackStatus string

// The feedback statuses.
const (
	FeedbackStatusRequested FeedbackStatus = "requested"
	FeedbackStatusReceived  FeedbackStatus = "received"
	FeedbackStatusExpired   FeedbackStatus = "expired"
)

// The reminder schedule of a feedback request, counted from its request:
// a first reminder after 3 days and a second after 6 while it waits, and
// expiry after 14 days unanswered. Durable timers (package timers),
// scheduled in the request's commit and cancelled by its answer or its
// customer's delete, fire them.
const (
	FeedbackFirstReminder  = 3 * 24 * time.Hour
	FeedbackSecondReminder = 6 * 24 * time.Hour
	FeedbackExpiry         = 14 * 24 * time.Hour
	// MaxFeedbackReminders is how many reminders a request gets at most.
	MaxFeedbackReminders = 2
)

// FeedbackReminders are the reminders' delays from the request, the n-th
// reminder's at index n-1.
var FeedbackReminders = [MaxFeedbackReminders]time.Duration{FeedbackFirstReminder, FeedbackSecondReminder}

// Bounds of an answer: a rating of 1 to 5 stars, a category short enough
// to group themes on.
const (
	MinRating, MaxRating = 1, 5
	maxFeedbackCategory  = 64
)

// FeedbackRequestedData is the data of feedback.requested.
type FeedbackRequestedData struct {
	FeedbackID uuid.UUID `json:"feedback_id"`
	CustomerID uuid.UUID `json:"customer_id"`
}

// FeedbackReceivedData is the data of feedback.received: the customer's
// answer. Category is free text, trimmed and lower-cased (themes group on
// it); empty when none was given.
type FeedbackReceivedData struct {
	FeedbackID uuid.UUID `json:"feedback_id"`
	CustomerID uuid.UUID `json:"customer_id"`
	Rating     int       `json:"rating"`
	Comment    string    `json:"comment,omitempty"`
	Category   string    `json:"category,omitempty"`
}

// FeedbackExpiredData is the data of feedback.expired: the request went
// unanswered for too long.
type FeedbackExpiredData struct {
	FeedbackID uuid.UUID `json:"feedback_id"`
	CustomerID uuid.UUID `json:"customer_id"`
}

// FeedbackRemindedData is the data of feedback.reminded: the customer was
// reminded of the request for the Reminder-th time (1 or 2).
type FeedbackRemindedData struct {
	FeedbackID uuid.UUID `json:"feedback_id"`
	CustomerID uuid.UUID `json:"customer_id"`
	Reminder   int       `json:"reminder"`
}

// FeedbackDeletedData is the data of feedback.deleted.
type FeedbackDeletedData struct {
	FeedbackID uuid.UUID `json:"feedback_id"`
	CustomerID uuid.UUID `json:"customer_id"`
}

// CustomerFeedbackData is the data of customer.feedback_requested.
type CustomerFeedbackData struct {
	FeedbackID uuid.UUID `json:"feedback_id"`
}

var (
	feedbackEvents = registerEvents(
		eventOf[FeedbackRequestedData](FeedbackRequested),
		eventOf[FeedbackReceivedData](FeedbackReceived),
		eventOf[FeedbackExpiredData](FeedbackExpired),
		eventOf[FeedbackDeletedData](FeedbackDeleted),
		eventOf[FeedbackRemindedData](FeedbackReminded),
	)
	customerFeedbackEvents = registerEvents(eventOf[CustomerFeedbackData](CustomerFeedbackRequested))
)

// CustomerFeedbackEventTypes returns the event types a feedback request
// writes in its customer's stream.
func CustomerFeedbackEventTypes() []string { return slices.Clone(customerFeedbackEvents) }

// FeedbackEventTypes returns every feedback event type.
func FeedbackEventTypes() []string { return slices.Clone(feedbackEvents) }
