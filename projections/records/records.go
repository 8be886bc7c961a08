// Package records is the read model of owners' records: rm_interactions,
// rm_contacts and rm_locations, each holding the live records of leads and
// customers alike (owner_type 'lead' or 'customer'), folded from the owner's
// stream by ownerRecords for live apply and bulk rebuild alike, and their
// queries (an owner's records, one by number or id, and the prospects
// calendar).
package records

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// Projection is the records read model.
type Projection struct{}

// Name implements projections.Projection.
func (Projection) Name() string { return "records" }

// SchemaVersion implements projections.Versioned: bump it with any change to the tables.
func (Projection) SchemaVersion() int { return 1 }

// Tables implements projections.Projection.
func (Projection) Tables() []string {
	return []string{"rm_interactions", "rm_contacts", "rm_locations"}
}

// Setup implements projections.Projection. A record's number is unique per
// tenant (its owner's stream reserves it), so it is the key every path
// names; an interaction is found by its id too. rm_interactions_next serves
// the calendar: a tenant's follow-ups in a range of dates.
func (Projection) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
create table if not exists rm_interactions (
	tenant_id      uuid not null,
	owner_type     text not null,
	owner_id       uuid not null,
	number         bigint not null,
	id             uuid not null,
	kind           text not null,
	subject        text not null default '',
	notes          text not null default '',
	outcome        text not null default '',
	next_action    text not null default '',
	next_action_at timestamptz,
	occurred_at    timestamptz not null,
	author         text not null default '',
	created_at     timestamptz not null,
	updated_at     timestamptz not null,
	primary key (tenant_id, number)
);
create unique index if not exists rm_interactions_id on rm_interactions (tenant_id, id);
create index if not exists rm_interactions_owner on rm_interactions (tenant_id, owner_id, occurred_at desc, number desc);
create index if not exists rm_interactions_next on rm_interactions (tenant_id, next_action_at, number) where next_action_at is not null;
create table if not exists rm_contacts (
	tenant_id  uuid not null,
	owner_type text not null,
	owner_id   uuid not null,
	number     bigint not null,
	name       text not null,
	email      text not null default '',
	phone      text not null default '',
	position   text not null default '',
	created_at timestamptz not null,
	updated_at timestamptz not null,
	primary key (tenant_id, number)
);
create index if not exists rm_contacts_owner on rm_contacts (tenant_id, owner_id, number);
create table if not exists rm_locations (
	tenant_id  uuid not null,
	owner_type text not null,
	owner_id   uuid not null,
	number     bigint not null,
	name       text not null,
	link       text not null,
	type       text not null,
	created_at timestamptz not null,
	updated_at timestamptz not null,
	primary key (tenant_id, number)
);
create index if not exists rm_locations_owner on rm_locations (tenant_id, owner_id, number);`)
	return err
}

// Apply implements projections.Projection: for each table e changes, it
// loads the owner's records e can change (the one its number names, or all
// of them on the owner's delete), folds e into them as the bulk rebuild
// does (ownerRecords), and writes back the difference.
func (Projection) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if e.StreamType != domain.LeadStream && e.StreamType != domain.CustomerStream {
		return nil
	}
	var ev domain.Event
	for _, t := range tables {
		o, ok := t.ops[e.Type]
		if !ok {
			continue
		}
		if o != opClear && ev.Data == nil {
			var err error
			if ev, err = domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data); err != nil {
				return err
			}
		}
		before := ownerRecords{t: t}
		if err := before.load(ctx, tx, e, ev); err != nil {
			return fmt.Errorf("load %s of %s %s: %w", t.name, e.StreamType, e.StreamID, err)
		}
		after := ownerRecords{t: t, recs: append([]record(nil), before.recs...)}
		after.fold(e, ev)
		if err := after.write(ctx, tx, e, before); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}

// load reads the owner's records that e, decoded as ev, can change: the
// one its number names (none for redacted history), or all of the owner's
// on its delete. Only their numbers and creation times are read: a loaded
// record is kept, deleted or made again from e.
func (o *ownerRecords) load(ctx context.Context, tx pgx.Tx, e eventstore.Event, ev domain.Event) error {
	where, args := `tenant_id=$1 and owner_id=$2`, []any{e.TenantID, e.StreamID}
	if o.t.ops[e.Type] != opClear {
		var number int64
		if d, ok := ev.Data.(domain.RecordRemovedData); ok {
			number = d.Number
		} else {
			number, _ = o.t.form(ev)
		}
		if number == 0 {
			return nil
		}
		where, args = where+` and number=$3`, append(args, number)
	}
	rows, err := tx.Query(ctx, `select number, created_at from `+o.t.name+` where `+where, args...)
	if err != nil {
		return err
	}
	o.recs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (record, error) {
		var r record
		err := row.Scan(&r.number, &r.created)
		return r, err
	})
	return err
}

// write writes the change from before to o of one owner's records.
func (o *ownerRecords) write(ctx context.Context, tx pgx.Tx, e eventstore.Event, before ownerRecords) error {
	var gone []int64
	for _, r := range before.recs {
		if o.index(r.number) < 0 {
			gone = append(gone, r.number)
		}
	}
	if len(gone) > 0 {
		if _, err := tx.Exec(ctx, `delete from `+o.t.name+` where tenant_id=$1 and number = any($2)`, e.TenantID, gone); err != nil {
			return err
		}
	}
	for _, r := range o.recs {
		if r.row == nil {
			continue
		}
		if _, err := tx.Exec(ctx, o.t.upsert(), r.row...); err != nil {
			return err
		}
	}
	return nil
}

// upsert is the statement that writes a row of the table, new or changed.
func (t *table) upsert() string {
	cols := t.columns()
	params := make([]string, len(cols))
	var set []string
	for i, c := range cols {
		params[i] = "$" + strconv.Itoa(i+1)
		if c != "tenant_id" && c != "number" { // the key
			set = append(set, c+" = excluded."+c)
		}
	}
	return `insert into ` + t.name + ` (` + strings.Join(cols, ", ") + `) values (` + strings.Join(params, ", ") +
		`) on conflict (tenant_id, number) do update set ` + strings.Join(set, ", ")
}
