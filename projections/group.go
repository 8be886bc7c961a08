package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/wire"
)

// group is the projectors' one worker: it takes each batch of events once
// and applies it to every read model in one transaction, each past its own
// checkpoint (a row of checkpoints each, so replay, verify and the
// read-your-writes waiter see the read models one by one as before), then
// saves every checkpoint it moved with one statement. One consumer, one
// decode and one transaction per batch instead of one per read model.
//
// A read model whose Apply fails does not hold the others back: the batch
// is applied again to each read model in a transaction of its own, the
// failing one is left out of the group's batches and, after a backoff
// (1 s doubling to 30 s), caught up from the store alone before it rejoins.
// Its checkpoint never passes an event it did not apply, so nothing is
// skipped: the store holds every event NATS delivered in the meantime.
type group struct {
	cfg      RunnerConfig
	logger   *slog.Logger
	members  []*member
	names    []string
	notifier *eventstore.Notifier
	// known is where each read model stands as last announced: every
	// announcement names them all, so the notifier coalescing two of them
	// (it sends the latest) loses nothing.
	known map[string]eventstore.Position
	now   func() time.Time
}

// member is one read model of the group.
type member struct {
	p Projection
	// failed is why the read model is out of the group (nil: in it);
	// retry is when it is caught up alone again, after backoff.
	failed  error
	retry   time.Time
	backoff time.Duration
}

func newGroup(cfg RunnerConfig, ps []Projection) *group {
	g := &group{cfg: cfg, logger: cfg.Logger.With("projector", groupRole), now: time.Now, known: map[string]eventstore.Position{},
		notifier: eventstore.NewNotifier(cfg.Store.Pool(), NotifyChannel)}
	for _, p := range ps {
		g.members = append(g.members, &member{p: p})
		g.names = append(g.names, p.Name())
	}
	return g
}

// Member backoff bounds.
const (
	memberBackoffMin = time.Second
	memberBackoffMax = 30 * time.Second
)

// fail takes m out of the group's batches for its backoff.
func (g *group) fail(m *member, err error) {
	m.backoff = min(max(2*m.backoff, memberBackoffMin), memberBackoffMax)
	m.failed, m.retry = err, g.now().Add(m.backoff)
	g.logger.Error("read model failed; the others go on, it is caught up alone after a pause",
		"projection", m.p.Name(), "retry_in", m.backoff, "err", err)
}

// rejoin catches up, from the store and alone, the members out of the group
// whose pause is over; each that succeeds is back in the group.
func (g *group) rejoin(ctx context.Context) {
	for _, m := range g.members {
		if m.failed == nil || g.now().Before(m.retry) {
			continue
		}
		if err := catchUp(ctx, g.cfg.Store, m.p, g.cfg.BatchSize, func(d moved) { g.announce([]moved{d}) }); err != nil {
			if ctx.Err() == nil {
				g.fail(m, err)
			}
			continue
		}
		g.logger.Info("read model caught up alone and back in the group", "projection", m.p.Name())
		m.failed, m.backoff = nil, 0
	}
}

// active lists the members in the group now.
func (g *group) active() []*member {
	var out []*member
	for _, m := range g.members {
		if m.failed == nil {
			out = append(out, m)
		}
	}
	return out
}

// floor is the lowest checkpoint of the read models in the group (those
// out of it catch up alone): where its catch-up reads on and its consumer
// starts. ok is false when none is in the group.
func (g *group) floor(ctx context.Context) (low eventstore.Position, ok bool, err error) {
	cps, err := loadCheckpoints(ctx, g.cfg.Store.Pool(), g.names, false)
	if err != nil {
		return low, false, err
	}
	for _, m := range g.active() {
		if cp := cps[m.p.Name()]; !ok || cp.Less(low) {
			low, ok = cp, true
		}
	}
	return low, ok, nil
}

// catchUp applies the store past the group's lowest checkpoint, batch by
// batch, until it has applied everything below the horizon.
func (g *group) catchUp(ctx context.Context) error {
	for {
		g.rejoin(ctx)
		from, ok, err := g.floor(ctx)
		if err != nil || !ok {
			return err
		}
		events, err := g.cfg.Store.ReadAll(ctx, from, g.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("catch up the projectors: %w", err)
		}
		if len(events) == 0 {
			return nil
		}
		batch := make([]delivery, len(events))
		for i, e := range events {
			batch[i] = delivery{event: e}
		}
		if err := g.apply(ctx, batch); err != nil {
			return err
		}
	}
}

// applyMessages decodes a batch once, applies it to every read model, then
// acknowledges it (AckAll: the last ack covers the batch). A crash between
// commit and ack only causes a redelivery, which the checkpoints skip.
func (g *group) applyMessages(ctx context.Context, msgs []jetstream.Msg) error {
	batch := make([]delivery, 0, len(msgs))
	for _, m := range msgs {
		e, prev, err := wire.Decode(m.Data(), m.Headers())
		if err != nil {
			return err
		}
		batch = append(batch, delivery{event: e, prev: &prev})
	}
	g.rejoin(ctx)
	if err := g.apply(ctx, batch); err != nil {
		return err
	}
	last := msgs[len(msgs)-1]
	if err := last.Ack(); err != nil {
		return fmt.Errorf("ack the projectors' batch: %w", err)
	}
	if md, err := last.Metadata(); err == nil {
		lag.WithLabelValues(groupRole).Set(float64(md.NumPending))
	}
	return nil
}

