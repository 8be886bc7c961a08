package commands

import (
	"context"
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
	id, err := uuid.NewV7()
	if err != nil {
		return CallLogResult{}, err
	}
	call.ID = id
	return run(ctx, h, c, write[CallLogResult]{
		streams: []uuid.UUID{leadID}, byNote: true,
		decide: func(u *unit) (CallLogResult, error) {
			u.keep(callLogNote{CallLogID: id})
			_, err := u.onLead(leadID, func(l *domain.Lead) ([]domain.Event, error) { return l.LogCall(call) },
				reserving(eventstore.Reservation{Kind: domain.ReserveCallLog, Value: id.String()}))
			return CallLogResult{CallLogID: id}, err
		},
		replay: func(prior eventstore.CommitResult) (CallLogResult, error) {
			n, err := noted(c, prior, func(n callLogNote) bool { return n.CallLogID != uuid.Nil })
			if err != nil {
				return CallLogResult{}, err
			}
			return CallLogResult{Result: Result{Position: prior.Position}, CallLogID: n.CallLogID}, nil
		},
	})
}

// callLogNote is what a call log's creation keeps with its idempotency key.
type callLogNote struct {
	CallLogID uuid.UUID `json:"call_log_id"`
}

func (r CallLogResult) at(p eventstore.Position) CallLogResult { r.Position = p; return r }

// DeleteCallLog permanently deletes a call log: the event that logged it
// keeps only its ids, redacted in the same transaction as the deletion.
// Errors: domain.ErrCallLogNotFound.
func (h *Handler) DeleteCallLog(ctx context.Context, c Context, id uuid.UUID) (Result, error) {
	var leadID uuid.UUID
	return run(ctx, h, c, write[Result]{
		// After the replay check: once deleted, the call log's id names no lead.
		prepare: h.holder(ctx, c, domain.ReserveCallLog, id.String(), domain.ErrCallLogNotFound, &leadID),
		decide: func(u *unit) (Result, error) {
			var logged []uuid.UUID
			_, err := u.onLead(leadID, func(l *domain.Lead) ([]domain.Event, error) {
				decided, err := l.DeleteCallLog(id)
				if err != nil {
					return nil, err
				}
				// The event that logged it may be older than the lead's
				// snapshot: ask the store, not the fold.
				logged, err = h.store.EventIDsWith(ctx, c.TenantID, leadID, domain.CallLogged, "call_log_id", id.String())
				if err != nil {
					return nil, fmt.Errorf("find call log %s: %w", id, err)
				}
				return decided, nil
			}, func(sa *eventstore.StreamAppend) {
				sa.Release = []eventstore.Reservation{{Kind: domain.ReserveCallLog, Value: id.String()}}
				sa.RedactEvents, sa.RedactKeep = logged, domain.CallLoggedRedactionKeeps
			})
			return Result{}, err
		},
		failed: notFoundAs(domain.ErrCallLogNotFound),
	})
}
