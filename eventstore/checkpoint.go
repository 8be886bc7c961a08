package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Querier runs SQL: *pgxpool.Pool, *pgx.Conn and pgx.Tx all are one, so a
// checkpoint can be saved in the same transaction as the work it records.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// LoadCheckpoint returns the position saved under name, or the zero Position
// if none was. With forUpdate (q must be a transaction) the row stays locked
// until the transaction ends, so two workers cannot process the same batch.
func LoadCheckpoint(ctx context.Context, q Querier, name string, forUpdate bool) (Position, error) {
	sql := "select tx, pos from checkpoints where name = $1"
	if forUpdate {
		sql += " for update"
	}
	var tx, pos int64
	err := q.QueryRow(ctx, sql, name).Scan(&tx, &pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return Position{}, nil
	}
	if err != nil {
		return Position{}, fmt.Errorf("load checkpoint %s: %w", name, err)
	}
	return Position{Tx: uint64(tx), Pos: pos}, nil
}

// SaveCheckpoint records p as the position reached by name.
func SaveCheckpoint(ctx context.Context, q Querier, name string, p Position) error {
	_, err := q.Exec(ctx, `insert into checkpoints (name, tx, pos) values ($1, $2, $3)
		on conflict (name) do update set tx = excluded.tx, pos = excluded.pos, updated_at = now()`,
		name, int64(p.Tx), p.Pos)
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", name, err)
	}
	return nil
}

// Checkpoints returns every saved checkpoint by name.
func (s *Store) Checkpoints(ctx context.Context) (map[string]Position, error) {
	rows, err := s.pool.Query(ctx, "select name, tx, pos from checkpoints")
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	defer rows.Close()
	out := make(map[string]Position)
	for rows.Next() {
		var name string
		var tx, pos int64
		if err := rows.Scan(&name, &tx, &pos); err != nil {
			return nil, fmt.Errorf("checkpoints: %w", err)
		}
		out[name] = Position{Tx: uint64(tx), Pos: pos}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	return out, nil
}
