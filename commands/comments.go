package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// CommentResult says which comment a command wrote.
type CommentResult struct {
	Result
	CommentID int64
	LeadID    uuid.UUID
}

// AddComment adds a comment to a lead, by the command's actor. Comment
// numbers are per tenant; the number is reserved for the lead's stream so
// EditComment finds the lead. Errors: domain.ErrLeadNotFound, domain.ValidationError.
func (h *Handler) AddComment(ctx context.Context, c Context, leadID uuid.UUID, content string) (CommentResult, error) {
	var id int64
	return run(ctx, h, c, write[CommentResult]{
		streams: []uuid.UUID{leadID}, byNote: true,
		// Numbered once, for a lead that exists, whatever the attempts.
		prepare: func() ([]uuid.UUID, error) {
			if _, err := h.loadLead(ctx, c, leadID); err != nil {
				return nil, err
			}
			n, err := h.store.NextNumber(ctx, c.TenantID, "comment")
			if err != nil {
				return nil, fmt.Errorf("number comment: %w", err)
			}
			id = n
			return nil, nil
		},
		decide: func(u *unit) (CommentResult, error) {
			u.keep(commentNote{CommentID: id, LeadID: leadID})
			_, err := u.onLead(leadID, func(l *domain.Lead) ([]domain.Event, error) { return l.AddComment(id, content, c.Metadata.Actor) },
				reserving(eventstore.Reservation{Kind: domain.ReserveComment, Value: strconv.FormatInt(id, 10)}))
			return CommentResult{CommentID: id, LeadID: leadID}, err
		},
		replay: func(prior eventstore.CommitResult) (CommentResult, error) {
			n, err := noted(c, prior, func(n commentNote) bool { return n.CommentID != 0 })
			if err != nil {
				return CommentResult{}, err
			}
			return CommentResult{Result: Result{Position: prior.Position}, CommentID: n.CommentID, LeadID: n.LeadID}, nil
		},
	})
}

type commentNote struct {
	CommentID int64     `json:"comment_id"`
	LeadID    uuid.UUID `json:"lead_id"`
}

func (r CommentResult) at(p eventstore.Position) CommentResult { r.Position = p; return r }

// EditComment replaces a comment's content. Errors: domain.ErrCommentNotFound,
// domain.ValidationError.
func (h *Handler) EditComment(ctx context.Context, c Context, commentID int64, content string) (CommentResult, error) {
	var leadID uuid.UUID
	return run(ctx, h, c, write[CommentResult]{
		prepare: h.holder(ctx, c, domain.ReserveComment, strconv.FormatInt(commentID, 10), domain.ErrCommentNotFound, &leadID),
		decide: func(u *unit) (CommentResult, error) {
			_, err := u.onLead(leadID, func(l *domain.Lead) ([]domain.Event, error) {
				// Read after the lead: a concurrent edit between the two
				// shows as ErrCommentChanged, and the attempt runs again.
				current, err := h.commentContent(ctx, c.TenantID, leadID, commentID)
				if err != nil {
					return nil, err
				}
				return l.EditComment(commentID, content, current)
			})
			return CommentResult{CommentID: commentID, LeadID: leadID}, err
		},
		replay: func(prior eventstore.CommitResult) (CommentResult, error) {
			return CommentResult{Result: Result{Position: prior.Position}, CommentID: commentID, LeadID: prior.StreamIDs[0]}, nil
		},
		failed: func(err error) error {
			if errors.Is(err, domain.ErrCommentChanged) {
				return fmt.Errorf("%w: %w", errLostRace, err)
			}
			return notFoundAs(domain.ErrCommentNotFound)(err)
		},
	})
}

// History returns one page of a lead's stream, newest first: the lead's
// audit trail (who changed what, when, from which value), limit events
// after the offset newest, with the stream's length. It reads the page from
// the store, never the whole stream. Errors: domain.ErrLeadNotFound for a
// lead that does not exist or was deleted.
func (h *Handler) History(ctx context.Context, tenantID, leadID uuid.UUID, offset, limit int) (eventstore.StreamPage, error) {
	if _, _, err := load(ctx, h.store, leads, tenantID, leadID); err != nil {
		return eventstore.StreamPage{}, err
	}
	page, err := h.store.ReadStreamPage(ctx, tenantID, leadID, offset, limit)
	if err != nil {
		return eventstore.StreamPage{}, fmt.Errorf("history of lead %s: %w", leadID, err)
	}
	return page, nil
}

// CommentEvents returns the events of a lead's stream that wrote the
// comments ids (comment_added, then the edits), read without the rest of
// the stream.
func (h *Handler) CommentEvents(ctx context.Context, tenantID, leadID uuid.UUID, ids ...int64) ([]eventstore.Event, error) {
	matches := make([]json.RawMessage, len(ids))
	for i, id := range ids {
		matches[i] = json.RawMessage(`{"comment_id":` + strconv.FormatInt(id, 10) + `}`)
	}
	return h.commentEvents(ctx, tenantID, leadID, matches)
}

// AllCommentEvents returns the events of a lead's stream that wrote any of
// its comments (a lead holds at most domain.MaxCommentsPerLead), read
// without the rest of the stream.
func (h *Handler) AllCommentEvents(ctx context.Context, tenantID, leadID uuid.UUID) ([]eventstore.Event, error) {
	return h.commentEvents(ctx, tenantID, leadID, []json.RawMessage{json.RawMessage(`{}`)})
}

// commentEvents returns the lead's comment events whose data contains one
// of matches.
func (h *Handler) commentEvents(ctx context.Context, tenantID, leadID uuid.UUID, matches []json.RawMessage) ([]eventstore.Event, error) {
	events, err := h.store.ReadStreamMatching(ctx, tenantID, leadID, []string{domain.CommentAdded, domain.CommentEdited}, matches)
	if err != nil {
		return nil, fmt.Errorf("comments of lead %s: %w", leadID, err)
	}
	return events, nil
}

// Timeline returns one page of a lead's timeline, newest first: its
// stream's events, each comment_added counted twice (the comment and the
// log entry that wrote it), limit items after the offset first. It reads
// the page from the store, never the whole stream. Errors:
// domain.ErrLeadNotFound for a lead that does not exist or was deleted.
func (h *Handler) Timeline(ctx context.Context, tenantID, leadID uuid.UUID, offset, limit int) (eventstore.ItemPage, error) {
	if _, _, err := load(ctx, h.store, leads, tenantID, leadID); err != nil {
		return eventstore.ItemPage{}, err
	}
	page, err := h.store.ReadStreamItems(ctx, tenantID, leadID, []string{domain.CommentAdded}, offset, limit)
	if err != nil {
		return eventstore.ItemPage{}, fmt.Errorf("timeline of lead %s: %w", leadID, err)
	}
	return page, nil
}

// commentContent returns comment commentID's content as the lead's stream
// holds it now (after its last edit).
func (h *Handler) commentContent(ctx context.Context, tenantID, leadID uuid.UUID, commentID int64) (string, error) {
	events, err := h.CommentEvents(ctx, tenantID, leadID, commentID)
	if err != nil {
		return "", err
	}
	var content string
	for _, e := range events {
		event, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
		if err != nil {
			return "", fmt.Errorf("comment %d: %w", commentID, err)
		}
		switch d := event.Data.(type) {
		case domain.CommentAddedData:
			content = d.Content
		case domain.CommentEditedData:
			content = d.New
		}
	}
	return content, nil
}
