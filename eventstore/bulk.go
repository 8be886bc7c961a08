package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Bulk is one transaction that creates many new streams at once — a CSV
// import's thousand leads — with what Commit guarantees each of them: their
// reservations are claimed and conflict-checked against every other stream
// of the tenant (so later commits through any API see them), their numbers
// come from the tenant's counters, and their events land in commit order
// under the readers' horizon like any commit's, announced by a NOTIFY once
// committed. Where Commit writes row by row, Bulk writes each table with
// one statement or one COPY, so a thousand streams cost a few round trips.
//
// The caller may write its own rows in the same transaction (Tx): an
// importer commits its progress with the streams it created, so a crash
// never leaves one without the other. Use: NextNumbers (before), BeginBulk,
// Claim, Create, Commit (Rollback on any error, harmless after Commit).
type Bulk struct {
	s       *Store
	tx      pgx.Tx
	tenant  uuid.UUID
	meta    []byte
	created int
}

// BulkClaim is what one new stream of a Bulk reserves.
type BulkClaim struct {
	StreamID uuid.UUID
	Reserve  []Reservation
}

// NewStream is a stream a Bulk creates: version len(Events).
type NewStream struct {
	StreamType string
	StreamID   uuid.UUID
	Events     []NewEvent
}

// BeginBulk opens a bulk transaction for the tenant; every event it creates
// carries m.
func (s *Store) BeginBulk(ctx context.Context, tenant uuid.UUID, m Metadata) (*Bulk, error) {
	if tenant == uuid.Nil {
		return nil, fmt.Errorf("%w: no tenant", ErrInvalidCommit)
	}
	m.Erased = nil // a bulk create erases nothing
	meta, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("bulk: metadata: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("bulk: begin: %w", err)
	}
	return &Bulk{s: s, tx: tx, tenant: tenant, meta: meta}, nil
}

// Tx is the bulk's transaction, for the caller's own rows.
func (b *Bulk) Tx() pgx.Tx { return b.tx }

// Claim claims each stream's values, all or none of them: the answer holds,
// at each claim's index, nil when the stream got every value, else a
// *ReservationError naming the first value another stream owns (one of an
// earlier commit, or one claimed before it in this bulk). A stream
// refused here keeps no value and must not be created. Values are locked in
// one order (kind, then value), as Commit locks them, so bulks and commits
// claiming the same values wait for each other and never deadlock; a value
// held by a running transaction waits for it to end.
func (b *Bulk) Claim(ctx context.Context, claims []BulkClaim) ([]*ReservationError, error) {
	type claimed struct {
		stream uuid.UUID
		r      Reservation
	}
	var all []claimed
	for _, c := range claims {
		for _, r := range lockOrderValues(c.Reserve) {
			if r.Kind == "" || r.Value == "" {
				return nil, fmt.Errorf("%w: reservation %q %q: empty kind or value", ErrInvalidCommit, r.Kind, r.Value)
			}
			all = append(all, claimed{c.StreamID, r})
		}
	}
	slices.SortStableFunc(all, func(x, y claimed) int { return compareReservations(x.r, y.r) })
	kinds, values, streams := make([]string, len(all)), make([]string, len(all)), make([]uuid.UUID, len(all))
	for i, c := range all {
		kinds[i], values[i], streams[i] = c.r.Kind, c.r.Value, c.stream
	}
	rows, err := b.tx.Query(ctx, `insert into reservations (tenant_id, kind, value, stream_id)
		select $1, x.kind, x.value, x.stream from unnest($2::text[], $3::text[], $4::uuid[]) with ordinality as x(kind, value, stream, n)
		order by x.n
		on conflict (tenant_id, kind, value) do nothing
		returning kind, value, stream_id`, b.tenant, kinds, values, streams)
	if err != nil {
		return nil, fmt.Errorf("bulk: reserve: %w", err)
	}
	got := make(map[claimed]bool, len(all))
	var c claimed
	if _, err := pgx.ForEachRow(rows, []any{&c.r.Kind, &c.r.Value, &c.stream}, func() error {
		got[c] = true
		return nil
	}); err != nil {
		return nil, fmt.Errorf("bulk: reserve: %w", err)
	}

	refused := make([]*ReservationError, len(claims))
	var losers []uuid.UUID
	var lookup []Reservation
	for i, cl := range claims {
		for _, r := range lockOrderValues(cl.Reserve) {
			if !got[claimed{cl.StreamID, r}] {
				refused[i] = &ReservationError{Reservation: r}
				losers = append(losers, cl.StreamID)
				lookup = append(lookup, r)
				break
			}
		}
	}
	if len(losers) == 0 {
		return refused, nil
	}
	// A refused stream gives back what it did claim, and learns who owns
	// the value it could not have.
	if _, err := b.tx.Exec(ctx, "delete from reservations where tenant_id = $1 and stream_id = any($2)",
		b.tenant, losers); err != nil {
		return nil, fmt.Errorf("bulk: release refused claims: %w", err)
	}
	lk, lv := columns(lookup)
	owners := make(map[Reservation]uuid.UUID, len(lookup))
	rows, err = b.tx.Query(ctx, `select r.kind, r.value, r.stream_id from unnest($2::text[], $3::text[]) as x(kind, value)
		join reservations r on r.tenant_id = $1 and r.kind = x.kind and r.value = x.value`, b.tenant, lk, lv)
	if err != nil {
		return nil, fmt.Errorf("bulk: owners: %w", err)
	}
	var r Reservation
	var owner uuid.UUID
	if _, err := pgx.ForEachRow(rows, []any{&r.Kind, &r.Value, &owner}, func() error {
		owners[r] = owner
		return nil
	}); err != nil {
		return nil, fmt.Errorf("bulk: owners: %w", err)
	}
	for _, e := range refused {
		if e != nil {
			e.Owner = owners[e.Reservation]
		}
	}
	return refused, nil
}

