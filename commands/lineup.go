package commands

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/eventstore"
)

// Contention on one lead.
//
// Commands on one stream are optimistic: each loads the stream, decides,
// and commits at the version it loaded, and one that lost the race to
// another commit loads and decides again. A burst on one lead (64 creates
// at once with the phone number of a switchboard) made that a scramble in
// which each round had one winner, and a third of the burst ran out of
// attempts. So commands of this process that touch the same lead take
// turns: a command waits in a queue per tenant and stream (and a create, per
// tenant and normalized email or phone, since those find its stream) and
// runs when the one before it has ended. Only commands of other processes
// still race; a command that loses to one retries after a pause growing
// exponentially from basePause up to maxPause, with full jitter, so racing
// processes spread out. A command that has neither got its turn nor won
// its race busyFor after it started fails with ErrBusy (409 in every API).
const (
	busyFor   = 5 * time.Second
	basePause = 2 * time.Millisecond
	maxPause  = 100 * time.Millisecond
)

// errLostRace marks an attempt's error as a lost race (besides a
// *eventstore.ConcurrencyError): the command is tried again.
var errLostRace = errors.New("lost a race")

// lineup queues this process's commands per key (see streamKeys, valueKey).
// The zero value is ready for use.
type lineup struct {
	mu    sync.Mutex
	turns map[string]*turn // the keys some command has the turn on
}

// turn is the queue of one key: the command that has it, and those waiting.
type turn struct {
	key     string
	waiting []chan struct{} // first come, first served: closed to hand the turn over
}

// streamKeys names streams of a tenant in the lineup.
func streamKeys(tenant uuid.UUID, streams ...uuid.UUID) []string {
	keys := make([]string, len(streams))
	for i, id := range streams {
		keys[i] = "stream\x00" + tenant.String() + "\x00" + id.String()
	}
	return keys
}

// valueKey names a reserved value (a normalized email or phone) of a tenant.
func valueKey(tenant uuid.UUID, r eventstore.Reservation) string {
	return "value\x00" + tenant.String() + "\x00" + r.Kind + "\x00" + r.Value
}

// enter waits for the turn on every key, taken in sorted order so two
// commands sharing keys never wait for each other in a cycle, until ctx
// ends or deadline passes (ErrBusy). leave gives the turns back.
func (l *lineup) enter(ctx context.Context, deadline time.Time, keys []string) (leave func(), err error) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	var held []*turn
	leave = func() {
		for _, t := range slices.Backward(held) {
			l.handOver(t)
		}
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for _, k := range keys {
		t, err := l.wait(ctx, timer.C, k)
		if err != nil {
			leave()
			return nil, err
		}
		held = append(held, t)
	}
	return leave, nil
}

// wait returns key's turn once this command has it.
func (l *lineup) wait(ctx context.Context, expired <-chan time.Time, key string) (*turn, error) {
	l.mu.Lock()
	if l.turns == nil {
		l.turns = map[string]*turn{}
	}
	t := l.turns[key]
	if t == nil { // free: ours
		t = &turn{key: key}
		l.turns[key] = t
		l.mu.Unlock()
		return t, nil
	}
	mine := make(chan struct{})
	t.waiting = append(t.waiting, mine)
	l.mu.Unlock()

	var err error
	select {
	case <-mine:
		return t, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = fmt.Errorf("waited %s for other changes to the same lead: %w", busyFor, ErrBusy)
	}
	l.mu.Lock()
	if i := slices.Index(t.waiting, mine); i >= 0 {
		t.waiting = slices.Delete(t.waiting, i, i+1)
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	l.handOver(t) // it was handed to us meanwhile: pass it on
	return nil, err
}

// handOver gives t to the command that has waited longest, or drops it.
func (l *lineup) handOver(t *turn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(t.waiting) == 0 {
		delete(l.turns, t.key)
		return
	}
	close(t.waiting[0])
	t.waiting = t.waiting[1:]
}

// retryUntil runs attempt with the turn on keys (streamKeys, valueKey)
// until it does not lose a race (see above), or ErrBusy at deadline.
func retryUntil[T any](ctx context.Context, h *Handler, deadline time.Time, keys []string, attempt func() (T, error)) (T, error) {
	var zero T
	leave, err := h.lineup.enter(ctx, deadline, keys)
	if err != nil {
		return zero, err
	}
	defer leave()
	for i := 1; ; i++ {
		res, err := attempt()
		var conflict *eventstore.ConcurrencyError
		if !errors.As(err, &conflict) && !errors.Is(err, errLostRace) {
			return res, err
		}
		if err := pause(ctx, i, deadline); err != nil {
			return zero, fmt.Errorf("gave up after %d lost races: %w", i, err)
		}
	}
}

// pause waits before retry number attempt: a random time up to
// basePause×2^(attempt-1), at most maxPause, so racing writers spread out
// instead of colliding again. It returns ErrBusy instead if the wait would
// end past deadline, and ctx's error if ctx ends first.
func pause(ctx context.Context, attempt int, deadline time.Time) error {
	ceiling := min(maxPause, basePause<<min(attempt-1, 16))
	d := time.Duration(rand.Int64N(int64(ceiling))) + 1
	if time.Now().Add(d).After(deadline) {
		return fmt.Errorf("still losing after %s: %w", busyFor, ErrBusy)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
