package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Snapshot is a consistent cut of the log for bulk readers (replay): every
// event at or before Head and none after, read in one repeatable-read
// transaction. The cut follows ReadAll's rule: it holds exactly the events
// below the horizon (horizon.go) when the snapshot was taken, of
// transactions that had all ended by then, so a ReadAll after Head continues
// the log with nothing skipped and nothing twice.
//
// A Snapshot holds one pooled connection until Close. Its transaction is
// read-only and takes no transaction id, so it never holds other readers'
// horizon back.
type Snapshot struct {
	tx      pgx.Tx
	horizon string // text form of the xid8 horizon: events below it are in the cut
	head    Position
}

// Snapshot opens a consistent cut of the log at the position ReadAll can
// reach now. The caller must Close it.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	sn := &Snapshot{tx: tx}
	// In repeatable read every statement sees the transaction's snapshot, so
	// this horizon and the rows read below belong to the same instant. The
	// horizon's probes hold their locks to the end of the transaction
	// (horizon.go), which here may last minutes: they are taken in a
	// savepoint rolled back at once, which drops them and keeps the snapshot.
	probe, err := tx.Begin(ctx)
	if err == nil {
		err = probe.QueryRow(ctx, `select `+horizon+`::text`).Scan(&sn.horizon)
		if rbErr := probe.Rollback(ctx); err == nil {
			err = rbErr
		}
	}
	if err != nil {
		sn.Close(ctx)
		return nil, fmt.Errorf("snapshot: horizon: %w", err)
	}
	var txt string
	err = tx.QueryRow(ctx, `select transaction_id::text as tx, position from events
		where transaction_id < $1::text::xid8 order by transaction_id desc, position desc limit 1`,
		sn.horizon).Scan(&txt, &sn.head.Pos)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		sn.head = Position{}
	case err != nil:
		sn.Close(ctx)
		return nil, fmt.Errorf("snapshot: head: %w", err)
	default:
		if sn.head.Tx, err = parseTx(txt); err != nil {
			sn.Close(ctx)
			return nil, fmt.Errorf("snapshot: %w", err)
		}
	}
	return sn, nil
}

// Head is the position of the last event in the snapshot, in commit order;
// the zero Position if it holds none.
func (sn *Snapshot) Head() Position { return sn.head }

// Close ends the snapshot's transaction and returns its connection.
func (sn *Snapshot) Close(ctx context.Context) {
	_ = sn.tx.Rollback(context.WithoutCancel(ctx))
}

// ScanFilter picks the events a scan returns; an empty list picks all.
type ScanFilter struct {
	StreamTypes []string
	EventTypes  []string
	// NoMetadata leaves Event.Metadata empty, for readers that do not use
	// it: reading and decoding it is a good part of a scan's work.
	NoMetadata bool
}

// ScanStreams calls f with each event of the snapshot that filter picks,
// stream after stream (by stream id), each stream's events in stream
// version order, which for one stream is commit order. All the events of a
// stream come together, so a caller that folds a stream into rows can emit
// them when the stream id changes and keep one stream in memory. The rows
// stream from one query: memory does not grow with the log. An error from f
// stops the scan and is returned.
func (sn *Snapshot) ScanStreams(ctx context.Context, filter ScanFilter, f func(Event) error) error {
	return sn.ScanStreamsAny(ctx, []ScanFilter{filter}, f)
}

// ScanStreamsAny is ScanStreams for the events that any of filters picks,
// in one read of the log: bulk readers that rebuild several read models at
// once share it. An event carries its metadata if a filter that picks it
// wants metadata.
func (sn *Snapshot) ScanStreamsAny(ctx context.Context, filters []ScanFilter, f func(Event) error) error {
	args := []any{sn.horizon}
	// cond is the SQL condition of one filter; "" picks every event.
	cond := func(filter ScanFilter) string {
		var c []string
		if len(filter.StreamTypes) > 0 {
			args = append(args, filter.StreamTypes)
			c = append(c, fmt.Sprintf(`stream_type = any($%d::text[])`, len(args)))
		}
		if len(filter.EventTypes) > 0 {
			args = append(args, filter.EventTypes)
			c = append(c, fmt.Sprintf(`event_type = any($%d::text[])`, len(args)))
		}
		return strings.Join(c, ` and `)
	}
	var picks, metas []string
	all, allMeta := len(filters) == 0, false
	for _, filter := range filters {
		c := cond(filter)
		if c == "" {
			all = true
		}
		if !filter.NoMetadata {
			if c == "" {
				allMeta = true
			}
			metas = append(metas, `(`+c+`)`)
		}
		picks = append(picks, `(`+c+`)`)
	}
	where := `transaction_id < $1::text::xid8`
	if !all {
		where += ` and (` + strings.Join(picks, ` or `) + `)`
	}
	// Metadata is read only for the events whose reader wants it: reading
	// and decoding it is a good part of a scan's work.
	meta := `null::jsonb`
	switch {
	case allMeta:
		meta = `metadata`
	case len(metas) > 0:
		meta = `case when ` + strings.Join(metas, ` or `) + ` then metadata end`
	}
	// The planner reads in the order of the unique index on (stream_id,
	// stream_version) or sorts what a selective filter picks: give such a
	// sort room to stay in memory. Compiling the filter (JIT) costs more
	// than it saves on a plain scan.
	if _, err := sn.tx.Exec(ctx, `select set_config('work_mem', '64MB', true), set_config('jit', 'off', true)`); err != nil {
		return fmt.Errorf("scan streams: %w", err)
	}
	rows, err := sn.tx.Query(ctx, `select `+eventFields+`, `+meta+` from events where `+where+`
		order by stream_id, stream_version`, args...)
	if err != nil {
		return fmt.Errorf("scan streams: %w", err)
	}
	defer rows.Close()
	var sc eventScanner
	for rows.Next() {
		e, err := sc.scan(rows)
		if err != nil {
			return fmt.Errorf("scan streams: %w", err)
		}
		if err := f(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan streams: %w", err)
	}
	return nil
}
