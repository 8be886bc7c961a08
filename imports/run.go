package imports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// placeholderID stands for a lead's id where decode checks a row against
// the domain's rules before the row has one.
var placeholderID = uuid.MustParse("00000000-0000-7000-8000-000000000001")

// Import is what an upload does (POST /dev/crm/leads/import): it checks the
// file as a whole (a *FileError refuses it, nothing written) and submits its
// job. A file already imported by the tenant returns its job as it is and
// imports nothing. A file of at most syncRows data rows is imported before
// Import returns (async false: the job is done). A larger one is stored in
// Postgres and imported in the background under background's lifetime
// (async true: answer 202 with the job; GET /imports/{id} follows it; a
// crash leaves it to Unfinished and Run on the next start).
func (im *Importer) Import(ctx, background context.Context, tenant uuid.UUID, name string, src io.ReadSeeker, syncRows int64) (job Job, async bool, err error) {
	info, err := Inspect(src)
	if err != nil {
		return Job{}, false, err
	}
	job, _, err = im.submit(ctx, tenant, name, info, src, info.Rows > syncRows)
	switch {
	case err != nil:
		return Job{}, false, err
	case job.State == StateDone || job.State == StateFailed:
		return job, false, nil
	case job.Stored:
		go func() {
			// The job's own table says how it went; a job another process
			// runs already (ErrJobBusy) is left to it.
			_, _ = im.Run(background, tenant, job.ID, nil, nil)
		}()
		return job, true, nil
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return Job{}, false, fmt.Errorf("import: rewind: %w", err)
	}
	job, err = im.Run(ctx, tenant, job.ID, src, nil)
	return job, false, err
}

// prepared is a row ready to write: its normalized profile, its new lead's
// id and what it reserves.
type prepared struct {
	rec     Record
	profile domain.LeadProfile
	status  domain.Status
	id      uuid.UUID
	reserve []eventstore.Reservation
	events  []eventstore.NewEvent // lead.created, numbered
}

// batch is the rows one transaction imports or reports.
type batch struct {
	good   []prepared
	bad    []RowError
	raw    map[int64][]string // the bad rows as the file has them
	failed int64              // rows in bad
	last   int64              // the row number of the batch's last row
	err    error              // the file stopped being readable
}

// Run imports the tenant's job from its last committed batch to the end and
// returns it done. src is the job's file (nil: its stored copy). Each batch
// is one transaction: its leads (lead.created events, numbers, email and
// phone reservations), its row errors and the job's progress commit
// together, so a run killed at any point and run again imports every row
// exactly once. progress, if set, is called after each batch. A job that
// another process is running returns ErrJobBusy; one done returns as it is.
func (im *Importer) Run(ctx context.Context, tenant, id uuid.UUID, src io.Reader, progress func(Job)) (Job, error) {
	job, err := im.Get(ctx, tenant, id)
	if err != nil || job.State == StateDone || job.State == StateFailed {
		return job, err
	}
	conn, err := im.store.Pool().Acquire(ctx)
	if err != nil {
		return job, fmt.Errorf("run import: %w", err)
	}
	defer conn.Release()
	// One runner per job: the lock is the session's, so it goes with a
	// process that dies.
	var mine bool
	if err := conn.QueryRow(ctx, "select pg_try_advisory_lock($1, hashtext($2))", jobLockSpace, id.String()).Scan(&mine); err != nil {
		return job, fmt.Errorf("run import: lock: %w", err)
	}
	if !mine {
		return job, ErrJobBusy
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "select pg_advisory_unlock($1, hashtext($2))", jobLockSpace, id.String())
	}()
	if src == nil {
		if !job.Stored {
			return job, fmt.Errorf("run import %s: its file is not stored: run it with the file", id)
		}
		src = &storedFile{ctx: ctx, pool: im.store, id: id}
	}
	if err := im.store.Pool().QueryRow(ctx, `update import_jobs set state = $2, started_at = coalesce(started_at, now()),
		updated_at = now() where id = $1 returning started_at`, id, StateRunning).Scan(&job.StartedAt); err != nil {
		return job, fmt.Errorf("run import: %w", err)
	}
	job.State, job.runFrom, job.runStart = StateRunning, job.RowsDone, time.Now()

	rd, err := NewReader(src)
	if err != nil {
		return job, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 1)
	go im.prepare(ctx, tenant, rd, job.RowsDone, batches)
	meta := im.opts.Metadata
	meta.CorrelationID = id.String()
	for b := range batches {
		if b.err != nil {
			return job, b.err
		}
		if err := im.write(ctx, &job, meta, b); err != nil {
			return job, err
		}
		if progress != nil {
			progress(job)
		}
	}
	if err := ctx.Err(); err != nil {
		return job, err
	}
	return im.finish(ctx, job)
}

