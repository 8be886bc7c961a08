package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/eventstore"
)

// Progress reports a replay's advance: events applied so far of about total.
type Progress func(name string, applied, total int64)

// Replay rebuilds p from the event store (never from NATS) into fresh tables
// in a schema of their own, then swaps them in. The live tables keep serving
// and the live projector keeps running until the swap, which takes the
// projection's checkpoint row lock: the live projector waits for it, then
// carries on from the replay's checkpoint.
func Replay(ctx context.Context, store *eventstore.Store, p Projection, batchSize int, progress Progress) error {
	b, err := newBuild(ctx, store, p, "replay_"+p.Name(), batchSize, progress)
	if err != nil {
		return err
	}
	if err := b.catchUp(); err != nil {
		return err
	}
	// Swap: hold the checkpoint row (the live projector waits), apply what
	// arrived since, move the fresh tables in and set the checkpoint.
	err = b.inSchema(func(tx pgx.Tx) error {
		if _, err := eventstore.LoadCheckpoint(ctx, tx, p.Name(), true); err != nil {
			return err
		}
		for more := true; more; {
			var err error
			if more, err = b.next(tx); err != nil {
				return err
			}
		}
		for _, t := range p.Tables() {
			table := pgx.Identifier{t}.Sanitize()
			if _, err := tx.Exec(ctx, `drop table if exists public.`+table+`; alter table `+b.schema+`.`+table+` set schema public`); err != nil {
				return fmt.Errorf("swap table %s: %w", t, err)
			}
		}
		if _, err := tx.Exec(ctx, `drop schema `+b.schema+` cascade`); err != nil {
			return err
		}
		if err := eventstore.SaveCheckpoint(ctx, tx, p.Name(), b.cursor); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `select pg_notify($1, $2)`, NotifyChannel, p.Name()+" "+b.cursor.String())
		return err
	})
	if err != nil {
		return fmt.Errorf("replay %s: swap: %w", p.Name(), err)
	}
	// Fresh tables have no statistics until autovacuum comes by: plan the
	// API's queries on real ones from the first request.
	for _, t := range p.Tables() {
		if _, err := b.store.Pool().Exec(ctx, `analyze `+pgx.Identifier{t}.Sanitize()); err != nil {
			return fmt.Errorf("replay %s: analyze %s: %w", p.Name(), t, err)
		}
	}
	return nil
}

// Verify rebuilds p from the event store beside the live tables and counts
// the rows that differ between the two, table by table. The live projector
// must have caught up with the store, and writes must be quiet, for the
// comparison to mean anything: tests and operators call it at rest.
func Verify(ctx context.Context, store *eventstore.Store, p Projection) (map[string]int64, error) {
	b, err := newBuild(ctx, store, p, "verify_"+p.Name(), 0, nil)
	if err != nil {
		return nil, err
	}
	defer store.Pool().Exec(context.WithoutCancel(ctx), `drop schema if exists `+b.schema+` cascade`)
	if err := b.catchUp(); err != nil {
		return nil, err
	}
	diffs := map[string]int64{}
	for _, t := range p.Tables() {
		table := pgx.Identifier{t}.Sanitize()
		var n int64
		err := store.Pool().QueryRow(ctx, `select
			(select count(*) from (select * from public.`+table+` except all select * from `+b.schema+`.`+table+`) a) +
			(select count(*) from (select * from `+b.schema+`.`+table+` except all select * from public.`+table+`) b)`).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("verify %s: compare %s: %w", p.Name(), t, err)
		}
		diffs[t] = n
	}
	return diffs, nil
}

// build is a projection being rebuilt from the store into a schema.
type build struct {
	ctx       context.Context
	store     *eventstore.Store
	p         Projection
	schema    string // sanitized identifier
	name      string
	batchSize int
	progress  Progress
	total     int64
	applied   int64
	cursor    eventstore.Position
}

func newBuild(ctx context.Context, store *eventstore.Store, p Projection, schema string, batchSize int, progress Progress) (*build, error) {
	if batchSize <= 0 {
		batchSize = 5000
	}
	b := &build{ctx: ctx, store: store, p: p, schema: pgx.Identifier{schema}.Sanitize(), name: schema,
		batchSize: batchSize, progress: progress}
	if _, err := store.Pool().Exec(ctx, `drop schema if exists `+b.schema+` cascade; create schema `+b.schema); err != nil {
		return nil, fmt.Errorf("rebuild %s: create schema: %w", p.Name(), err)
	}
	if err := b.inSchema(func(tx pgx.Tx) error { return p.Setup(ctx, tx) }); err != nil {
		return nil, fmt.Errorf("rebuild %s: set up tables: %w", p.Name(), err)
	}
	if err := store.Pool().QueryRow(ctx, `select count(*) from events`).Scan(&b.total); err != nil {
		return nil, fmt.Errorf("rebuild %s: count events: %w", p.Name(), err)
	}
	return b, nil
}

// inSchema runs f in a transaction whose unqualified table names resolve to
// the build's schema first.
func (b *build) inSchema(f func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(b.ctx, b.store.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(b.ctx, `select set_config('search_path', $1, true)`, b.name+", public"); err != nil {
			return err
		}
		return f(tx)
	})
}

// next applies the next batch of the store in tx; false once caught up.
func (b *build) next(tx pgx.Tx) (bool, error) {
	events, err := b.store.ReadAll(b.ctx, b.cursor, b.batchSize)
	if err != nil {
		return false, err
	}
	for _, e := range events {
		if err := b.p.Apply(b.ctx, tx, e); err != nil {
			return false, fmt.Errorf("apply %s %s at %s: %w", e.Type, e.ID, e.Position, err)
		}
		b.cursor = e.Position
	}
	b.applied += int64(len(events))
	if b.progress != nil {
		b.progress(b.p.Name(), b.applied, max(b.total, b.applied))
	}
	return len(events) == b.batchSize, nil
}

// catchUp applies the store batch by batch, one transaction each.
func (b *build) catchUp() error {
	for more := true; more; {
		if err := b.inSchema(func(tx pgx.Tx) (err error) {
			more, err = b.next(tx)
			return err
		}); err != nil {
			return fmt.Errorf("rebuild %s: %w", b.p.Name(), err)
		}
	}
	return nil
}
