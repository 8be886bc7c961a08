package eventstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/eventstore"
)

// TestErasersRunInTheRedactingCommit: a store's erasers run in every commit
// that redacts streams (all of a stream's events or some), inside its
// transaction, with the redacted streams; never in other commits. An
// eraser's error fails the commit and nothing of it is written.
func TestErasersRunInTheRedactingCommit(t *testing.T) {
	ctx := t.Context()
	pool := newStore(t).Pool()
	if _, err := pool.Exec(ctx, `create table erased (stream_id uuid not null)`); err != nil {
		t.Fatal(err)
	}
	var calls [][]uuid.UUID
	fail := errors.New("eraser failed")
	failing := false
	s := eventstore.New(pool, func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, streams []uuid.UUID) error {
		calls = append(calls, streams)
		if _, err := tx.Exec(ctx, `insert into erased select unnest($1::uuid[])`, streams); err != nil {
			return err
		}
		if failing {
			return fail
		}
		return nil
	})
	erased := func() []uuid.UUID {
		rows, err := pool.Query(ctx, `select stream_id from erased order by stream_id`)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}

	tenant, lead, other := newID(t), newID(t), newID(t)
	logged := eventstore.NewEvent{ID: newID(t), Type: "lead.call_logged", SchemaVersion: 1, Data: []byte(`{"n": 2}`)}
	mustCommit(t, s, appendTo(tenant, lead, eventstore.NoStream, ev("lead.created", 1), logged))
	mustCommit(t, s, appendTo(tenant, other, eventstore.NoStream, ev("lead.created", 3)))
	if len(calls) != 0 {
		t.Fatalf("erasers ran for commits that redact nothing: %v", calls)
	}

	// Some events of a stream.
	c := appendTo(tenant, lead, 2, ev("lead.call_log_deleted", 4))
	c.Streams[0].RedactEvents = []uuid.UUID{logged.ID}
	mustCommit(t, s, c)
	if len(calls) != 1 || !slices.Equal(calls[0], []uuid.UUID{lead}) || !slices.Equal(erased(), []uuid.UUID{lead}) {
		t.Fatalf("after a partial redaction: calls %v, erased %v", calls, erased())
	}

	// A failing eraser: the delete is not made, nor what the eraser did.
	failing = true
	del := appendTo(tenant, other, 1, ev("lead.deleted", 5))
	del.Streams[0].Redact, del.Streams[0].ReleaseAll = true, true
	if _, err := s.Commit(ctx, del); !errors.Is(err, fail) {
		t.Fatalf("commit with a failing eraser: %v", err)
	}
	if events, err := s.ReadStream(ctx, tenant, other); err != nil || len(events) != 1 || string(events[0].Data) != `{"n": 3}` {
		t.Fatalf("the failed delete wrote: %v %v", events, err)
	}
	if got := erased(); !slices.Equal(got, []uuid.UUID{lead}) {
		t.Fatalf("the failed eraser's work was kept: %v", got)
	}

	failing = false
	mustCommit(t, s, del)
	if len(calls) != 3 || !slices.Equal(calls[2], []uuid.UUID{other}) || len(erased()) != 2 {
		t.Fatalf("after a delete: calls %v, erased %v", calls, erased())
	}
}
