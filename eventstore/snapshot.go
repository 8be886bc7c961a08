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
