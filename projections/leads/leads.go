// Package leads is the lead list read model: rm_leads (one row per live
// lead, folded from the lead's events by leadRow, for live apply and bulk
// rebuild alike), the lead and prospect counts its triggers keep, their
// queries (the prospects API's Kanban, list and KPIs among them), and the
// fold of a lead's comments that the APIs read at request time.
package leads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// Projection is the lead list read model: one row per live lead with the columns
// the APIs filter and sort on, and the whole profile as JSON for the rest.
type Projection struct{}

// Name implements projections.Projection.
func (Projection) Name() string { return "leads" }

// SchemaVersion implements projections.Versioned: bump it with any change to the tables.
// Version 2 added the prospect columns and rm_prospect_counts.
func (Projection) SchemaVersion() int { return 2 }

// Tables implements projections.Projection. The lead counts are kept by triggers on
// rm_leads (counts.go), so they move and verify with it.
func (Projection) Tables() []string {
	return []string{"rm_leads", "rm_lead_counts", "rm_lead_counts_daily", "rm_prospect_counts", "rm_lead_count_deltas"}
}

// Setup implements projections.Projection.
func (Projection) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
create table if not exists rm_leads (
	tenant_id   uuid not null,
	id          uuid not null,
	number      bigint not null,
	name        text not null default '',
	email       text not null default '',
	phone       text not null default '',
	emails      text[] not null default '{}',
	phones      text[] not null default '{}',
	company     text not null default '',
	source      text not null default '',
	status      text not null default '',
	priority    text not null default '',
	assigned_to text not null default '',
	archived    boolean not null default false,
	profile     jsonb not null default '{}',
	created_at  timestamptz not null,
	updated_at  timestamptz not null,
	-- The prospects API's columns (prospects.go).
	deal_value           numeric not null default 0,
	prospect_type        int not null default 1,
	partner              boolean generated always as (prospect_type = 3) stored,
	monthly_shipments    bigint,
	campaign_id          text not null default '',
	qualification_status text not null default '',
	first_contact        timestamptz,
	last_contact         timestamptz,
	next_contact         timestamptz,
	status_changed_at    timestamptz not null default now(),
	interactions         jsonb not null default '{}',
	primary key (tenant_id, id)
);
create unique index if not exists rm_leads_number on rm_leads (tenant_id, number);
create index if not exists rm_leads_created on rm_leads (tenant_id, created_at desc, id desc);
create index if not exists rm_leads_assigned on rm_leads (tenant_id, assigned_to, created_at desc);
`+listIndexes+kanbanIndexes+`
create extension if not exists pg_trgm schema public;
create index if not exists rm_leads_search on rm_leads using gin (
	(lower(name || ' ' || email || ' ' || phone || ' ' || company)) public.gin_trgm_ops);`)
	if err != nil {
		return err
	}
	return setupLeadCounts(ctx, tx)
}

// listIndexes serve the list pages: for each combination of the status,
// source and priority filters, an index whose equality prefix is that
// combination and whose order is the list's (created_at desc, id desc), so a
// page is an index scan that stops after offset+limit rows (no filter uses
// rm_leads_created). archived trails: it is checked on the index tuple,
// without visiting the heap, so an archived-only list skips live leads
// cheaply. They replace rm_leads_status and rm_leads_source, which left
// ties on created_at (leads written in one batch) to a sort. The price is
// on writes: each index is one more entry per insert and per update of an
// indexed column (status changes, archive and restore are never HOT).
const listIndexes = `
create index if not exists rm_leads_by_status on rm_leads (tenant_id, status, created_at desc, id desc, archived);
create index if not exists rm_leads_by_source on rm_leads (tenant_id, source, created_at desc, id desc, archived);
create index if not exists rm_leads_by_priority on rm_leads (tenant_id, priority, created_at desc, id desc, archived);
create index if not exists rm_leads_by_status_source on rm_leads (tenant_id, status, source, created_at desc, id desc, archived);
create index if not exists rm_leads_by_status_source_priority on rm_leads (tenant_id, status, source, priority, created_at desc, id desc, archived);
create index if not exists rm_leads_by_status_priority on rm_leads (tenant_id, status, priority, created_at desc, id desc, archived);
create index if not exists rm_leads_by_source_priority on rm_leads (tenant_id, source, priority, created_at desc, id desc, archived);
do $$ begin
	execute format('drop index if exists %1$I.rm_leads_status, %1$I.rm_leads_source', current_schema());
end $$;`

// Apply implements projections.Projection: it loads the lead's row (not for the
// lead's create: there is none yet), folds e into it as the bulk rebuild
// does (leadRow), and writes back the difference.
func (Projection) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if e.StreamType != domain.LeadStream || !slices.Contains(leadRowEvents, e.Type) {
		return nil
	}
	var before leadRow
	if e.Type != domain.LeadCreated {
		if err := before.load(ctx, tx, e); err != nil {
			return fmt.Errorf("load lead %s: %w", e.StreamID, err)
		}
	}
	after := before
	if err := after.Fold(e); err != nil {
		return err
	}
	return writeLeadRow(ctx, tx, before, after)
}

// load reads the lead's row of e's stream; none leaves r not present
// (redacted history of a lead deleted later).
func (r *leadRow) load(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	var profile []byte
	var times []byte
	err := tx.QueryRow(ctx, `select number, status, archived, profile, created_at, updated_at, status_changed_at, interactions
		from rm_leads where tenant_id=$1 and id=$2`, e.TenantID, e.StreamID).
		Scan(&r.number, &r.status, &r.archived, &profile, &r.createdAt, &r.updatedAt, &r.statusChangedAt, &times)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(profile, &r.profile); err != nil {
		return err
	}
	if err := json.Unmarshal(times, &r.interactions); err != nil {
		return err
	}
	r.present, r.tenantID, r.id = true, e.TenantID, e.StreamID
	return nil
}

// writeLeadRow writes the change from before to after of one lead's row.
func writeLeadRow(ctx context.Context, tx pgx.Tx, before, after leadRow) error {
	if !after.present {
		if !before.present {
			return nil
		}
		_, err := tx.Exec(ctx, `delete from rm_leads where tenant_id=$1 and id=$2`, projections.CopyUUID(before.tenantID), projections.CopyUUID(before.id))
		return err
	}
	v, err := after.values()
	if err != nil {
		return fmt.Errorf("lead %s: %w", after.id, err)
	}
	if !before.present {
		_, err = tx.Exec(ctx, insertLead, v...)
		return err
	}
	_, err = tx.Exec(ctx, updateLead, v...)
	return err
}

// insertLead and updateLead write a row's leadCopyColumns (tenant_id and
// id first, the key of the update).
var insertLead, updateLead = func() (string, string) {
	params, sets := make([]string, len(leadCopyColumns)), make([]string, 0, len(leadCopyColumns))
	for i, c := range leadCopyColumns {
		params[i] = "$" + strconv.Itoa(i+1)
		if i >= 2 {
			sets = append(sets, c+"="+params[i])
		}
	}
	return `insert into rm_leads (` + strings.Join(leadCopyColumns, ", ") + `) values (` + strings.Join(params, ",") + `)`,
		`update rm_leads set ` + strings.Join(sets, ", ") + ` where tenant_id=$1 and id=$2`
}()

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
