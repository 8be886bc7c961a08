package eventstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// DefaultReadLimit is the batch size ReadAll uses when asked for limit <= 0.
const DefaultReadLimit = 1000

// eventColumns are the columns eventScanner reads, in its order: eventFields,
// then the metadata (a scan that does not want it selects null instead).
const eventColumns = eventFields + `, metadata`

// eventFields are eventColumns but the metadata. The text form of
// transaction_id is renamed: an output column named transaction_id would
// make "order by transaction_id" sort as text ('10' < '9').
const eventFields = `transaction_id::text as tx, position, tenant_id, stream_type, stream_id, stream_version,
	event_id, event_type, schema_version, data, recorded_at`

// ReadStream returns the tenant's events of one stream, by stream version.
// It returns ErrStreamNotFound when the stream has no events for the tenant,
// including when it belongs to another tenant.
func (s *Store) ReadStream(ctx context.Context, tenantID, streamID uuid.UUID) ([]Event, error) {
	rows, err := s.pool.Query(ctx, `select `+eventColumns+` from events
		where tenant_id = $1 and stream_id = $2 order by stream_version`, tenantID, streamID)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	events, err := collectEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	if len(events) == 0 {
		return nil, ErrStreamNotFound
	}
	return events, nil
}

// ReadAll returns up to limit events after the position after, in commit
// order. It only returns events below the horizon (horizon.go): of
// transactions older than the oldest one still running that may append, so
// an event committed later can never land behind the returned ones, and a
// reader that advances its cursor to the last event it got skips nothing. A
// long-running transaction holds readers back, unless it declared NoEvents;
// it never makes them skip.
func (s *Store) ReadAll(ctx context.Context, after Position, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = DefaultReadLimit
	}
	rows, err := s.pool.Query(ctx, `select `+eventColumns+` from events
		where (transaction_id, position) > ($1::text::xid8, $2) and `+visible+`
		order by transaction_id, position limit $3`,
		strconv.FormatUint(after.Tx, 10), after.Pos, limit)
	if err != nil {
		return nil, fmt.Errorf("read all after %s: %w", after, err)
	}
	events, err := collectEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read all after %s: %w", after, err)
	}
	return events, nil
}

// ReadMarks splits what ReadAll would return now after the position after
// into ranges of every events: it returns the positions of the every-th,
// 2×every-th, … of those events, up to n of them, in commit order. It reads
// only the commit-order index, not the events. Every mark is visible, so
// the events up to it are all committed and no later commit can land among
// them: ReadRange(after, m1), ReadRange(m1, m2), … return exactly every
// event up to the last mark, and may run concurrently.
func (s *Store) ReadMarks(ctx context.Context, after Position, every, n int) ([]Position, error) {
	if every <= 0 || n <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `select transaction_id::text as tx, position from (
			select transaction_id, position, row_number() over (order by transaction_id, position) as n
			from events where (transaction_id, position) > ($1::text::xid8, $2) and `+visible+`
			order by transaction_id, position limit $3) as ahead
		where n % $4 = 0 order by n`,
		strconv.FormatUint(after.Tx, 10), after.Pos, int64(every)*int64(n), every)
	if err != nil {
		return nil, fmt.Errorf("read marks after %s: %w", after, err)
	}
	marks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Position, error) {
		var txt string
		var p Position
		if err := row.Scan(&txt, &p.Pos); err != nil {
			return Position{}, err
		}
		var err error
		p.Tx, err = parseTx(txt)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read marks after %s: %w", after, err)
	}
	return marks, nil
}

