package imports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// placeholderID stands for a lead's id where decode checks a row against
// the domain's rules before the row has one.
var placeholderID = uuid.MustParse("00000000-0000-7000-8000-000000000001")

// Import is what an upload of leads does (POST /dev/crm/leads/import):
// Upload of a lead file.
func (im *Importer) Import(ctx, background context.Context, tenant uuid.UUID, name string, src io.ReadSeeker, syncRows int64) (job Job, async bool, err error) {
	up, err := im.Upload(ctx, background, tenant, KindLeads, name, src, syncRows)
	return up.Job, up.Async, err
}

// Uploaded is what an upload did.
type Uploaded struct {
	Job Job
	// Async: the job runs in the background (answer 202 with it).
	Async bool
	// Existing: the tenant had uploaded this file (same SHA-256) before:
	// Job is that upload's job, and nothing more was imported.
	Existing bool
}

// Upload checks the file of kind (KindLeads, KindCustomers) as a whole (a
// *FileError refuses it, nothing written) and submits its job. A file
// already imported by the tenant returns its job as it is and imports
// nothing. A file of at most syncRows data rows is imported before Upload
// returns (the job is done). A larger one is stored in Postgres and
// imported in the background under background's lifetime (Async: GET
// /imports/{id} follows it; a crash leaves it to ResumeStored on the next
// start).
func (im *Importer) Upload(ctx, background context.Context, tenant uuid.UUID, kindName, name string, src io.ReadSeeker, syncRows int64) (Uploaded, error) {
	k, err := im.kindOf(kindName)
	if err != nil {
		return Uploaded{}, err
	}
	info, err := inspect(src, k.cols)
	if err != nil {
		return Uploaded{}, err
	}
	job, existing, err := im.submit(ctx, tenant, k, name, info, src, info.Rows > syncRows)
	up := Uploaded{Job: job, Existing: existing}
	switch {
	case err != nil:
		return Uploaded{}, err
	case job.State == StateDone || job.State == StateFailed:
		return up, nil
	case job.Stored:
		go func() {
			// The job's own table says how it went; a job another process
			// runs already (ErrJobBusy) is left to it.
			_, _ = im.Run(background, tenant, job.ID, nil, nil)
		}()
		up.Async = true
		return up, nil
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return Uploaded{}, fmt.Errorf("import: rewind: %w", err)
	}
	up.Job, err = im.Run(ctx, tenant, job.ID, src, nil)
	return up, err
}

// prepared is a row ready to write: its new record's id, what it reserves
// and its creation.
type prepared struct {
	rec     Record
	row     row
	id      uuid.UUID
	reserve []eventstore.Reservation
	events  []eventstore.NewEvent // lead.created or customer.created, numbered
}

