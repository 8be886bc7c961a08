package projections_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// BenchmarkReplay replays every read model over a store of lead events
// (creates, updates, status changes, call logs) in bulk and one event at a
// time, and times COPY of the resulting rows into empty copies of the tables
// (indexes included) as the baseline, all in the same run. Its size is
// REPLAY_BENCH_EVENTS (default 100000); REPLAY_BENCH_PER_EVENT=0 skips the
// slow per-event replay; REPLAY_BENCH_CREATES_ONLY=1 writes creates alone;
// REPLAY_BENCH_DATABASE_URL names a database to fill once and reuse. The bulk
// replay is projections.ReplayAll's, as `crm replay --all`; REPLAY_BENCH_IN_TURN=1
// replays the read models one after another instead. Run it
// once:
//
//	go test ./projections -run '^$' -bench Replay -benchtime 1x
func BenchmarkReplay(b *testing.B) {
	n := 100000
	if s := os.Getenv("REPLAY_BENCH_EVENTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	// REPLAY_BENCH_DATABASE_URL keeps the store between runs (filled once).
	url := os.Getenv("REPLAY_BENCH_DATABASE_URL")
	if url == "" {
		url = storetest.Postgres(b)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if err := eventstore.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	store := eventstore.New(pool)
	if err := projections.SetupAll(ctx, pool, readModels); err != nil {
		b.Fatal(err)
	}
	var events int64
	if err := pool.QueryRow(ctx, `select count(*) from events`).Scan(&events); err != nil {
		b.Fatal(err)
	}
	if events == 0 {
		events = fillLeadEvents(b, ctx, pool, n)
	}
	waitHead(b, ctx, store)
	if _, err := pool.Exec(ctx, `vacuum analyze events`); err != nil {
		b.Fatal(err)
	}

	replayAll := func(bulk bool) time.Duration {
		start := time.Now()
		if bulk && os.Getenv("REPLAY_BENCH_IN_TURN") != "1" {
			// As `crm replay --all`: one shared read of the store.
			if err := projections.ReplayAll(ctx, store, readModels, 0, nil); err != nil {
				b.Fatal(err)
			}
			b.Logf("bulk=true shared: %s", time.Since(start).Round(time.Millisecond))
			return time.Since(start)
		}
		for _, p := range readModels {
			t0 := time.Now()
			if err := projections.ReplayOne(ctx, store, p, bulk); err != nil {
				b.Fatal(err)
			}
			b.Logf("bulk=%v %s: %s", bulk, p.Name(), time.Since(t0).Round(time.Millisecond))
		}
		return time.Since(start)
	}
	// The fill's leads are garbage now: measure the heap the bulk replay
	// itself holds.
	runtime.GC()
	var peak uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	b.ResetTimer()
	bulkTime := replayAll(true)
	b.StopTimer()
	close(stop)
	<-sampled
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	copyTime, rows := copyRowsBaseline(b, ctx, pool)
	rate := func(d time.Duration) float64 { return float64(events) / d.Seconds() }
	b.ReportMetric(rate(bulkTime), "bulk-events/s")
	b.ReportMetric(rate(copyTime), "copy-events/s")
	b.ReportMetric(rate(bulkTime)/rate(copyTime), "bulk/copy")
	b.Logf("%d events: bulk replay %s (%.0f events/s); COPY of the %d resulting rows %s (%.0f events/s); ratio %.2f×",
		events, bulkTime.Round(time.Millisecond), rate(bulkTime), rows, copyTime.Round(time.Millisecond), rate(copyTime),
		rate(bulkTime)/rate(copyTime))
	if os.Getenv("REPLAY_BENCH_PER_EVENT") != "0" {
		eachTime := replayAll(false)
		b.ReportMetric(rate(eachTime), "per-event-events/s")
		b.ReportMetric(rate(eachTime)/rate(copyTime), "per-event/copy")
		b.Logf("per-event replay %s (%.0f events/s); ratio %.2f×; bulk is %.1f× faster",
			eachTime.Round(time.Millisecond), rate(eachTime), rate(eachTime)/rate(copyTime), eachTime.Seconds()/bulkTime.Seconds())
	}
}

// copyRowsBaseline copies the read models' rows out (not timed), then times
// COPY of them into empty tables made LIKE the live ones, indexes included,
// as cmd/crm's bench does.
func copyRowsBaseline(b *testing.B, ctx context.Context, pool *pgxpool.Pool) (time.Duration, int64) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `drop schema if exists bench_copy cascade; create schema bench_copy`); err != nil {
		b.Fatal(err)
	}
	var tables []string
	data := map[string]*bytes.Buffer{}
	var rows int64
	for _, p := range readModels {
		for _, t := range p.Tables() {
			tables = append(tables, t)
			id := pgx.Identifier{t}.Sanitize()
			data[t] = &bytes.Buffer{}
			tag, err := conn.Conn().PgConn().CopyTo(ctx, data[t], `copy public.`+id+` to stdout (format binary)`)
			if err != nil {
				b.Fatal(err)
			}
			rows += tag.RowsAffected()
			if _, err := conn.Exec(ctx, `create table bench_copy.`+id+` (like public.`+id+` including all)`); err != nil {
				b.Fatal(err)
			}
		}
	}
	start := time.Now()
	for _, t := range tables {
		if _, err := conn.Conn().PgConn().CopyFrom(ctx, data[t], `copy bench_copy.`+pgx.Identifier{t}.Sanitize()+` from stdin (format binary)`); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start), rows
}