// ReadRange returns the events after the position after up to and
// including upTo, in commit order, of those ReadAll can return now. With
// upTo a mark of ReadMarks, that is every event in between.
func (s *Store) ReadRange(ctx context.Context, after, upTo Position) ([]Event, error) {
	rows, err := s.pool.Query(ctx, `select `+eventColumns+` from events
		where (transaction_id, position) > ($1::text::xid8, $2)
		and (transaction_id, position) <= ($3::text::xid8, $4) and `+visible+`
		order by transaction_id, position`,
		strconv.FormatUint(after.Tx, 10), after.Pos, strconv.FormatUint(upTo.Tx, 10), upTo.Pos)
	if err != nil {
		return nil, fmt.Errorf("read range %s–%s: %w", after, upTo, err)
	}
	events, err := collectEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read range %s–%s: %w", after, upTo, err)
	}
	return events, nil
}

// Head returns the position of the last event ReadAll can return now, or the
// zero Position if there is none.
func (s *Store) Head(ctx context.Context) (Position, error) {
	var txt string
	var p Position
	err := s.pool.QueryRow(ctx, `select transaction_id::text as tx, position from events
		where `+visible+` order by transaction_id desc, position desc limit 1`).Scan(&txt, &p.Pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return Position{}, nil
	}
	if err != nil {
		return Position{}, fmt.Errorf("head: %w", err)
	}
	if p.Tx, err = parseTx(txt); err != nil {
		return Position{}, fmt.Errorf("head: %w", err)
	}
	return p, nil
}

// eventScanner reads rows of eventColumns, decoding each run of equal
// metadata once: the events of one commit share theirs, and decoding the
// metadata was most of the client's time per row. A null metadata (not
// selected) leaves the event's empty.
type eventScanner struct {
	meta     []byte // the last metadata decoded, as Postgres sent it
	metadata Metadata
}

// scan reads one row of eventColumns.
func (sc *eventScanner) scan(row pgx.CollectableRow) (Event, error) {
	return sc.scanPlus(row)
}

// scanPlus reads one row of eventColumns followed by the columns extra
// scans into.
func (sc *eventScanner) scanPlus(row pgx.CollectableRow, extra ...any) (Event, error) {
	var (
		e    Event
		txt  string
		data []byte
		meta pgtype.DriverBytes // valid until the next row: copied when kept
	)
	err := row.Scan(append([]any{&txt, &e.Position.Pos, &e.TenantID, &e.StreamType, &e.StreamID, &e.StreamVersion,
		&e.ID, &e.Type, &e.SchemaVersion, &data, &e.RecordedAt, &meta}, extra...)...)
	if err != nil {
		return Event{}, err
	}
	if e.Position.Tx, err = parseTx(txt); err != nil {
		return Event{}, err
	}
	if meta != nil {
		if sc.meta == nil || !bytes.Equal(sc.meta, meta) {
			var m Metadata
			if err := json.Unmarshal(meta, &m); err != nil {
				return Event{}, fmt.Errorf("event %s metadata: %w", e.ID, err)
			}
			sc.meta, sc.metadata = append(sc.meta[:0], meta...), m
		}
		e.Metadata = sc.metadata
	}
	e.Data = json.RawMessage(data)
	return e, nil
}

// collectEvents reads every row of rows with an eventScanner.
func collectEvents(rows pgx.Rows) ([]Event, error) {
	var sc eventScanner
	return pgx.CollectRows(rows, sc.scan)
}

// IdempotentResult returns what the commit made with the tenant's
// idempotency key returned, if one did within IdempotencyTTL.
func (s *Store) IdempotentResult(ctx context.Context, tenantID uuid.UUID, key string) (CommitResult, bool, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, `select result from idempotency where tenant_id = $1 and key = $2
		and created_at >= now() - make_interval(secs => $3)`, tenantID, key, IdempotencyTTL.Seconds()).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return CommitResult{}, false, nil
	}
	if err != nil {
		return CommitResult{}, false, fmt.Errorf("idempotency key %q: %w", key, err)
	}
	var res CommitResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return CommitResult{}, false, fmt.Errorf("idempotency key %q: result: %w", key, err)
	}
	// '{}' is a key claimed by a commit still running: not a result yet.
	return res, !res.Position.IsZero(), nil
}
