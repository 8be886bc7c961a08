package eventstore

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// An Eraser removes, inside the transaction of a commit that redacts
// streams (a permanent delete, or some of a stream's events), what another
// package keeps that was made from them and may quote what the redaction
// erases: the HTTP responses stored for replay (requestlog.Purge), say.
// Running in the commit's transaction, its work commits with the redaction
// or not at all; its error fails the commit. Stack wiring registers erasers
// with New, so the store imports none of the packages that keep such copies.
type Eraser func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, streams []uuid.UUID) error

// ShareStreams takes a share lock on the rows of the tenant's streams until
// tx ends, and reports whether one of them has been permanently deleted.
// The lock orders tx with a commit to one of them: a commit in flight (a
// delete, say) is waited for and then seen; a later one waits for tx, and
// so a delete's erasers see what tx wrote.
func ShareStreams(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, streams []uuid.UUID) (deleted bool, err error) {
	if _, err := tx.Exec(ctx, `select stream_id from streams where tenant_id = $1 and stream_id = any($2)
		order by stream_id for share`, tenant, streams); err != nil {
		return false, fmt.Errorf("share streams: %w", err)
	}
	if err := tx.QueryRow(ctx, `select exists (select 1 from events
		where tenant_id = $1 and stream_id = any($2) and redacted_at is not null)`, tenant, streams).Scan(&deleted); err != nil {
		return false, fmt.Errorf("share streams: %w", err)
	}
	return deleted, nil
}
