package timers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/leader"
)

// A Handler fires one due timer of its kind: it appends through the
// command path, its events' causation Causation(t), with Fire(t) in the
// same commit's Within. It returns an error wrapping ErrNotPending when
// the timer was fired or cancelled meanwhile (Fire failed the commit), one
// wrapping ErrObsolete when there is nothing to do any more; any other
// error leaves the timer pending, tried again later. It returns where its
// commit landed.
type Handler func(ctx context.Context, t Timer) (eventstore.Position, error)

// Fired is a timer fired, and where its commit landed (read models that
// reach it show the firing).
type Fired struct {
	Timer
	Position eventstore.Position
}

// Role is the leadership role of the scheduler: one active per database.
const Role = "timers"

// PollInterval is how often the active scheduler looks for due timers: a
// timer fires within this (and its own commit) of being due.
const PollInterval = 250 * time.Millisecond

// batchSize is how many due timers one scan takes, in due order.
const batchSize = 100

// maxRetryDelay bounds the wait before a failing timer is tried again
// (doubling from a second).
const maxRetryDelay = 5 * time.Minute

// Retention is how long a timer fired, skipped or cancelled is kept (for
// inspection) before the active scheduler deletes it; a pending timer is
// never deleted.
const Retention = 30 * 24 * time.Hour

// purgeInterval is how often the active scheduler deletes timers past
// Retention.
const purgeInterval = time.Hour

// Scheduler fires due timers with their kind's Handler.
type Scheduler struct {
	pool     *pgxpool.Pool
	clock    Clock
	logger   *slog.Logger
	handlers map[string]Handler
	// Poll is the scan interval of Run (default PollInterval).
	Poll time.Duration
}

// NewScheduler returns a scheduler over pool telling time by clock (nil:
// SystemClock). Register handlers with Handle before Run or FireDue.
func NewScheduler(pool *pgxpool.Pool, clock Clock, logger *slog.Logger) *Scheduler {
	if clock == nil {
		clock = SystemClock{}
	}
	return &Scheduler{pool: pool, clock: clock, logger: logger, handlers: map[string]Handler{}, Poll: PollInterval}
}

// Handle registers the handler of kind.
func (s *Scheduler) Handle(kind string, h Handler) { s.handlers[kind] = h }

// Clock returns the scheduler's clock.
func (s *Scheduler) Clock() Clock { return s.clock }

// Run fires due timers while this process holds the scheduler's advisory
// lock (leader.Lead), standing by otherwise, until ctx ends. A backlog
// (timers due while no scheduler ran) is worked off in due order.
func (s *Scheduler) Run(ctx context.Context) error {
	return leader.Lead(ctx, s.pool.Config().ConnConfig.Copy(), Role, s.logger, s.loop)
}