// batch is the rows one transaction imports or reports: batch index of
// the job holds rows index*size+1 to (index+1)*size.
type batch struct {
	index  int
	seq    int // the order prepare sent it in: the order of the claims
	rows   int // data rows in the batch
	good   []prepared
	bad    []RowError
	raw    map[int64][]string // the bad rows as the file has them
	failed int                // rows in bad
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
	k, err := im.kindOf(job.Kind)
	if err != nil {
		return job, err
	}
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

	rd, err := newReader(src, k.cols)
	if err != nil {
		return job, err
	}
	done, err := im.doneBatches(ctx, id)
	if err != nil {
		return job, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan batch, im.opts.Writers)
	go im.prepare(ctx, tenant, k, rd, job.batchSize, done, batches)
	meta := im.metadata(job)
	// Batches are written side by side, each in its own transaction; the
	// first failure stops them all.
	var mu sync.Mutex // guards job and readErr
	var readErr error
	var wg sync.WaitGroup
	ref := job // what write reads of the job, fixed
	turns := &turns{}
	for range im.opts.Writers {
		wg.Go(func() {
			for b := range batches {
				if b.err != nil {
					// The file is unreadable from here: the batches before
					// this point are written all the same.
					mu.Lock()
					readErr = b.err
					mu.Unlock()
					continue
				}
				imported, failed, at, err := im.write(ctx, ref, k, meta, b, turns)
				if err != nil {
					cancel(err)
					return
				}
				mu.Lock()
				if job.last.Less(at) {
					job.last = at
				}
				job.RowsDone += int64(b.rows)
				job.RowsImported += int64(imported)
				job.RowsFailed += int64(failed)
				job.UpdatedAt = time.Now()
				if progress != nil {
					progress(job)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return job, err
	}
	var fe *FileError
	if errors.As(readErr, &fe) {
		// The file itself is bad past the rows imported (it passed Inspect,
		// so it changed): running again cannot help.
		return im.fail(job, readErr)
	}
	if readErr != nil {
		return job, readErr
	}
	return im.finish(ctx, job)
}

// metadata is what the events of job's run carry: the job's submitter
// (actor, API, API key) and the running Importer's request id, with the
// job's id as the correlation id. A job submitted before jobs kept their
// submitter carries the running Importer's.
func (im *Importer) metadata(job Job) eventstore.Metadata {
	meta := im.opts.Metadata
	if m := job.meta; m.Actor != "" || m.APIKeyID != "" || m.API != "" {
		meta.Actor, meta.APIKeyID, meta.API = job.meta.Actor, job.meta.APIKeyID, job.meta.API
	}
	meta.CorrelationID = job.ID.String()
	return meta
}

// jobLockSpace is the advisory lock namespace of running jobs.
const jobLockSpace = 1668441455

// prepare reads the file's rows and sends those of the batches not done,
// decoded and checked, with the rows repeating an email or phone of an
// earlier row of the same batch reported (the store finds those of other
// batches).
func (im *Importer) prepare(ctx context.Context, tenant uuid.UUID, k *kind, rd *Reader, size int, done map[int]bool, out chan<- batch) {
	defer close(out)
	status, fatal := im.statuses(ctx, tenant)
	send := func(b batch) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := func(err error) { send(batch{err: err}) }
	b := batch{index: -1}
	seq := 0
	var seen map[eventstore.Reservation]prepared // the row that has each value
	flush := func() bool {
		if b.index < 0 || b.rows == 0 {
			return true
		}
		if err := im.build(ctx, tenant, k, b.good); err != nil {
			fail(err)
			return false
		}
		return send(b)
	}
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			flush()
			return
		}
		if err != nil {
			if flush() { // the rows before the bad part are good
				fail(err)
			}
			return
		}
		index := int((rec.Row - 1) / int64(size))
		if done[index] {
			continue // committed by an earlier run
		}
		if index != b.index {
			if !flush() {
				return
			}
			b = batch{index: index, seq: seq, raw: map[int64][]string{}}
			seq++
			seen = map[eventstore.Reservation]prepared{}
		}
		b.rows++
		r, bad := k.decode(rec, status)
		if *fatal != nil {
			fail(*fatal)
			return
		}
		rs := r.reserve
		if len(bad) == 0 {
			for _, r := range rs {
				if first, ok := seen[r]; ok {
					bad = append(bad, RowError{Row: rec.Row, Line: rec.Line, Field: kindField(r.Kind), leadID: first.id,
						Message: fmt.Sprintf("duplicate: row %d has the same %s", first.rec.Row, kindField(r.Kind))})
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
		id, err := uuid.NewV7()
		if err != nil {
			fail(err)
			return
		}
		g := prepared{rec: rec, row: r, id: id, reserve: rs}
		for _, r := range rs {
			seen[r] = g
		}
		b.good = append(b.good, g)
	}
}

// doneBatches are the job's batches committed already.
func (im *Importer) doneBatches(ctx context.Context, id uuid.UUID) (map[int]bool, error) {
	rows, err := im.store.Pool().Query(ctx, "select batch from import_batches where job_id = $1", id)
	if err != nil {
		return nil, fmt.Errorf("run import: %w", err)
	}
	done := map[int]bool{}
	var n int
	_, err = pgx.ForEachRow(rows, []any{&n}, func() error { done[n] = true; return nil })
	if err != nil {
		return nil, fmt.Errorf("run import: %w", err)
	}
	return done, nil
}

// build numbers the batch's good rows and decides their creation events,
// while the previous batch is being written. The numbers are taken before
// the batch's transaction (NextNumbers), so a row refused there as a
// duplicate, or a batch lost to a crash, leaves a gap in the tenant's
// numbers, as a create that fails does.
func (im *Importer) build(ctx context.Context, tenant uuid.UUID, k *kind, good []prepared) error {
	if len(good) == 0 {
		return nil
	}
	first, err := im.store.NextNumbers(ctx, tenant, k.counter, len(good))
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	for i := range good {
		g := &good[i]
		decided, more, err := g.row.create(g.id, first+int64(i))
		if err != nil {
			return fmt.Errorf("import row %d: %w", g.rec.Row, err)
		}
		g.reserve = append(g.reserve, more...)
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
	switch kind {
	case domain.ReservePhone:
		return "phone"
	case domain.ReserveCustomerNumber:
		return "number"
	}
	return "email"
}

// write commits one batch: its new records, its row errors and its row in
// import_batches, in one bulk transaction, and returns how many records it
// created, how many rows it reported and the position of its last event.
func (im *Importer) write(ctx context.Context, job Job, k *kind, meta eventstore.Metadata, b batch, turns *turns) (imported, failed int, at eventstore.Position, err error) {
	var none eventstore.Position
	bulk, err := im.store.BeginBulk(ctx, job.TenantID, meta)
	if err != nil {
		return 0, 0, none, fmt.Errorf("import batch: %w", err)
	}
	defer bulk.Rollback(ctx)
	claims := make([]eventstore.BulkClaim, len(b.good))
	for i, g := range b.good {
		claims[i] = eventstore.BulkClaim{StreamID: g.id, Reserve: g.reserve}
	}
	// Batches claim in file order: a value two batches share waits for the
	// earlier one's transaction, so the earlier row keeps it, as it would
	// one batch after the other.
	if err := turns.wait(ctx, b.seq); err != nil {
		return 0, 0, none, err
	}
	refused, err := bulk.Claim(ctx, claims)
	turns.done(b.seq)
	if err != nil {
		return 0, 0, none, fmt.Errorf("import batch: %w", err)
	}
	streams := make([]eventstore.NewStream, 0, len(b.good))
	for i, g := range b.good {
		if r := refused[i]; r != nil {
			field := kindField(r.Reservation.Kind)
			b.bad = append(b.bad, RowError{Row: g.rec.Row, Line: g.rec.Line, Field: field, leadID: r.Owner,
				Message: fmt.Sprintf("duplicate: %s %s has this %s", k.noun, r.Owner, field)})
			b.raw[g.rec.Row] = g.rec.Raw
			b.failed++
			continue
		}
		streams = append(streams, eventstore.NewStream{StreamType: k.stream, StreamID: g.id, Events: g.events})
	}
	if len(streams) > 0 {
		if err := bulk.Create(ctx, streams); err != nil {
			return 0, 0, none, fmt.Errorf("import batch: %w", err)
		}
	}
	if err := saveErrors(ctx, bulk.Tx(), job.ID, b); err != nil {
		return 0, 0, none, err
	}
	// The batch's key: taken already means another run imported it (it
	// cannot, past the job's lock, but a batch imported twice would be for
	// good), and this one rolls back.
	tag, err := bulk.Tx().Exec(ctx, `insert into import_batches (job_id, batch, rows, imported, failed)
		values ($1, $2, $3, $4, $5) on conflict do nothing`, job.ID, b.index, b.rows, len(streams), b.failed)
	if err != nil {
		return 0, 0, none, fmt.Errorf("import batch: progress: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return 0, 0, none, ErrJobBusy
	}
	at, err = bulk.Commit(ctx)
	if err != nil {
		return 0, 0, none, fmt.Errorf("import batch: %w", err)
	}
	return len(streams), b.failed, at, nil
}

// turns lets batches take turns in the order prepare sent them.
type turns struct {
	mu   sync.Mutex
	next int                   // the batch whose turn it is
	wake map[int]chan struct{} // closed when that batch's turn comes
}

// wait returns once every batch before seq is done.
func (t *turns) wait(ctx context.Context, seq int) error {
	t.mu.Lock()
	if t.next == seq {
		t.mu.Unlock()
		return nil
	}
	if t.wake == nil {
		t.wake = map[int]chan struct{}{}
	}
	ch, ok := t.wake[seq]
	if !ok {
		ch = make(chan struct{})
		t.wake[seq] = ch
	}
	t.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// done passes the turn from seq to the next batch.
func (t *turns) done(seq int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next = seq + 1
	if ch, ok := t.wake[t.next]; ok {
		close(ch)
		delete(t.wake, t.next)
	}
}

// saveErrors writes a batch's row errors.
func saveErrors(ctx context.Context, tx pgx.Tx, job uuid.UUID, b batch) error {
	if len(b.bad) == 0 {
		return nil
	}
	rows := make([][]any, len(b.bad))
	seq := map[int64]int{}
	for i, e := range b.bad {
		var lead *uuid.UUID
		if e.leadID != uuid.Nil {
			lead = &e.leadID
		}
		rows[i] = []any{job, e.Row, e.Line, e.Field, e.Message, nonNil(b.raw[e.Row]), seq[e.Row], lead}
		seq[e.Row]++
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_errors"}, []string{"job_id", "row", "line", "field", "message", "record", "seq", "lead_id"},
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
	// The counts are the table's, the sum of every batch committed: a batch
	// whose commit reached the server as an earlier run was stopping is
	// counted there, not in this run's tally.
	stored, err := im.Get(ctx, job.TenantID, job.ID)
	if err != nil {
		return job, fmt.Errorf("finish import %s: %w", job.ID, err)
	}
	stored.runFrom, stored.runStart, stored.last = job.runFrom, job.runStart, job.last
	return stored, nil
}

// Purge is an eventstore.Eraser: inside a commit that permanently deletes
// leads, it deletes the reported rows of imports that repeated them (such a
// row quotes the lead's email or phone). Stack wiring registers it with
// eventstore.New.
func Purge(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, streams []uuid.UUID) error {
	if _, err := tx.Exec(ctx, `delete from import_errors e using import_jobs j
		where e.lead_id = any($2) and j.id = e.job_id and j.tenant_id = $1`, tenant, streams); err != nil {
		return fmt.Errorf("purge import errors: %w", err)
	}
	return nil
}

// fail marks the job failed for good with err, and drops its stored file.
func (im *Importer) fail(job Job, cause error) (Job, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := pgx.BeginFunc(ctx, im.store.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `update import_jobs set state = $2, error = $3, finished_at = now(), updated_at = now()
			where id = $1`, job.ID, StateFailed, cause.Error()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "delete from import_files where job_id = $1", job.ID)
		return err
	})
	if err != nil {
		return job, fmt.Errorf("import %s failed (%w), and could not be marked so: %w", job.ID, cause, err)
	}
	job.State, job.Error = StateFailed, cause.Error()
	return job, cause
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

// statuses is the Status option as one run reads status cells: once per
// distinct cell. A refusal of the cell is the row's error; any other
// error (the store down) is stored in fatal, and stops the run.
func (im *Importer) statuses(ctx context.Context, tenant uuid.UUID) (func(string) (domain.Status, error), *error) {
	type answer struct {
		s   domain.Status
		err error
	}
	seen := map[string]answer{}
	fatal := new(error)
	return func(cell string) (domain.Status, error) {
		if a, ok := seen[cell]; ok {
			return a.s, a.err
		}
		s, err := im.opts.Status(ctx, tenant, cell)
		var ve domain.ValidationError
		if err != nil && !errors.As(err, &ve) {
			*fatal = fmt.Errorf("import: status %q: %w", cell, err)
		}
		seen[cell] = answer{s, err}
		return s, err
	}, fatal
}
