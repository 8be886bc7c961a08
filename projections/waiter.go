package projections

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/crmcore/crm/eventstore"
)

// Waiter lets a command's response wait until the read models its API serves
// have applied the command's events (read-your-writes). Projectors announce
// checkpoints with NOTIFY; waiting is a wake-up on those, not a sleep loop.
type Waiter struct {
	store    *eventstore.Store
	listener *eventstore.Listener
	logger   *slog.Logger

	reloadEvery time.Duration // the safety net's period

	mu      sync.Mutex
	cps     map[string]eventstore.Position
	changed chan struct{} // closed and replaced whenever cps moves
}

// waiterQueue is how many checkpoint notifications may wait for the Waiter
// before the Listener replaces them with one wakeup (and the Waiter re-reads
// the checkpoints table). Every projector announces each batch, and the
// notifications of several arrive together: with room for one, all but the
// first were dropped, and a response waited for its read model's next batch
// or the one-second reload.
const waiterQueue = 256

// NewWaiter returns a Waiter; Run must be running for it to see progress.
func NewWaiter(store *eventstore.Store, listener *eventstore.Listener, logger *slog.Logger) *Waiter {
	return &Waiter{store: store, listener: listener, logger: logger, reloadEvery: time.Second,
		cps: map[string]eventstore.Position{}, changed: make(chan struct{})}
}

// Run follows checkpoint notifications until ctx ends. It also re-reads the
// checkpoints table now and then, so a notification lost in a reconnect
// delays a waiter by at most that period.
func (w *Waiter) Run(ctx context.Context) error {
	notes, unsubscribe := w.listener.SubscribeQueued(NotifyChannel, waiterQueue)
	defer unsubscribe()
	w.reload(ctx)
	tick := time.NewTicker(w.reloadEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			w.reload(ctx)
		case payload := <-notes:
			cps, ok := parseAnnouncement(payload)
			if !ok {
				// A reconnect's or an overflow's wakeup: state may have moved unseen.
				w.reload(ctx)
				continue
			}
			w.advance(cps)
		}
	}
}

// parseAnnouncement reads the read models' positions of a NOTIFY payload
// (announcement); false if it is none.
func parseAnnouncement(payload string) (map[string]eventstore.Position, bool) {
	cps := map[string]eventstore.Position{}
	for line := range strings.SplitSeq(payload, "\n") {
		name, pos, ok := strings.Cut(line, " ")
		p, err := eventstore.ParsePosition(pos)
		if !ok || err != nil {
			return nil, false
		}
		cps[name] = p
	}
	return cps, true
}

func (w *Waiter) reload(ctx context.Context) {
	cps, err := w.store.Checkpoints(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.logger.Warn("read checkpoints", "err", err)
		}
		return
	}
	w.advance(cps)
}

// advance records newer checkpoints and wakes the waiters. Checkpoints never
// move backwards, so an older position (a reload racing a notification) is
// ignored.
func (w *Waiter) advance(cps map[string]eventstore.Position) {
	w.mu.Lock()
	defer w.mu.Unlock()
	moved := false
	for name, p := range cps {
		if w.cps[name].Less(p) {
			w.cps[name] = p
			moved = true
		}
	}
	if moved {
		close(w.changed)
		w.changed = make(chan struct{})
	}
}

// Reached reports whether every named projection has applied pos.
func (w *Waiter) Reached(pos eventstore.Position, names ...string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reachedLocked(pos, names)
}

func (w *Waiter) reachedLocked(pos eventstore.Position, names []string) bool {
	for _, n := range names {
		if w.cps[n].Less(pos) {
			return false
		}
	}
	return true
}

// Wait blocks until every named projection has applied pos, or ctx ends; it
// reports whether they got there.
func (w *Waiter) Wait(ctx context.Context, pos eventstore.Position, names ...string) bool {
	for {
		w.mu.Lock()
		if w.reachedLocked(pos, names) {
			w.mu.Unlock()
			return true
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}
