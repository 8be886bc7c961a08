// Package commands runs crm's commands: load the stream, let the domain
// decide, append the events in one transaction, retry on a version conflict.
// One helper does that for every command (write.go); a handler says only
// which streams, which decision and which answer.
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

// at places a command's answer at a position.
func (r Result) at(p eventstore.Position) Result { r.Position = p; return r }

// loadLead loads a lead outside a command's attempt (to answer a retried
// request, or check it exists before numbering): the stream counts as
// touched by c's request (its stored response is purged if the lead is
// deleted).
func (h *Handler) loadLead(ctx context.Context, c Context, id uuid.UUID) (*domain.Lead, error) {
	c.Touched.add(id, false)
	lead, _, err := load(ctx, h.store, leads, c.TenantID, id)
	return lead, err
}

// noted reads an earlier commit's note; one that is missing, or names
// nothing valid accepts, means the key served another kind of request.
func noted[N any](c Context, prior eventstore.CommitResult, valid func(N) bool) (N, error) {
	var n N
	if err := json.Unmarshal(prior.Note, &n); err != nil || !valid(n) {
		return n, fmt.Errorf("idempotency key %q was used by another kind of request: %w", c.IdempotencyKey, ErrKeyReused)
	}
	return n, nil
}

// holder is a write's prepare step for a command on something the lead
// holds (a call log, a comment): it finds the lead by the value reserved for
// it, into *lead, or fails with notFound.
func (h *Handler) holder(ctx context.Context, c Context, kind, value string, notFound error, lead *uuid.UUID) func() ([]uuid.UUID, error) {
	return func() ([]uuid.UUID, error) {
		owner, ok, err := h.store.LookupReservation(ctx, c.TenantID, kind, value)
		if err != nil {
			return nil, fmt.Errorf("look up %s %s: %w", kind, value, err)
		}
		if !ok {
			return nil, notFound
		}
		*lead = owner
		return []uuid.UUID{owner}, nil
	}
}

// notFoundAs maps domain.ErrLeadNotFound to err: a command that found its
// lead through a call log or comment reports that one missing.
func notFoundAs(err error) func(error) error {
	return func(e error) error {
		if errors.Is(e, domain.ErrLeadNotFound) {
			return err
		}
		return e
	}
}

// erasing redacts the stream's earlier events and releases all it reserved.
func erasing(sa *eventstore.StreamAppend) { sa.Redact, sa.ReleaseAll = true, true }
