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

// This file holds what a tenant hands out once: reservations (unique
// values owned by a stream, claimed and released in a commit) and numbers
// (per-tenant counters), with the lookups that find an owner.

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
	slices.SortFunc(rs, compareReservations)
	return slices.Compact(rs)
}

// compareReservations is the order values are locked in: kind, then value.
func compareReservations(a, b Reservation) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Value, b.Value))
}

// memberClaim is a run of values one member of a group claims for one of
// its streams, in one statement.
type memberClaim struct {
	m      *groupMember
	stream uuid.UUID
	values []Reservation
}

// claimsInLockOrder returns the claims of every member of group as
// statements that lock the values in one order across the whole group —
// tenant, then kind and value, as a lone commit claims its own — and not
// member by member: two groups whose members claim the same values in
// opposite orders would otherwise each hold one and wait for the other.
// Neighbouring values of one member's stream share a statement.
func claimsInLockOrder(group []*groupMember) []memberClaim {
	type value struct {
		m      *groupMember
		stream uuid.UUID
		r      Reservation
	}
	var all []value
	for _, m := range group {
		for _, sa := range m.c.Streams {
			for _, r := range lockOrderValues(sa.Reserve) {
				all = append(all, value{m, sa.StreamID, r})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b value) int {
		return cmp.Or(slices.Compare(a.m.c.TenantID[:], b.m.c.TenantID[:]), compareReservations(a.r, b.r))
	})
	var claims []memberClaim
	for _, v := range all {
		if n := len(claims); n > 0 && claims[n-1].m == v.m && claims[n-1].stream == v.stream {
			claims[n-1].values = append(claims[n-1].values, v.r)
			continue
		}
		claims = append(claims, memberClaim{m: v.m, stream: v.stream, values: []Reservation{v.r}})
	}
	return claims
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

// FirstOwner returns the stream that owns the first of rs (in their order)
// that some stream of the tenant owns, with that value, in one query; false
// if no stream owns any.
func (s *Store) FirstOwner(ctx context.Context, tenantID uuid.UUID, rs []Reservation) (uuid.UUID, Reservation, bool, error) {
	if len(rs) == 0 {
		return uuid.Nil, Reservation{}, false, nil
	}
	kinds, values := columns(rs)
	var owner uuid.UUID
	var i int
	err := s.pool.QueryRow(ctx, `select r.stream_id, x.n from unnest($2::text[], $3::text[]) with ordinality as x(kind, value, n)
		join reservations r on r.tenant_id = $1 and r.kind = x.kind and r.value = x.value
		order by x.n limit 1`, tenantID, kinds, values).Scan(&owner, &i)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, Reservation{}, false, nil
	}
	if err != nil {
		return uuid.Nil, Reservation{}, false, fmt.Errorf("look up owners: %w", err)
	}
	return owner, rs[i-1], true, nil
}

// LookupReservation returns the stream that owns the tenant's value of kind,
// and false if no stream does.
func (s *Store) LookupReservation(ctx context.Context, tenantID uuid.UUID, kind, value string) (uuid.UUID, bool, error) {
	var owner uuid.UUID
	err := s.pool.QueryRow(ctx, `select stream_id from reservations
		where tenant_id = $1 and kind = $2 and value = $3`, tenantID, kind, value).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, false, nil
	}
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("lookup reservation %s %q: %w", kind, value, err)
	}
	return owner, true, nil
}

// NextNumber returns the next value of the tenant's counter name, starting
// at 1. Numbers are unique per tenant and name, increasing, and may have gaps
// (a number taken by a transaction that rolls back is not reused).
//
// The counter's transaction commits asynchronously: it does not wait for its
// own fsync, which would double the cost of every create. That loses nothing:
// a commit that uses the number comes later in the write-ahead log, so once
// it is durable the counter's increment is too; if Postgres crashes before,
// no durable event holds the number and handing it out again is harmless.
func (s *Store) NextNumber(ctx context.Context, tenantID uuid.UUID, name string) (int64, error) {
	var n int64
	// One round trip: the four statements go in one pipeline.
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(`select set_config('synchronous_commit', 'off', true), ` + NoEvents)
	b.Queue(`insert into counters (tenant_id, name, value) values ($1, $2, 1)
		on conflict (tenant_id, name) do update set value = counters.value + 1
		returning value`, tenantID, name).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
	b.Queue("commit")
	err := s.pool.SendBatch(ctx, b).Close()
	if err != nil {
		return 0, fmt.Errorf("next number %s: %w", name, err)
	}
	return n, nil
}