// jobLockSpace is the advisory lock namespace of running jobs.
const jobLockSpace = 1668441455

// prepare reads rows after skip and sends them in batches, decoded and
// checked, with the rows repeating an email or phone of an earlier row of
// the same batch reported (the store finds those of earlier batches).
func (im *Importer) prepare(ctx context.Context, tenant uuid.UUID, rd *Reader, skip int64, out chan<- batch) {
	defer close(out)
	send := func(b batch) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		b := batch{raw: map[int64][]string{}}
		seen := map[eventstore.Reservation]int64{}
		for n := 0; n < im.opts.Batch; {
			rec, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				send(batch{err: err})
				return
			}
			if rec.Row <= skip {
				continue // committed by an earlier run
			}
			n++
			b.last = rec.Row
			p, st, bad := decode(rec, im.opts.Region, im.opts.Status)
			var rs []eventstore.Reservation
			if len(bad) == 0 {
				rs = leadReservations(p)
				for _, r := range rs {
					if first, ok := seen[r]; ok {
						bad = append(bad, RowError{Row: rec.Row, Line: rec.Line, Field: columnOf(kindField(r.Kind)),
							Message: fmt.Sprintf("duplicate: row %d has the same %s", first, kindField(r.Kind))})
						break
					}
				}
			}
			if len(bad) > 0 {
				b.bad = append(b.bad, bad...)
				b.raw[rec.Row] = rec.Raw
				b.failed++
				continue
			}
			for _, r := range rs {
				seen[r] = rec.Row
			}
			id, err := uuid.NewV7()
			if err != nil {
				send(batch{err: err})
				return
			}
			b.good = append(b.good, prepared{rec: rec, profile: p, status: st, id: id, reserve: rs})
		}
		if b.last == 0 {
			return
		}
		if err := im.build(ctx, tenant, b.good); err != nil {
			send(batch{err: err})
			return
		}
		if !send(b) {
			return
		}
	}
}

// build numbers the batch's good rows and decides their lead.created
// events, while the previous batch is being written. The numbers are taken
// before the batch's transaction (NextNumbers), so a row refused there as a
// duplicate, or a batch lost to a crash, leaves a gap in the tenant's lead
// numbers, as a create that fails does.
func (im *Importer) build(ctx context.Context, tenant uuid.UUID, good []prepared) error {
	if len(good) == 0 {
		return nil
	}
	first, err := im.store.NextNumbers(ctx, tenant, "lead", len(good))
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	for i := range good {
		g := &good[i]
		decided, err := domain.CreateLead(g.id, first+int64(i), g.profile, g.status)
		if err != nil {
			return fmt.Errorf("import row %d: %w", g.rec.Row, err)
		}
		g.events = make([]eventstore.NewEvent, len(decided))
		for j, e := range decided {
			data, err := e.MarshalData()
			if err != nil {
				return fmt.Errorf("import row %d: %w", g.rec.Row, err)
			}
			g.events[j] = eventstore.NewEvent{Type: e.Type, SchemaVersion: domain.SchemaVersion, Data: data}
		}
	}
	return nil
}

// leadReservations are the values a lead with profile p reserves, as every
// create reserves them.
func leadReservations(p domain.LeadProfile) []eventstore.Reservation {
	emails, phones := domain.ProfileReservations(p)
	rs := make([]eventstore.Reservation, 0, len(emails)+len(phones))
	for _, e := range emails {
		rs = append(rs, eventstore.Reservation{Kind: domain.ReserveEmail, Value: e})
	}
	for _, ph := range phones {
		rs = append(rs, eventstore.Reservation{Kind: domain.ReservePhone, Value: ph})
	}
	return rs
}

// kindField is the column a reservation kind reserves a value of.
func kindField(kind string) string {
	if kind == domain.ReservePhone {
		return "phone"
	}
	return "email"
}

