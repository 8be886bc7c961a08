package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

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
// given types whose data contains any of matches (jsonb containment, @>),
// by stream version: the events about a few entities of the stream (some
// comments, say), found by Postgres without reading the rest of the
// stream out.
func (s *Store) ReadStreamMatching(ctx context.Context, tenantID, streamID uuid.UUID, types []string, matches []json.RawMessage) ([]Event, error) {
	if len(matches) == 0 {
		return nil, nil
	}
	texts := make([]string, len(matches))
	for i, m := range matches {
		texts[i] = string(m)
	}
	rows, err := s.pool.Query(ctx, `select `+eventColumns+` from events
		where tenant_id = $1 and stream_id = $2 and event_type = any($3)
		and exists (select from unnest($4::jsonb[]) as m where data @> m)
		order by stream_version`, tenantID, streamID, types, texts)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	events, err := collectEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	return events, nil
}

// ItemPage is one page of a stream read as a list of items in which each
// event of some types shows twice (see ReadStreamItems).
type ItemPage struct {
	// Events are the events whose items the page shows, newest first, and
	// Firsts the index, in the whole list, of each one's first item.
	Events []Event
	Firsts []int
	// Total is the number of events in the stream, Doubled the number of
	// them that show twice: the list has Total+Doubled items.
	Total, Doubled int
}

// ReadStreamItems reads one page of the list of items a stream shows,
// newest first, in which each event of a type in twice shows as two items
// (a timeline showing a comment above the log entry that wrote it): the
// events with an item among the limit items after the offset first. The
// count of items before each event is taken by Postgres over the stream's
// index; only the page's events are read out. ErrStreamNotFound when the
// stream does not exist for the tenant.
func (s *Store) ReadStreamItems(ctx context.Context, tenantID, streamID uuid.UUID, twice []string, offset, limit int) (ItemPage, error) {
	var page ItemPage
	err := s.pool.QueryRow(ctx, `select count(*), count(*) filter (where event_type = any($3)) from events
		where tenant_id = $1 and stream_id = $2`, tenantID, streamID, twice).Scan(&page.Total, &page.Doubled)
	if err != nil {
		return ItemPage{}, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	if page.Total == 0 {
		return ItemPage{}, ErrStreamNotFound
	}
	offset, limit = max(offset, 0), max(limit, 0)
	if limit == 0 || offset >= page.Total+page.Doubled {
		return page, nil
	}
	rows, err := s.pool.Query(ctx, `with items as (
			select v, n, sum(n) over (order by v desc) - n as first
			from (select stream_version as v, case when event_type = any($3) then 2 else 1 end as n
				from events where tenant_id = $1 and stream_id = $2) as e)
		select `+eventColumns+`, items.first from items
		join events on events.stream_id = $2 and events.stream_version = items.v
		where items.first + items.n > $4 and items.first < $4 + $5
		order by items.v desc`, tenantID, streamID, twice, offset, limit)
	if err != nil {
		return ItemPage{}, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	defer rows.Close()
	var sc eventScanner
	for rows.Next() {
		var first int64
		e, err := sc.scanPlus(rows, &first)
		if err != nil {
			return ItemPage{}, fmt.Errorf("read stream %s: %w", streamID, err)
		}
		page.Events = append(page.Events, e)
		page.Firsts = append(page.Firsts, int(first))
	}
	if err := rows.Err(); err != nil {
		return ItemPage{}, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	return page, nil
}

// EventIDsWith returns the ids of the events of type eventType in a stream
// of the tenant whose data has field equal to value (a permanent delete
// redacts the events that carried a record: a call log's call_logged).
func (s *Store) EventIDsWith(ctx context.Context, tenantID, streamID uuid.UUID, eventType, field, value string) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, `select event_id from events
		where tenant_id = $1 and stream_id = $2 and event_type = $3 and data ->> $4 = $5
		order by stream_version`, tenantID, streamID, eventType, field, value)
	if err != nil {
		return nil, fmt.Errorf("find events of stream %s: %w", streamID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("find events of stream %s: %w", streamID, err)
	}
	return ids, nil
}
