package bench

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/imports"
)

// benchImport imports a CSV file of --scale new leads as `crm import` does
// (every row a lead.created event with its number and reservations, 1,000
// rows a transaction, progress committed with each batch) while the relay
// and the projectors run, as under `crm dev`, beside a baseline that COPYs
// the same file into a plain table with no index, and says when every read
// model has the rows too. Then it imports a second file with the
// projectors paused — the import's own cost, without the read models'
// work on the same cores — and exports the tenant's leads as GET
// /dev/crm/leads/export does, beside a COPY of the same rows out of the
// read model.
func benchImport(ctx context.Context, env *benchEnv, cfg benchConfig, r *benchReport) error {
	if _, err := env.waitProjected(ctx); err != nil {
		return fmt.Errorf("import: the read models catching up first: %w", err)
	}
	n := cfg.Scale
	live, err := importFile(ctx, env, "import.csv", n)
	if err != nil {
		return err
	}
	relayed, visible, err := env.waitFollowers(ctx, live.start, false)
	if err != nil {
		return fmt.Errorf("import: waiting for the read models: %w", err)
	}
	baseTime, err := copyImportBaseline(ctx, env, live.path)
	if err != nil {
		return fmt.Errorf("import baseline: %w", err)
	}
	crmRate, baseRate := rate(int64(n), live.took), rate(int64(n), baseTime)
	r.add(benchRow{
		workload: "CSV import",
		crm: fmt.Sprintf("%.0f rows/s (%d rows, each a lead.created with its number and reservations, %s, relay and projectors running; "+
			"relayed %s and in every read model %s after the start; CPU per row %s; Go heap peak %d MiB)",
			crmRate, n, live.took.Round(time.Millisecond), relayed.Round(time.Millisecond), visible.Round(time.Millisecond),
			live.cpu.per(int64(n)), live.heap>>20),
		baseline: fmt.Sprintf("%.0f rows/s (COPY of the same file into a plain table, %s)", baseRate, baseTime.Round(time.Millisecond)),
		ratio:    ratio(crmRate, baseRate),
		target:   "≥ 10,000 rows/s",
		met:      crmRate >= 10000,
	})

	// The import alone: the projectors paused, then caught up.
	m := min(n, 200000)
	env.stop("projectors")
	alone, err := importFile(ctx, env, "import-alone.csv", m)
	if err == nil {
		_, _, err = env.waitFollowers(ctx, alone.start, true)
	}
	catchUp := time.Now()
	env.startProjectors()
	if err != nil {
		return err
	}
	if _, err := env.waitProjected(ctx); err != nil {
		return fmt.Errorf("import: waiting for the read models: %w", err)
	}
	caughtUp := time.Since(catchUp)
	aloneRate := rate(int64(m), alone.took)
	r.add(benchRow{
		workload: "CSV import, projectors paused",
		crm: fmt.Sprintf("%.0f rows/s (%d rows, %s; CPU per row %s; Go heap peak %d MiB); then the projectors, started, "+
			"bring every read model up to date in %s (%.0f events/s)", aloneRate, m,
			alone.took.Round(time.Millisecond), alone.cpu.per(int64(m)), alone.heap>>20,
			caughtUp.Round(time.Millisecond), rate(int64(m), caughtUp)),
		baseline: fmt.Sprintf("%.0f rows/s (the COPY above)", baseRate),
		ratio:    ratio(aloneRate, baseRate),
		target:   "≥ 10,000 rows/s",
		met:      aloneRate >= 10000,
	})
	return benchExport(ctx, env, r)
}

// importRun is one timed import.
type importRun struct {
	path  string
	start time.Time
	took  time.Duration
	cpu   cpuSample
	heap  uint64
}

