// Package timers is crm's durable "do X at time T": a row of the timers
// table, written in the same commit as the event that schedules it
// (Schedule, as a StreamAppend's Within), cancelled in the commit that ends
// what it waited for (Cancel), and fired by the one active Scheduler of a
// database (an advisory lock, as the relay's) in due order. A firing
// appends through the command path with the timer's id as causation and
// marks the timer fired in that same commit (Fire): a crash between the
// two, a second scheduler or a "run due work now" racing the loop never
// fires a timer twice. Nothing waits in memory: a timer due while no
// scheduler ran fires when one starts, in due order. The clock is
// injectable (Clock), so tests move time instead of sleeping.
package timers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/eventstore"
)

// Clock tells the time timers are scheduled from and fired up to.
type Clock interface {
	Now() time.Time
}

// SystemClock is the machine's clock: production's.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// Timer is a stored timer.
type Timer struct {
	ID       uuid.UUID
	TenantID uuid.UUID
	// Kind names the handler that fires it ("feedback.remind").
	Kind string
	// StreamID is the stream it acts on; Cancel cancels by stream.
	StreamID uuid.UUID
	DueAt    time.Time
	// Payload is the kind's own data (a JSON object).
	Payload json.RawMessage
}

// New is a timer to schedule for the stream of the StreamAppend it is
// written with.
type New struct {
	Kind    string
	DueAt   time.Time
	Payload any // encoded as JSON; nil: {}
}

// ErrNotPending fails a firing commit whose timer was fired, skipped or
// cancelled meanwhile (by another scheduler, a "run due work now", or the
// commit that ended what it waited for): nothing of that commit is written.
var ErrNotPending = errors.New("timer is no longer pending")

// ErrObsolete is what a Handler returns (wrapped) when what its timer was
// to do no longer applies (the request it reminds of was answered): the
// timer is marked skipped and nothing is appended.
var ErrObsolete = errors.New("timer obsolete")

// Schedule writes timers for the stream in the commit's transaction: set it
// as the StreamAppend's Within beside the event that schedules them.
func Schedule(ts ...New) eventstore.TxWrite {
	return func(ctx context.Context, tx pgx.Tx, tenant, stream uuid.UUID) error {
		for _, t := range ts {
			if t.Kind == "" || t.DueAt.IsZero() {
				return fmt.Errorf("schedule timer: kind %q due %v: want both", t.Kind, t.DueAt)
			}
			payload := []byte("{}")
			if t.Payload != nil {
				var err error
				if payload, err = json.Marshal(t.Payload); err != nil {
					return fmt.Errorf("schedule timer %s: %w", t.Kind, err)
				}
			}
			id, err := uuid.NewV7()
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `insert into timers (id, tenant_id, kind, stream_id, due_at, payload)
				values ($1, $2, $3, $4, $5, $6)`, id, tenant, t.Kind, stream, t.DueAt, payload); err != nil {
				return fmt.Errorf("schedule timer %s: %w", t.Kind, err)
			}
		}
		return nil
	}
}

// Cancel cancels the stream's pending timers of kinds (none: of every
// kind) in the commit's transaction: they never fire.
func Cancel(kinds ...string) eventstore.TxWrite {
	return func(ctx context.Context, tx pgx.Tx, tenant, stream uuid.UUID) error {
		if _, err := tx.Exec(ctx, `update timers set state = 'cancelled', cancelled_at = now()
			where tenant_id = $1 and stream_id = $2 and state = 'pending' and (coalesce(cardinality($3::text[]), 0) = 0 or kind = any($3))`,
			tenant, stream, kinds); err != nil {
			return fmt.Errorf("cancel timers of %s: %w", stream, err)
		}
		return nil
	}
}

// Fire marks timer t fired in the firing commit's transaction: the commit
// fails with ErrNotPending if t is no longer pending, so it is fired once.
func Fire(t Timer) eventstore.TxWrite {
	return func(ctx context.Context, tx pgx.Tx, tenant, _ uuid.UUID) error {
		tag, err := tx.Exec(ctx, `update timers set state = 'fired', fired_at = now()
			where id = $1 and tenant_id = $2 and state = 'pending'`, t.ID, tenant)
		if err != nil {
			return fmt.Errorf("fire timer %s: %w", t.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("timer %s: %w", t.ID, ErrNotPending)
		}
		return nil
	}
}

// Causation is the causation id a timer's firing events carry: its id.
func Causation(t Timer) string { return t.ID.String() }
