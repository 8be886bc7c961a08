// Package commands runs crm's commands: load the stream, let the domain
// decide, append the events in one transaction, retry on a version conflict.
package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// maxAttempts bounds the retries of a command that lost a race.
const maxAttempts = 10

// Handler executes commands against the event store.
type Handler struct {
	store  *eventstore.Store
	region string // default region for phone numbers without a country code
}

// New returns a Handler; region is the default phone region (e.g. "IN").
func New(store *eventstore.Store, region string) *Handler {
	if region == "" {
		region = "IN"
	}
	return &Handler{store: store, region: region}
}

// Region is the default phone region the handler normalizes numbers with.
func (h *Handler) Region() string { return h.region }

// Context is who runs a command, for which tenant, through which request.
type Context struct {
	TenantID       uuid.UUID
	Metadata       eventstore.Metadata
	IdempotencyKey string
}

// Result is where a command's events landed.
type Result struct {
	// Position is what read models must reach to show the command's effect.
	Position eventstore.Position
}

// loadLead rebuilds a lead from its stream; a missing, deleted or other
// tenant's lead is domain.ErrLeadNotFound.
func (h *Handler) loadLead(ctx context.Context, tenantID, id uuid.UUID) (*domain.Lead, eventstore.Position, error) {
	stored, err := h.store.ReadStream(ctx, tenantID, id)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil, eventstore.Position{}, domain.ErrLeadNotFound
	}
	if err != nil {
		return nil, eventstore.Position{}, fmt.Errorf("load lead %s: %w", id, err)
	}
	if stored[0].StreamType != domain.LeadStream {
		return nil, eventstore.Position{}, domain.ErrLeadNotFound
	}
	events := make([]domain.Event, len(stored))
	for i, e := range stored {
		if events[i], err = domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data); err != nil {
			return nil, eventstore.Position{}, fmt.Errorf("load lead %s: %w", id, err)
		}
	}
	lead := domain.NewLeadFromHistory(events)
	if !lead.Exists() || lead.Deleted() {
		return nil, eventstore.Position{}, domain.ErrLeadNotFound
	}
	return lead, stored[len(stored)-1].Position, nil
}

// toNew encodes domain events for the store.
func toNew(events []domain.Event) ([]eventstore.NewEvent, error) {
	out := make([]eventstore.NewEvent, len(events))
	for i, e := range events {
		data, err := e.MarshalData()
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.Type, err)
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		out[i] = eventstore.NewEvent{ID: id, Type: e.Type, SchemaVersion: domain.SchemaVersion, Data: data}
	}
	return out, nil
}

// commit appends with the command's tenant, metadata and idempotency key. A
// retried request (same key) gets the first commit's result.
func (h *Handler) commit(ctx context.Context, c Context, streams ...eventstore.StreamAppend) (eventstore.CommitResult, error) {
	res, err := h.store.Commit(ctx, eventstore.Commit{
		TenantID: c.TenantID, Metadata: c.Metadata, IdempotencyKey: c.IdempotencyKey, Streams: streams,
	})
	var dup *eventstore.DuplicateCommitError
	if errors.As(err, &dup) {
		return dup.Result, nil
	}
	return res, err
}

// retry runs attempt until it does not fail with a version conflict.
func retry[T any](ctx context.Context, attempt func() (T, error)) (T, error) {
	var zero T
	for range maxAttempts {
		res, err := attempt()
		var conflict *eventstore.ConcurrencyError
		if !errors.As(err, &conflict) {
			return res, err
		}
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
	}
	return zero, fmt.Errorf("gave up after %d conflicting attempts: %w", maxAttempts, ErrBusy)
}

// ErrBusy is returned when a command kept losing races for the same streams.
var ErrBusy = errors.New("too many concurrent changes; try again")
