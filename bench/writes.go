package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections/calllogs"
	"github.com/crmcore/crm/projections/leads"
)

// cratioReadModels are the read models the Cratio API serves: a write is
// visible once both have applied it.
var cratioReadModels = []string{leads.Projection{}.Name(), calllogs.Projection{}.Name()}

// benchDurableWrites creates leads through POST /api/v1/leads with 64
// concurrent clients, next to 64 pgx connections inserting the same JSON
// bodies into a scratch table, one transaction per row.
func benchDurableWrites(ctx context.Context, env *benchEnv, cfg benchConfig, r *benchReport) error {
	n := min(cfg.Scale, maxHTTPWrites)
	first := env.leads.take(n)
	bodies := func(i int) ([]byte, error) { return json.Marshal(benchLead(first + int64(i))) }

	env.logger.Info("bench: baseline inserts", "rows", n, "connections", benchClients)
	cpu0 := env.cpu.sample()
	baseTime, baseLat, baseWaits, err := baselineInserts(ctx, env.dbURL, n, bodies)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	time.Sleep(200 * time.Millisecond) // the baseline's backends exit and are reaped
	baseCPU := env.cpu.sample().sub(cpu0)

	client := apiCall{client: newBenchClient(benchClients), baseURL: env.baseURL, key: env.apiKey}
	// Warm up: connections, prepared statements, the key cache if any.
	warm := env.leads.take(benchClients)
	if _, err := runClients(ctx, benchClients, benchClients, func(ctx context.Context, i int) error {
		_, _, err := client.createLead(ctx, warm+int64(i))
		return err
	}); err != nil {
		return err
	}
	env.logger.Info("bench: creating leads through the API", "leads", n, "clients", benchClients)
	var lat latencies
	var pending, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	waits, err := sampleWaits(ctx, env.dbURL)
	if err != nil {
		return err
	}
	cpu0 = env.cpu.sample()
	elapsed, err := runClients(ctx, benchClients, n, func(ctx context.Context, i int) error {
		body, err := bodies(i)
		if err != nil {
			return err
		}
		t := time.Now()
		status, h, b, err := client.do(ctx, "POST", "/api/v1/leads", body)
		d := time.Since(t)
		if err == nil && status != 201 {
			err = fmt.Errorf("HTTP %d: %.200s", status, b)
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			errOnce.Do(func() { firstErr = err })
			if failed.Add(1) > int64(n/20)+1 {
				return fmt.Errorf("more than 5%% of creates failed; first: %w", firstErr)
			}
			return nil
		}
		lat.add(d)
		if h.Get(api.HeaderConsistency) == "pending" {
			pending.Add(1)
		}
		return nil
	})
	crmCPU := env.cpu.sample().sub(cpu0)
	crmWaits := waits.stop()
	if err != nil {
		return err
	}
	ok := int64(lat.count())
	crmRate, baseRate := rate(ok, elapsed), rate(int64(n), baseTime)
	r.peakWrites = crmRate
	r.add(benchRow{
		workload: "durable writes",
		crm: fmt.Sprintf("%.0f commands/s; p50 %s, p99 %s (%d creates, %d clients, synchronous_commit on)",
			crmRate, ms(lat.pct(0.5)), ms(lat.pct(0.99)), ok, benchClients),
		baseline: fmt.Sprintf("%.0f rows/s; p50 %s, p99 %s (single-row INSERT of the same JSON, %d pgx connections)",
			baseRate, ms(baseLat.pct(0.5)), ms(baseLat.pct(0.99)), benchClients),
		ratio:  ratio(crmRate, baseRate),
		target: "≥ 1.0× the baseline's throughput",
		met:    crmRate >= baseRate,
	})
	r.note("durable writes: CPU time per write: crm %s (this process runs the API, relay, projectors, embedded NATS and the HTTP load generator); baseline %s (the pgx clients); 2 cores give 2,000 ms of CPU a second", crmCPU.per(ok), baseCPU.per(int64(n)))
	r.note("durable writes: what Postgres sessions were doing, as the mean number of sessions in each state (pg_stat_activity every 20 ms, top 4): crm: %s; baseline: %s", crmWaits, baseWaits)
	groups, members := env.s.Store.GroupStats()
	if err := groupCommitAB(ctx, env, client, n, r); err != nil {
		return err
	}
	if groups > 0 {
		r.note("durable writes: group commit: %d transactions held %d commits (%.1f per transaction)",
			groups, members, float64(members)/float64(groups))
	}
	if failed.Load() > 0 {
		r.note("durable writes: %d of %d creates failed; first error: %v", failed.Load(), n, firstErr)
	}
	if pending.Load() > 0 {
		r.note("durable writes: %d responses hit the 2 s read-your-writes bound (X-Crm-Consistency: pending)", pending.Load())
	}
	return nil
}

