package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/crmcore/crm/api/devcrm"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/imports"
	"github.com/crmcore/crm/stack"
)

// runImport is `crm import --tenant NAME --file F [--kind leads|customers]
// [--data DIR]`: it imports a CSV file of leads (or customers) into the
// tenant, as POST /dev/crm/leads/import (/customers/import) does,
// showing rows, rate and ETA (a bar when stdout is a terminal, a line every
// few seconds otherwise). The job is keyed by the file's SHA-256: the same
// command run again after a crash or a Ctrl-C resumes after the last
// committed batch, and after a finished import does nothing.
func runImport(ctx context.Context, cfg stack.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data folder of a running crm dev (instead of DATABASE_URL)")
	tenant := fs.String("tenant", "", "tenant name")
	file := fs.String("file", "", "CSV file of leads or customers (header row: name, email, phone, company, ...)")
	kind := fs.String("kind", imports.KindLeads, "what the rows are: leads or customers")
	batch := fs.Int("batch", imports.DefaultBatch, "rows per transaction")
	writers := fs.Int("writers", imports.DefaultWriters, "batches written at once")
	errorsPath := fs.String("errors", "", "where to write the rows not imported, as CSV (default: FILE.errors.csv, only if any)")
	if err := fs.Parse(args); err != nil || *tenant == "" || *file == "" || fs.NArg() > 0 ||
		(*kind != imports.KindLeads && *kind != imports.KindCustomers) {
		fmt.Fprintln(stderr, "usage: crm import --tenant NAME --file F [--kind leads|customers] [--data DIR] [--batch N] [--errors PATH]")
		return errUsage
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	s, err := openStack(ctx, cfg, *data, slog.New(slog.NewTextHandler(stderr, nil)), stack.OpenMigrated)
	if err != nil {
		return err
	}
	defer s.Close()
	tenantID, err := s.Tenants.TenantID(ctx, *tenant)
	if err != nil {
		return fmt.Errorf("tenant %q: %w (crm keys create --tenant NAME creates one)", *tenant, err)
	}
	// The file reads as POST /dev/crm/{leads,customers}/import reads it: its sources,
	// its statuses (negotiation and converted made on first use).
	opts := devcrm.ImportOptions(commands.New(s.Store, cfg.Region), cfg.Region)
	opts.Batch, opts.Writers, opts.Metadata = *batch, *writers, eventstore.Metadata{Actor: "crm import", API: "cli"}
	im := imports.New(s.Store, opts)
	job, existing, err := im.SubmitKind(ctx, tenantID, *kind, filepath.Base(*file), f, false)
	if err != nil {
		return err
	}
	if len(job.IgnoredColumns) > 0 {
		fmt.Fprintf(stderr, "ignored columns: %q\n", job.IgnoredColumns)
	}
	switch {
	case existing && job.State == imports.StateDone:
		fmt.Fprintf(stdout, "already imported (job %s): %d rows imported, %d failed; nothing to do\n",
			job.ID, job.RowsImported, job.RowsFailed)
		return nil
	case job.RowsDone > 0:
		fmt.Fprintf(stderr, "resuming job %s after row %d of %d\n", job.ID, job.RowsDone, job.RowsTotal)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	show := newImportProgress(stdout, job)
	started := time.Now()
	job, err = im.Run(ctx, tenantID, job.ID, f, show.update)
	show.done()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("stopped after row %d of %d: run the same command again to resume", job.RowsDone, job.RowsTotal)
		}
		return err
	}
	fmt.Fprintf(stdout, "imported %d rows, %d failed, of %d (job %s) in %s\n", job.RowsImported, job.RowsFailed,
		job.RowsTotal, job.ID, time.Since(started).Round(time.Millisecond))
	if job.RowsFailed == 0 {
		return nil
	}
	path := *errorsPath
	if path == "" {
		path = *file + ".errors.csv"
	}
	return writeImportErrors(ctx, im, job, path, stdout)
}

// writeImportErrors writes the job's error CSV to path.
func writeImportErrors(ctx context.Context, im *imports.Importer, job imports.Job, path string, stdout io.Writer) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := im.ErrorCSV(ctx, job.TenantID, job.ID, out); err != nil {
		_ = out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rows not imported, with why: %s\n", path)
	return nil
}

// importProgress shows a run's progress: a bar on a terminal, else a
// plain line at most every few seconds.
type importProgress struct {
	out    io.Writer
	bar    *progressbar.ProgressBar // nil when out is not a terminal
	from   int64                    // rows done before this run
	logged time.Time
}

func newImportProgress(out io.Writer, job imports.Job) *importProgress {
	// The bar counts this run's rows, so its rate and ETA are this run's.
	return &importProgress{out: out, from: job.RowsDone, logged: time.Now(),
		bar: newBar(out, job.RowsTotal-job.RowsDone, "importing", "rows")}
}

// update is Run's progress callback.
func (p *importProgress) update(job imports.Job) {
	if p.bar != nil {
		_ = p.bar.Set64(job.RowsDone - p.from)
		return
	}
	if time.Since(p.logged) < 2*time.Second && job.RowsDone < job.RowsTotal {
		return
	}
	p.logged = time.Now()
	eta := "?"
	if d, ok := job.ETA(); ok {
		eta = d.Round(time.Second).String()
	}
	fmt.Fprintf(p.out, "%d/%d rows (%.0f%%), %d imported, %d failed, %.0f rows/s, ETA %s\n", job.RowsDone, job.RowsTotal,
		job.Percent(), job.RowsImported, job.RowsFailed, job.Rate(), eta)
}

// done ends the bar's line.
func (p *importProgress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.out)
	}
}
