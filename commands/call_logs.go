package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// CallLogResult says which call log a command created.
type CallLogResult struct {
	Result
	CallLogID uuid.UUID
}

// LogCall records a call against a lead. The call log id is reserved for the
// lead's stream, so DeleteCallLog finds the lead without a read model.
// Errors: domain.ErrLeadNotFound, *domain.ValidationError.
func (h *Handler) LogCall(ctx context.Context, c Context, leadID uuid.UUID, call domain.CallLog) (CallLogResult, error) {
	if prior, ok, err := h.replayed(ctx, c); err != nil || ok {
		if err != nil {
			return CallLogResult{}, err
		}
		return replayCallLog(c, prior)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return CallLogResult{}, err
	}
	call.ID = id
	return retry(ctx, h, streamKeys(c.TenantID, leadID), func() (CallLogResult, error) {
		lead, _, err := h.loadLead(ctx, c, leadID)
		if err != nil {
			return CallLogResult{}, err
		}
		decided, err := lead.LogCall(call)
		if err != nil {
			return CallLogResult{}, err
		}
		events, err := toNew(decided)
		if err != nil {
			return CallLogResult{}, err
		}
		res, replayed, err := h.commit(ctx, c, callLogNote{CallLogID: id}, eventstore.StreamAppend{
			StreamType: domain.LeadStream, StreamID: leadID, ExpectedVersion: lead.Version(), Events: events,
			Reserve: []eventstore.Reservation{{Kind: domain.ReserveCallLog, Value: id.String()}},
		})
		if err != nil {
			return CallLogResult{}, err
		}
		if replayed {
			return replayCallLog(c, res)
		}
		return CallLogResult{Result: Result{Position: res.Position}, CallLogID: id}, nil
	})
}

// callLogNote is what a call log's creation keeps with its idempotency key.
type callLogNote struct {
	CallLogID uuid.UUID `json:"call_log_id"`
}

func replayCallLog(c Context, prior eventstore.CommitResult) (CallLogResult, error) {
	var n callLogNote
	if err := json.Unmarshal(prior.Note, &n); err != nil || n.CallLogID == uuid.Nil {
		return CallLogResult{}, fmt.Errorf("idempotency key %q was used by another kind of request: %w", c.IdempotencyKey, ErrKeyReused)
	}
	return CallLogResult{Result: Result{Position: prior.Position}, CallLogID: n.CallLogID}, nil
}

// DeleteCallLog permanently deletes a call log: the event that logged it
// keeps only its ids, redacted in the same transaction as the deletion.
// Errors: domain.ErrCallLogNotFound.
func (h *Handler) DeleteCallLog(ctx context.Context, c Context, id uuid.UUID) (Result, error) {
	// Before the lookup: once deleted, the call log's id names no lead.
	if prior, ok, err := h.replayedOn(ctx, c, nil); err != nil || ok {
		return Result{Position: prior.Position}, err
	}
	leadID, ok, err := h.store.LookupReservation(ctx, c.TenantID, domain.ReserveCallLog, id.String())
	if err != nil {
		return Result{}, fmt.Errorf("look up call log %s: %w", id, err)
	}
	if !ok {
		return Result{}, domain.ErrCallLogNotFound
	}
	return retry(ctx, h, streamKeys(c.TenantID, leadID), func() (Result, error) {
		lead, _, err := h.loadLead(ctx, c, leadID)
		if errors.Is(err, domain.ErrLeadNotFound) {
			return Result{}, domain.ErrCallLogNotFound
		}
		if err != nil {
			return Result{}, err
		}
		decided, err := lead.DeleteCallLog(id)
		if err != nil {
			return Result{}, err
		}
		events, err := toNew(decided)
		if err != nil {
			return Result{}, err
		}
		// The event that logged it may be older than the lead's snapshot:
		// ask the store, not the fold.
		logged, err := h.store.EventIDsWith(ctx, c.TenantID, leadID, domain.CallLogged, "call_log_id", id.String())
		if err != nil {
			return Result{}, fmt.Errorf("find call log %s: %w", id, err)
		}
		res, _, err := h.commit(ctx, c, nil, eventstore.StreamAppend{
			StreamType: domain.LeadStream, StreamID: leadID, ExpectedVersion: lead.Version(), Events: events,
			Release:      []eventstore.Reservation{{Kind: domain.ReserveCallLog, Value: id.String()}},
			RedactEvents: logged, RedactKeep: domain.CallLoggedRedactionKeeps,
		})
		return Result{Position: res.Position}, err
	})
}