// NextNumbers takes n consecutive numbers of the tenant's counter name, as
// n calls of NextNumber would (and as cheaply as one: its transaction
// commits asynchronously, for the reason NextNumber gives), and returns the
// first. A bulk takes its numbers before it begins, so the counter's row is
// never locked for the length of a bulk.
func (s *Store) NextNumbers(ctx context.Context, tenantID uuid.UUID, name string, n int) (int64, error) {
	if n <= 0 {
		return 0, fmt.Errorf("next numbers %s: n = %d", name, n)
	}
	var last int64
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(`select set_config('synchronous_commit', 'off', true), ` + NoEvents)
	b.Queue(`insert into counters (tenant_id, name, value) values ($1, $2, $3)
		on conflict (tenant_id, name) do update set value = counters.value + excluded.value
		returning value`, tenantID, name, n).QueryRow(func(row pgx.Row) error { return row.Scan(&last) })
	b.Queue("commit")
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("next numbers %s: %w", name, err)
	}
	return last - int64(n) + 1, nil
}

// Create writes new streams and their events with one COPY each. A stream
// that exists already (for any tenant) fails the whole bulk. Events missing
// an id get a UUIDv7.
func (b *Bulk) Create(ctx context.Context, streams []NewStream) error {
	srows := make([][]any, 0, len(streams))
	var erows [][]any
	for i, ns := range streams {
		if ns.StreamID == uuid.Nil || ns.StreamType == "" || len(ns.Events) == 0 {
			return fmt.Errorf("%w: new stream %d: no id, type or event", ErrInvalidCommit, i)
		}
		srows = append(srows, []any{ns.StreamID, b.tenant, ns.StreamType, len(ns.Events)})
		for j, e := range ns.Events {
			if err := validateEvent(e); err != nil {
				return fmt.Errorf("%w: stream %s event %d: %w", ErrInvalidCommit, ns.StreamID, j, err)
			}
			if e.ID == uuid.Nil {
				id, err := uuid.NewV7()
				if err != nil {
					return fmt.Errorf("event id: %w", err)
				}
				e.ID = id
			}
			erows = append(erows, []any{b.tenant, ns.StreamType, ns.StreamID, j + 1, e.ID, e.Type,
				e.SchemaVersion, []byte(e.Data), b.meta})
		}
	}
	if _, err := b.tx.CopyFrom(ctx, pgx.Identifier{"streams"}, []string{"stream_id", "tenant_id", "stream_type", "version"},
		pgx.CopyFromRows(srows)); err != nil {
		return fmt.Errorf("bulk: create streams: %w", err)
	}
	if _, err := b.tx.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"tenant_id", "stream_type", "stream_id",
		"stream_version", "event_id", "event_type", "schema_version", "data", "metadata"}, pgx.CopyFromRows(erows)); err != nil {
		return fmt.Errorf("bulk: insert events: %w", err)
	}
	b.created += len(erows)
	return nil
}

// Commit commits the bulk and announces it on NotifyChannel; it returns the
// position of its last event (zero when it created none).
func (b *Bulk) Commit(ctx context.Context) (Position, error) {
	var last Position
	if b.created > 0 {
		var tx string
		if err := b.tx.QueryRow(ctx, `select transaction_id::text, max(position) from events
			where transaction_id = pg_current_xact_id() group by transaction_id`).Scan(&tx, &last.Pos); err != nil {
			return Position{}, fmt.Errorf("bulk: last position: %w", err)
		}
		var err error
		if last.Tx, err = strconv.ParseUint(tx, 10, 64); err != nil {
			return Position{}, fmt.Errorf("bulk: last position: %w", err)
		}
	}
	if err := b.tx.Commit(ctx); err != nil {
		return Position{}, fmt.Errorf("bulk: commit: %w", err)
	}
	if b.created > 0 {
		b.s.notifier.Send(last.String())
	}
	return last, nil
}

// Rollback ends the bulk without writing anything; after Commit it does
// nothing.
func (b *Bulk) Rollback(ctx context.Context) {
	// A rollback that fails closes its connection: nothing is left to undo.
	_ = b.tx.Rollback(context.WithoutCancel(ctx))
}