// importFile writes n new bench leads to a CSV file named name and imports
// it into the bench tenant.
func importFile(ctx context.Context, env *benchEnv, name string, n int) (importRun, error) {
	run := importRun{path: filepath.Join(env.dir, name)}
	if err := writeImportFile(run.path, env.leads.take(n), n); err != nil {
		return run, err
	}
	f, err := os.Open(run.path)
	if err != nil {
		return run, err
	}
	defer f.Close()
	im := imports.New(env.s.Store, imports.Options{Region: env.cfg.Region,
		Metadata: eventstore.Metadata{Actor: "bench", API: "bench"}})
	heap := watchHeap()
	cpu0 := env.cpu.sample()
	run.start = time.Now()
	job, _, err := im.Submit(ctx, env.tenantID, name, f, false)
	if err != nil {
		return run, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return run, err
	}
	logged := time.Now()
	job, err = im.Run(ctx, env.tenantID, job.ID, f, func(j imports.Job) {
		if time.Since(logged) > 5*time.Second {
			logged = time.Now()
			env.logger.Info("bench: import", "file", name, "rows", j.RowsDone, "of", j.RowsTotal, "rows/s", int(j.Rate()))
		}
	})
	run.took, run.cpu, run.heap = time.Since(run.start), env.cpu.sample().sub(cpu0), heap()
	if err != nil {
		return run, err
	}
	if job.RowsImported != int64(n) {
		return run, fmt.Errorf("import: %d of %d rows imported (%d failed)", job.RowsImported, n, job.RowsFailed)
	}
	return run, nil
}

// writeImportFile writes n bench leads from seq first as a CSV file.
func writeImportFile(path string, first int64, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"name", "email", "phone", "company", "source", "status", "notes", "assigned_to"})
	for i := range int64(n) {
		b := benchLead(first + i)
		_ = cw.Write([]string{b.Name, b.Email, b.Phone, b.Company, b.Source, b.Status, b.Notes, b.AssignedTo})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		_ = f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// copyImportBaseline COPYs the file into a plain table and drops it.
func copyImportBaseline(ctx context.Context, env *benchEnv, path string) (time.Duration, error) {
	conn, err := env.s.Pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `create table bench_import_baseline (name text, email text, phone text,
		company text, source text, status text, notes text, assigned_to text)`); err != nil {
		return 0, err
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "drop table bench_import_baseline") }()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	if _, err := conn.Conn().PgConn().CopyFrom(ctx, f, "copy bench_import_baseline from stdin with (format csv, header true)"); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// benchExport exports the tenant's leads once the read model has them all.
func benchExport(ctx context.Context, env *benchEnv, r *benchReport) error {
	// The read model first catches up with the import.
	if _, err := env.waitProjected(ctx); err != nil {
		return fmt.Errorf("export: waiting for the read models: %w", err)
	}
	var listed int64
	if err := env.s.Pool.QueryRow(ctx, "select count(*) from rm_leads where tenant_id = $1", env.tenantID).Scan(&listed); err != nil {
		return err
	}
	var out countingWriter
	start := time.Now()
	n, err := imports.Export(ctx, env.s.Pool, env.tenantID, imports.Filter{Archived: true}, &out)
	took := time.Since(start)
	if err != nil {
		return err
	}
	if n != listed {
		return fmt.Errorf("export: %d rows of the %d leads listed", n, listed)
	}
	conn, err := env.s.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var base countingWriter
	bstart := time.Now()
	if _, err := conn.Conn().PgConn().CopyTo(ctx, &base, `copy (select id, name, email, phone, company, source, status,
		profile->>'score', profile->>'notes', campaign_id, assigned_to, profile->>'last_contact', profile->>'custom_fields'
		from rm_leads where tenant_id = '`+env.tenantID.String()+`' order by number) to stdout with (format csv, header true)`); err != nil {
		return fmt.Errorf("export baseline: %w", err)
	}
	baseTime := time.Since(bstart)
	crmRate, baseRate := rate(n, took), rate(n, baseTime)
	r.add(benchRow{
		workload: "CSV export",
		crm:      fmt.Sprintf("%.0f rows/s (%d leads, %s MB, %s)", crmRate, n, strconv.FormatFloat(float64(out.n)/1e6, 'f', 1, 64), took.Round(time.Millisecond)),
		baseline: fmt.Sprintf("%.0f rows/s (COPY of the same rows out of the read model, %s)", baseRate, baseTime.Round(time.Millisecond)),
		ratio:    ratio(crmRate, baseRate),
		target:   "≥ 100,000 rows/s",
		met:      crmRate >= 100000,
	})
	return nil
}

// countingWriter discards what it is given, counting the bytes.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// watchHeap samples the Go heap in use every 50 ms until the returned
// function is called, which returns the peak.
func watchHeap() func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-stopped
		return peak.Load()
	}
}
