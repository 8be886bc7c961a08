package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crmcore/crm/eventstore"
)

// Progress reports a replay's advance: events applied so far of about total.
type Progress func(name string, applied, total int64)

// Replay rebuilds p from the event store (never from NATS) into fresh tables
// in a schema of their own, then swaps them in. A Rebuilder is rebuilt in
// bulk from a snapshot of the store, then the events after the snapshot are
// applied one by one, in batches of batchSize; any other projection applies
// every event that way. The live tables keep serving and the live projector
// keeps running until the swap, which takes the projection's checkpoint row
// lock: the live projector waits for it, then carries on from the replay's
// checkpoint.
func Replay(ctx context.Context, store *eventstore.Store, p Projection, batchSize int, progress Progress) error {
	return replay(ctx, store, p, batchSize, progress, true)
}

// replay is Replay, in bulk for a Rebuilder only if bulk is set.
func replay(ctx context.Context, store *eventstore.Store, p Projection, batchSize int, progress Progress, bulk bool) error {
	b, err := rebuild(ctx, store, p, "replay_"+p.Name(), batchSize, progress, bulk)
	if err != nil {
		return err
	}
	return b.swap()
}

// swap moves the build's tables in place of the live ones: it holds the
// checkpoint row (the live projector waits), applies what arrived since,
// moves the fresh tables in and sets the checkpoint.
//
// Moving a table takes its exclusive lock. A reader of two of the tables
// (the lead list's count, on the counts tables, and its page, on rm_leads,
// run in one implicit transaction) holds the first while it waits for the
// second: a swap that took rm_leads first and then waited for the counts
// deadlocked with it, and Postgres broke the deadlock after
// deadlock_timeout (1 s) by failing the API's read. So the swap locks every
// live table first, in the order readers take them (lockLiveTables), and
// waits for each at most swapLockTimeout, well under deadlock_timeout; on
// a timeout (a reader it cannot foresee) it rolls back, letting the
// readers through, and runs again.
func (b *build) swap() error {
	ctx, p := b.ctx, b.p
	cursor, applied := b.cursor, b.applied
	for attempt := 1; ; attempt++ {
		err := b.inSchema(func(tx pgx.Tx) error {
			if _, err := eventstore.LoadCheckpoint(ctx, tx, p.Name(), true); err != nil {
				return err
			}
			for more := true; more; {
				var err error
				if more, err = b.next(tx); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `select set_config('lock_timeout', $1, true)`, swapLockTimeout); err != nil {
				return err
			}
			if err := lockLiveTables(ctx, tx, p.Tables()); err != nil {
				return err
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
			if err := recordVersion(ctx, tx, p); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `select pg_notify($1, $2)`, NotifyChannel, p.Name()+" "+b.cursor.String())
			return err
		})
		var pgErr *pgconn.PgError // 55P03: lock_not_available, the lock timeout
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" && attempt < swapAttempts {
			b.cursor, b.applied = cursor, applied // rolled back
			select {
			case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("replay %s: swap: %w", p.Name(), err)
		}
		break
	}
	// Fresh tables have no statistics until autovacuum comes by: plan the
	// API's queries on real ones from the first request.
	for _, t := range p.Tables() {
		if err := eventstore.Analyze(ctx, b.store.Pool(), pgx.Identifier{t}.Sanitize()); err != nil {
			return fmt.Errorf("replay %s: %w", p.Name(), err)
		}
	}
	return nil
}

// Verify rebuilds p from the event store beside the live tables and counts
// the rows that differ between the two, table by table. The live projector
// must have caught up with the store, and writes must be quiet, for the
// comparison to mean anything: tests and operators call it at rest.
//
// It rebuilds the way Replay does (in bulk for a Rebuilder), so it checks
// the live projection against the rebuild that replay would swap in.
func Verify(ctx context.Context, store *eventstore.Store, p Projection) (map[string]int64, error) {
	b, err := rebuild(ctx, store, p, "verify_"+p.Name(), 0, nil, true)
	if b != nil {
		defer b.drop()
	}
	if err != nil {
		return nil, err
	}
	return compareTables(ctx, store, p, "public", b.schema)
}

// compareTables counts, table by table, the rows of p's tables in schema a
// (sanitized) that differ from those in schema b, in either direction.
func compareTables(ctx context.Context, store *eventstore.Store, p Projection, a, b string) (map[string]int64, error) {
	diffs := map[string]int64{}
	for _, t := range p.Tables() {
		table := pgx.Identifier{t}.Sanitize()
		var n int64
		err := store.Pool().QueryRow(ctx, `select
			(select count(*) from (select * from `+a+`.`+table+` except all select * from `+b+`.`+table+`) a) +
			(select count(*) from (select * from `+b+`.`+table+` except all select * from `+a+`.`+table+`) b)`).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("verify %s: compare %s: %w", p.Name(), t, err)
		}
		diffs[t] = n
	}
	return diffs, nil
}

