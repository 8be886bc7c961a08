package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/eventstore"
)

// pipelinedTx is a transaction whose Execs are held back and sent together,
// in one pipeline, when the transaction next needs an answer from Postgres:
// a query, a copy, a savepoint or the commit. A projector's batch of inserts
// and updates then costs one round trip instead of one per statement.
//
// Statements run in the order they were issued and every query sees the
// effect of every Exec before it, so a projection reads the same rows as it
// would on a plain transaction. What it cannot see is an Exec's own result:
// Exec returns an empty command tag and a nil error, and a failed statement
// fails the next flush instead (naming the event whose Apply issued it, and
// leaving the transaction aborted, so nothing of the batch is committed).
// Projections must not branch on Exec's command tag; none does.
type pipelinedTx struct {
	pgx.Tx
	batch  pgx.Batch
	labels []string // what issued each queued statement, for errors
	label  string
	failed error // the first failed flush: the transaction is aborted
}

func newPipelinedTx(tx pgx.Tx) *pipelinedTx { return &pipelinedTx{Tx: tx} }

// Exec queues the statement.
func (t *pipelinedTx) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	t.batch.Queue(sql, args...)
	t.labels = append(t.labels, t.label)
	return pgconn.CommandTag{}, nil
}

// flush sends the queued statements and reads their results.
func (t *pipelinedTx) flush(ctx context.Context) error {
	n := t.batch.Len()
	if n == 0 {
		return nil
	}
	batch, labels := &pgx.Batch{QueuedQueries: t.batch.QueuedQueries}, t.labels
	t.batch, t.labels = pgx.Batch{}, nil
	br := t.Tx.SendBatch(ctx, batch)
	for i := range n {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			if labels[i] != "" {
				err = fmt.Errorf("%s: %w", labels[i], err)
			}
			return t.fail(err)
		}
	}
	if err := br.Close(); err != nil {
		return t.fail(err)
	}
	return nil
}

// fail records the first failure: the transaction is aborted from then on.
func (t *pipelinedTx) fail(err error) error {
	if t.failed == nil {
		t.failed = err
	}
	return err
}

// Query flushes, then queries.
func (t *pipelinedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return t.Tx.Query(ctx, sql, args...)
}

// QueryRow flushes, then queries.
func (t *pipelinedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := t.flush(ctx); err != nil {
		return errRow{err}
	}
	return t.Tx.QueryRow(ctx, sql, args...)
}

// SendBatch flushes, then sends b.
func (t *pipelinedTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	// A failed flush leaves the transaction aborted: b's statements fail
	// too, and the commit reports the flush's error.
	_ = t.flush(ctx)
	return t.Tx.SendBatch(ctx, b)
}

// CopyFrom flushes, then copies.
func (t *pipelinedTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if err := t.flush(ctx); err != nil {
		return 0, err
	}
	return t.Tx.CopyFrom(ctx, table, columns, src)
}

// Begin flushes, then starts a savepoint (a plain transaction inside).
func (t *pipelinedTx) Begin(ctx context.Context) (pgx.Tx, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return t.Tx.Begin(ctx)
}

// Commit sends the queued statements and the commit in one pipeline; if a
// statement or the commit itself fails (a deferred trigger runs at commit),
// nothing of the transaction stays and Commit returns that error.
//
// The commit is sent as a plain statement rather than through the embedded
// pgx.Tx, which would cost a round trip of its own. That leaves the pgx.Tx
// unfinished, which is harmless on a connection the caller then releases (a
// pooled connection goes back to the pool only when idle, not in a
// transaction); inPipelinedTx does.
func (t *pipelinedTx) Commit(ctx context.Context) error {
	if t.failed == nil {
		t.batch.Queue("commit")
		t.labels = append(t.labels, "commit")
		_ = t.flush(ctx) // recorded in t.failed
	}
	if t.failed != nil {
		// After a failed commit there is no transaction left and the
		// rollback only draws a warning; after a failed statement it ends
		// the aborted transaction.
		_ = t.Tx.Rollback(context.WithoutCancel(ctx))
		return t.failed
	}
	return nil
}

// Rollback drops what is queued and rolls back.
func (t *pipelinedTx) Rollback(ctx context.Context) error {
	t.batch, t.labels = pgx.Batch{}, nil
	return t.Tx.Rollback(ctx)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// labelled is p with each Apply labelling the statements it queues on a
// pipelinedTx, so a statement failing at the next flush names its event.
type labelled struct{ Projection }

// Apply implements Projection.
func (l labelled) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if t, ok := tx.(*pipelinedTx); ok {
		t.label = fmt.Sprintf("%s: apply %s %s at %s", l.Name(), e.Type, e.ID, e.Position)
	}
	return l.Projection.Apply(ctx, tx, e)
}

// inPipelinedTx runs f in a pipelined transaction on a connection of pool
// and commits it. A projector's batch then costs three round trips: the
// begin, the checkpoint read with what was queued before it, and the rest
// with the commit.
func inPipelinedTx(ctx context.Context, pool *pgxpool.Pool, f func(tx pgx.Tx) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	ptx := newPipelinedTx(tx)
	if err := f(ptx); err != nil {
		_ = ptx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return ptx.Commit(ctx)
}
