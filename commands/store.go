package commands

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/crmcore/crm/eventstore"
)

// Store is what commands need of the event store: commit, read streams and
// snapshots, reservations, counters and idempotent results.
// *eventstore.Store implements it; a call through the interface costs
// nothing next to the round trip behind it.
type Store interface {
	Commit(ctx context.Context, c eventstore.Commit) (eventstore.CommitResult, error)
	IdempotentResult(ctx context.Context, tenantID uuid.UUID, key string) (eventstore.CommitResult, bool, error)
	FoldStream(ctx context.Context, tenantID, streamID uuid.UUID, from int, fold func(eventstore.Event) error) error
	ReadSnapshot(ctx context.Context, tenantID, streamID uuid.UUID) (eventstore.StreamSnapshot, bool, error)
	SaveSnapshot(ctx context.Context, snap eventstore.StreamSnapshot) (bool, error)
	NextNumber(ctx context.Context, tenantID uuid.UUID, name string) (int64, error)
	FirstOwner(ctx context.Context, tenantID uuid.UUID, rs []eventstore.Reservation) (uuid.UUID, eventstore.Reservation, bool, error)
	LookupReservation(ctx context.Context, tenantID uuid.UUID, kind, value string) (uuid.UUID, bool, error)
	EventIDsWith(ctx context.Context, tenantID, streamID uuid.UUID, eventType, field, value string) ([]uuid.UUID, error)
	ReadStreamPage(ctx context.Context, tenantID, streamID uuid.UUID, offset, limit int) (eventstore.StreamPage, error)
	ReadStreamMatching(ctx context.Context, tenantID, streamID uuid.UUID, types []string, matches []json.RawMessage) ([]eventstore.Event, error)
	ReadStreamItems(ctx context.Context, tenantID, streamID uuid.UUID, twice []string, offset, limit int) (eventstore.ItemPage, error)
}

var _ Store = (*eventstore.Store)(nil)
