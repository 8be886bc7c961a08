package domain

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Stream types.
const (
	// LeadStream is the stream type of a lead; its call logs live in it too,
	// so deleting a lead is one atomic append to one stream.
	LeadStream = "lead"
)

// Reservation kinds written by lead commands.
const (
	ReserveEmail   = "lead.email"    // normalized (lower-case) email
	ReservePhone   = "lead.phone"    // E.164 phone
	ReserveCallLog = "lead.call_log" // call log id, owned by the lead's stream
	ReserveComment = "lead.comment"  // comment number, owned by the lead's stream
)

// Event types of the lead stream. These strings are stored: never rename one.
const (
	LeadCreated       = "lead.created"
	LeadUpdated       = "lead.updated"
	LeadMerged        = "lead.merged"
	LeadStatusChanged = "lead.status_changed"
	LeadArchived      = "lead.archived"
	LeadRestored      = "lead.restored"
	LeadDeleted       = "lead.deleted"
	CallLogged        = "lead.call_logged"
	CallLogDeleted    = "lead.call_log_deleted"
	CommentAdded      = "lead.comment_added"
	CommentEdited     = "lead.comment_edited"
)

// Redacted is the data every earlier event of a permanently deleted lead is
// replaced with.
var Redacted = json.RawMessage(`{"redacted":true}`)

// LeadCreatedData is the data of lead.created.
type LeadCreatedData struct {
	LeadID  uuid.UUID   `json:"lead_id"`
	Number  int64       `json:"number"` // per-tenant integer id shown by some APIs
	Profile LeadProfile `json:"profile"`
	Status  Status      `json:"status"`
}

// FieldChange is one field's old and new value, in its JSON form.
type FieldChange struct {
	Field string          `json:"field"`
	Old   json.RawMessage `json:"old"`
	New   json.RawMessage `json:"new"`
}

// LeadUpdatedData is the data of lead.updated and lead.merged: the changed
// profile fields with their previous values, so the audit log reads on its own.
type LeadUpdatedData struct {
	LeadID  uuid.UUID     `json:"lead_id"`
	Changes []FieldChange `json:"changes"`
}

// LeadStatusChangedData is the data of lead.status_changed.
type LeadStatusChangedData struct {
	LeadID uuid.UUID `json:"lead_id"`
	From   Status    `json:"from"`
	To     Status    `json:"to"`
}

// LeadLifecycleData is the data of lead.archived, lead.restored and lead.deleted.
type LeadLifecycleData struct {
	LeadID uuid.UUID `json:"lead_id"`
	// CallLogIDs lists, on lead.deleted, the call logs deleted with the lead.
	CallLogIDs []uuid.UUID `json:"call_log_ids,omitempty"`
}

// CallLoggedData is the data of lead.call_logged.
type CallLoggedData struct {
	LeadID          uuid.UUID `json:"lead_id"`
	CallLogID       uuid.UUID `json:"call_log_id"`
	CallType        CallType  `json:"call_type"`
	DurationSeconds int       `json:"duration_seconds"`
	Outcome         string    `json:"outcome,omitempty"`
	Notes           string    `json:"notes,omitempty"`
	CalledAt        time.Time `json:"called_at"`
	// Redacted marks a call log deleted for good: only the ids in
	// CallLoggedRedactionKeeps are left, so the lead still refuses the id.
	Redacted bool `json:"redacted,omitempty"`
}

// CallLoggedRedactionKeeps names the data fields a permanently deleted call
// log's lead.call_logged keeps when its content is redacted.
var CallLoggedRedactionKeeps = []string{"lead_id", "call_log_id"}

// CallLogDeletedData is the data of lead.call_log_deleted.
type CallLogDeletedData struct {
	LeadID    uuid.UUID `json:"lead_id"`
	CallLogID uuid.UUID `json:"call_log_id"`
}

// CommentAddedData is the data of lead.comment_added. Author is who wrote it
// (the caller's identity), kept in the event so the comment reads on its own.
type CommentAddedData struct {
	LeadID    uuid.UUID `json:"lead_id"`
	CommentID int64     `json:"comment_id"` // per-tenant number
	Content   string    `json:"content"`
	Author    string    `json:"author"`
}

// CommentEditedData is the data of lead.comment_edited.
type CommentEditedData struct {
	LeadID    uuid.UUID `json:"lead_id"`
	CommentID int64     `json:"comment_id"`
	Old       string    `json:"old"`
	New       string    `json:"new"`
}

// leadEvents are the lead stream's own event types (its records' are in
// records.go, lead.converted in customer_events.go).
var leadEvents = registerEvents(
	eventOf[LeadCreatedData](LeadCreated),
	eventOf[LeadUpdatedData](LeadUpdated),
	eventOf[LeadUpdatedData](LeadMerged),
	eventOf[LeadStatusChangedData](LeadStatusChanged),
	eventOf[LeadLifecycleData](LeadArchived),
	eventOf[LeadLifecycleData](LeadRestored),
	eventOf[LeadLifecycleData](LeadDeleted),
	eventOf[CallLoggedData](CallLogged),
	eventOf[CallLogDeletedData](CallLogDeleted),
	eventOf[CommentAddedData](CommentAdded),
	eventOf[CommentEditedData](CommentEdited),
)

// LeadEventTypes returns every lead event type, for subscribers and tests
// that must handle them all.
func LeadEventTypes() []string {
	return slices.Concat(leadEvents, []string{LeadConverted}, RecordEventTypes(LeadStream))
}
