package eventstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Commit writes c atomically in one transaction: the version check of every
// stream, its reservations, its redaction and its events and the idempotency
// record. Once committed, a NOTIFY on NotifyChannel announces it (after the
// transaction, see Notifier). Events missing an id get a UUIDv7.
//
// Errors callers branch on:
//   - ErrInvalidCommit (wrapped) for a malformed commit;
//   - *ConcurrencyError when a stream is not at its expected version (a
//     stream of another tenant behaves as a stream that does not exist);
//   - *ReservationError when a value to reserve is owned by another stream;
//   - *DuplicateCommitError when c.IdempotencyKey was committed before.
//
// On any error nothing is written.
func (s *Store) Commit(ctx context.Context, c Commit) (CommitResult, error) {
	c, err := prepare(c)
	if err != nil {
		return CommitResult{}, err
	}
	meta, err := json.Marshal(c.Metadata)
	if err != nil {
		return CommitResult{}, fmt.Errorf("commit: metadata: %w", err)
	}
	if s.pipelined(c) {
		res, release, err := s.committer.commitGrouped(ctx, c, meta)
		if !errors.Is(err, errSlowPath) {
			if err == nil {
				s.notifier.Send(res.Position.String())
			}
			return res, err
		}
		// Later commits on c's streams wait until this one has ended
		// (deferred first, so it runs after the rollback below).
		defer release()
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return CommitResult{}, fmt.Errorf("commit: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	res, err := s.commitTx(ctx, tx, c, meta)
	if err != nil {
		return CommitResult{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return CommitResult{}, fmt.Errorf("commit: %w", err)
	}
	s.notifier.Send(res.Position.String())
	return res, nil
}

// commitTx does the work of Commit inside tx, statement by statement
// (commitPipelined is the same transaction in two round trips, for commits
// that redact nothing).
func (s *Store) commitTx(ctx context.Context, tx pgx.Tx, c Commit, meta []byte) (CommitResult, error) {
	if c.IdempotencyKey != "" {
		// First, so a concurrent commit with the same key waits here for
		// ours to end and then finds our result, and none of its work is done.
		if err := claimIdempotencyKey(ctx, tx, c.TenantID, c.IdempotencyKey); err != nil {
			return CommitResult{}, err
		}
	}

	// Lock streams in id order so two commits over the same streams never
	// deadlock whatever order their callers listed them in.
	from := make([]int, len(c.Streams))
	for _, i := range lockOrder(c.Streams) {
		v, err := advanceVersion(ctx, tx, c.TenantID, c.Streams[i])
		if err != nil {
			return CommitResult{}, err
		}
		from[i] = v
	}

	// Releases before reservations, so one commit can move a value from one
	// stream to another.
	for _, sa := range c.Streams {
		if err := release(ctx, tx, c.TenantID, sa); err != nil {
			return CommitResult{}, err
		}
	}
	for _, sa := range c.Streams {
		if err := reserve(ctx, tx, c.TenantID, sa.StreamID, sa.Reserve); err != nil {
			return CommitResult{}, err
		}
	}
	var redacted []uuid.UUID
	for _, sa := range c.Streams {
		if !sa.redacts() {
			continue
		}
		if err := redact(ctx, tx, c.TenantID, sa); err != nil {
			return CommitResult{}, err
		}
		if err := deleteSnapshots(ctx, tx, c.TenantID, sa.StreamID); err != nil {
			return CommitResult{}, fmt.Errorf("commit: %w", err)
		}
		redacted = append(redacted, sa.StreamID)
	}
	if len(redacted) > 0 {
		// What was made from the redacted streams goes in the same
		// transaction: nothing they quote outlives the redaction.
		if err := purgeIdempotencyKeys(ctx, tx, c.TenantID, redacted, c.IdempotencyKey); err != nil {
			return CommitResult{}, err
		}
		for _, erase := range s.erasers {
			if err := erase(ctx, tx, c.TenantID, redacted); err != nil {
				return CommitResult{}, fmt.Errorf("commit: erase copies of %v: %w", redacted, err)
			}
		}
	}

	last, err := insertEvents(ctx, tx, c, from, meta)
	if err != nil {
		return CommitResult{}, err
	}
	for _, sa := range c.Streams {
		for _, write := range sa.Within {
			if err := write(ctx, tx, c.TenantID, sa.StreamID); err != nil {
				return CommitResult{}, fmt.Errorf("commit: stream %s: %w", sa.StreamID, err)
			}
		}
	}
	res := CommitResult{Position: last, Versions: make([]int, len(c.Streams)),
		StreamIDs: make([]uuid.UUID, len(c.Streams)), Note: c.Note}
	for i, sa := range c.Streams {
		res.Versions[i] = from[i] + len(sa.Events)
		res.StreamIDs[i] = sa.StreamID
	}

	if c.IdempotencyKey != "" {
		if err := saveIdempotentResult(ctx, tx, c, res); err != nil {
			return CommitResult{}, err
		}
	}
	return res, nil
}

// redact replaces the data of sa's stream's earlier events (all of them, or
// sa.RedactEvents keeping sa.RedactKeep) with {"redacted": true}, and drops
// the client-sent request and correlation ids from their metadata: a client
// may put anything in X-Request-Id. Who (actor, key, API) and when stay.
// redacted_at marks the events of a stream deleted for good; a partial
// redaction shows in the data only, so the stream is not taken for deleted.
func redact(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, sa StreamAppend) error {
	var ids []uuid.UUID // nil: every event of the stream
	keep := []string{}
	if !sa.Redact {
		ids, keep = sa.RedactEvents, append(keep, sa.RedactKeep...)
	}
	if _, err := tx.Exec(ctx, `update events set
			data = '{"redacted": true}'::jsonb
				|| (select coalesce(jsonb_object_agg(k, data -> k), '{}') from unnest($4::text[]) k where data ? k),
			metadata = metadata - '{request_id,correlation_id}'::text[],
			redacted_at = case when $3::uuid[] is null then now() end
		where stream_id = $1 and tenant_id = $2 and redacted_at is null and ($3::uuid[] is null or event_id = any($3))`,
		sa.StreamID, tenant, ids, keep); err != nil {
		return fmt.Errorf("commit: redact stream %s: %w", sa.StreamID, err)
	}
	return nil
}

// claimKeySQL inserts a commit's idempotency key, or takes over the row of
// an expired one (older than IdempotencyTTL, as the HTTP record it backs): an
// expired key is free again. One row changed means the key is the commit's.
const claimKeySQL = `insert into idempotency (tenant_id, key, result) values ($1, $2, '{}')
	on conflict (tenant_id, key) do update set result = '{}', stream_ids = null, created_at = now()
	where idempotency.created_at < now() - make_interval(secs => $3)`

// claimIdempotencyKey inserts the key's row, or returns *DuplicateCommitError
// with the stored result when a committed transaction holds the key. If the
// holder is still running, the insert waits for it to end.
func claimIdempotencyKey(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, key string) error {
	tag, err := tx.Exec(ctx, claimKeySQL, tenant, key, IdempotencyTTL.Seconds())
	if err != nil {
		return fmt.Errorf("commit: idempotency key %q: %w", key, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var raw []byte
	if err := tx.QueryRow(ctx, "select result from idempotency where tenant_id = $1 and key = $2",
		tenant, key).Scan(&raw); err != nil {
		return fmt.Errorf("commit: idempotency key %q: %w", key, err)
	}
	dup := &DuplicateCommitError{Key: key}
	if err := json.Unmarshal(raw, &dup.Result); err != nil {
		return fmt.Errorf("commit: idempotency key %q: result: %w", key, err)
	}
	return dup
}

// advanceVersion checks the stream's version and moves it to its new one,
// locking the stream's row until the transaction ends. It returns the
// version the stream had, after which the new events are numbered.
func advanceVersion(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, sa StreamAppend) (int, error) {
	n := len(sa.Events)
	if n == 0 {
		return checkVersion(ctx, tx, tenant, sa)
	}
	switch sa.ExpectedVersion {
	case NoStream:
		created, err := createStream(ctx, tx, tenant, sa)
		if err != nil || created {
			return 0, err
		}
		return 0, conflict(ctx, tx, tenant, sa)
	case AnyVersion:
		for range 2 {
			var v int
			err := tx.QueryRow(ctx, `update streams set version = version + $3
				where stream_id = $1 and tenant_id = $2 returning version`,
				sa.StreamID, tenant, n).Scan(&v)
			if err == nil {
				return v - n, nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return 0, fmt.Errorf("commit: stream %s: %w", sa.StreamID, err)
			}
			created, err := createStream(ctx, tx, tenant, sa)
			if err != nil || created {
				return 0, err
			}
			// A concurrent commit created the stream meanwhile (so the
			// update now finds it), or it belongs to another tenant.
		}
		return 0, &ConcurrencyError{StreamID: sa.StreamID, Expected: AnyVersion, Actual: 0}
	default:
		tag, err := tx.Exec(ctx, `update streams set version = $4
			where stream_id = $1 and tenant_id = $2 and version = $3`,
			sa.StreamID, tenant, sa.ExpectedVersion, sa.ExpectedVersion+n)
		if err != nil {
			return 0, fmt.Errorf("commit: stream %s: %w", sa.StreamID, err)
		}
		if tag.RowsAffected() == 1 {
			return sa.ExpectedVersion, nil
		}
		return 0, conflict(ctx, tx, tenant, sa)
	}
}

// createStream inserts the stream's row at version len(sa.Events); it
// reports false if the stream already exists (for any tenant).
func createStream(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, sa StreamAppend) (bool, error) {
	tag, err := tx.Exec(ctx, `insert into streams (stream_id, tenant_id, stream_type, version)
		values ($1, $2, $3, $4) on conflict (stream_id) do nothing`,
		sa.StreamID, tenant, sa.StreamType, len(sa.Events))
	if err != nil {
		return false, fmt.Errorf("commit: create stream %s: %w", sa.StreamID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// checkVersion checks the version of a stream the commit writes no event to,
// holding a share lock on its row so it cannot change before the commit ends.
func checkVersion(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, sa StreamAppend) (int, error) {
	var v int
	err := tx.QueryRow(ctx, "select version from streams where stream_id = $1 and tenant_id = $2 for share",
		sa.StreamID, tenant).Scan(&v)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("commit: stream %s: %w", sa.StreamID, err)
	}
	if sa.ExpectedVersion != AnyVersion && v != sa.ExpectedVersion {
		return 0, &ConcurrencyError{StreamID: sa.StreamID, Expected: sa.ExpectedVersion, Actual: v}
	}
	return v, nil
}

// conflict builds the ConcurrencyError for sa with the stream's actual
// version as this tenant sees it (0 when it does not exist for the tenant).
func conflict(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, sa StreamAppend) error {
	var actual int
	err := tx.QueryRow(ctx, "select version from streams where stream_id = $1 and tenant_id = $2",
		sa.StreamID, tenant).Scan(&actual)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("commit: stream %s: %w", sa.StreamID, err)
	}
	return &ConcurrencyError{StreamID: sa.StreamID, Expected: sa.ExpectedVersion, Actual: actual}
}

// insertEvents writes every event of c in one statement, each stream's
// numbered from its previous version, and returns the last one's position.
func insertEvents(ctx context.Context, tx pgx.Tx, c Commit, from []int, meta []byte) (Position, error) {
	var (
		types, eventTypes, data []string
		streamIDs, eventIDs     []uuid.UUID
		versions, schemas       []int32
	)
	for i, sa := range c.Streams {
		for j, e := range sa.Events {
			types = append(types, sa.StreamType)
			streamIDs = append(streamIDs, sa.StreamID)
			versions = append(versions, int32(from[i]+j+1))
			eventIDs = append(eventIDs, e.ID)
			eventTypes = append(eventTypes, e.Type)
			schemas = append(schemas, int32(e.SchemaVersion))
			data = append(data, string(e.Data))
		}
	}
	rows, err := tx.Query(ctx, `insert into events
		(tenant_id, stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
		select $1, e.stream_type, e.stream_id, e.stream_version, e.event_id, e.event_type, e.schema_version,
			e.data::jsonb, $9::jsonb
		from unnest($2::text[], $3::uuid[], $4::int[], $5::uuid[], $6::text[], $7::int[], $8::text[])
			with ordinality as e(stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, n)
		order by e.n
		returning transaction_id::text, position`,
		c.TenantID, types, streamIDs, versions, eventIDs, eventTypes, schemas, data, string(meta))
	if err != nil {
		return Position{}, fmt.Errorf("commit: insert events: %w", err)
	}
	var last Position
	if err := scanPositions(rows, len(eventIDs), &last); err != nil {
		return Position{}, fmt.Errorf("commit: insert events: %w", err)
	}
	return last, nil
}

// prepare validates c and returns a copy whose events all have an id, so the
// caller's slices are never written to.
func prepare(c Commit) (Commit, error) {
	if c.TenantID == uuid.Nil {
		return c, fmt.Errorf("%w: no tenant", ErrInvalidCommit)
	}
	if len(c.Streams) == 0 {
		return c, fmt.Errorf("%w: no stream", ErrInvalidCommit)
	}
	streams := make([]StreamAppend, len(c.Streams))
	seen := make(map[uuid.UUID]bool, len(c.Streams))
	total := 0
	c.Metadata.Erased = nil // the store says what a commit erased, not the caller
	for i, sa := range c.Streams {
		if err := validateStream(sa, seen); err != nil {
			return c, fmt.Errorf("%w: stream %d: %w", ErrInvalidCommit, i, err)
		}
		events := make([]NewEvent, len(sa.Events))
		for j, e := range sa.Events {
			if err := validateEvent(e); err != nil {
				return c, fmt.Errorf("%w: stream %s event %d: %w", ErrInvalidCommit, sa.StreamID, j, err)
			}
			if e.ID == uuid.Nil {
				id, err := uuid.NewV7()
				if err != nil {
					return c, fmt.Errorf("event id: %w", err)
				}
				e.ID = id
			}
			events[j] = e
		}
		sa.Events = events
		streams[i] = sa
		total += len(events)
		if sa.Redact {
			c.Metadata.Erased = append(c.Metadata.Erased, Erased{StreamID: sa.StreamID})
		} else if len(sa.RedactEvents) > 0 {
			c.Metadata.Erased = append(c.Metadata.Erased, Erased{StreamID: sa.StreamID, Events: slices.Clone(sa.RedactEvents)})
		}
	}
	if total == 0 {
		return c, fmt.Errorf("%w: no event", ErrInvalidCommit)
	}
	c.Streams = streams
	return c, nil
}

func validateStream(sa StreamAppend, seen map[uuid.UUID]bool) error {
	switch {
	case sa.StreamID == uuid.Nil:
		return fmt.Errorf("no stream id")
	case seen[sa.StreamID]:
		return fmt.Errorf("stream %s appears twice", sa.StreamID)
	case sa.StreamType == "":
		return fmt.Errorf("no stream type")
	case sa.ExpectedVersion < AnyVersion:
		return fmt.Errorf("expected version %d", sa.ExpectedVersion)
	}
	seen[sa.StreamID] = true
	for _, rs := range [][]Reservation{sa.Reserve, sa.Release} {
		for _, r := range rs {
			if r.Kind == "" || r.Value == "" {
				return fmt.Errorf("reservation %q %q: empty kind or value", r.Kind, r.Value)
			}
		}
	}
	return nil
}

func validateEvent(e NewEvent) error {
	switch {
	case e.Type == "":
		return fmt.Errorf("no event type")
	case e.SchemaVersion <= 0:
		return fmt.Errorf("schema version %d", e.SchemaVersion)
	case !json.Valid(e.Data) || !bytes.HasPrefix(bytes.TrimLeft(e.Data, " \t\r\n"), []byte("{")):
		return fmt.Errorf("data is not a JSON object")
	}
	return nil
}