// groupCommitAB measures what group commit buys: the same creates with it
// off and on, in alternate segments of the same run, so the machine's drift
// weighs on both alike. Each segment starts with the read models caught up
// and its CPU time includes their catching up on its writes.
func groupCommitAB(ctx context.Context, env *benchEnv, client apiCall, n int, r *benchReport) error {
	defer env.s.Store.SetGroupCommit(true)
	segment := max(500, min(n/8, 2500))
	var (
		elapsed [2]time.Duration
		cpu     [2]cpuSample
	)
	for k := range 4 {
		on := k%2 == 1
		env.s.Store.SetGroupCommit(on)
		first := env.leads.take(segment)
		if _, err := env.waitProjected(ctx); err != nil {
			return err
		}
		cpu0 := env.cpu.sample()
		d, err := runClients(ctx, benchClients, segment, func(ctx context.Context, i int) error {
			_, _, err := client.createLead(ctx, first+int64(i))
			return err
		})
		if err != nil {
			return fmt.Errorf("group commit %v: %w", on, err)
		}
		if _, err := env.waitProjected(ctx); err != nil {
			return err
		}
		used := env.cpu.sample().sub(cpu0)
		i := 0
		if on {
			i = 1
		}
		elapsed[i] += d
		cpu[i] = cpuSample{self: cpu[i].self + used.self, pg: cpu[i].pg + used.pg, pgOK: used.pgOK}
	}
	off, on := rate(int64(2*segment), elapsed[0]), rate(int64(2*segment), elapsed[1])
	r.note("durable writes: group commit off vs on, alternated in this run (4 segments of %d creates, %d clients): off %.0f creates/s, CPU per write %s; on %.0f creates/s, CPU per write %s; on/off %s",
		segment, benchClients, off, cpu[0].per(int64(2*segment)), on, cpu[1].per(int64(2*segment)), ratio(on, off))
	return nil
}

// baselineInserts inserts n JSON bodies into bench_baseline from 64
// connections, one autocommit INSERT (one transaction) each.
func baselineInserts(ctx context.Context, dbURL string, n int, bodies func(int) ([]byte, error)) (time.Duration, *latencies, string, error) {
	pcfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return 0, nil, "", err
	}
	pcfg.MaxConns, pcfg.MinConns = benchClients, benchClients
	pcfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return 0, nil, "", err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `create table if not exists bench_baseline (id bigserial, data jsonb)`); err != nil {
		return 0, nil, "", err
	}
	const insert = `insert into bench_baseline (data) values ($1)`
	// Warm up: every connection open, the statement prepared on each.
	if _, err := runClients(ctx, benchClients, benchClients, func(ctx context.Context, i int) error {
		body, err := bodies(i)
		if err != nil {
			return err
		}
		_, err = pool.Exec(ctx, insert, body)
		return err
	}); err != nil {
		return 0, nil, "", err
	}
	waits, err := sampleWaits(ctx, dbURL)
	if err != nil {
		return 0, nil, "", err
	}
	lat := &latencies{}
	elapsed, err := runClients(ctx, benchClients, n, func(ctx context.Context, i int) error {
		body, err := bodies(i)
		if err != nil {
			return err
		}
		t := time.Now()
		if _, err := pool.Exec(ctx, insert, body); err != nil {
			return err
		}
		lat.add(time.Since(t))
		return nil
	})
	return elapsed, lat, waits.stop(), err
}

// visibleWindow is how long the write-to-visible workload writes for.
const visibleWindow = 15 * time.Second

