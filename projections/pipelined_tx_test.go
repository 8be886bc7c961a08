package projections

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestPipelinedTx: queued statements run in order before any query reads,
// and a failing one names its event and leaves nothing committed.
func TestPipelinedTx(t *testing.T) {
	store, ctx := newStore(t)
	pool := store.Pool()
	if _, err := pool.Exec(ctx, `create table pt (k int primary key, v text not null)`); err != nil {
		t.Fatal(err)
	}

	err := inPipelinedTx(ctx, pool, func(tx pgx.Tx) error {
		for _, sql := range []string{`insert into pt values (1, 'a')`, `insert into pt values (2, 'b')`, `update pt set v = v || '!' where k = 1`} {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
		}
		if n := tx.(*pipelinedTx).batch.Len(); n != 3 {
			t.Errorf("%d statements queued, want 3 (none sent yet)", n)
		}
		var v string
		if err := tx.QueryRow(ctx, `select string_agg(v, ',' order by k) from pt`).Scan(&v); err != nil {
			return err
		}
		if v != "a!,b" {
			t.Errorf("the query read %q, want the queued statements' effect a!,b", v)
		}
		_, err := tx.Exec(ctx, `insert into pt values (3, 'c')`)
		return err // flushed by the commit
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `select count(*) from pt`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d rows committed (%v), want 3", n, err)
	}

	// A duplicate key in the middle of a batch: the commit fails with the
	// Postgres error, labelled with the event that issued it, and nothing
	// of the transaction stays.
	err = inPipelinedTx(ctx, pool, func(tx pgx.Tx) error {
		ptx := tx.(*pipelinedTx)
		ptx.label = "first event"
		_, _ = tx.Exec(ctx, `insert into pt values (4, 'd')`)
		ptx.label = "second event"
		_, _ = tx.Exec(ctx, `insert into pt values (1, 'again')`)
		ptx.label = "third event"
		_, _ = tx.Exec(ctx, `insert into pt values (5, 'e')`)
		return nil
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" || !strings.HasPrefix(err.Error(), "second event: ") {
		t.Fatalf("err = %v, want the duplicate key, labelled second event", err)
	}
	if err := pool.QueryRow(ctx, `select count(*) from pt`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d rows after the failed transaction (%v), want 3", n, err)
	}

	// A constraint checked at commit (the counts' fold is a deferred
	// trigger) fails the commit, which travels with the last statements:
	// the error is the commit's, nothing stays, and the connection goes
	// back to the pool fit for the next transaction.
	if _, err := pool.Exec(ctx, `create table pd (k int, constraint pd_k unique (k) deferrable initially deferred)`); err != nil {
		t.Fatal(err)
	}
	err = inPipelinedTx(ctx, pool, func(tx pgx.Tx) error {
		_, _ = tx.Exec(ctx, `insert into pd values (1)`)
		_, _ = tx.Exec(ctx, `insert into pd values (1)`)
		_, err := tx.Exec(ctx, `insert into pt values (6, 'f')`)
		return err
	})
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" || !strings.HasPrefix(err.Error(), "commit: ") {
		t.Fatalf("err = %v, want the deferred duplicate key, at commit", err)
	}
	for range 2 * int(pool.Config().MaxConns) {
		if err := inPipelinedTx(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into pd values (2)`)
			if err == nil {
				_, err = tx.Exec(ctx, `delete from pd`)
			}
			return err
		}); err != nil {
			t.Fatalf("a transaction after the failed commit: %v", err)
		}
	}
	if err := pool.QueryRow(ctx, `select (select count(*) from pt) + (select count(*) from pd)`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d rows after the failed commit (%v), want 3", n, err)
	}
}
