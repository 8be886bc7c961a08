package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// StreamSnapshot is an aggregate's state as of version StreamVersion of its
// stream, in a form of the aggregate's own (SchemaVersion names it).
type StreamSnapshot struct {
	TenantID      uuid.UUID
	StreamType    string
	StreamID      uuid.UUID
	StreamVersion int
	SchemaVersion int
	State         json.RawMessage
}

// ReadSnapshot returns the tenant's snapshot of the stream, and false if
// there is none.
func (s *Store) ReadSnapshot(ctx context.Context, tenantID, streamID uuid.UUID) (StreamSnapshot, bool, error) {
	snap := StreamSnapshot{TenantID: tenantID, StreamID: streamID}
	err := s.pool.QueryRow(ctx, `select stream_type, stream_version, schema_version, state from snapshots
		where stream_id = $1 and tenant_id = $2`, streamID, tenantID).
		Scan(&snap.StreamType, &snap.StreamVersion, &snap.SchemaVersion, &snap.State)
	if errors.Is(err, pgx.ErrNoRows) {
		return StreamSnapshot{}, false, nil
	}
	if err != nil {
		return StreamSnapshot{}, false, fmt.Errorf("read snapshot %s: %w", streamID, err)
	}
	return snap, true, nil
}

// SaveSnapshot stores snap in place of an older snapshot of its stream. It
// stores nothing, and reports false, unless the stream is still at
// snap.StreamVersion when the statement runs: it share-locks the stream's
// row, so it waits for a commit in flight on the stream, and then finds
// the stream moved on. A redaction (a commit) therefore never ends with a
// snapshot of the state it erased left behind.
func (s *Store) SaveSnapshot(ctx context.Context, snap StreamSnapshot) (bool, error) {
	tag, err := s.pool.Exec(ctx, `insert into snapshots
			(stream_id, tenant_id, stream_type, stream_version, schema_version, state)
		select stream_id, tenant_id, stream_type, version, $4, $5 from streams
		where stream_id = $1 and tenant_id = $2 and version = $3 and stream_type = $6
		for share
		on conflict (stream_id) do update set stream_version = excluded.stream_version,
			schema_version = excluded.schema_version, state = excluded.state, created_at = now()
		where snapshots.stream_version < excluded.stream_version
			or snapshots.schema_version <> excluded.schema_version`,
		snap.StreamID, snap.TenantID, snap.StreamVersion, snap.SchemaVersion, []byte(snap.State), snap.StreamType)
	if err != nil {
		return false, fmt.Errorf("save snapshot %s at %d: %w", snap.StreamID, snap.StreamVersion, err)
	}
	return tag.RowsAffected() == 1, nil
}

// deleteSnapshots deletes the stream's snapshots in tx: they hold the
// personal data a redaction erases.
func deleteSnapshots(ctx context.Context, tx pgx.Tx, tenantID, streamID uuid.UUID) error {
	if _, err := tx.Exec(ctx, `delete from snapshots where stream_id = $1 and tenant_id = $2`, streamID, tenantID); err != nil {
		return fmt.Errorf("delete snapshots of %s: %w", streamID, err)
	}
	return nil
}

// FoldStream calls fold with each of the tenant's events of one stream
// from version from on (1 is the first), in stream order, one at a time:
// it holds one event in memory, however long the stream. It returns
// ErrStreamNotFound when the stream has no such event for the tenant. An
// error from fold stops the read and is returned as is.
func (s *Store) FoldStream(ctx context.Context, tenantID, streamID uuid.UUID, from int, fold func(Event) error) error {
	rows, err := s.pool.Query(ctx, `select `+eventColumns+` from events
		where tenant_id = $1 and stream_id = $2 and stream_version >= $3 order by stream_version`,
		tenantID, streamID, from)
	if err != nil {
		return fmt.Errorf("read stream %s: %w", streamID, err)
	}
	defer rows.Close()
	var sc eventScanner
	n := 0
	for rows.Next() {
		e, err := sc.scan(rows)
		if err != nil {
			return fmt.Errorf("read stream %s: %w", streamID, err)
		}
		if err := fold(e); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read stream %s: %w", streamID, err)
	}
	if n == 0 {
		return ErrStreamNotFound
	}
	return nil
}

// StreamPage is one page of a stream, newest first, with the stream's length.
type StreamPage struct {
	Events []Event
	// Total is the number of events in the stream (its version).
	Total int
}

// ReadStreamPage returns up to limit of the tenant's events of one stream,
// newest first, skipping the offset newest: versions are dense (1..n), so
// it reads one range of the stream's index, never the whole stream. It
// returns ErrStreamNotFound when the stream does not exist for the tenant.
func (s *Store) ReadStreamPage(ctx context.Context, tenantID, streamID uuid.UUID, offset, limit int) (StreamPage, error) {
	var page StreamPage
	err := s.pool.QueryRow(ctx, `select version from streams where stream_id = $1 and tenant_id = $2`,
		streamID, tenantID).Scan(&page.Total)
	if errors.Is(err, pgx.ErrNoRows) {
		return StreamPage{}, ErrStreamNotFound
	}
	if err != nil {
		return StreamPage{}, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	hi := page.Total - max(offset, 0)
	lo := max(hi-max(limit, 0), 0)
	if hi <= 0 || lo >= hi {
		return page, nil
	}
	rows, err := s.pool.Query(ctx, `select `+eventColumns+` from events
		where tenant_id = $1 and stream_id = $2 and stream_version > $3 and stream_version <= $4
		order by stream_version desc`, tenantID, streamID, lo, hi)
	if err != nil {
		return StreamPage{}, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	if page.Events, err = collectEvents(rows); err != nil {
		return StreamPage{}, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	return page, nil
}

// ReadStreamMatching returns the tenant's events of one stream of the
// given types whose data contains match (jsonb containment, @>), by stream
// version: the events about one entity of the stream (one comment, say),
// found by Postgres without reading the rest of the stream out.
func (s *Store) ReadStreamMatching(ctx context.Context, tenantID, streamID uuid.UUID, types []string, match json.RawMessage) ([]Event, error) {
	rows, err := s.pool.Query(ctx, `select `+eventColumns+` from events
		where tenant_id = $1 and stream_id = $2 and event_type = any($3) and data @> $4::jsonb
		order by stream_version`, tenantID, streamID, types, string(match))
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	events, err := collectEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	return events, nil
}
