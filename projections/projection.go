// Package projections is the projector runtime (JetStream consumer ->
// read-model tables, checkpoint in the same transaction), the bulk rebuild
// (BulkBuild, StreamFold), replay, verify, versioned deploy and the
// read-your-writes waiter. The read models themselves live in a package
// each below it (leads, calllogs, volume, pipelines, photos, customers,
// records), which import this one, never the reverse.
package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/eventstore"
)

// Projection is one read model: the tables it owns and how an event changes
// them. Its SQL names tables unqualified: replay builds fresh tables in a
// schema of their own by putting that schema first on the search_path.
type Projection interface {
	// Name is stable: it names the checkpoint, the JetStream consumer and the lock.
	Name() string
	// Tables lists the tables the projection owns, swapped in together by replay.
	Tables() []string
	// Setup creates the tables if they do not exist (in the search_path's first schema).
	Setup(ctx context.Context, tx pgx.Tx) error
	// Apply applies one event. It must be deterministic: a replay of the
	// store gives the same rows as live projection did.
	Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error
}

// NotifyChannel is the Postgres channel projectors announce checkpoints on;
// the payload is "name tx.pos".
const NotifyChannel = "crm_projections"

// delivery is an event as it arrived, with the position of the event that
// was relayed before it; from the store, prev is nil: store reads are gapless.
type delivery struct {
	event eventstore.Event
	prev  *eventstore.Position
}

// applyBatch applies events past the projection's checkpoint and advances it,
// all in tx; the caller announces the new checkpoint once tx has committed
// (see announce). A delivery whose predecessor is not the checkpoint means NATS
// lost or purged messages: the gap is read from the store and applied first,
// so an event is never skipped. It returns the new checkpoint and how many
// events it applied.
//
// tx commits without waiting for its WAL flush (synchronous_commit off): a
// read model is derived from the durable store, and its rows and checkpoint
// commit together, so a Postgres crash can only take a read model back to
// an earlier checkpoint, which the projector's catch-up from the store (on
// every new session, and for any gap it meets on NATS) applies again. Under
// load, waiting for the flush put every projector batch in the queue for
// the WAL behind the writes' own fsyncs.
func applyBatch(ctx context.Context, tx pgx.Tx, store *eventstore.Store, p Projection, batch []delivery) (eventstore.Position, int, error) {
	if _, err := tx.Exec(ctx, `select set_config('synchronous_commit', 'off', true), `+eventstore.NoEvents); err != nil {
		return eventstore.Position{}, 0, err
	}
	cp, err := eventstore.LoadCheckpoint(ctx, tx, p.Name(), true)
	if err != nil {
		return cp, 0, fmt.Errorf("load checkpoint %s: %w", p.Name(), err)
	}
	events, err := pending(ctx, store, cp, batch)
	if err != nil || len(events) == 0 {
		return cp, 0, err
	}
	if err := applyEvents(ctx, tx, p, events); err != nil {
		return cp, 0, err
	}
	cp = events[len(events)-1].Position
	if err := eventstore.SaveCheckpoint(ctx, tx, p.Name(), cp); err != nil {
		return cp, len(events), fmt.Errorf("save checkpoint %s: %w", p.Name(), err)
	}
	return cp, len(events), nil
}

// pending returns the events of batch past the checkpoint cp, in commit
// order, with every gap filled from the store: a delivery whose predecessor
// is not the last event before it means NATS lost or purged messages, and
// the store has them.
func pending(ctx context.Context, store *eventstore.Store, cp eventstore.Position, batch []delivery) ([]eventstore.Event, error) {
	var events []eventstore.Event
	for _, d := range batch {
		if !cp.Less(d.event.Position) {
			continue // already applied: exactly once in effect
		}
		if d.prev != nil && *d.prev != cp {
			gapFilled.Inc()
			var err error
			if events, err = fillGap(ctx, store, cp, d.event.Position, events); err != nil {
				return nil, err
			}
		} else {
			events = append(events, d.event)
		}
		cp = d.event.Position
	}
	return events, nil
}

// fillGap appends to events those of the store after from, up to and
// including to.
func fillGap(ctx context.Context, store *eventstore.Store, from, to eventstore.Position, events []eventstore.Event) ([]eventstore.Event, error) {
	for from.Less(to) {
		read, err := store.ReadAll(ctx, from, 1000)
		if err != nil {
			return nil, fmt.Errorf("read gap after %s: %w", from, err)
		}
		if len(read) == 0 {
			return nil, fmt.Errorf("gap after %s: event %s is not in the store", from, to)
		}
		for _, e := range read {
			if to.Less(e.Position) {
				return events, nil
			}
			events = append(events, e)
			from = e.Position
		}
	}
	return events, nil
}

// SetupAll creates every projection's tables that do not exist yet.
func SetupAll(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, ps []Projection) error {
	for _, p := range ps {
		if err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			// Serialize concurrent starts of several processes.
			if _, err := tx.Exec(ctx, `select pg_advisory_xact_lock(hashtext('crm:setup:' || $1))`, p.Name()); err != nil {
				return err
			}
			return p.Setup(ctx, tx)
		}); err != nil {
			return fmt.Errorf("set up projection %s: %w", p.Name(), err)
		}
	}
	return nil
}
