package projections

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/eventstore"
)

// BatchApplier is a Projection that applies a run of events at once: it
// loads the rows of every stream the run touches in one query, folds each
// stream's events in order and writes the differences together (the new
// rows with one COPY), instead of a load and a write per event. The
// projector runtime uses it for every batch; replay's per-event path and
// the equality tests use Apply, so the two are checked against each other.
type BatchApplier interface {
	Projection
	// ApplyBatch applies events, in commit order, leaving exactly the rows
	// that applying them one by one with Apply would.
	ApplyBatch(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error
}

// applyEvents applies events to p in tx: at once if p is a BatchApplier,
// else event by event.
func applyEvents(ctx context.Context, tx pgx.Tx, p Projection, events []eventstore.Event) error {
	if len(events) == 0 {
		return nil
	}
	if b, ok := p.(BatchApplier); ok {
		if t, ok := tx.(*pipelinedTx); ok {
			first, last := events[0], events[len(events)-1]
			t.label = fmt.Sprintf("%s: apply the %d events from %s to %s", p.Name(), len(events), first.Position, last.Position)
		}
		if err := b.ApplyBatch(ctx, tx, events); err != nil {
			return fmt.Errorf("%s: apply %d events from %s: %w", p.Name(), len(events), events[0].Position, err)
		}
		return nil
	}
	lp := labelled{p}
	for _, e := range events {
		if err := lp.Apply(ctx, tx, e); err != nil {
			return fmt.Errorf("%s: apply %s %s at %s: %w", p.Name(), e.Type, e.ID, e.Position, err)
		}
	}
	return nil
}

// StreamKey names one stream of one tenant.
type StreamKey struct{ Tenant, Stream uuid.UUID }

// StreamRun is the events of one stream within a batch, in stream order.
type StreamRun struct {
	StreamKey
	Events []eventstore.Event
}

// ByStream groups the events that pick keeps by stream, in the order each
// stream first appears: what a BatchApplier folds, one run per row.
func ByStream(events []eventstore.Event, pick func(e *eventstore.Event) bool) []StreamRun {
	var runs []StreamRun
	at := map[StreamKey]int{}
	for i := range events {
		e := &events[i]
		if !pick(e) {
			continue
		}
		k := StreamKey{e.TenantID, e.StreamID}
		j, ok := at[k]
		if !ok {
			j = len(runs)
			at[k] = j
			runs = append(runs, StreamRun{StreamKey: k})
		}
		runs[j].Events = append(runs[j].Events, *e)
	}
	return runs
}

// Keys are the tenants and ids of streams, side by side, as a query over
// unnest($1::uuid[], $2::uuid[]) takes them.
type Keys struct{ Tenants, Streams []uuid.UUID }

// Add adds k.
func (ks *Keys) Add(k StreamKey) {
	ks.Tenants = append(ks.Tenants, k.Tenant)
	ks.Streams = append(ks.Streams, k.Stream)
}
