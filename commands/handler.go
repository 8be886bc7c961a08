// Package commands runs crm's commands: load the stream, let the domain
// decide, append the events in one transaction, retry on a version conflict.
// One helper does that for every command (write.go); a handler says only
// which streams, which decision and which answer.
package commands

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// Handler executes commands against the event store.
type Handler struct {
	store  Store
	region string // default region for phone numbers without a country code
	lineup lineup // this process's commands on one lead take turns
}

// New returns a Handler; region is the default phone region (e.g. "IN").
func New(store Store, region string) *Handler {
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

// Touched collects the streams a request's commands loaded or wrote. The
// HTTP layer stores them with the request's idempotent response, so that a
// permanent delete of one of them purges the response, which may quote the
// stream's personal data. A nil *Touched collects nothing.
type Touched struct {
	mu sync.Mutex
	// ids holds every stream touched; true marks one the request itself
	// deleted permanently (its response quotes nothing of it any more).
	ids map[uuid.UUID]bool
}

// add notes that the request loaded or wrote stream id.
func (t *Touched) add(id uuid.UUID, redacted bool) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids == nil {
		t.ids = map[uuid.UUID]bool{}
	}
	t.ids[id] = t.ids[id] || redacted
}

// Streams returns the streams touched and not deleted by the request, in
// id order.
func (t *Touched) Streams() []uuid.UUID {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []uuid.UUID
	for id, redacted := range t.ids {
		if !redacted {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return out
}

// loadLead loads a lead outside a command's attempt (to answer a retried
// request, or check it exists before numbering): the stream counts as
// touched by c's request (its stored response is purged if the lead is
// deleted).
func (h *Handler) loadLead(ctx context.Context, c Context, id uuid.UUID) (*domain.Lead, error) {
	c.Touched.add(id, false)
	lead, _, err := load(ctx, h.store, leads, c.TenantID, id)
	return lead, err
}

// ErrKeyReused is returned when an idempotency key comes back on another
// kind of request than the one that first used it.
var ErrKeyReused = errors.New("idempotency key reused")

// ErrBusy is returned when a command could not get its turn on a lead, or
// kept losing races for it to other processes, for busyFor (see lineup.go).
var ErrBusy = errors.New("too many concurrent changes; try again")
