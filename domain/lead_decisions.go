package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Decisions take the lead's current state and a command and return the events
// to append, or an error. None of them changes the lead: the command handler
// appends the events and applies them, so a failed append leaves nothing half
// done. No events and no error means the command changes nothing (idempotent).

// Limits on a call log, as the Cratio call log form allows.
const (
	maxOutcomeLen   = 100
	maxCallNotesLen = 10000
)

// Bounds on what one lead holds. Every command on a lead loads its state,
// so these keep a command's memory bounded whatever one tenant writes; they
// are far above what a real lead gathers (a comment or a call every working
// day for forty years). Beyond them a decision answers LimitError.
const (
	// MaxCommentsPerLead bounds the comments a lead holds.
	MaxCommentsPerLead = 10000
	// MaxCallLogsPerLead bounds the call logs ever logged on a lead (deleted
	// ones included: their ids stay used).
	MaxCallLogsPerLead = 10000
)

// CreateLead decides the creation of lead id with per-tenant number, profile
// p (already normalized by NormalizeProfile) and status (DefaultStatus when
// empty). Name is derived from the name parts when missing. Finding an
// existing lead with the same email or phone, and merging into it instead, is
// the caller's job: uniqueness is a reservation, not aggregate state.
func CreateLead(id uuid.UUID, number int64, p LeadProfile, status Status) ([]Event, error) {
	if id == uuid.Nil {
		return nil, invalid("lead_id", "must be set")
	}
	if number < 1 {
		return nil, invalid("number", "must be positive")
	}
	if status == "" {
		status = DefaultStatus
	}
	status, err := ParseStatus(string(status))
	if err != nil {
		return nil, err
	}
	p, err = completeProfile(p)
	if err != nil {
		return nil, err
	}
	return []Event{{Type: LeadCreated, Data: LeadCreatedData{
		LeadID: id, Number: number, Profile: p, Status: status,
	}}}, nil
}

// Merge decides Cratio's "create" of a lead whose email or phone matches this
// one: p's non-empty fields win, list fields become unions and Social merges
// by key (see mergeProfiles). p may be partial; the merged profile must be
// valid. An archived lead stays archived: restoring is a decision of its own.
// Returns ErrLeadNotFound (or ErrLeadDeleted) for a lead that is gone.
func (l *Lead) Merge(p LeadProfile) ([]Event, error) {
	if err := l.mustExist(); err != nil {
		return nil, err
	}
	merged, err := completeProfile(mergeProfiles(l.profile, p))
	if err != nil {
		return nil, err
	}
	return l.profileChange(LeadMerged, merged)
}

// Update decides the replacement of the whole profile by p (PUT semantics):
// fields p leaves empty are cleared. p must be a valid, complete profile.
func (l *Lead) Update(p LeadProfile) ([]Event, error) {
	if err := l.mustExist(); err != nil {
		return nil, err
	}
	p, err := completeProfile(p)
	if err != nil {
		return nil, err
	}
	return l.profileChange(LeadUpdated, p)
}

// profileChange records the move from the current profile to next as an
// event of eventType listing the changed fields, or nothing if none changed.
func (l *Lead) profileChange(eventType string, next LeadProfile) ([]Event, error) {
	changes, err := diffProfiles(l.profile, next)
	if err != nil || len(changes) == 0 {
		return nil, err
	}
	return []Event{{Type: eventType, Data: LeadUpdatedData{LeadID: l.id, Changes: changes}}}, nil
}

// completeProfile derives the name, validates, and puts custom fields and
// times in the form JSON reads back (compact; UTC), so the profile stored in
// an event equals the one replayed from it, and an unchanged value diffs equal.
func completeProfile(p LeadProfile) (LeadProfile, error) {
	p = p.clone()
	if p.Name == "" {
		p.Name = FullName(p.FirstName, p.MiddleName, p.LastName)
	}
	if p.LastContact != nil {
		utc := p.LastContact.UTC()
		p.LastContact = &utc
	}
	if err := p.Validate(); err != nil {
		return LeadProfile{}, err
	}
	if len(p.CustomFields) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, p.CustomFields); err != nil {
			return LeadProfile{}, invalid("custom_fields", "must be a JSON object")
		}
		p.CustomFields = buf.Bytes()
	}
	return p, nil
}

// ChangeStatus decides moving the lead to status s; the same status is a no-op.
func (l *Lead) ChangeStatus(s Status) ([]Event, error) {
	if err := l.mustExist(); err != nil {
		return nil, err
	}
	to, err := ParseStatus(string(s))
	if err != nil {
		return nil, err
	}
	if to == l.status {
		return nil, nil
	}
	return []Event{{Type: LeadStatusChanged, Data: LeadStatusChangedData{LeadID: l.id, From: l.status, To: to}}}, nil
}

// Archive decides archiving the lead; archiving an archived lead is a no-op,
// so bulk archive requests can be retried safely.
func (l *Lead) Archive() ([]Event, error) {
	if err := l.mustExist(); err != nil || l.archived {
		return nil, err
	}
	return []Event{{Type: LeadArchived, Data: LeadLifecycleData{LeadID: l.id}}}, nil
}

// Restore decides un-archiving the lead; restoring an active lead is a no-op.
func (l *Lead) Restore() ([]Event, error) {
	if err := l.mustExist(); err != nil || !l.archived {
		return nil, err
	}
	return []Event{{Type: LeadRestored, Data: LeadLifecycleData{LeadID: l.id}}}, nil
}