// moved is a read model's checkpoint moved by a batch.
type moved struct {
	p       Projection
	cp      eventstore.Position
	applied int
}

// apply applies batch to every member in the group in one transaction and
// announces the checkpoints it moved. If it fails, each member is given the
// batch alone; those that fail again leave the group for a while. Only when
// every member fails (Postgres is down, say) does apply fail, ending the
// session.
func (g *group) apply(ctx context.Context, batch []delivery) error {
	members := g.active()
	if len(members) == 0 {
		return nil // all paused: each catches up alone from the store
	}
	var done []moved
	err := inPipelinedTx(ctx, g.cfg.Store.Pool(), func(tx pgx.Tx) error {
		var err error
		done, err = applyGroup(ctx, tx, g.cfg.Store, members, batch)
		return err
	})
	if err == nil {
		g.announce(done)
		return nil
	}
	if ctx.Err() != nil || len(members) == 1 {
		return err
	}
	g.logger.Warn("a batch failed for the projectors together; applying it to each read model alone", "err", err)
	var failures []error
	for _, m := range members {
		var cp eventstore.Position
		var n int
		err := inPipelinedTx(ctx, g.cfg.Store.Pool(), func(tx pgx.Tx) (err error) {
			cp, n, err = applyBatch(ctx, tx, g.cfg.Store, m.p, batch)
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			failures = append(failures, err)
			g.fail(m, err)
			continue
		}
		g.announce([]moved{{p: m.p, cp: cp, applied: n}})
	}
	if len(failures) == len(members) {
		for _, m := range members {
			m.failed, m.backoff = nil, 0 // the session ends and starts afresh
		}
		return errors.Join(failures...)
	}
	return nil
}

// announce tells the waiters of each checkpoint moved, in one NOTIFY.
func (g *group) announce(done []moved) {
	if len(done) == 0 {
		return
	}
	for _, d := range done {
		g.known[d.p.Name()] = d.cp
		appliedEvents.WithLabelValues(d.p.Name()).Add(float64(d.applied))
	}
	g.notifier.Send(announcement(g.known))
}

// applyGroup applies batch past each member's checkpoint in tx (at
// synchronous_commit off, see applyBatch) and saves the checkpoints it
// moved, in one statement.
func applyGroup(ctx context.Context, tx pgx.Tx, store *eventstore.Store, members []*member, batch []delivery) ([]moved, error) {
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.p.Name()
	}
	if _, err := tx.Exec(ctx, `select set_config('synchronous_commit', 'off', true), `+eventstore.NoEvents); err != nil {
		return nil, err
	}
	cps, err := loadCheckpoints(ctx, tx, names, true)
	if err != nil {
		return nil, err
	}
	var done []moved
	for _, m := range members {
		events, err := pending(ctx, store, cps[m.p.Name()], batch)
		if err != nil {
			return nil, err
		}
		if len(events) == 0 {
			continue
		}
		if err := applyEvents(ctx, tx, m.p, events); err != nil {
			return nil, err
		}
		done = append(done, moved{p: m.p, cp: events[len(events)-1].Position, applied: len(events)})
	}
	if len(done) == 0 {
		return nil, nil
	}
	saved := make([]string, len(done))
	txs, poss := make([]int64, len(done)), make([]int64, len(done))
	for i, d := range done {
		saved[i], txs[i], poss[i] = d.p.Name(), int64(d.cp.Tx), d.cp.Pos
	}
	if _, err := tx.Exec(ctx, `insert into checkpoints (name, tx, pos)
		select * from unnest($1::text[], $2::bigint[], $3::bigint[])
		on conflict (name) do update set tx = excluded.tx, pos = excluded.pos, updated_at = now()`, saved, txs, poss); err != nil {
		return nil, fmt.Errorf("save checkpoints: %w", err)
	}
	return done, nil
}

// loadCheckpoints reads the checkpoints of names (the zero position for one
// not saved yet), locking their rows if forUpdate, in name order so two
// workers never lock them crosswise.
func loadCheckpoints(ctx context.Context, q eventstore.Querier, names []string, forUpdate bool) (map[string]eventstore.Position, error) {
	sorted := slices.Sorted(slices.Values(names))
	sql := "select name, tx, pos from checkpoints where name = any($1) order by name"
	if forUpdate {
		sql += " for update"
	}
	rows, err := q.Query(ctx, sql, sorted)
	if err != nil {
		return nil, fmt.Errorf("load checkpoints: %w", err)
	}
	out := make(map[string]eventstore.Position, len(names))
	var name string
	var txid, pos int64
	_, err = pgx.ForEachRow(rows, []any{&name, &txid, &pos}, func() error {
		out[name] = eventstore.Position{Tx: uint64(txid), Pos: pos}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load checkpoints: %w", err)
	}
	return out, nil
}

// dropOldConsumers deletes the JetStream consumers of crm versions that ran
// one worker per read model (named after each read model), which would
// otherwise keep their state on the servers for good.
func (g *group) dropOldConsumers(ctx context.Context) {
	for _, name := range g.names {
		err := g.cfg.JS.DeleteConsumer(ctx, g.cfg.Stream.Name, g.cfg.Stream.Name+"_"+name)
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			g.logger.Warn("could not delete an old per-read-model consumer", "consumer", g.cfg.Stream.Name+"_"+name, "err", err)
		}
	}
}
