package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/stack"
)

// benchReplay rebuilds every read model from the event store as `crm replay
// --all` does (from one shared read of the store, swapped in while the API
// serves); the
// baseline loads the rows that replay produced into empty copies of the same
// tables with COPY. Both figures are the store's events per second of wall
// time, so the ratio is the baseline's time over replay's.
func benchReplay(ctx context.Context, env *benchEnv, cfg benchConfig, r *benchReport) error {
	var events int64
	if err := env.s.Pool.QueryRow(ctx, `select count(*) from events`).Scan(&events); err != nil {
		return err
	}
	env.logger.Info("bench: replay --all", "events", events, "read_models", len(stack.Projections()))
	start := time.Now()
	logged := time.Now()
	progress := func(name string, applied, total int64) {
		if time.Since(logged) >= 5*time.Second {
			logged = time.Now()
			env.logger.Info("bench: replay", "projection", name, "applied", applied, "of", total)
		}
	}
	during := writeDuring(ctx, env)
	err := projections.ReplayAll(ctx, env.s.Store, stack.Projections(), 0, progress)
	replayTime := time.Since(start)
	duringNote, duringErr := during()
	if err != nil {
		return err
	}
	if duringErr != nil {
		return fmt.Errorf("writes during the replay: %w", duringErr)
	}

	baseTime, rows, err := copyBaseline(ctx, env)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	crmRate, baseRate := rate(events, replayTime), rate(events, baseTime)
	r.add(benchRow{
		workload: "replay",
		crm: fmt.Sprintf("%.0f events/s (%d events, %d read models rebuilt from one read of the store, %s)",
			crmRate, events, len(stack.Projections()), replayTime.Round(time.Millisecond)),
		baseline: fmt.Sprintf("%.0f events/s (COPY of the %d resulting rows into empty copies of the tables, %s)",
			baseRate, rows, baseTime.Round(time.Millisecond)),
		ratio:  ratio(crmRate, baseRate),
		target: "≥ 0.5×, and ≥ 50k events/s",
		met:    crmRate >= 0.5*baseRate && crmRate >= 50000,
	})
	r.note("replay: %s", duringNote)
	return nil
}

// writeDuring creates leads through the API, one every 50 ms, until the
// returned function is called, which reports how they were answered. A
// replay runs while the API serves, and its loads and index builds are
// long transactions: a write must still reach its read models (the relay
// and the live projectors) rather than wait out the read-your-writes bound.
func writeDuring(ctx context.Context, env *benchEnv) func() (string, error) {
	client := apiCall{client: newBenchClient(1), baseURL: env.baseURL, key: env.apiKey}
	ctx, cancel := context.WithCancel(ctx)
	var lat latencies
	var pending int
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				done <- nil
				return
			case <-tick.C:
			}
			start := time.Now()
			_, h, err := client.createLead(ctx, env.leads.take(1))
			if ctx.Err() != nil {
				done <- nil
				return
			}
			if err != nil {
				done <- err
				return
			}
			lat.add(time.Since(start))
			if h.Get(api.HeaderConsistency) == "pending" {
				pending++
				env.logger.Info("bench: a write during the replay hit the read-your-writes bound", "position", h.Get(api.HeaderPosition))
			}
		}
	}()
	return func() (string, error) {
		cancel()
		if err := <-done; err != nil {
			return "", err
		}
		return fmt.Sprintf("%d creates through the API while it ran (one every 50 ms, each waiting for its read models): "+
			"response p50 %s, p99 %s, max %s; %d answered X-Crm-Consistency: pending (the 2 s read-your-writes bound hit)",
			lat.count(), ms(lat.pct(0.5)), ms(lat.pct(0.99)), ms(lat.pct(1)), pending), nil
	}
}

// copyBaseline copies every read-model table out to a file (not timed),
// then times COPY FROM of those files into empty tables made LIKE the
// originals, indexes included, as replay builds them.
func copyBaseline(ctx context.Context, env *benchEnv) (time.Duration, int64, error) {
	conn, err := env.s.Pool.Acquire(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Release()
	const schema = "bench_copy"
	if _, err := conn.Exec(ctx, `drop schema if exists `+schema+` cascade; create schema `+schema); err != nil {
		return 0, 0, err
	}
	defer func() {
		_, _ = env.s.Pool.Exec(context.WithoutCancel(ctx), `drop schema if exists `+schema+` cascade`)
	}()
	var tables []string
	for _, p := range stack.Projections() {
		tables = append(tables, p.Tables()...)
	}
	var rows int64
	for _, t := range tables {
		tag, err := copyTableOut(ctx, conn.Conn(), t, tableFile(env, t))
		if err != nil {
			return 0, 0, err
		}
		rows += tag
		id := pgx.Identifier{t}.Sanitize()
		if _, err := conn.Exec(ctx, `create table `+schema+`.`+id+` (like public.`+id+` including all)`); err != nil {
			return 0, 0, err
		}
	}
	start := time.Now()
	for _, t := range tables {
		f, err := os.Open(tableFile(env, t))
		if err != nil {
			return 0, 0, err
		}
		_, err = conn.Conn().PgConn().CopyFrom(ctx, f, `copy `+schema+`.`+pgx.Identifier{t}.Sanitize()+` from stdin (format binary)`)
		f.Close()
		os.Remove(f.Name())
		if err != nil {
			return 0, 0, fmt.Errorf("copy into %s: %w", t, err)
		}
	}
	return time.Since(start), rows, nil
}

func tableFile(env *benchEnv, table string) string {
	return filepath.Join(env.dir, "copy-"+table+".bin")
}

// copyTableOut writes the table in COPY binary form to path.
func copyTableOut(ctx context.Context, conn *pgx.Conn, table, path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	tag, err := conn.PgConn().CopyTo(ctx, f, `copy public.`+pgx.Identifier{table}.Sanitize()+` to stdout (format binary)`)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("copy out %s: %w", table, err)
	}
	return tag.RowsAffected(), nil
}
