// Package relay moves events from the Postgres event store (the outbox) into
// a NATS JetStream stream, in commit order, exactly once in effect; it also
// owns the wire form of an event on NATS and the advisory-lock leadership that
// keeps one relay (and one projector per read model) active at a time.
package relay

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/crmcore/crm/eventstore"
)

// HeaderPosition carries the event's commit-order position ("tx.pos").
const HeaderPosition = "Crm-Position"

// HeaderPrevious carries the position of the event published just before
// this one. A consumer whose checkpoint is not that position has missed a
// message (a purge, a dropped pull) and reads the gap from the store.
const HeaderPrevious = "Crm-Previous"

// message is the JSON body of an event on NATS.
type message struct {
	Position      eventstore.Position `json:"position"`
	ID            uuid.UUID           `json:"id"`
	TenantID      uuid.UUID           `json:"tenant_id"`
	StreamType    string              `json:"stream_type"`
	StreamID      uuid.UUID           `json:"stream_id"`
	StreamVersion int                 `json:"stream_version"`
	Type          string              `json:"type"`
	SchemaVersion int                 `json:"schema_version"`
	Data          json.RawMessage     `json:"data"`
	Metadata      eventstore.Metadata `json:"metadata"`
	RecordedAt    time.Time           `json:"recorded_at"`
}

// Subject is the NATS subject of an event: one subject per stream, so the
// messages of a permanently deleted stream can be purged by subject.
func Subject(prefix string, e eventstore.Event) string {
	return fmt.Sprintf("%s.%s.%s.%s", prefix, e.TenantID, e.StreamType, e.StreamID)
}

// Encode renders e as a NATS message on its subject, with the event id as
// Nats-Msg-Id so JetStream drops a republished duplicate, and prev, the
// position of the event relayed before it.
func Encode(prefix string, e eventstore.Event, prev eventstore.Position) (*nats.Msg, error) {
	body, err := json.Marshal(message{
		Position: e.Position, ID: e.ID, TenantID: e.TenantID, StreamType: e.StreamType,
		StreamID: e.StreamID, StreamVersion: e.StreamVersion, Type: e.Type,
		SchemaVersion: e.SchemaVersion, Data: e.Data, Metadata: e.Metadata, RecordedAt: e.RecordedAt,
	})
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	m := nats.NewMsg(Subject(prefix, e))
	m.Data = body
	m.Header.Set(nats.MsgIdHdr, e.ID.String())
	m.Header.Set(HeaderPosition, e.Position.String())
	m.Header.Set(HeaderPrevious, prev.String())
	return m, nil
}

// Decode reads an event back from a NATS message, with the position of the
// event relayed before it.
func Decode(data []byte, h nats.Header) (eventstore.Event, eventstore.Position, error) {
	var m message
	if err := json.Unmarshal(data, &m); err != nil {
		return eventstore.Event{}, eventstore.Position{}, fmt.Errorf("decode event: %w", err)
	}
	prev, err := eventstore.ParsePosition(h.Get(HeaderPrevious))
	if err != nil {
		return eventstore.Event{}, eventstore.Position{}, fmt.Errorf("decode event %s: %w", m.ID, err)
	}
	return eventstore.Event{
		Position: m.Position, ID: m.ID, TenantID: m.TenantID, StreamType: m.StreamType,
		StreamID: m.StreamID, StreamVersion: m.StreamVersion, Type: m.Type,
		SchemaVersion: m.SchemaVersion, Data: m.Data, Metadata: m.Metadata, RecordedAt: m.RecordedAt,
	}, prev, nil
}
