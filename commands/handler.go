// Package commands runs crm's commands: load the stream, let the domain
// decide, append the events in one transaction, retry on a version conflict.
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

// Handler executes commands against the event store.
type Handler struct {
	store  *eventstore.Store
	region string // default region for phone numbers without a country code
	lineup lineup // this process's commands on one lead take turns
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
// tenant's lead is domain.ErrLeadNotFound. It also returns the position of
// the stream's last event.
func (h *Handler) loadLead(ctx context.Context, tenantID, id uuid.UUID) (*domain.Lead, eventstore.Position, error) {
	lead, stored, err := h.readLead(ctx, tenantID, id)
	if err != nil {
		return nil, eventstore.Position{}, err
	}
	return lead, stored[len(stored)-1].Position, nil
}

// readLead is loadLead with the stored events themselves.
func (h *Handler) readLead(ctx context.Context, tenantID, id uuid.UUID) (*domain.Lead, []eventstore.Event, error) {
	stored, err := h.store.ReadStream(ctx, tenantID, id)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil, nil, domain.ErrLeadNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load lead %s: %w", id, err)
	}
	if stored[0].StreamType != domain.LeadStream {
		return nil, nil, domain.ErrLeadNotFound
	}
	events := make([]domain.Event, len(stored))
	for i, e := range stored {
		if events[i], err = domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data); err != nil {
			return nil, nil, fmt.Errorf("load lead %s: %w", id, err)
		}
	}
	lead := domain.NewLeadFromHistory(events)
	if !lead.Exists() || lead.Deleted() {
		return nil, nil, domain.ErrLeadNotFound
	}
	return lead, stored, nil
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

// commit appends with the command's tenant, metadata and idempotency key,
// keeping note with the key. A retried request (same key) gets the first
// commit's result, with its note, and replayed true.
func (h *Handler) commit(ctx context.Context, c Context, note any, streams ...eventstore.StreamAppend) (res eventstore.CommitResult, replayed bool, err error) {
	var raw json.RawMessage
	if note != nil && c.IdempotencyKey != "" {
		if raw, err = json.Marshal(note); err != nil {
			return res, false, err
		}
	}
	res, err = h.store.Commit(ctx, eventstore.Commit{
		TenantID: c.TenantID, Metadata: c.Metadata, IdempotencyKey: c.IdempotencyKey, Note: raw, Streams: streams,
	})
	var dup *eventstore.DuplicateCommitError
	if errors.As(err, &dup) {
		return dup.Result, true, nil
	}
	return res, false, err
}

// replayed returns the result of an earlier commit made with c's
// idempotency key, so a retried request has the first one's effect only.
func (h *Handler) replayed(ctx context.Context, c Context) (eventstore.CommitResult, bool, error) {
	if c.IdempotencyKey == "" {
		return eventstore.CommitResult{}, false, nil
	}
	return h.store.IdempotentResult(ctx, c.TenantID, c.IdempotencyKey)
}

// ErrKeyReused is returned when an idempotency key comes back on another
// kind of request than the one that first used it.
var ErrKeyReused = errors.New("idempotency key reused")

// ErrBusy is returned when a command could not get its turn on a lead, or
// kept losing races for it to other processes, for busyFor (see lineup.go).
var ErrBusy = errors.New("too many concurrent changes; try again")