// Delete decides deleting the lead with all its live call logs, in one event
// so the deletion is one atomic append. Deleting twice is ErrLeadDeleted,
// since a deleted lead does not exist for callers.
func (l *Lead) Delete() ([]Event, error) {
	if err := l.mustExist(); err != nil {
		return nil, err
	}
	return []Event{{Type: LeadDeleted, Data: LeadLifecycleData{LeadID: l.id, CallLogIDs: l.CallLogIDs()}}}, nil
}

// CallLog is the command to log one call with a lead. CalledAt comes from the
// client (the domain has no clock) and is stored in UTC.
type CallLog struct {
	ID              uuid.UUID
	Type            CallType
	DurationSeconds int // 0 is a missed or unanswered call
	Outcome         string
	Notes           string
	CalledAt        time.Time
}

// LogCall decides logging call c. Archived leads accept calls: archiving hides
// a lead from lists, it does not stop the phone ringing. A call log id is
// used once per stream; reusing it is ErrCallLogExists.
func (l *Lead) LogCall(c CallLog) ([]Event, error) {
	if err := l.mustExist(); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if _, used := l.usedCallLogs[c.ID]; used {
		return nil, ErrCallLogExists
	}
	if len(l.usedCallLogs) >= MaxCallLogsPerLead {
		return nil, LimitError{Field: "call_logs", Limit: MaxCallLogsPerLead}
	}
	return []Event{{Type: CallLogged, Data: CallLoggedData{
		LeadID:          l.id,
		CallLogID:       c.ID,
		CallType:        c.Type,
		DurationSeconds: c.DurationSeconds,
		Outcome:         c.Outcome,
		Notes:           c.Notes,
		// Stored in UTC, without the monotonic reading JSON cannot keep, so
		// the decided event equals the one read back; views pick the zone.
		CalledAt: c.CalledAt.UTC(),
	}}}, nil
}

func (c CallLog) validate() error {
	switch {
	case c.ID == uuid.Nil:
		return invalid("call_log_id", "must be set")
	case !c.Type.valid():
		return invalid("call_type", "must be Inbound or Outbound")
	case c.DurationSeconds < 0:
		return invalid("duration_seconds", "must not be negative")
	case c.CalledAt.IsZero():
		return invalid("called_at", "must be set")
	case utf8.RuneCountInString(c.Outcome) > maxOutcomeLen:
		return invalid("outcome", "must be at most 100 characters")
	case utf8.RuneCountInString(c.Notes) > maxCallNotesLen:
		return invalid("notes", "must be at most 10000 characters")
	}
	return nil
}

// DeleteCallLog decides deleting call log id; ErrCallLogNotFound unless it is
// a live call log of this lead.
func (l *Lead) DeleteCallLog(id uuid.UUID) ([]Event, error) {
	if err := l.mustExist(); err != nil {
		return nil, err
	}
	if !l.HasCallLog(id) {
		return nil, ErrCallLogNotFound
	}
	return []Event{{Type: CallLogDeleted, Data: CallLogDeletedData{LeadID: l.id, CallLogID: id}}}, nil
}

// maxCommentLen bounds a comment's content.
const maxCommentLen = 10000

func checkComment(content string) (string, error) {
	content = strings.TrimSpace(content)
	switch {
	case content == "":
		return "", invalid("content", "is required")
	case utf8.RuneCountInString(content) > maxCommentLen:
		return "", invalid("content", "must be at most 10000 characters")
	}
	return content, nil
}

// AddComment decides a comment numbered id (per tenant) by author.
func (l *Lead) AddComment(id int64, content, author string) ([]Event, error) {
	if err := l.mustExist(); err != nil {
		return nil, err
	}
	if id < 1 {
		return nil, invalid("comment_id", "must be positive")
	}
	content, err := checkComment(content)
	if err != nil {
		return nil, err
	}
	if len(l.comments) >= MaxCommentsPerLead {
		return nil, LimitError{Field: "comments", Limit: MaxCommentsPerLead}
	}
	return []Event{{Type: CommentAdded, Data: CommentAddedData{LeadID: l.id, CommentID: id, Content: content, Author: author}}}, nil
}

// EditComment decides new content for comment id, whose content is now
// current: the lead keeps only a digest of each comment, so the caller
// reads the content from the stream. The same content is no change; a
// current that is not the comment's content is ErrCommentChanged (it was
// read before another edit): read it again with the lead.
func (l *Lead) EditComment(id int64, content, current string) ([]Event, error) {
	if err := l.mustExist(); err != nil {
		return nil, err
	}
	digest, ok := l.comments[id]
	if !ok {
		return nil, ErrCommentNotFound
	}
	content, err := checkComment(content)
	if err != nil {
		return nil, err
	}
	if commentDigest(current) != digest {
		return nil, ErrCommentChanged
	}
	if content == current {
		return nil, nil
	}
	return []Event{{Type: CommentEdited, Data: CommentEditedData{LeadID: l.id, CommentID: id, Old: current, New: content}}}, nil
}

// commentDigest is what a lead keeps of a comment's content: 128 bits of
// its SHA-256, in hex.
func commentDigest(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:16])
}

// HasComment reports whether the lead has comment id.
func (l *Lead) HasComment(id int64) bool {
	_, ok := l.comments[id]
	return ok
}

// mustExist answers the error every decision on a missing lead returns.
func (l *Lead) mustExist() error {
	switch {
	case l.deleted:
		return ErrLeadDeleted
	case !l.exists:
		return ErrLeadNotFound
	}
	return nil
}
