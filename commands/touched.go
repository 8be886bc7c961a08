package commands

import (
	"slices"
	"sync"

	"github.com/google/uuid"
)

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
