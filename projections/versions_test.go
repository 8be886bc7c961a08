package projections

import (
	"context"
	"log/slog"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/eventstore"
)

// seenAt is seen with a declared schema version: from version 2 its table
// also keeps each event's type, a column version 1 did not have.
type seenAt struct{ version int }

func (seenAt) Name() string         { return "seen_at" }
func (seenAt) Tables() []string     { return []string{"rm_seen_at"} }
func (p seenAt) SchemaVersion() int { return p.version }
func (p seenAt) Setup(ctx context.Context, tx pgx.Tx) error {
	ddl := `create table if not exists rm_seen_at (event_id uuid primary key, pos bigint not null)`
	if p.version >= 2 {
		ddl = `create table if not exists rm_seen_at (event_id uuid primary key, pos bigint not null, type text not null)`
	}
	_, err := tx.Exec(ctx, ddl)
	return err
}
func (p seenAt) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if p.version >= 2 {
		_, err := tx.Exec(ctx, `insert into rm_seen_at values ($1, $2, $3)`, e.ID, e.Position.Pos, e.Type)
		return err
	}
	_, err := tx.Exec(ctx, `insert into rm_seen_at values ($1, $2)`, e.ID, e.Position.Pos)
	return err
}

func deployedAt(t *testing.T, ctx context.Context, store *eventstore.Store, name string) int {
	t.Helper()
	var v int
	if err := store.Pool().QueryRow(ctx, `select version from projection_versions where name = $1`, name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A read model deployed before versions were recorded counts as version 1
// and is kept; a start with its version bumped rebuilds it by replay (the
// new column exists and the rows equal a fresh replay's); a start at the
// version deployed keeps the tables as they are.
func TestDeployRebuildsAReadModelWhoseSchemaVersionChanged(t *testing.T) {
	store, ctx := newStoreWith(t, seenAt{version: 1}) // tables of an older deployment, no version recorded
	events := appendEvents(t, ctx, store, 25)
	logger := slog.New(slog.DiscardHandler)

	if err := Deploy(ctx, store, []Projection{seenAt{version: 1}}, logger); err != nil {
		t.Fatal(err)
	}
	if v, n := deployedAt(t, ctx, store, "seen_at"), countRows(t, ctx, store, "rm_seen_at"); v != 1 || n != 0 {
		t.Fatalf("deploy at the same version: version %d, %d rows; want 1 and the tables untouched (0 rows)", v, n)
	}

	if err := Deploy(ctx, store, []Projection{seenAt{version: 2}}, logger); err != nil {
		t.Fatal(err)
	}
	if v := deployedAt(t, ctx, store, "seen_at"); v != 2 {
		t.Fatalf("version %d after the bump, want 2", v)
	}
	var typed int
	if err := store.Pool().QueryRow(ctx, `select count(*) from rm_seen_at where type = $1`, events[0].Type).Scan(&typed); err != nil {
		t.Fatalf("the bumped table's new column: %v", err)
	}
	if typed != len(events) {
		t.Fatalf("%d rows with their type, want %d", typed, len(events))
	}
	diffs, err := Verify(ctx, store, seenAt{version: 2})
	if err != nil || diffs["rm_seen_at"] != 0 {
		t.Fatalf("rebuilt rows differ from a fresh replay: %v %v", diffs, err)
	}

	// At the deployed version, a start keeps the tables: a row no replay
	// would make survives it.
	if _, err := store.Pool().Exec(ctx, `insert into rm_seen_at values ($1, -1, 'marker')`, uuid.New()); err != nil {
		t.Fatal(err)
	}
	if err := Deploy(ctx, store, []Projection{seenAt{version: 2}}, logger); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, ctx, store, "rm_seen_at"); n != len(events)+1 {
		t.Fatalf("%d rows after a start at the deployed version, want %d (no rebuild)", n, len(events)+1)
	}
}
