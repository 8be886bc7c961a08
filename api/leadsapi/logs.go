package leadsapi

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// actions names each lead event in the audit log.
var actions = map[string]string{
	domain.LeadCreated: "CreateLead", domain.LeadUpdated: "UpdateLead", domain.LeadMerged: "MergeLead",
	domain.LeadStatusChanged: "ChangeStatus", domain.LeadArchived: "ArchiveLead", domain.LeadRestored: "RestoreLead",
	domain.LeadDeleted: "DeleteLead", domain.CallLogged: "LogCall", domain.CallLogDeleted: "DeleteCallLog",
	domain.CommentAdded: "AddComment", domain.CommentEdited: "EditComment", domain.LeadConverted: "ConvertLead",
	// Records the prospects & clients API writes into a lead's stream.
	domain.LeadInteractionLogged: "LogInteraction", domain.LeadInteractionChanged: "ChangeInteraction",
	domain.LeadInteractionDeleted: "DeleteInteraction", domain.LeadContactAdded: "AddContact",
	domain.LeadContactChanged: "ChangeContact", domain.LeadContactRemoved: "RemoveContact",
	domain.LeadLocationAdded: "AddLocation", domain.LeadLocationChanged: "ChangeLocation",
	domain.LeadLocationRemoved: "RemoveLocation",
}

// change is one changed value in the audit log; values are JSON as stored.
type change struct {
	Field    string          `json:"field"`
	OldValue json.RawMessage `json:"oldValue"`
	NewValue json.RawMessage `json:"newValue"`
}

// actorRef is who made a change: see user.
type actorRef struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
}

// logEntry is one event of a lead's stream; id is its version in the stream.
type logEntry struct {
	ID         int64     `json:"id"`
	Action     string    `json:"action"`
	EntityType string    `json:"entityType"`
	User       actorRef  `json:"user"`
	API        *string   `json:"api"`
	CommentID  *int64    `json:"commentId"`
	Changes    []change  `json:"changes"`
	CreatedAt  time.Time `json:"createdAt"`
	content    *string   // the comment text an AddComment or EditComment wrote
}

// logField names a profile field in this API's words where it has one.
func logField(f string) string {
	switch f {
	case "first_name", "last_name", "job_title", "phones", "business_ids", "social":
		return fieldOf(f)
	}
	return f
}

func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// entryOf turns a stored lead event into its audit log entry.
func (p pipeline) entryOf(e eventstore.Event) (logEntry, error) {
	u := userOf(e.Metadata.Actor)
	out := logEntry{ID: int64(e.StreamVersion), Action: actions[e.Type], EntityType: "Lead",
		User: actorRef{ID: u.ID, Email: u.Email}, API: optional(e.Metadata.API), Changes: []change{}, CreatedAt: e.RecordedAt.UTC()}
	if out.Action == "" {
		out.Action = e.Type
	}
	ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return out, err
	}
	statusName := func(s domain.Status) json.RawMessage { name, _ := p.status(string(s)); return raw(name) }
	switch d := ev.Data.(type) {
	case domain.LeadCreatedData:
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw(d.Profile), &fields); err != nil {
			return out, err
		}
		names := make([]string, 0, len(fields))
		for k := range fields {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			out.Changes = append(out.Changes, change{Field: logField(k), NewValue: fields[k]})
		}
		out.Changes = append(out.Changes, change{Field: "status", NewValue: statusName(d.Status)})
	case domain.LeadUpdatedData:
		for _, c := range d.Changes {
			out.Changes = append(out.Changes, change{Field: logField(c.Field), OldValue: c.Old, NewValue: c.New})
		}
	case domain.LeadStatusChangedData:
		out.Changes = append(out.Changes, change{Field: "status", OldValue: statusName(d.From), NewValue: statusName(d.To)})
	case domain.LeadLifecycleData:
		from, to := stateActive, stateArchived
		if e.Type == domain.LeadRestored {
			from, to = to, from
		}
		out.Changes = append(out.Changes, change{Field: "state", OldValue: raw(from), NewValue: raw(to)})
	case domain.CallLoggedData:
		if d.Redacted {
			// Deleted for good since: the entry says a call was logged, not what.
			out.Changes = append(out.Changes, change{Field: "callLog",
				NewValue: raw(map[string]any{"call_log_id": d.CallLogID, "redacted": true})})
			break
		}
		out.Changes = append(out.Changes, change{Field: "callLog", NewValue: raw(d)})
	case domain.CallLogDeletedData:
		out.Changes = append(out.Changes, change{Field: "callLog", OldValue: raw(d.CallLogID)})
	case domain.CommentAddedData:
		out.CommentID, out.content = &d.CommentID, &d.Content
		out.Changes = append(out.Changes, change{Field: "content", NewValue: raw(d.Content)})
	case domain.CommentEditedData:
		out.CommentID, out.content = &d.CommentID, &d.New
		out.Changes = append(out.Changes, change{Field: "content", OldValue: raw(d.Old), NewValue: raw(d.New)})
	}
	return out, nil
}

