package domain

import (
	"slices"

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
)

// FeedbackStatus is where a feedback request is: requested, then received
// or expired, never both.
type FeedbackStatus string

// The feedback statuses.
const (
	FeedbackStatusRequested FeedbackStatus = "requested"
	FeedbackStatusReceived  FeedbackStatus = "received"
	FeedbackStatusExpired   FeedbackStatus = "expired"
)

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

var feedbackEvents = registerEvents(
	eventOf[FeedbackRequestedData](FeedbackRequested),
	eventOf[FeedbackReceivedData](FeedbackReceived),
	eventOf[FeedbackExpiredData](FeedbackExpired),
)

// FeedbackEventTypes returns every feedback event type.
func FeedbackEventTypes() []string { return slices.Clone(feedbackEvents) }
