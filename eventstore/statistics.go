package eventstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Planner statistics on growing tables.
//
// Every statement crm runs is prepared once per connection, and after five
// executions Postgres keeps a generic plan for it, made from the table's
// statistics at that moment. A plan made while a table was small (a
// sequential scan is the cheapest way through one page) stays in use as the
// table grows, until an ANALYZE of the table invalidates it. Autovacuum
// analyzes a table once 10% of it has changed, but looks at each database
// once a minute: a new database filling at a few hundred commits a second
// ran its duplicate lookups, event inserts and read-model lookups as scans
// of ever larger tables for most of a minute (measured with
// pg_stat_statements: 5.6 ms per duplicate lookup instead of 0.07 ms, and
// four times the Postgres CPU per create, see BENCHMARKS.md).
//
// KeepStatistics closes that gap: every interval it analyzes each table
// changed by more rows than it had at its last analysis (and by at least
// statisticsFloor), so a table is analyzed as it doubles — a few dozen times
// on its way to a billion rows — and a plan never rests on statistics more
// than half out of date. An ANALYZE reads a bounded sample (300 × the
// statistics target pages), takes a lock that blocks neither reads nor
// writes, skips a table autovacuum is busy with, and runs in a transaction
// declared NoEvents, so it never holds readers back.
const statisticsFloor = 1000

// staleTablesSQL lists the tables that changed by more rows than they had
// when last analyzed (reltuples is -1 before the first analysis).
const staleTablesSQL = `select format('%I.%I', s.schemaname, s.relname)
	from pg_stat_user_tables s join pg_class c on c.oid = s.relid
	where s.n_mod_since_analyze >= greatest($1, c.reltuples)
	order by s.n_mod_since_analyze desc`

// KeepStatistics analyzes the tables of pool's database as they grow (see
// above), every interval, until ctx ends. Failures are logged, not
// returned: statistics are an optimisation, never a reason to stop serving.
func KeepStatistics(ctx context.Context, pool *pgxpool.Pool, interval time.Duration, logger *slog.Logger) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := AnalyzeStale(ctx, pool); err != nil && ctx.Err() == nil {
			logger.Warn("statistics: analyze", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// AnalyzeStale analyzes once every table KeepStatistics would, and returns
// their names.
func AnalyzeStale(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	rows, err := pool.Query(ctx, staleTablesSQL, statisticsFloor)
	if err != nil {
		return nil, fmt.Errorf("list tables to analyze: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list tables to analyze: %w", err)
	}
	for _, table := range tables { // quoted by format('%I.%I')
		if err := Analyze(ctx, pool, table); err != nil {
			return nil, err
		}
	}
	return tables, nil
}

// Analyze analyzes table (a quoted, possibly qualified name) in a
// transaction that declares it writes no events: an ANALYZE takes a
// transaction id to write its statistics, and undeclared, it would hold the
// readers' horizon (and so the relay) back until it ended.
func Analyze(ctx context.Context, pool *pgxpool.Pool, table string) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `select set_config('synchronous_commit', 'off', true), `+NoEvents); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "analyze (skip_locked) "+table)
		return err
	})
	if err != nil {
		return fmt.Errorf("analyze %s: %w", table, err)
	}
	return nil
}