// comments shows comments ids of lead leadID as its stream holds them now
// (showComments).
func (h *handlers) comments(ctx context.Context, tenant, leadID uuid.UUID, ids ...int64) ([]comment, error) {
	events, err := h.d.Commands.CommentEvents(ctx, tenant, leadID, ids...)
	if err != nil {
		return nil, err
	}
	return showComments(events)
}

// leadPage returns the id of the lead numbered in the path and the page
// (limit, offset) the query asks for, in that order of checks.
func (h *handlers) leadPage(c *gin.Context) (id uuid.UUID, limit, offset int, err error) {
	row, err := h.pathLead(c)
	if err != nil {
		return uuid.Nil, 0, 0, err
	}
	limit, offset, bad := pageWithin(c, 50, maxLogLimit, maxHistoryOffset)
	if bad != nil {
		return uuid.Nil, 0, 0, bad
	}
	return row.ID, limit, offset, nil
}

// entries turns stored lead events into audit log entries, in their order.
func (h *handlers) entries(c *gin.Context, events []eventstore.Event) ([]logEntry, error) {
	pl, err := h.pipeline(c.Request.Context(), api.Principal(c).TenantID)
	if err != nil {
		return nil, err
	}
	entries := make([]logEntry, len(events))
	for i, e := range events {
		if entries[i], err = pl.entryOf(e); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// logList is the answer of GET /leads/logs/{id}.
type logList struct {
	Count int        `json:"count"`
	Logs  []logEntry `json:"logs"`
}

// logs answers one page of the lead's audit log, newest first, read as
// one page of its stream: a lead's whole history is never loaded.
func (h *handlers) logs(c *gin.Context) {
	id, limit, offset, err := h.leadPage(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	history, err := h.d.Commands.History(c.Request.Context(), api.Principal(c).TenantID, id, offset, limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	entries, err := h.entries(c, history.Events)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, logList{Count: history.Total, Logs: entries})
}

// timelineItem is a log entry or a comment in the merged timeline.
type timelineItem struct {
	Type       string    `json:"type"` // "log" or "comment"
	ID         int64     `json:"id"`
	Action     *string   `json:"action"`
	EntityType string    `json:"entityType"`
	User       actorRef  `json:"user"`
	Content    *string   `json:"content"`
	CommentID  *int64    `json:"commentId"`
	Changes    []change  `json:"changes"`
	CreatedAt  time.Time `json:"createdAt"`
}

// timeline is the answer of GET /leads/logs-and-comments/{id}.
type timeline struct {
	LogsAndComments []timelineItem `json:"logsAndComments"`
	LogsCount       int            `json:"logsCount"`
	CommentsCount   int            `json:"commentsCount"`
}

// logsAndComments answers one page of the lead's timeline: its audit log
// with each comment, as its content reads after every edit, just above the
// AddComment entry that wrote it, newest first. The page is read from the
// stream by Postgres, with the comments it shows: a lead's whole history is
// never loaded.
func (h *handlers) logsAndComments(c *gin.Context) {
	ctx, tenant := c.Request.Context(), api.Principal(c).TenantID
	id, limit, offset, err := h.leadPage(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	pg, err := h.d.Commands.Timeline(ctx, tenant, id, offset, limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	entries, err := h.entries(c, pg.Events)
	if err != nil {
		h.fail(c, err)
		return
	}
	var ids []int64
	for i, e := range entries {
		if pg.Events[i].Type == domain.CommentAdded && e.CommentID != nil {
			ids = append(ids, *e.CommentID)
		}
	}
	comments, err := h.comments(ctx, tenant, id, ids...)
	if err != nil {
		h.fail(c, err)
		return
	}
	byID := make(map[int64]comment, len(comments))
	for _, cm := range comments {
		byID[cm.ID] = cm
	}
	items := make([]timelineItem, 0, limit)
	inPage := func(k int) bool { return k >= offset && k < offset+limit }
	for i, e := range entries {
		k := pg.Firsts[i]
		if pg.Events[i].Type == domain.CommentAdded {
			if cm, ok := byID[ptrValue(e.CommentID)]; ok && inPage(k) {
				content, id := cm.Content, cm.ID
				items = append(items, timelineItem{Type: "comment", ID: cm.ID, EntityType: "Comment",
					User: actorRef{ID: cm.User.ID, Email: cm.User.Email}, Content: &content, CommentID: &id, Changes: []change{}, CreatedAt: cm.CreatedAt})
			}
			k++
		}
		if inPage(k) {
			action := e.Action
			items = append(items, timelineItem{Type: "log", ID: e.ID, Action: &action, EntityType: e.EntityType, User: e.User,
				Content: e.content, CommentID: e.CommentID, Changes: e.Changes, CreatedAt: e.CreatedAt})
		}
	}
	c.JSON(http.StatusOK, timeline{LogsAndComments: items, LogsCount: pg.Total, CommentsCount: pg.Doubled})
}

// ptrValue is *p, or zero for nil.
func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