// benchWriteToVisible writes at half the peak measured by the durable
// writes, through the command handler the API uses, and times each write
// from its commit's return until every Cratio read model has applied it,
// as the API's read-your-writes wait sees it (projections.Waiter). Notes
// give the same at a quarter and a tenth of the peak.
func benchWriteToVisible(ctx context.Context, env *benchEnv, cfg benchConfig, r *benchReport) error {
	target := max(r.peakWrites/2, 1)
	n := max(100, min(int(target*visibleWindow.Seconds()), cfg.Scale))
	half, err := pacedWrites(ctx, env, target, n)
	if err != nil {
		return err
	}
	p99 := half.visible.pct(0.99)
	r.add(benchRow{
		workload: "write to visible",
		crm: fmt.Sprintf("p50 %s, p99 %s commit → leads and call_logs applied (%d creates at %.0f/s, half the peak)",
			ms(half.visible.pct(0.5)), ms(p99), half.visible.count(), half.achieved),
		baseline: "—", ratio: "—",
		target: "p99 ≤ 25 ms",
		met:    p99 <= 25*time.Millisecond && half.late == 0,
	})
	r.note("write to visible: the commits themselves took p50 %s, p99 %s (CreateLead: lookups, number, append)",
		ms(half.commit.pct(0.5)), ms(half.commit.pct(0.99)))
	r.note("write to visible: of which %s", half.split())
	if half.late > 0 {
		r.note("write to visible: %d writes were not visible within 10 s (counted as 10 s)", half.late)
	}
	// The same path with the cores less busy: what the stages cost when
	// less queues behind the writers.
	for _, part := range []struct {
		name string
		div  float64
	}{{"a quarter", 4}, {"a tenth", 10}} {
		run, err := pacedWrites(ctx, env, max(r.peakWrites/part.div, 1), max(100, int(float64(n)/(part.div/2))))
		if err != nil {
			return err
		}
		r.note("write to visible: at %s of the peak (%d creates at %.0f/s), p50 %s, p99 %s; commits p99 %s; %s",
			part.name, run.visible.count(), run.achieved, ms(run.visible.pct(0.5)), ms(run.visible.pct(0.99)), ms(run.commit.pct(0.99)), run.split())
	}
	return nil
}

// pacedRun is what pacedWrites measured.
type pacedRun struct {
	commit, visible, relayed, applied latencies
	achieved                          float64 // creates per second
	late                              int64   // not visible within 10 s
	writes                            int
}

// split is the visible time split where each write's event reached NATS.
func (p *pacedRun) split() string {
	return fmt.Sprintf("commit → in NATS (relay) p50 %s, p99 %s; in NATS → applied and seen by the waiter (projectors) p50 %s, p99 %s (%d of %d writes seen arriving)",
		ms(p.relayed.pct(0.5)), ms(p.relayed.pct(0.99)), ms(p.applied.pct(0.5)), ms(p.applied.pct(0.99)), p.relayed.count(), p.writes)
}

// pacedWrites creates n leads with commands.Handler.CreateLead at target
// per second, open loop, and times each from its commit until the waiter
// sees the Cratio read models at its position.
func pacedWrites(ctx context.Context, env *benchEnv, target float64, n int) (*pacedRun, error) {
	interval := time.Duration(float64(time.Second) / target)
	first := env.leads.take(n)
	cc := commands.Context{TenantID: env.tenantID, Metadata: eventstore.Metadata{Actor: "bench", API: "bench"}}
	env.logger.Info("bench: paced writes", "writes", n, "per_second", int(target))

	arrived, err := watchArrivals(env)
	if err != nil {
		return nil, err
	}
	defer arrived.stop()
	type written struct {
		position  string
		committed time.Time
		visible   time.Duration
	}
	var mu sync.Mutex
	var writes []written
	run := &pacedRun{}
	commit, visible := &run.commit, &run.visible
	var late atomic.Int64
	jobs := make(chan int64)
	errc := make(chan error, benchClients)
	var wg sync.WaitGroup
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range jobs {
				p, status, err := benchLead(seq).profile(env.cfg.Region)
				if err != nil {
					errc <- err
					return
				}
				t := time.Now()
				res, err := env.cmds.CreateLead(ctx, cc, commands.CreateLead{Profile: p, Status: status,
					OnDuplicate: commands.MergeDuplicates})
				if err != nil {
					errc <- err
					return
				}
				committed := time.Now()
				commit.add(committed.Sub(t))
				wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				ok := env.s.Waiter.Wait(wctx, res.Position, cratioReadModels...)
				cancel()
				if !ok {
					if ctx.Err() != nil {
						return
					}
					late.Add(1)
				}
				v := time.Since(committed)
				visible.add(v)
				mu.Lock()
				writes = append(writes, written{res.Position.String(), committed, v})
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
dispatch:
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		select {
		case jobs <- first + int64(i):
		case err = <-errc:
			break dispatch
		case <-ctx.Done():
			err = ctx.Err()
			break dispatch
		}
	}
	close(jobs)
	wg.Wait()
	run.achieved = rate(int64(commit.count()), time.Since(start))
	arrived.stop()
	for _, w := range writes {
		if at, ok := arrived.arrived(w.position); ok {
			run.relayed.add(at.Sub(w.committed))
			run.applied.add(w.visible - at.Sub(w.committed))
		}
	}
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	if err != nil {
		return nil, err
	}
	run.late, run.writes = late.Load(), len(writes)
	return run, nil
}
