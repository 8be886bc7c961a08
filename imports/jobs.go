package imports

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// The states of a job.
const (
	StateQueued  = "queued"  // submitted, no batch imported yet
	StateRunning = "running" // importing (or stopped mid-way: Run resumes it)
	StateDone    = "done"    // every row imported or reported
	StateFailed  = "failed"  // stopped for good; Error says why
)

// KindLeads is the kind of a lead import.
const KindLeads = "leads"

// DefaultBatch is how many rows one transaction imports (mapping c.6).
const DefaultBatch = 1000

// DefaultWriters is how many batch transactions run at once.
const DefaultWriters = 2

// ErrJobNotFound is an unknown job id (or another tenant's).
var ErrJobNotFound = crmerr.New(crmerr.NotFound, "import not found")

// ErrJobBusy is a job another process is running now.
var ErrJobBusy = crmerr.New(crmerr.Busy, "import is running in another process")

// Job is an import as its table holds it, with its progress.
type Job struct {
	ID             uuid.UUID  `json:"id"`
	TenantID       uuid.UUID  `json:"-"`
	Kind           string     `json:"kind"`
	FileName       string     `json:"file_name"`
	SHA256         string     `json:"sha256"`
	Size           int64      `json:"size"`
	State          string     `json:"state"`
	RowsTotal      int64      `json:"rows_total"`
	RowsDone       int64      `json:"rows_done"`
	RowsImported   int64      `json:"rows_imported"`
	RowsFailed     int64      `json:"rows_failed"`
	IgnoredColumns []string   `json:"ignored_columns"`
	Error          string     `json:"error,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	UpdatedAt      time.Time  `json:"updated_at"`
	FinishedAt     *time.Time `json:"finished_at,omitempty"`
	// Stored says the file is kept in Postgres until the job ends, so any
	// process can resume it; else the caller hands it to Run again.
	Stored bool `json:"-"`
	// meta is who submitted the job (actor, API, API key): its events
	// carry it whichever process runs them.
	meta      eventstore.Metadata
	header    []string
	batchSize int
	// runFrom and runStart are where this process's run began, for the rate.
	runFrom  int64
	runStart time.Time
	// last is the position of the last event this process's run wrote.
	last eventstore.Position
}

// LastPosition is the position of the last event the run that returned j
// wrote (zero if none): what read models must reach to show its records.
func (j Job) LastPosition() eventstore.Position { return j.last }

// Percent is how much of the file's rows the job has been through.
func (j Job) Percent() float64 {
	if j.RowsTotal == 0 {
		if j.State == StateDone {
			return 100
		}
		return 0
	}
	return 100 * float64(j.RowsDone) / float64(j.RowsTotal)
}

// Rate is the rows per second of the current run (0 before its first
// batch); a job read from its table (Get) is rated from its start to its
// last committed batch.
func (j Job) Rate() float64 {
	if j.runStart.IsZero() {
		if j.StartedAt == nil || j.RowsDone == 0 {
			return 0
		}
		el := j.UpdatedAt.Sub(*j.StartedAt).Seconds()
		if el <= 0 {
			return 0
		}
		return float64(j.RowsDone) / el
	}
	el := time.Since(j.runStart).Seconds()
	if el <= 0 || j.RowsDone <= j.runFrom {
		return 0
	}
	return float64(j.RowsDone-j.runFrom) / el
}

// ETA is the time the job still needs at its current rate; false when
// unknown (not running, or no batch done yet in this run).
func (j Job) ETA() (time.Duration, bool) {
	if j.State == StateDone || j.State == StateFailed {
		return 0, true
	}
	r := j.Rate()
	if r == 0 {
		return 0, false
	}
	return time.Duration(float64(j.RowsTotal-j.RowsDone) / r * float64(time.Second)), true
}

// MarshalJSON writes the job with its percent, rate (rows/s) and ETA
// (seconds; null while unknown): the body of GET /dev/crm/imports/{id}.
func (j Job) MarshalJSON() ([]byte, error) {
	type plain Job // the fields, without this method
	var eta *float64
	if d, ok := j.ETA(); ok {
		s := math.Round(d.Seconds())
		eta = &s
	}
	return json.Marshal(struct {
		plain
		Percent    float64  `json:"percent"`
		Rate       float64  `json:"rows_per_second"`
		ETASeconds *float64 `json:"eta_seconds"`
	}{plain(j), math.Round(j.Percent()*10) / 10, math.Round(j.Rate()), eta})
}

// Importer runs imports into one event store.
type Importer struct {
	store            *eventstore.Store
	opts             Options
	leads, customers *kind
}

// Options tune an Importer.
type Options struct {
	// Region reads national phone numbers (the tenants' default region).
	Region string
	// Batch is the rows per transaction (DefaultBatch when 0). A job keeps
	// the size it was submitted with.
	Batch int
	// Writers is how many batches are written at once, each in its own
	// transaction (DefaultWriters when 0): Postgres does the heavy part of
	// an import, and one transaction keeps one of its cores busy.
	Writers int
	// Status reads a lead's status cell; domain.ParseStatus (blank: the
	// default status) when nil.
	Status StatusFunc
	// Sources, when set, are the sources a row may name (any case): the
	// /dev/crm API's closed set. Empty allows any.
	Sources []string
	// Metadata goes with every event the import writes (actor, API); the
	// job's id is added as the correlation id.
	Metadata eventstore.Metadata
}

// New returns an Importer on store (migrated: eventstore.Migrate).
func New(store *eventstore.Store, opts Options) *Importer {
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Writers <= 0 {
		opts.Writers = DefaultWriters
	}
	if opts.Status == nil {
		opts.Status = func(_ context.Context, _ uuid.UUID, s string) (domain.Status, error) {
			if s == "" {
				return "", nil
			}
			return domain.ParseStatus(s)
		}
	}
	im := &Importer{store: store, opts: opts}
	im.leads, im.customers = im.leadKind(), im.customerKind()
	return im
}

// WithMetadata is the Importer with m on the events of the jobs it runs
// (an HTTP request's actor and request id); it shares im's store.
func (im *Importer) WithMetadata(m eventstore.Metadata) *Importer {
	out := *im
	out.opts.Metadata = m
	out.leads, out.customers = out.leadKind(), out.customerKind()
	return &out
}

// chunkSize is the size of a stored file's chunks.
const chunkSize = 1 << 20

// Submit checks src as a whole (Inspect: a *FileError refuses it before
// anything is written) and records its job, or finds the tenant's job for
// the same file: existing is then true and nothing more is imported (an
// unfinished one resumes with Run). With store, the file is kept in
// Postgres (chunks of 1 MiB) until the job ends, for a job that runs in
// the background and must resume after a crash of any process; without,
// the caller hands the file to Run itself (the CLI re-reads it on a rerun).
func (im *Importer) Submit(ctx context.Context, tenant uuid.UUID, name string, src io.ReadSeeker, store bool) (job Job, existing bool, err error) {
	return im.SubmitKind(ctx, tenant, KindLeads, name, src, store)
}

// SubmitKind is Submit of a file of kind (KindLeads, KindCustomers).
func (im *Importer) SubmitKind(ctx context.Context, tenant uuid.UUID, kindName, name string, src io.ReadSeeker, store bool) (job Job, existing bool, err error) {
	k, err := im.kindOf(kindName)
	if err != nil {
		return Job{}, false, err
	}
	info, err := inspect(src, k.cols)
	if err != nil {
		return Job{}, false, err
	}
	return im.submit(ctx, tenant, k, name, info, src, store)
}

// submit records the job of kind k of the file src that inspect described
// as info.
func (im *Importer) submit(ctx context.Context, tenant uuid.UUID, k *kind, name string, info FileInfo, src io.ReadSeeker, store bool) (job Job, existing bool, err error) {
	sum, err := hex.DecodeString(info.SHA256)
	if err != nil {
		return Job{}, false, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Job{}, false, err
	}
	// Who submitted the job, not the request that did: its events carry
	// this whichever process runs it.
	meta := eventstore.Metadata{Actor: im.opts.Metadata.Actor, APIKeyID: im.opts.Metadata.APIKeyID, API: im.opts.Metadata.API}
	err = pgx.BeginFunc(ctx, im.store.Pool(), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `insert into import_jobs (id, tenant_id, kind, sha256, file_name, size, rows_total,
				batch_size, state, ignored_columns, header, stored, metadata)
			values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			on conflict (tenant_id, kind, sha256) do nothing`,
			id, tenant, k.name, sum, name, info.Size, info.Rows, im.opts.Batch, StateQueued, nonNil(info.Ignored), info.Header, store, meta)
		if err != nil {
			return fmt.Errorf("submit import: %w", err)
		}
		if existing = tag.RowsAffected() == 0; existing || !store {
			return nil
		}
		if _, err := src.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("submit import: rewind: %w", err)
		}
		return storeFile(ctx, tx, id, src)
	})
	if err != nil {
		return Job{}, false, err
	}
	if existing {
		job, err = im.find(ctx, tenant, k.name, sum)
		return job, true, err
	}
	job, err = im.Get(ctx, tenant, id)
	return job, false, err
}

// storeFile writes src to import_files in chunks.
func storeFile(ctx context.Context, tx pgx.Tx, id uuid.UUID, src io.Reader) error {
	buf := make([]byte, chunkSize)
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			if _, err := tx.Exec(ctx, "insert into import_files (job_id, seq, data) values ($1, $2, $3)",
				id, seq, buf[:n]); err != nil {
				return fmt.Errorf("store import file: %w", err)
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store import file: %w", err)
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// jobColumns are the columns scanJob reads, in its order, from import_jobs
// j: the progress is the sum of the job's batches.
const jobColumns = `j.id, j.tenant_id, j.kind, encode(j.sha256, 'hex'), j.file_name, j.size, j.state, j.rows_total,
	coalesce(b.rows, 0), coalesce(b.imported, 0), coalesce(b.failed, 0), j.ignored_columns, j.error, j.created_at,
	j.started_at, greatest(j.updated_at, b.last), j.finished_at, j.stored, j.header, j.batch_size, j.metadata
	from import_jobs j left join lateral (select sum(rows) as rows, sum(imported) as imported, sum(failed) as failed,
		max(created_at) as last from import_batches where job_id = j.id) b on true`

func scanJob(row pgx.Row) (Job, error) {
	var j Job
	err := row.Scan(&j.ID, &j.TenantID, &j.Kind, &j.SHA256, &j.FileName, &j.Size, &j.State, &j.RowsTotal, &j.RowsDone,
		&j.RowsImported, &j.RowsFailed, &j.IgnoredColumns, &j.Error, &j.CreatedAt, &j.StartedAt, &j.UpdatedAt,
		&j.FinishedAt, &j.Stored, &j.header, &j.batchSize, &j.meta)
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, ErrJobNotFound
	}
	return j, err
}

// Get returns the tenant's job id (ErrJobNotFound for another tenant's).
func (im *Importer) Get(ctx context.Context, tenant, id uuid.UUID) (Job, error) {
	j, err := scanJob(im.store.Pool().QueryRow(ctx, "select "+jobColumns+
		" where j.id = $1 and j.tenant_id = $2", id, tenant))
	if err != nil && !errors.Is(err, ErrJobNotFound) {
		return Job{}, fmt.Errorf("get import %s: %w", id, err)
	}
	return j, err
}

func (im *Importer) find(ctx context.Context, tenant uuid.UUID, kind string, sum []byte) (Job, error) {
	j, err := scanJob(im.store.Pool().QueryRow(ctx, "select "+jobColumns+
		" where j.tenant_id = $1 and j.kind = $2 and j.sha256 = $3", tenant, kind, sum))
	if err != nil {
		return Job{}, fmt.Errorf("find import: %w", err)
	}
	return j, nil
}

// Unfinished lists the jobs, of every tenant, whose file is stored and that
// have not ended: what a starting server resumes (Run with a nil src).
func (im *Importer) Unfinished(ctx context.Context) ([]Job, error) {
	rows, err := im.store.Pool().Query(ctx, "select "+jobColumns+
		" where j.state in ('queued', 'running') and j.stored order by j.created_at")
	if err != nil {
		return nil, fmt.Errorf("unfinished imports: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Job, error) { return scanJob(row) })
}

// ResumeStored runs every unfinished job whose file is stored to its end,
// one after the other: what a starting server calls (in the background) so
// the imports a crash interrupted finish. A job another process runs is
// left to it; the first other failure stops the resumption.
func (im *Importer) ResumeStored(ctx context.Context) error {
	jobs, err := im.Unfinished(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if _, err := im.Run(ctx, j.TenantID, j.ID, nil, nil); err != nil && !errors.Is(err, ErrJobBusy) {
			return fmt.Errorf("resume import %s: %w", j.ID, err)
		}
	}
	return nil
}
