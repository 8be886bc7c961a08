package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/eventstore"
)

// Versioned is a projection that declares the schema version of its
// tables. Bump it with any change to the tables' DDL or to what Apply
// writes: Deploy then rebuilds the read model by replay on existing
// deployments, where Setup's "create ... if not exists" would leave the old
// tables in place. A projection that is not Versioned is at version 1.
type Versioned interface {
	SchemaVersion() int
}

// SchemaVersion returns the schema version p declares (1 if none).
func SchemaVersion(p Projection) int {
	if v, ok := p.(Versioned); ok {
		return v.SchemaVersion()
	}
	return 1
}

// Deploy brings every projection's tables to the schema version it
// declares, before the process serves: a projection never deployed gets its
// tables (Setup) and its version recorded in projection_versions; one
// deployed at another version is rebuilt by Replay (fresh tables, swapped
// in, version recorded in the swap). Tables made before versions were
// recorded count as version 1. Concurrent starts take turns on the same
// per-projection lock as SetupAll, so one of them rebuilds and the others
// find the version current.
func Deploy(ctx context.Context, store *eventstore.Store, ps []Projection, logger *slog.Logger) error {
	for _, p := range ps {
		if err := deploy(ctx, store, p, logger); err != nil {
			return fmt.Errorf("deploy projection %s: %w", p.Name(), err)
		}
	}
	return nil
}

// deploy is Deploy for one projection, holding its setup lock throughout.
func deploy(ctx context.Context, store *eventstore.Store, p Projection, logger *slog.Logger) error {
	conn, err := store.Pool().Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `select pg_advisory_lock(hashtext('crm:setup:' || $1))`, p.Name()); err != nil {
		return err
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `select pg_advisory_unlock(hashtext('crm:setup:' || $1))`, p.Name())
	}()
	deployed, err := deployedVersion(ctx, conn, p)
	if err != nil {
		return err
	}
	want := SchemaVersion(p)
	if deployed != 0 && deployed != want {
		logger.Info("read model tables at another schema version: rebuilding by replay",
			"projection", p.Name(), "deployed", deployed, "version", want)
		return Replay(ctx, store, p, 0, nil)
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := p.Setup(ctx, tx); err != nil {
			return err
		}
		return recordVersion(ctx, tx, p)
	})
}

// deployedVersion returns the schema version p's tables are deployed at:
// the recorded one, 1 for tables made before versions were recorded, 0
// when none of its tables exists.
func deployedVersion(ctx context.Context, q eventstore.Querier, p Projection) (int, error) {
	var v int
	err := q.QueryRow(ctx, `select version from projection_versions where name = $1`, p.Name()).Scan(&v)
	if err == nil || !errors.Is(err, pgx.ErrNoRows) {
		return v, err
	}
	var exists bool
	if err := q.QueryRow(ctx, `select exists (select from unnest($1::text[]) t
		where to_regclass(format('public.%I', t)) is not null)`, p.Tables()).Scan(&exists); err != nil {
		return 0, err
	}
	if exists {
		return 1, nil
	}
	return 0, nil
}

// recordVersion records p's declared schema version as deployed.
func recordVersion(ctx context.Context, q eventstore.Querier, p Projection) error {
	_, err := q.Exec(ctx, `insert into projection_versions (name, version) values ($1, $2)
		on conflict (name) do update set version = excluded.version, updated_at = now()`, p.Name(), SchemaVersion(p))
	return err
}
