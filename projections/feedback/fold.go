package feedback

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// feedbackEvents are the feedback events that change rm_feedback: all of them.
var feedbackEvents = domain.FeedbackEventTypes()

// feedbackCopyColumns are the columns of rm_feedback, in the order of
// feedbackRow.values.
var feedbackCopyColumns = []string{"tenant_id", "id", "customer_id", "status", "rating", "comment", "category",
	"requested_at", "closed_at", "reminders", "last_reminded_at"}

// feedbackRow is a request's row of rm_feedback, folded from the request's
// own events: the one statement of what a feedback event means to the
// read model, used by the bulk rebuild and, row by row, by Apply.
type feedbackRow struct {
	present     bool
	tenantID    uuid.UUID
	id          uuid.UUID
	customerID  uuid.UUID
	status      string
	rating      int16
	comment     string
	category    string
	requestedAt time.Time
	closedAt    time.Time // received or expired; zero while requested
	reminders   int16     // reminders sent (feedback.reminded), at most 2
	remindedAt  time.Time // the last reminder's; zero before the first
}

// feedbackCounts are rm_feedback_counts: the requests by status, category
// and rating.
var feedbackCounts = projections.NewCounts("rm_feedback_counts", "status", "category", "rating")

// group is the request's group of rm_feedback_counts; nil when it has no
// row.
func (r *feedbackRow) group() []any {
	if !r.present {
		return nil
	}
	return []any{r.status, r.category, r.rating}
}

// Fold folds one event of the request's stream into the row.
func (r *feedbackRow) Fold(e eventstore.Event) error {
	ev, err := domain.DecodeEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return err
	}
	switch d := ev.Data.(type) {
	case domain.FeedbackRequestedData:
		if d.FeedbackID == uuid.Nil {
			return nil // redacted
		}
		if r.present {
			return fmt.Errorf("feedback %s requested twice", e.StreamID)
		}
		*r = feedbackRow{present: true, tenantID: e.TenantID, id: e.StreamID, customerID: d.CustomerID,
			status: string(domain.FeedbackStatusRequested), requestedAt: e.RecordedAt}
	case domain.FeedbackReceivedData:
		if r.present {
			r.status, r.closedAt = string(domain.FeedbackStatusReceived), e.RecordedAt
			r.rating, r.comment, r.category = int16(d.Rating), d.Comment, d.Category
		}
	case domain.FeedbackExpiredData:
		if r.present {
			r.status, r.closedAt = string(domain.FeedbackStatusExpired), e.RecordedAt
		}
	case domain.FeedbackRemindedData:
		if r.present {
			r.reminders, r.remindedAt = max(r.reminders, int16(d.Reminder)), e.RecordedAt
		}
	case domain.FeedbackDeletedData:
		*r = feedbackRow{} // deleted with its customer (and redacted before)
	}
	return nil
}

// values is the row in feedbackCopyColumns order, for COPY and for Apply's
// insert and update alike.
func (r *feedbackRow) values() []any {
	return []any{projections.CopyUUID(r.tenantID), projections.CopyUUID(r.id), projections.CopyUUID(r.customerID),
		r.status, r.rating, r.comment, r.category, r.requestedAt, nullTime(r.closedAt), r.reminders, nullTime(r.remindedAt)}
}

// nullTime is t, or null when zero.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// End emits the request's row if it exists.
func (r *feedbackRow) End(emit func([]any) error) error {
	done := *r
	*r = feedbackRow{}
	if !done.present {
		return nil
	}
	return emit(done.values())
}

// Rebuild implements projections.Rebuilder: it folds each request's stream
// into its final row, copies the rows into rm_feedback, and counts them
// into rm_feedback_counts.
func (Projection) Rebuild(ctx context.Context, b *projections.BulkBuild) error {
	err := b.CopyStreams(ctx, "rm_feedback", feedbackCopyColumns,
		eventstore.ScanFilter{StreamTypes: []string{domain.FeedbackStream}, EventTypes: feedbackEvents, NoMetadata: true},
		func() projections.StreamFold { return &feedbackRow{} })
	if err != nil {
		return err
	}
	return feedbackCounts.Rebuild(ctx, b, "rm_feedback")
}