// loop scans for due timers every Poll, draining a backlog at once, and
// deletes timers done past Retention every purgeInterval.
func (s *Scheduler) loop(ctx context.Context) error {
	tick := time.NewTicker(s.Poll)
	defer tick.Stop()
	var purged time.Time
	for {
		if time.Since(purged) >= purgeInterval {
			if _, err := s.Purge(ctx, s.clock.Now().Add(-Retention)); err != nil && ctx.Err() == nil {
				s.logger.Warn("timers: purge", "err", err)
			}
			purged = time.Now()
		}
		for {
			fired, scanned, err := s.fireBatch(ctx, uuid.Nil, nil, s.clock.Now())
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.logger.Warn("timers: scan", "err", err)
				break
			}
			if scanned < batchSize || len(fired) == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// FireDue fires now the tenant's timers of kinds (none: every kind) due
// at or before now, in due order, and returns those it fired; a timer
// fired before, or meanwhile by the scheduler, is not among them, so a
// second call returns none. It is "run due work now" for one tenant.
func (s *Scheduler) FireDue(ctx context.Context, tenant uuid.UUID, kinds []string, now time.Time) ([]Fired, error) {
	if tenant == uuid.Nil {
		return nil, errors.New("fire due timers: no tenant")
	}
	var out []Fired
	for {
		fired, scanned, err := s.fireBatch(ctx, tenant, kinds, now)
		out = append(out, fired...)
		// A full batch that fired nothing failed throughout: those timers
		// wait for their retry, not for another scan now.
		if err != nil || scanned < batchSize || len(fired) == 0 {
			return out, err
		}
	}
}

// fireBatch fires up to batchSize due timers (of tenant, unless Nil; of
// kinds, unless none), in due order; it returns those it fired and how
// many it scanned. A timer whose handler fails is tried again later.
func (s *Scheduler) fireBatch(ctx context.Context, tenant uuid.UUID, kinds []string, now time.Time) (fired []Fired, scanned int, err error) {
	due, err := s.due(ctx, tenant, kinds, now)
	if err != nil {
		return nil, 0, err
	}
	for _, t := range due {
		at, ok, err := s.fire(ctx, t)
		if err != nil {
			return fired, len(due), err
		}
		if ok {
			fired = append(fired, Fired{Timer: t, Position: at})
		}
	}
	return fired, len(due), nil
}

// due reads the pending timers due at now, in due order.
func (s *Scheduler) due(ctx context.Context, tenant uuid.UUID, kinds []string, now time.Time) ([]Timer, error) {
	rows, err := s.pool.Query(ctx, `select id, tenant_id, kind, stream_id, due_at, payload from timers
		where state = 'pending' and due_at <= $1 and (retry_at is null or retry_at <= $1)
			and ($2::uuid is null or tenant_id = $2) and (coalesce(cardinality($3::text[]), 0) = 0 or kind = any($3))
		order by due_at, id limit $4`, now, nullable(tenant), kinds, batchSize)
	if err != nil {
		return nil, fmt.Errorf("due timers: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Timer, error) {
		var t Timer
		err := r.Scan(&t.ID, &t.TenantID, &t.Kind, &t.StreamID, &t.DueAt, &t.Payload)
		return t, err
	})
}

func nullable(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// fire runs t's handler and reports whether it fired t, and where. Only a
// failure to record the outcome is an error; a failing handler leaves t
// pending with a retry time.
func (s *Scheduler) fire(ctx context.Context, t Timer) (eventstore.Position, bool, error) {
	var none eventstore.Position
	h, ok := s.handlers[t.Kind]
	if !ok {
		return none, false, s.failed(ctx, t, fmt.Errorf("no handler for kind %q", t.Kind))
	}
	at, err := h(ctx, t)
	switch {
	case err == nil:
		return at, true, nil
	case errors.Is(err, ErrNotPending):
		return none, false, nil
	case errors.Is(err, ErrObsolete):
		if _, err := s.pool.Exec(ctx, `update timers set state = 'skipped', fired_at = now(), last_error = $2
			where id = $1 and state = 'pending'`, t.ID, err.Error()); err != nil {
			return none, false, fmt.Errorf("skip timer %s: %w", t.ID, err)
		}
		return none, false, nil
	case ctx.Err() != nil:
		return none, false, ctx.Err()
	}
	return none, false, s.failed(ctx, t, err)
}

// failed records a failed attempt at t and when to try it again.
func (s *Scheduler) failed(ctx context.Context, t Timer, cause error) error {
	s.logger.Warn("timers: firing failed", "timer", t.ID, "kind", t.Kind, "err", cause)
	_, err := s.pool.Exec(ctx, `update timers set attempts = attempts + 1, last_error = $2,
			retry_at = $3::timestamptz + least(make_interval(secs => power(2, attempts)), make_interval(secs => $4))
		where id = $1 and state = 'pending'`, t.ID, cause.Error(), s.clock.Now(), maxRetryDelay.Seconds())
	if err != nil {
		return fmt.Errorf("timer %s: record failure: %w", t.ID, err)
	}
	return nil
}

// Purge deletes the timers fired, skipped or cancelled before before, and
// returns how many.
func (s *Scheduler) Purge(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `delete from timers where state <> 'pending' and coalesce(fired_at, cancelled_at) < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge timers: %w", err)
	}
	return tag.RowsAffected(), nil
}
