package eventstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// IdempotencyTTL is how long a commit's idempotency key replays its result
// (and so how long an HTTP response stored over it serves retries, see
// requestlog); after it the key is free again.
const IdempotencyTTL = 24 * time.Hour

// purgeIdempotencyKeys deletes, inside the transaction of a commit that
// redacts streams, every command result of the tenant made from one of them
// (it may quote their personal data), except the deleting commit's own key.
// A later commit with a purged key is a new commit.
func purgeIdempotencyKeys(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, streams []uuid.UUID, ownKey string) error {
	if _, err := tx.Exec(ctx, `delete from idempotency where tenant_id = $1 and stream_ids && $2::uuid[] and key <> $3`,
		tenant, streams, ownKey); err != nil {
		return fmt.Errorf("commit: purge idempotency keys of %v: %w", streams, err)
	}
	return nil
}

// ExpireIdempotencyKeys deletes the commits' idempotency keys older than
// IdempotencyTTL: a result may quote personal data, which must not outlive
// the 24 hours it serves retries for. It returns how many went.
func (s *Store) ExpireIdempotencyKeys(ctx context.Context) (int64, error) {
	var n int64
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(`select ` + NoEvents)
	b.Queue(`delete from idempotency where created_at < now() - make_interval(secs => $1)`, IdempotencyTTL.Seconds()).
		Exec(func(tag pgconn.CommandTag) error { n = tag.RowsAffected(); return nil })
	b.Queue("commit")
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("expire idempotency keys: %w", err)
	}
	return n, nil
}
