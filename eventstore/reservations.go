package eventstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// release drops the reservations sa gives up: all it owns with ReleaseAll,
// else those listed in Release that it owns.
func release(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, sa StreamAppend) error {
	var err error
	switch {
	case sa.ReleaseAll:
		_, err = tx.Exec(ctx, "delete from reservations where tenant_id = $1 and stream_id = $2",
			tenant, sa.StreamID)
	case len(sa.Release) > 0:
		kinds, values := columns(sa.Release)
		_, err = tx.Exec(ctx, `delete from reservations r
			using unnest($3::text[], $4::text[]) as x(kind, value)
			where r.tenant_id = $1 and r.stream_id = $2 and r.kind = x.kind and r.value = x.value`,
			tenant, sa.StreamID, kinds, values)
	}
	if err != nil {
		return fmt.Errorf("commit: release reservations of stream %s: %w", sa.StreamID, err)
	}
	return nil
}

// reserve claims rs for stream, or returns *ReservationError for the first
// value another stream owns. Claiming a value the stream owns already is a
// no-op. A value held by a running transaction waits for it to end.
func reserve(ctx context.Context, tx pgx.Tx, tenant, stream uuid.UUID, rs []Reservation) error {
	rs = lockOrderValues(rs)
	// A value seen owned by another stream may be released before we look
	// up its owner; then claiming it again can succeed.
	for attempt := 0; len(rs) > 0; attempt++ {
		missing, err := claim(ctx, tx, tenant, stream, rs)
		if err != nil {
			return err
		}
		for _, r := range missing {
			var owner uuid.UUID
			err := tx.QueryRow(ctx, `select stream_id from reservations
				where tenant_id = $1 and kind = $2 and value = $3`, tenant, r.Kind, r.Value).Scan(&owner)
			if err == nil {
				return &ReservationError{Reservation: r, Owner: owner}
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("commit: reservation %s %q: %w", r.Kind, r.Value, err)
			}
			if attempt == 2 {
				return &ReservationError{Reservation: r}
			}
		}
		rs = missing
	}
	return nil
}

// lockOrderValues returns rs sorted and without repeats: two commits
// claiming the same values lock them in one order, so they never deadlock.
func lockOrderValues(rs []Reservation) []Reservation {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b Reservation) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Value, b.Value))
	})
	return slices.Compact(rs)
}

// claimSQL claims values ($3 kinds, $4 values) for stream $2 of tenant $1,
// returning those it claimed: new ones and those the stream owns already.
const claimSQL = `insert into reservations (tenant_id, kind, value, stream_id)
	select $1, x.kind, x.value, $2 from unnest($3::text[], $4::text[]) as x(kind, value)
	on conflict (tenant_id, kind, value) do update set stream_id = excluded.stream_id
	where reservations.stream_id = excluded.stream_id
	returning kind, value`

// claim inserts rs for stream in one statement and returns those it could
// not claim because another stream owns them.
func claim(ctx context.Context, tx pgx.Tx, tenant, stream uuid.UUID, rs []Reservation) ([]Reservation, error) {
	kinds, values := columns(rs)
	rows, err := tx.Query(ctx, claimSQL, tenant, stream, kinds, values)
	if err != nil {
		return nil, reservationFailure(err, rs)
	}
	got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Reservation, error) {
		var r Reservation
		err := row.Scan(&r.Kind, &r.Value)
		return r, err
	})
	if err != nil {
		return nil, reservationFailure(err, rs)
	}
	var missing []Reservation
	for _, r := range rs {
		if !slices.Contains(got, r) {
			missing = append(missing, r)
		}
	}
	return missing, nil
}

// reservationFailure turns a unique violation on reservations into a
// *ReservationError (owner unknown: the transaction is aborted by then), so
// callers never see a raw Postgres error for a taken value.
func reservationFailure(err error, rs []Reservation) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.TableName == "reservations" {
		return &ReservationError{Reservation: rs[0]}
	}
	return fmt.Errorf("commit: reserve: %w", err)
}

// columns splits rs into parallel kind and value arrays for unnest.
func columns(rs []Reservation) (kinds, values []string) {
	kinds = make([]string, len(rs))
	values = make([]string, len(rs))
	for i, r := range rs {
		kinds[i], values[i] = r.Kind, r.Value
	}
	return kinds, values
}
