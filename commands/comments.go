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
	if prior, ok, err := h.replayed(ctx, c); err != nil || ok {
		if err != nil {
			return CommentResult{}, err
		}
		return replayComment(c, prior)
	}
	if _, _, err := h.loadLead(ctx, c.TenantID, leadID); err != nil {
		return CommentResult{}, err
	}
	id, err := h.store.NextNumber(ctx, c.TenantID, "comment")
	if err != nil {
		return CommentResult{}, fmt.Errorf("number comment: %w", err)
	}
	return retry(ctx, h, streamKeys(c.TenantID, leadID), func() (CommentResult, error) {
		lead, _, err := h.loadLead(ctx, c.TenantID, leadID)
		if err != nil {
			return CommentResult{}, err
		}
		decided, err := lead.AddComment(id, content, c.Metadata.Actor)
		if err != nil {
			return CommentResult{}, err
		}
		events, err := toNew(decided)
		if err != nil {
			return CommentResult{}, err
		}
		res, replayed, err := h.commit(ctx, c, commentNote{CommentID: id, LeadID: leadID}, eventstore.StreamAppend{
			StreamType: domain.LeadStream, StreamID: leadID, ExpectedVersion: lead.Version(), Events: events,
			Reserve: []eventstore.Reservation{{Kind: domain.ReserveComment, Value: strconv.FormatInt(id, 10)}},
		})
		if err != nil {
			return CommentResult{}, err
		}
		if replayed {
			return replayComment(c, res)
		}
		return CommentResult{Result: Result{Position: res.Position}, CommentID: id, LeadID: leadID}, nil
	})
}

type commentNote struct {
	CommentID int64     `json:"comment_id"`
	LeadID    uuid.UUID `json:"lead_id"`
}

func replayComment(c Context, prior eventstore.CommitResult) (CommentResult, error) {
	var n commentNote
	if err := json.Unmarshal(prior.Note, &n); err != nil || n.CommentID == 0 {
		return CommentResult{}, fmt.Errorf("idempotency key %q was used by another kind of request: %w", c.IdempotencyKey, ErrKeyReused)
	}
	return CommentResult{Result: Result{Position: prior.Position}, CommentID: n.CommentID, LeadID: n.LeadID}, nil
}

// EditComment replaces a comment's content. Errors: domain.ErrCommentNotFound,
// domain.ValidationError.
func (h *Handler) EditComment(ctx context.Context, c Context, commentID int64, content string) (CommentResult, error) {
	leadID, ok, err := h.store.LookupReservation(ctx, c.TenantID, domain.ReserveComment, strconv.FormatInt(commentID, 10))
	if err != nil {
		return CommentResult{}, fmt.Errorf("look up comment %d: %w", commentID, err)
	}
	if !ok {
		return CommentResult{}, domain.ErrCommentNotFound
	}
	return retry(ctx, h, streamKeys(c.TenantID, leadID), func() (CommentResult, error) {
		lead, last, err := h.loadLead(ctx, c.TenantID, leadID)
		if errors.Is(err, domain.ErrLeadNotFound) {
			return CommentResult{}, domain.ErrCommentNotFound
		}
		if err != nil {
			return CommentResult{}, err
		}
		decided, err := lead.EditComment(commentID, content)
		if err != nil || len(decided) == 0 {
			return CommentResult{Result: Result{Position: last}, CommentID: commentID, LeadID: leadID}, err
		}
		events, err := toNew(decided)
		if err != nil {
			return CommentResult{}, err
		}
		res, _, err := h.commit(ctx, c, nil, eventstore.StreamAppend{
			StreamType: domain.LeadStream, StreamID: leadID, ExpectedVersion: lead.Version(), Events: events,
		})
		return CommentResult{Result: Result{Position: res.Position}, CommentID: commentID, LeadID: leadID}, err
	})
}

// History returns every event of a lead's stream, oldest first: the lead's
// audit trail (who changed what, when, from which value). Errors:
// domain.ErrLeadNotFound for a lead that does not exist or was deleted.
func (h *Handler) History(ctx context.Context, tenantID, leadID uuid.UUID) ([]eventstore.Event, error) {
	_, stored, err := h.readLead(ctx, tenantID, leadID)
	return stored, err
}