func waitHead(b *testing.B, ctx context.Context, store *eventstore.Store) {
	var last int64
	if err := store.Pool().QueryRow(ctx, `select max(position) from events`).Scan(&last); err != nil {
		b.Fatal(err)
	}
	storetest.WaitFor(b, 2*time.Minute, func() (bool, error) {
		head, err := store.Head(ctx)
		return head.Pos >= last, err
	})
}

// fillLeadEvents writes about n lead events with COPY, 10000 to a
// transaction: each lead is created, and then some are updated, change
// status or get call logs, the later events spread over the log. It returns
// how many events it wrote.
func fillLeadEvents(b *testing.B, ctx context.Context, pool *pgxpool.Pool, n int) int64 {
	rnd := rand.New(rand.NewPCG(1, 2))
	tenants := []uuid.UUID{uuid.New(), uuid.New()}
	meta, _ := json.Marshal(eventstore.Metadata{Actor: "bench@example.com", API: "bench"})
	type lead struct {
		tenant uuid.UUID
		l      *domain.Lead
	}
	var leads []*lead
	var rows [][]any
	var written int64
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(ld *lead, id uuid.UUID, evs []domain.Event) {
		for _, e := range evs {
			data, err := e.MarshalData()
			if err != nil {
				b.Fatal(err)
			}
			ld.l.Apply(e)
			at := start.Add(time.Duration(len(rows)+int(written)) * 30 * time.Second)
			rows = append(rows, []any{ld.tenant, domain.LeadStream, id, ld.l.Version(), uuid.Must(uuid.NewV7()), e.Type,
				domain.SchemaVersion, []byte(data), meta, at})
		}
	}
	flush := func() {
		_, err := pool.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"tenant_id", "stream_type", "stream_id", "stream_version",
			"event_id", "event_type", "schema_version", "data", "metadata", "recorded_at"}, pgx.CopyFromRows(rows))
		if err != nil {
			b.Fatal(err)
		}
		written += int64(len(rows))
		rows = rows[:0]
	}
	// REPLAY_BENCH_CREATES_ONLY=1 writes lead.created events alone, the
	// shape of the backlog cmd/crm's bench replays.
	createsOnly := os.Getenv("REPLAY_BENCH_CREATES_ONLY") == "1"
	statuses := []domain.Status{"New", "Contacted", "Qualified", "Proposal", "Won", "Lost"}
	for int(written)+len(rows) < n {
		// Two of five events create a lead; the rest go to random leads.
		if len(leads) == 0 || rnd.IntN(5) < 2 || createsOnly {
			i := len(leads) + 1
			p := domain.LeadProfile{Name: fmt.Sprintf("Bench Lead %d", i), Emails: []string{fmt.Sprintf("lead%d@bench.example", i)},
				Phones: []string{fmt.Sprintf("+9198%08d", i)}, Company: fmt.Sprintf("Company %d Pvt Ltd", rnd.IntN(5000)),
				City: "Pune", Source: "website", Priority: domain.PriorityMedium, Tags: []string{"bench"},
				Notes: "met at the trade show", AssignedTo: "ana@example.com"}
			v := float64(rnd.IntN(1000000)) / 100
			p.DealValue = &v
			id := uuid.Must(uuid.NewV7())
			evs, err := domain.CreateLead(id, int64(i), p, statuses[rnd.IntN(len(statuses))])
			if err != nil {
				b.Fatal(err)
			}
			ld := &lead{tenant: tenants[i%2], l: domain.NewLeadFromHistory(nil)}
			leads = append(leads, ld)
			add(ld, id, evs)
		} else {
			ld := leads[rnd.IntN(len(leads))]
			var evs []domain.Event
			var err error
			switch rnd.IntN(3) {
			case 0:
				p := ld.l.Profile()
				p.Company, p.Notes = fmt.Sprintf("Company %d Pvt Ltd", rnd.IntN(5000)), ""
				evs, err = ld.l.Update(p)
			case 1:
				evs, err = ld.l.ChangeStatus(statuses[rnd.IntN(len(statuses))])
			default:
				evs, err = ld.l.LogCall(domain.CallLog{ID: uuid.Must(uuid.NewV7()), Type: domain.CallOutbound,
					DurationSeconds: rnd.IntN(600), Outcome: "answered", Notes: "follow up next week", CalledAt: start})
			}
			if err != nil {
				b.Fatal(err)
			}
			add(ld, ld.l.ID(), evs)
		}
		if len(rows) >= 10000 {
			flush()
		}
	}
	flush()
	return written
}
