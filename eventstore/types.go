package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Position is an event's place in commit order: the id of the transaction
// that wrote it (xid8) and its identity position. Positions order events by
// (Tx, Pos); a reader that only reads transactions older than the oldest
// running one never sees an event appear behind its cursor.
type Position struct {
	Tx  uint64 `json:"tx"`
	Pos int64  `json:"pos"`
}

// Less reports whether p comes before q in commit order.
func (p Position) Less(q Position) bool {
	if p.Tx != q.Tx {
		return p.Tx < q.Tx
	}
	return p.Pos < q.Pos
}

// IsZero reports whether p is the position before the first event.
func (p Position) IsZero() bool { return p.Tx == 0 && p.Pos == 0 }

// String renders p as "tx.pos", the form used in headers and NOTIFY payloads.
func (p Position) String() string {
	return strconv.FormatUint(p.Tx, 10) + "." + strconv.FormatInt(p.Pos, 10)
}

// ParsePosition parses the "tx.pos" form written by Position.String.
func ParsePosition(s string) (Position, error) {
	txs, poss, ok := strings.Cut(s, ".")
	if !ok {
		return Position{}, fmt.Errorf("position %q: want tx.pos", s)
	}
	tx, err := strconv.ParseUint(txs, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("position %q: %w", s, err)
	}
	pos, err := strconv.ParseInt(poss, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("position %q: %w", s, err)
	}
	return Position{Tx: tx, Pos: pos}, nil
}

// Metadata says who caused an event and through which request.
type Metadata struct {
	Actor         string `json:"actor,omitempty"`
	APIKeyID      string `json:"api_key_id,omitempty"`
	API           string `json:"api,omitempty"`
	RequestID     string `json:"request_id,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
	// Erased names what a redacting commit erased of its streams' earlier
	// events (the store fills it in from the commit's StreamAppends), so
	// that copies kept elsewhere — the JetStream stream — are erased too.
	Erased []Erased `json:"erased,omitempty"`
}

// Erased is what one redacting commit erased of one stream: every earlier
// event (Events nil, a permanent delete) or the events named.
type Erased struct {
	StreamID uuid.UUID   `json:"stream_id"`
	Events   []uuid.UUID `json:"events,omitempty"`
}

// Equal reports whether m and o say the same.
func (m Metadata) Equal(o Metadata) bool {
	return m.Actor == o.Actor && m.APIKeyID == o.APIKeyID && m.API == o.API && m.RequestID == o.RequestID &&
		m.CorrelationID == o.CorrelationID && m.CausationID == o.CausationID && slices.EqualFunc(m.Erased, o.Erased, func(x, y Erased) bool {
		return x.StreamID == y.StreamID && slices.Equal(x.Events, y.Events) && (x.Events == nil) == (y.Events == nil)
	})
}

// ErasedOf returns what m's commit erased of stream, if anything.
func (m Metadata) ErasedOf(stream uuid.UUID) (Erased, bool) {
	for _, e := range m.Erased {
		if e.StreamID == stream {
			return e, true
		}
	}
	return Erased{}, false
}

// NewEvent is an event about to be appended.
type NewEvent struct {
	ID            uuid.UUID
	Type          string
	SchemaVersion int
	Data          json.RawMessage
}

// Event is a stored event.
type Event struct {
	Position      Position
	TenantID      uuid.UUID
	StreamType    string
	StreamID      uuid.UUID
	StreamVersion int
	ID            uuid.UUID
	Type          string
	SchemaVersion int
	Data          json.RawMessage
	Metadata      Metadata
	RecordedAt    time.Time
}

// Reservation is a tenant-wide unique value (a normalized email, a phone, a
// child entity id) owned by one stream. Reservations are written in the append
// transaction, so set validation never depends on a lagging projection.
type Reservation struct {
	Kind  string
	Value string
}

// ExpectedVersion values with a special meaning.
const (
	// NoStream expects the stream not to exist yet.
	NoStream = 0
	// AnyVersion skips the concurrency check.
	AnyVersion = -1
)

// StreamAppend is the part of a Commit that touches one stream.
type StreamAppend struct {
	StreamType      string
	StreamID        uuid.UUID
	ExpectedVersion int // NoStream, AnyVersion or the version the caller loaded
	Events          []NewEvent
	Reserve         []Reservation // claimed for this stream; conflict if another stream owns one
	Release         []Reservation // released if this stream owns them
	// ReleaseAll drops every reservation the stream owns (permanent delete).
	ReleaseAll bool
	// Redact replaces the data of every earlier event of the stream with
	// {"redacted": true}, in the same transaction (permanent delete).
	Redact bool
	// RedactEvents names earlier events of the stream to redact the same
	// way (the permanent delete of a part of it, such as a call log).
	RedactEvents []uuid.UUID
	// RedactKeep names the top-level fields of RedactEvents' data kept
	// beside "redacted": the ids the aggregate needs to stay correct.
	RedactKeep []string
	// Within are writes to tables beside the store's that must commit with
	// this stream's events or not at all: the timers the events schedule,
	// cancel or fire (package timers). They run in the commit's
	// transaction after its events are written; an error fails the commit.
	// A commit with any is made statement by statement, never grouped.
	Within []TxWrite
}

// A TxWrite is a write of another table made inside a commit's
// transaction for one of its streams (StreamAppend.Within).
type TxWrite func(ctx context.Context, tx pgx.Tx, tenant, stream uuid.UUID) error

// redacts reports whether sa redacts earlier events of its stream.
func (sa StreamAppend) redacts() bool { return sa.Redact || len(sa.RedactEvents) > 0 }

// Commit is one atomic write: events for one or more streams of one tenant.
type Commit struct {
	TenantID uuid.UUID
	Metadata Metadata
	// IdempotencyKey is optional; a second commit with the same key within
	// IdempotencyTTL returns DuplicateCommitError. A permanent delete of a
	// stream the first commit wrote frees the key.
	IdempotencyKey string
	// Note is the caller's own record of what the commit meant (the id it
	// created, say), kept with the idempotency key and returned on a retry.
	Note    json.RawMessage
	Streams []StreamAppend
}

// CommitResult tells where a commit landed.
type CommitResult struct {
	// Position of the last event written: read models that reach it show the commit.
	Position Position `json:"position"`
	// Versions holds each stream's new version, in the order of Commit.Streams.
	Versions []int `json:"versions"`
	// StreamIDs holds the streams written, in the order of Commit.Streams.
	StreamIDs []uuid.UUID `json:"stream_ids"`
	// Note is Commit.Note.
	Note json.RawMessage `json:"note,omitempty"`
}

// parseTx parses a transaction_id as the queries select it: as text.
func parseTx(txt string) (uint64, error) {
	tx, err := strconv.ParseUint(txt, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("transaction id %q: %w", txt, err)
	}
	return tx, nil
}