// rebuild builds p's tables from the store into schema, in bulk when p is a
// Rebuilder and bulk is set, and returns the build caught up with the store.
// A non-nil build is returned as soon as its schema exists, also on error.
func rebuild(ctx context.Context, store *eventstore.Store, p Projection, schema string, batchSize int, progress Progress, bulk bool) (*build, error) {
	r, fast := p.(Rebuilder)
	fast = fast && bulk
	b, err := newBuild(ctx, store, p, schema, batchSize, progress, !fast)
	if err != nil {
		return b, err
	}
	if fast {
		if err := b.bulkLoad(r); err != nil {
			return b, err
		}
	}
	return b, b.catchUp()
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
	// batched applies each batch as the projectors do (applyEvents), not
	// event by event: tests compare the two.
	batched bool
}

// newBuild makes the build's schema and tables; count says to count the
// events for the progress reports, which a bulk load only estimates (a
// count reads the whole log once more).
func newBuild(ctx context.Context, store *eventstore.Store, p Projection, schema string, batchSize int, progress Progress, count bool) (*build, error) {
	if batchSize <= 0 {
		batchSize = 5000
	}
	b := &build{ctx: ctx, store: store, p: p, schema: pgx.Identifier{schema}.Sanitize(), name: schema,
		batchSize: batchSize, progress: progress}
	if _, err := store.Pool().Exec(ctx, `drop schema if exists `+b.schema+` cascade; create schema `+b.schema); err != nil {
		return nil, fmt.Errorf("rebuild %s: create schema: %w", p.Name(), err)
	}
	if err := b.inSchema(func(tx pgx.Tx) error { return p.Setup(ctx, tx) }); err != nil {
		return b, fmt.Errorf("rebuild %s: set up tables: %w", p.Name(), err)
	}
	total := `select count(*) from events`
	if !count {
		// The planner's estimate, or the statistics' live rows when the
		// table has not been analysed since a large import.
		total = `select greatest(c.reltuples, s.n_live_tup, 0)::bigint from pg_class c
			left join pg_stat_user_tables s on s.relid = c.oid where c.oid = 'events'::regclass`
	}
	if err := store.Pool().QueryRow(ctx, total).Scan(&b.total); err != nil {
		return b, fmt.Errorf("rebuild %s: count events: %w", p.Name(), err)
	}
	return b, nil
}

// drop drops the build's schema.
func (b *build) drop() {
	_, _ = b.store.Pool().Exec(context.WithoutCancel(b.ctx), `drop schema if exists `+b.schema+` cascade`)
}

// inSchema runs f in a transaction whose unqualified table names resolve to
// the build's schema first.
func (b *build) inSchema(f func(tx pgx.Tx) error) error {
	return inSchemaTx(b.ctx, b.store.Pool(), b.name, true, f)
}

// inBuild is inSchema for the build's own writes, which commit without
// waiting for their WAL (see inSchemaTx).
func (b *build) inBuild(f func(tx pgx.Tx) error) error {
	return inSchemaTx(b.ctx, b.store.Pool(), b.name, false, f)
}

// lockLiveTables takes the exclusive locks of the live tables a swap
// replaces, those that exist, in the reverse of the projection's Tables
// order: a projection lists its main table first, and its readers read the
// others (counts) before it.
func lockLiveTables(ctx context.Context, tx pgx.Tx, tables []string) error {
	rows, err := tx.Query(ctx, `select t from unnest($1::text[]) with ordinality as u(t, n)
		where to_regclass(format('public.%I', t)) is not null order by n desc`, tables)
	if err != nil {
		return err
	}
	live, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
		var t string
		err := row.Scan(&t)
		return "public." + pgx.Identifier{t}.Sanitize(), err
	})
	if err != nil || len(live) == 0 {
		return err
	}
	// LOCK takes a list's locks one after the other, in its order.
	_, err = tx.Exec(ctx, `lock table `+strings.Join(live, ", ")+` in access exclusive mode`)
	return err
}

// swapLockTimeout bounds a swap's wait for each table lock, and
// swapAttempts the swaps tried before replay gives up (about 30 s of
// waiting in all).
const (
	swapLockTimeout = "200ms"
	swapAttempts    = 60
)

// inSchemaTx runs f in a transaction on db (the pool, or a connection of
// its own) whose unqualified table names resolve to schema first. Unless
// durable, it commits without waiting for its WAL to reach the disk: that
// is for a build's own writes, since until the swap, whose commit is
// synchronous (and so makes everything written before it durable), a crash
// loses nothing but the build, which a replay starts afresh anyway.
func inSchemaTx(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, schema string, durable bool, f func(tx pgx.Tx) error) error {
	set := `select set_config('search_path', $1, true), set_config('synchronous_commit', 'off', true), ` + eventstore.NoEvents
	if durable {
		set = `select set_config('search_path', $1, true), ` + eventstore.NoEvents
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, set, schema+", public"); err != nil {
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
	switch {
	case b.batched && len(events) > 0:
		if err := applyEvents(b.ctx, tx, b.p, events); err != nil {
			return false, err
		}
		b.cursor = events[len(events)-1].Position
	case !b.batched:
		for _, e := range events {
			if err := b.p.Apply(b.ctx, tx, e); err != nil {
				return false, fmt.Errorf("apply %s %s at %s: %w", e.Type, e.ID, e.Position, err)
			}
			b.cursor = e.Position
		}
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
		if err := b.inBuild(func(tx pgx.Tx) (err error) {
			more, err = b.next(tx)
			return err
		}); err != nil {
			return fmt.Errorf("rebuild %s: %w", b.p.Name(), err)
		}
	}
	return nil
}
