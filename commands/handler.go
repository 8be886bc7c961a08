// Package commands runs crm's commands: load the stream, let the domain
// decide, append the events in one transaction, retry on a version conflict.
package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

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
	TenantID uuid.UUID
	Metadata eventstore.Metadata
	// IdempotencyKey makes a commit happen once: a retry with the key gets
	// the first commit's result. The HTTP layer scopes it to one request
	// (method, concrete path, query and body).
	IdempotencyKey string
	// Touched, when set, collects the streams the commands load or write.
	Touched *Touched
}

// Result is where a command's events landed.
type Result struct {
	// Position is what read models must reach to show the command's effect.
	Position eventstore.Position
}

// loadLead is foldLead for a command: the stream counts as touched by c's
// request (its stored response is purged if the lead is deleted).
func (h *Handler) loadLead(ctx context.Context, c Context, id uuid.UUID) (*domain.Lead, eventstore.Position, error) {
	c.Touched.add(id, false)
	return h.foldLead(ctx, c.TenantID, id)
}

// foldLead rebuilds a lead from its newest snapshot and the events after
// it (the whole stream when there is no usable snapshot), holding one event
// in memory at a time; a missing, deleted or other tenant's lead is
// domain.ErrLeadNotFound. It also returns the position of the stream's last
// event. Having folded snapshotEvery events or more past the snapshot, it
// writes a new one, so the next load folds fewer.
func (h *Handler) foldLead(ctx context.Context, tenantID, id uuid.UUID) (*domain.Lead, eventstore.Position, error) {
	lead, from, err := h.leadSnapshot(ctx, tenantID, id)
	if err != nil {
		return nil, eventstore.Position{}, err
	}
	var last eventstore.Position
	folded := 0
	// From the snapshot's own event: its position is the answer when
	// nothing came after it, and it proves the stream is this tenant's lead.
	err = h.store.FoldStream(ctx, tenantID, id, max(from, 1), func(e eventstore.Event) error {
		if e.StreamType != domain.LeadStream {
			return domain.ErrLeadNotFound
		}
		last = e.Position
		if e.StreamVersion <= from {
			return nil
		}
		event, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
		if err != nil {
			return fmt.Errorf("load lead %s: %w", id, err)
		}
		lead.Apply(event)
		folded++
		return nil
	})
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil, eventstore.Position{}, domain.ErrLeadNotFound
	}
	if err != nil {
		return nil, eventstore.Position{}, err
	}
	if !lead.Exists() || lead.Deleted() {
		return nil, eventstore.Position{}, domain.ErrLeadNotFound
	}
	if folded >= snapshotEvery {
		h.saveSnapshot(ctx, tenantID, lead)
	}
	return lead, last, nil
}

// snapshotEvery is how many events past its snapshot a lead is folded
// before a load writes a new snapshot: a command folds at most about this
// many events, and a snapshot is written once per this many.
const snapshotEvery = 500

// leadSnapshot returns the lead as of its stream's snapshot and the
// snapshot's version; a new lead at version 0 when there is no snapshot or
// it is of another form's version.
func (h *Handler) leadSnapshot(ctx context.Context, tenantID, id uuid.UUID) (*domain.Lead, int, error) {
	snap, ok, err := h.store.ReadSnapshot(ctx, tenantID, id)
	if err != nil {
		return nil, 0, fmt.Errorf("load lead %s: %w", id, err)
	}
	if !ok || snap.StreamType != domain.LeadStream || snap.SchemaVersion != domain.LeadSnapshotVersion {
		return domain.NewLeadFromHistory(nil), 0, nil
	}
	var state domain.LeadSnapshot
	if err := json.Unmarshal(snap.State, &state); err != nil {
		return domain.NewLeadFromHistory(nil), 0, nil // unreadable: fold from the start
	}
	lead, err := domain.UnmarshalLeadFromSnapshot(state)
	if err != nil || lead.Version() != snap.StreamVersion {
		return domain.NewLeadFromHistory(nil), 0, nil
	}
	return lead, snap.StreamVersion, nil
}

// saveSnapshot stores the lead's state as its stream's snapshot. It is an
// optimization: a failure costs the next load a longer fold, not the
// command its answer, so it is not returned.
func (h *Handler) saveSnapshot(ctx context.Context, tenantID uuid.UUID, lead *domain.Lead) {
	state, err := json.Marshal(lead.Snapshot())
	if err != nil {
		return
	}
	_, _ = h.store.SaveSnapshot(ctx, eventstore.StreamSnapshot{TenantID: tenantID, StreamType: domain.LeadStream,
		StreamID: lead.ID(), StreamVersion: lead.Version(), SchemaVersion: domain.LeadSnapshotVersion, State: state})
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
	ids := make([]uuid.UUID, len(streams))
	creates := false
	for i, sa := range streams {
		c.Touched.add(sa.StreamID, sa.Redact)
		ids[i] = sa.StreamID
		creates = creates || sa.ExpectedVersion == eventstore.NoStream
	}
	res, err = h.store.Commit(ctx, eventstore.Commit{
		TenantID: c.TenantID, Metadata: c.Metadata, IdempotencyKey: c.IdempotencyKey, Note: raw, Streams: streams,
	})
	var dup *eventstore.DuplicateCommitError
	if errors.As(err, &dup) {
		// A create names a new stream each attempt (its note says what the
		// first made); any other command must have written these streams.
		if !creates && !within(dup.Result, ids) {
			return res, false, keyReused(c)
		}
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

// replayedOn is replayed for a command on known streams: a retry whose
// first attempt committed (and whose answer was lost) must get that
// attempt's result, not redo its work nor fail on the state it left (a
// second delete is a 404). The earlier commit must have written only
// streams among targets (nil: any), or the key is refused.
func (h *Handler) replayedOn(ctx context.Context, c Context, targets []uuid.UUID) (eventstore.CommitResult, bool, error) {
	prior, ok, err := h.replayed(ctx, c)
	if err != nil || !ok {
		return prior, false, err
	}
	if len(prior.StreamIDs) == 0 || (targets != nil && !within(prior, targets)) {
		return prior, false, keyReused(c)
	}
	return prior, true, nil
}

// within reports whether res wrote at least one stream and only streams
// among ids.
func within(res eventstore.CommitResult, ids []uuid.UUID) bool {
	for _, id := range res.StreamIDs {
		if !slices.Contains(ids, id) {
			return false
		}
	}
	return len(res.StreamIDs) > 0
}

// keyReused is ErrKeyReused naming c's key.
func keyReused(c Context) error {
	return fmt.Errorf("idempotency key %q was used by another request: %w", c.IdempotencyKey, ErrKeyReused)
}
