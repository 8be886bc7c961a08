package eventstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationTable records the applied migrations of the event store; it has
// its own name so other packages' goose migrations never share its history.
const migrationTable = "eventstore_migrations"

// migrationLockID is the advisory lock that serializes concurrent migrators
// (advisory locks are per database, so it only excludes migrators of one db).
const migrationLockID int64 = 0x63726d5f65730001 // "crm_es" + 1

// Migrate applies the event store's pending migrations (forward-only). It is
// safe to call from several processes at once: they take turns on a Postgres
// advisory lock, and the later ones find nothing left to do.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate event store: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithTableName(migrationTable),
		goose.WithSessionLocker(advisoryLocker{id: migrationLockID}),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("migrate event store: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate event store: %w", err)
	}
	return nil
}

// advisoryLocker is a goose session locker that waits on pg_advisory_lock
// instead of polling pg_try_advisory_lock every few seconds, so a second
// migrator proceeds as soon as the first one is done.
type advisoryLocker struct {
	id int64
}

// SessionLock blocks until the advisory lock is held by conn's session.
func (l advisoryLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, "select pg_advisory_lock($1)", l.id); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	return nil
}

// SessionUnlock releases the advisory lock held by conn's session.
func (l advisoryLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, "select pg_advisory_unlock($1)", l.id); err != nil {
		return fmt.Errorf("release migration lock: %w", err)
	}
	return nil
}