// write commits one batch: its new leads, its row errors and the job's
// progress, in one bulk transaction.
func (im *Importer) write(ctx context.Context, job *Job, meta eventstore.Metadata, b batch) error {
	bulk, err := im.store.BeginBulk(ctx, job.TenantID, meta)
	if err != nil {
		return fmt.Errorf("import batch: %w", err)
	}
	defer bulk.Rollback(ctx)
	tx := bulk.Tx()
	// The job's row, locked: a second runner that got past the advisory
	// lock (it cannot, but a row imported twice would be for good) finds
	// the progress moved and stops.
	var done int64
	if err := tx.QueryRow(ctx, "select rows_done from import_jobs where id = $1 for update", job.ID).Scan(&done); err != nil {
		return fmt.Errorf("import batch: %w", err)
	}
	if done != job.RowsDone {
		return ErrJobBusy
	}
	claims := make([]eventstore.BulkClaim, len(b.good))
	for i, g := range b.good {
		claims[i] = eventstore.BulkClaim{StreamID: g.id, Reserve: g.reserve}
	}
	refused, err := bulk.Claim(ctx, claims)
	if err != nil {
		return fmt.Errorf("import batch: %w", err)
	}
	good := b.good[:0:0]
	for i, g := range b.good {
		if r := refused[i]; r != nil {
			field := kindField(r.Reservation.Kind)
			b.bad = append(b.bad, RowError{Row: g.rec.Row, Line: g.rec.Line, Field: field,
				Message: fmt.Sprintf("duplicate: lead %s has this %s", r.Owner, field)})
			b.raw[g.rec.Row] = g.rec.Raw
			b.failed++
			continue
		}
		good = append(good, g)
	}
	if len(good) > 0 {
		streams := make([]eventstore.NewStream, len(good))
		for i, g := range good {
			streams[i] = eventstore.NewStream{StreamType: domain.LeadStream, StreamID: g.id, Events: g.events}
		}
		if err := bulk.Create(ctx, streams); err != nil {
			return fmt.Errorf("import batch: %w", err)
		}
	}
	if err := saveErrors(ctx, tx, job.ID, b); err != nil {
		return err
	}
	var updated time.Time
	if err := tx.QueryRow(ctx, `update import_jobs set rows_done = $2, rows_imported = rows_imported + $3,
		rows_failed = rows_failed + $4, updated_at = now() where id = $1 returning updated_at`,
		job.ID, b.last, len(good), b.failed).Scan(&updated); err != nil {
		return fmt.Errorf("import batch: progress: %w", err)
	}
	if _, err := bulk.Commit(ctx); err != nil {
		return fmt.Errorf("import batch: %w", err)
	}
	job.RowsDone, job.RowsImported, job.RowsFailed, job.UpdatedAt = b.last, job.RowsImported+int64(len(good)), job.RowsFailed+b.failed, updated
	return nil
}

// saveErrors writes a batch's row errors.
func saveErrors(ctx context.Context, tx pgx.Tx, job uuid.UUID, b batch) error {
	if len(b.bad) == 0 {
		return nil
	}
	rows := make([][]any, len(b.bad))
	seq := map[int64]int{}
	for i, e := range b.bad {
		rows[i] = []any{job, e.Row, e.Line, e.Field, e.Message, nonNil(b.raw[e.Row]), seq[e.Row]}
		seq[e.Row]++
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_errors"}, []string{"job_id", "row", "line", "field", "message", "record", "seq"},
		pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("import batch: errors: %w", err)
	}
	return nil
}

// finish marks the job done and drops its stored file.
func (im *Importer) finish(ctx context.Context, job Job) (Job, error) {
	err := pgx.BeginFunc(ctx, im.store.Pool(), func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `update import_jobs set state = $2, finished_at = now(), updated_at = now()
			where id = $1 returning finished_at, updated_at`, job.ID, StateDone).Scan(&job.FinishedAt, &job.UpdatedAt); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "delete from import_files where job_id = $1", job.ID)
		return err
	})
	if err != nil {
		return job, fmt.Errorf("finish import %s: %w", job.ID, err)
	}
	job.State = StateDone
	return job, nil
}

// storedFile reads a job's stored file chunk by chunk.
type storedFile struct {
	ctx  context.Context
	pool *eventstore.Store
	id   uuid.UUID
	seq  int
	buf  []byte
	eof  bool
}

func (f *storedFile) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if f.eof {
			return 0, io.EOF
		}
		err := f.pool.Pool().QueryRow(f.ctx, "select data from import_files where job_id = $1 and seq = $2",
			f.id, f.seq).Scan(&f.buf)
		if errors.Is(err, pgx.ErrNoRows) {
			f.eof = true
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read stored import file: %w", err)
		}
		f.seq++
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}
