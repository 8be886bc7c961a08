package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// errSlowPath says the pipelined commit met something it does not decide
// itself (a version conflict, a taken value, a used idempotency key, a
// Postgres error): its transaction is rolled back and the commit is made
// again statement by statement, which gives the exact outcome.
var errSlowPath = errors.New("commit: take the step-by-step path")

// pipelined reports whether c can take the pipelined path (and so join a
// group, see committer): every stream gets events and none is redacted.
// The rest — version checks without events, redactions (so the store's
// erasers run in commitTx alone) — are rare and go step by step.
func (s *Store) pipelined(c Commit) bool {
	if s.stepByStep {
		return false
	}
	for _, sa := range c.Streams {
		if len(sa.Events) == 0 || sa.redacts() || len(sa.Within) > 0 {
			return false
		}
	}
	return true
}

// The pipelined path makes a commit in two round trips to Postgres instead
// of one per statement: BEGIN and every statement of the commit go in one
// pipeline, then COMMIT (see commitMembers, which does it for a group of
// commits at once). It is the same transaction as commitTx makes, statement
// for statement, with the checks moved into the results: the stream rows
// are locked in the same order, and any check that fails marks its commit,
// which after a rollback is made again step by step.
//
// On a busy server each round trip costs a context switch on both sides;
// a create used to take eight of them in its transaction.

// blame makes err, met by one of m's statements, m's: m leaves its group.
// A failed check (errSlowPath) lets the pipeline go on, so the group's
// other members are still checked; any other error ends it.
func (m *groupMember) blame(err error) error {
	if err == nil {
		return nil
	}
	m.failed = true
	if errors.Is(err, errSlowPath) {
		return nil
	}
	return err
}

// guard makes qq's outcome m's: a failed check marks m and lets the batch
// go on (so the other members are still checked); an error marks m and
// ends the batch. check may be nil.
func guard(qq *pgx.QueuedQuery, m *groupMember, check func(pgconn.CommandTag) error) {
	qq.Fn = func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err == nil && check != nil {
			err = check(tag)
		}
		return m.blame(err)
	}
}

// saveIdempotentResults records each keyed member's result in one round trip.
func saveIdempotentResults(ctx context.Context, conn interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, keyed []*groupMember) error {
	b := &pgx.Batch{}
	for _, m := range keyed {
		raw, err := json.Marshal(m.res)
		if err != nil {
			return fmt.Errorf("commit: idempotency result: %w", err)
		}
		guard(b.Queue(saveResultSQL, m.c.TenantID, m.c.IdempotencyKey, raw, m.res.StreamIDs), m, nil)
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("commit: idempotency result: %w", err)
	}
	return nil
}

// oneRow checks that a statement changed its row: the idempotency key's
// insert (a key already there goes the slow path, which returns its first
// result) or a stream's version check (a conflict goes the slow path, which
// reports the actual version).
func oneRow(tag pgconn.CommandTag) error {
	if tag.RowsAffected() != 1 {
		return errSlowPath
	}
	return nil
}

// lockOrder returns the indexes of streams in stream id order: the order
// both paths lock stream rows in, so concurrent commits never deadlock.
func lockOrder(streams []StreamAppend) []int {
	order := make([]int, len(streams))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return slices.Compare(streams[a].StreamID[:], streams[b].StreamID[:])
	})
	return order
}

// queueAdvance queues advanceVersion's statement for sa, one of m's
// streams; version receives the stream's new version.
func queueAdvance(b *pgx.Batch, tenant uuid.UUID, sa StreamAppend, version *int, m *groupMember) {
	n := len(sa.Events)
	switch sa.ExpectedVersion {
	case NoStream:
		*version = n
		guard(b.Queue(`insert into streams (stream_id, tenant_id, stream_type, version)
			values ($1, $2, $3, $4) on conflict (stream_id) do nothing`,
			sa.StreamID, tenant, sa.StreamType, n), m, oneRow)
	case AnyVersion:
		b.Queue(`insert into streams (stream_id, tenant_id, stream_type, version)
			values ($1, $2, $3, $4)
			on conflict (stream_id) do update set version = streams.version + excluded.version
			where streams.tenant_id = excluded.tenant_id
			returning version`, sa.StreamID, tenant, sa.StreamType, n).QueryRow(func(row pgx.Row) error {
			err := row.Scan(version)
			if errors.Is(err, pgx.ErrNoRows) {
				err = errSlowPath // another tenant's stream: the slow path reports the conflict
			}
			return m.blame(err)
		})
	default:
		*version = sa.ExpectedVersion + n
		guard(b.Queue(`update streams set version = $4 where stream_id = $1 and tenant_id = $2 and version = $3`,
			sa.StreamID, tenant, sa.ExpectedVersion, sa.ExpectedVersion+n), m, oneRow)
	}
}

