package domain

import (
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Lead is the lead aggregate: a prospective customer, its pipeline status,
// its lifecycle and its call logs. Its state only changes through Apply;
// decisions (lead_decisions.go) read it and return the events to append.
type Lead struct {
	id       uuid.UUID
	number   int64
	profile  LeadProfile
	status   Status
	exists   bool
	archived bool
	deleted  bool
	version  int
	// callLogs are the live call logs in logging order; usedCallLogs holds
	// every call log id the stream has seen (true while live), so a deleted
	// call log's id is never logged again in the same stream.
	callLogs     []uuid.UUID
	usedCallLogs map[uuid.UUID]bool
	// comments holds a digest of each comment's content by its number
	// (commentDigest): enough to tell an edit that changes nothing and to
	// check the content a command read from the stream, at a fixed size
	// per comment however long it is, so a lead's state stays small.
	comments map[int64]string
	// customerID is the customer the lead was converted to (nil if none).
	customerID uuid.UUID
	// records are its interactions, contacts and locations (records.go).
	records records
}

// NewLeadFromHistory rebuilds a lead's state by applying its stored events in
// order. It is not a constructor and validates nothing: the events were
// accepted when they were decided. A lead that does not exist yet is
// NewLeadFromHistory(nil); new leads come from CreateLead.
func NewLeadFromHistory(events []Event) *Lead {
	l := &Lead{}
	for _, e := range events {
		l.Apply(e)
	}
	return l
}

// Apply evolves the lead by one event. It is a pure switch over event types:
// no validation, no clock, no error, since stored events are facts. Event data
// may be held by value or by pointer; any other type for a known event type
// is a programming error and panics rather than silently losing state.
func (l *Lead) Apply(e Event) {
	l.version++
	switch e.Type {
	case LeadCreated:
		d := eventData[LeadCreatedData](e)
		l.exists = true
		l.id, l.number = d.LeadID, d.Number
		l.profile = d.Profile.clone()
		l.status = d.Status
	case LeadUpdated, LeadMerged:
		d := eventData[LeadUpdatedData](e)
		l.profile = applyChanges(l.profile, d.Changes)
	case LeadStatusChanged:
		l.status = eventData[LeadStatusChangedData](e).To
	case LeadArchived:
		eventData[LeadLifecycleData](e)
		l.archived = true
	case LeadRestored:
		eventData[LeadLifecycleData](e)
		l.archived = false
	case LeadDeleted:
		d := eventData[LeadLifecycleData](e)
		l.deleted = true
		// A redacted stream keeps lead.deleted intact: take the id from it.
		if l.id == uuid.Nil {
			l.id = d.LeadID
		}
		for _, id := range l.callLogs {
			l.usedCallLogs[id] = false
		}
		l.callLogs = nil
	case CallLogged:
		d := eventData[CallLoggedData](e)
		// A redacted call_logged has no id; there is nothing to track.
		if d.CallLogID == uuid.Nil || l.usedCallLogs[d.CallLogID] {
			return
		}
		if l.usedCallLogs == nil {
			l.usedCallLogs = map[uuid.UUID]bool{}
		}
		l.usedCallLogs[d.CallLogID] = true
		l.callLogs = append(l.callLogs, d.CallLogID)
	case CallLogDeleted:
		d := eventData[CallLogDeletedData](e)
		if l.usedCallLogs[d.CallLogID] {
			l.usedCallLogs[d.CallLogID] = false
			l.callLogs = slices.DeleteFunc(l.callLogs, func(id uuid.UUID) bool { return id == d.CallLogID })
		}
	case CommentAdded:
		d := eventData[CommentAddedData](e)
		if d.CommentID == 0 {
			return // redacted
		}
		if l.comments == nil {
			l.comments = map[int64]string{}
		}
		l.comments[d.CommentID] = commentDigest(d.Content)
	case LeadConverted:
		l.customerID = eventData[LeadConvertedData](e).CustomerID
	case CommentEdited:
		d := eventData[CommentEditedData](e)
		if _, ok := l.comments[d.CommentID]; ok {
			l.comments[d.CommentID] = commentDigest(d.New)
		}
	default:
		l.records.apply(recordKindsOf(LeadStream), e)
	}
	// Unknown types cannot reach here through DecodeLeadEvent; counting them
	// in version keeps Version equal to the stream's length regardless.
}

// eventData returns e's data as T, accepting T or *T.
func eventData[T any](e Event) T {
	switch d := e.Data.(type) {
	case T:
		return d
	case *T:
		if d != nil {
			return *d
		}
	}
	var want T
	panic(fmt.Sprintf("apply %s: data is %T, want %T", e.Type, e.Data, want))
}

// Exists reports whether the lead was ever created (even if since deleted).
func (l *Lead) Exists() bool { return l.exists }

// Deleted reports whether the lead was deleted; a deleted lead accepts no command.
func (l *Lead) Deleted() bool { return l.deleted }

// ID returns the lead's id (uuid.Nil before creation).
func (l *Lead) ID() uuid.UUID { return l.id }

// Number returns the per-tenant integer id some APIs show.
func (l *Lead) Number() int64 { return l.number }

// Profile returns a deep copy of the profile, so callers cannot change state.
func (l *Lead) Profile() LeadProfile { return l.profile.clone() }

// Status returns the lead's pipeline status.
func (l *Lead) Status() Status { return l.status }

// Archived reports whether the lead is archived (hidden from default lists).
func (l *Lead) Archived() bool { return l.archived }

// Version returns the number of events applied: the stream version a command
// expects when it appends, for optimistic concurrency.
func (l *Lead) Version() int { return l.version }

// CallLogIDs returns the live call logs in the order they were logged.
func (l *Lead) CallLogIDs() []uuid.UUID {
	if len(l.callLogs) == 0 {
		return nil // nil, not empty, so lead.deleted omits call_log_ids
	}
	return slices.Clone(l.callLogs)
}

// HasCallLog reports whether id is a live call log of this lead.
func (l *Lead) HasCallLog(id uuid.UUID) bool { return l.usedCallLogs[id] }