// queueRelease queues release's statement for sa, if it releases anything.
func queueRelease(b *pgx.Batch, tenant uuid.UUID, sa StreamAppend, m *groupMember) {
	switch {
	case sa.ReleaseAll:
		guard(b.Queue("delete from reservations where tenant_id = $1 and stream_id = $2", tenant, sa.StreamID), m, nil)
	case len(sa.Release) > 0:
		kinds, values := columns(sa.Release)
		guard(b.Queue(`delete from reservations r
			using unnest($3::text[], $4::text[]) as x(kind, value)
			where r.tenant_id = $1 and r.stream_id = $2 and r.kind = x.kind and r.value = x.value`,
			tenant, sa.StreamID, kinds, values), m, nil)
	}
}

// queueReserve queues claim's statement for rs; any value it could not
// claim sends the commit down the slow path, which names its owner.
func queueReserve(b *pgx.Batch, tenant, stream uuid.UUID, rs []Reservation, m *groupMember) {
	if len(rs) == 0 {
		return
	}
	rs = lockOrderValues(rs)
	kinds, values := columns(rs)
	b.Queue(claimSQL, tenant, stream, kinds, values).Query(func(rows pgx.Rows) error {
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			return m.blame(err)
		}
		if n != len(rs) {
			return m.blame(errSlowPath)
		}
		return nil
	})
}

// queueInsertEvents queues the insert of every event of c. Stream versions
// come from the stream rows the same transaction has just advanced (the new
// version minus the stream's event count plus the event's rank), so they are
// right for AnyVersion streams too, whose old version the pipeline cannot
// know in advance. last receives the position of the last event.
func queueInsertEvents(b *pgx.Batch, c Commit, meta []byte, last *Position, m *groupMember) {
	var (
		types, eventTypes, data []string
		streamIDs, eventIDs     []uuid.UUID
		ranks, counts, schemas  []int32
	)
	for _, sa := range c.Streams {
		for j, e := range sa.Events {
			types = append(types, sa.StreamType)
			streamIDs = append(streamIDs, sa.StreamID)
			ranks = append(ranks, int32(j+1))
			counts = append(counts, int32(len(sa.Events)))
			eventIDs = append(eventIDs, e.ID)
			eventTypes = append(eventTypes, e.Type)
			schemas = append(schemas, int32(e.SchemaVersion))
			data = append(data, string(e.Data))
		}
	}
	b.Queue(`insert into events
		(tenant_id, stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
		select $1, e.stream_type, e.stream_id, s.version - e.count + e.rank, e.event_id, e.event_type,
			e.schema_version, e.data::jsonb, $10::jsonb
		from unnest($2::text[], $3::uuid[], $4::int[], $5::int[], $6::uuid[], $7::text[], $8::int[], $9::text[])
			with ordinality as e(stream_type, stream_id, rank, count, event_id, event_type, schema_version, data, n)
		join streams s on s.stream_id = e.stream_id
		order by e.n
		returning transaction_id::text, position`,
		c.TenantID, types, streamIDs, ranks, counts, eventIDs, eventTypes, schemas, data, string(meta)).
		Query(func(rows pgx.Rows) error { return m.blame(scanPositions(rows, len(eventIDs), last)) })
}

// scanPositions reads the positions the insert of n events returned into
// last (the latest), or errSlowPath if it returned another number of rows.
func scanPositions(rows pgx.Rows, n int, last *Position) error {
	defer rows.Close()
	got := 0
	for rows.Next() {
		var txt string
		var pos int64
		if err := rows.Scan(&txt, &pos); err != nil {
			return err
		}
		tx, err := parseTx(txt)
		if err != nil {
			return err
		}
		if p := (Position{Tx: tx, Pos: pos}); last.Less(p) {
			*last = p
		}
		got++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if got != n {
		return errSlowPath
	}
	return nil
}

// saveResultSQL records a commit's result with its idempotency key, and the
// streams it wrote, which a permanent delete of one of them purges it by.
const saveResultSQL = "update idempotency set result = $3, stream_ids = $4 where tenant_id = $1 and key = $2"

// saveIdempotentResult records res as the result of c's idempotency key.
func saveIdempotentResult(ctx context.Context, db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, c Commit, res CommitResult) error {
	raw, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("commit: idempotency result: %w", err)
	}
	if _, err := db.Exec(ctx, saveResultSQL, c.TenantID, c.IdempotencyKey, raw, res.StreamIDs); err != nil {
		return fmt.Errorf("commit: idempotency result: %w", err)
	}
	return nil
}
