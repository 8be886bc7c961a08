package leads

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The lead counts are tables beside rm_leads, part of the Leads
// projection, that make a list's total a sum over a few rows instead of a
// count(*) over every matching lead:
//
//	rm_lead_counts       (tenant_id, status, source, priority, archived)      -> n
//	rm_lead_counts_daily (tenant_id, day, status, source, priority, archived) -> n
//	rm_prospect_counts   (tenant_id, status, prospect_type, archived)         -> n, value
//
// day is the lead's creation day in countsZone; value is the sum of the
// group's deal_value (the prospects KPIs' total). Groups whose n reaches 0
// are deleted, so the tables hold exactly the non-empty groups of rm_leads.
//
// Triggers on rm_leads keep them, whatever writes rm_leads (Projection.Apply, a
// bulk rebuild's COPY, an operator's UPDATE), so they can never disagree
// with it:
//
//   - statement-level AFTER triggers read the statement's transition tables
//     and append its net change per group to rm_lead_count_deltas;
//   - at commit, a deferred constraint trigger on rm_lead_count_deltas folds
//     the transaction's deltas into the count tables, once per group, and
//     deletes them.
//
// Folding at commit rather than per statement writes a hot group's row
// once per transaction instead of once per event: a projector batch of 500
// creates in one group leaves one row version, not 500 (Postgres cannot
// prune versions its own open transaction made, and a long transaction
// anywhere on the cluster keeps every version alive, so per-statement
// updates would make each update and each read walk ever longer chains).
// Every committed snapshot sees counts equal to rm_leads; only inside the
// writing transaction do they lag until its commit.
//
// The trigger functions live in public and find their tables in the schema
// of the table that fired them (TG_TABLE_SCHEMA): inside a replay schema
// they write that schema's counts, and after the tables move into public,
// public's. TRUNCATE empties the counts too. Anything that turns user
// triggers off (session_replication_role = replica, ALTER TABLE … DISABLE
// TRIGGER) must recount: see setupLeadCounts.

// countsZone is the zone whose calendar days rm_lead_counts_daily counts by:
// Cratio's, the only API that filters lists by creation date (IST days).
// Ranges on other boundaries stay exact: the partial days at their edges are
// counted on rm_leads.
var countsZone = time.FixedZone("IST", countsZoneOffset)

const countsZoneOffset = 5*3600 + 1800

// countsChanges is, for each trigger event, the statement's rows as
// (tenant_id, day, status, source, priority, archived, prospect_type, d, v):
// d is +1 for each new row, -1 for each old one, v its deal_value signed
// the same way.
var countsChanges = map[string]string{
	"INSERT": countsRows("new_rows", 1),
	"DELETE": countsRows("old_rows", -1),
	"UPDATE": countsRows("new_rows", 1) + " union all " + countsRows("old_rows", -1),
}

func countsRows(table string, d int) string {
	return fmt.Sprintf(`select tenant_id, ((created_at at time zone 'UTC') + interval '%d seconds')::date as day,
		status, source, priority, archived, prospect_type, %d as d, %d * deal_value as v from %s`, countsZoneOffset, d, d, table)
}

// countsTables are the tables the trigger functions write; qualify puts
// the schema before their names ("" resolves them on the search_path,
// "%1$I." leaves it to format() in a dynamic statement).
func countsTables(qualify string) *strings.Replacer {
	return strings.NewReplacer("DAILY", qualify+"rm_lead_counts_daily", "TOTAL", qualify+"rm_lead_counts",
		"PROSPECTS", qualify+"rm_prospect_counts", "DELTAS", qualify+"rm_lead_count_deltas")
}

// countsRecord appends a statement's changes to the deltas (a change of
// deal_value alone is a delta of value with n = 0), and the transaction's
// fold marker (n = 0, fold) with the first of them. Every
// statement on the deltas names the transaction's id: a long transaction
// elsewhere keeps the deleted deltas of every transaction since in the
// table, and the index on xid keeps them out of the way.
func countsRecord(changes string) []string {
	return []string{`insert into DELTAS (tenant_id, day, status, source, priority, archived, prospect_type, n, value)
			select tenant_id, day, status, source, priority, archived, prospect_type, sum(d), sum(v) from (` + changes + `) c
			group by 1, 2, 3, 4, 5, 6, 7 having sum(d) <> 0 or sum(v) <> 0`,
		`insert into DELTAS (tenant_id, day, status, source, priority, archived, prospect_type, n, fold)
			select tenant_id, day, status, source, priority, archived, prospect_type, 0, true from DELTAS
			where xid = pg_current_xact_id() and not exists (select 1 from DELTAS where xid = pg_current_xact_id() and fold) limit 1`}
}

// countsFold moves the deltas into the count tables: a group that reaches
// zero is deleted rather than updated, the others are added to (or
// inserted). If a concurrent writer changed a group first, the delete
// re-checks its condition on the new row, and the upsert covers whatever
// the delete did not take.
const countsFold = `with deltas as (delete from DELTAS where xid = pg_current_xact_id()
			returning tenant_id, day, status, source, priority, archived, prospect_type, n, value),
		prospects as (
			select tenant_id, status, prospect_type, archived, sum(n) as n, sum(value) as value from deltas
			group by 1, 2, 3, 4 having sum(n) <> 0 or sum(value) <> 0),
		gone_prospects as (
			delete from PROSPECTS t using prospects a
			where (t.tenant_id, t.status, t.prospect_type, t.archived) = (a.tenant_id, a.status, a.prospect_type, a.archived)
				and t.n + a.n = 0
			returning t.tenant_id, t.status, t.prospect_type, t.archived),
		up_prospects as (
			insert into PROSPECTS as t (tenant_id, status, prospect_type, archived, n, value)
			select * from prospects a where not exists (select 1 from gone_prospects g
				where (g.tenant_id, g.status, g.prospect_type, g.archived) = (a.tenant_id, a.status, a.prospect_type, a.archived))
			order by 1, 2, 3, 4
			on conflict (tenant_id, status, prospect_type, archived) do update set n = t.n + excluded.n, value = t.value + excluded.value),
		daily as (
			select tenant_id, day, status, source, priority, archived, sum(n) as n from deltas
			group by 1, 2, 3, 4, 5, 6 having sum(n) <> 0),
		total as (
			select tenant_id, status, source, priority, archived, sum(n) as n from daily
			group by 1, 2, 3, 4, 5 having sum(n) <> 0),
		gone_daily as (
			delete from DAILY t using daily a
			where (t.tenant_id, t.day, t.status, t.source, t.priority, t.archived)
				= (a.tenant_id, a.day, a.status, a.source, a.priority, a.archived) and t.n + a.n = 0
			returning t.tenant_id, t.day, t.status, t.source, t.priority, t.archived),
		up_daily as (
			insert into DAILY as t (tenant_id, day, status, source, priority, archived, n)
			select * from daily a where not exists (select 1 from gone_daily g
				where (g.tenant_id, g.day, g.status, g.source, g.priority, g.archived)
					= (a.tenant_id, a.day, a.status, a.source, a.priority, a.archived))
			order by 1, 2, 3, 4, 5, 6
			on conflict (tenant_id, day, status, source, priority, archived) do update set n = t.n + excluded.n),
		gone_total as (
			delete from TOTAL t using total a
			where (t.tenant_id, t.status, t.source, t.priority, t.archived)
				= (a.tenant_id, a.status, a.source, a.priority, a.archived) and t.n + a.n = 0
			returning t.tenant_id, t.status, t.source, t.priority, t.archived)
		insert into TOTAL as t (tenant_id, status, source, priority, archived, n)
		select * from total a where not exists (select 1 from gone_total g
			where (g.tenant_id, g.status, g.source, g.priority, g.archived)
				= (a.tenant_id, a.status, a.source, a.priority, a.archived))
		order by 1, 2, 3, 4, 5
		on conflict (tenant_id, status, source, priority, archived) do update set n = t.n + excluded.n`

// countsStatements returns PL/pgSQL that runs stmts with unqualified
// names when the firing table is in the search_path's first schema (the
// projector's public, replay's own schema: static statements, planned once
// per session and again when the search_path changes), else in
// TG_TABLE_SCHEMA by dynamic statements, planned every time.
func countsStatements(stmts ...string) string {
	var static, dynamic strings.Builder
	for _, st := range stmts {
		fmt.Fprintf(&static, "\n\t\t%s;", countsTables("").Replace(st))
		fmt.Fprintf(&dynamic, "\n\t\texecute format(%s, TG_TABLE_SCHEMA);", quote(countsTables("%1$I.").Replace(st)))
	}
	return "if TG_TABLE_SCHEMA = current_schema() then" + static.String() + "\n\telse" + dynamic.String() + "\n\tend if;"
}

// countsFunction records a statement's changes to rm_leads.
var countsFunction = `create or replace function public.` + countsFunctionName + ` returns trigger
language plpgsql as $fn$
declare
	changed bigint;
begin
	if TG_OP = 'TRUNCATE' then
		` + countsStatements(`delete from TOTAL`, `delete from DAILY`, `delete from PROSPECTS`, `delete from DELTAS where xid = pg_current_xact_id() and not fold`) + `
		return null;
	end if;
	if TG_OP = 'UPDATE' then
		-- Planned only here: an INSERT or DELETE has one transition table.
		if not exists (
			select tenant_id, created_at, status, source, priority, archived, prospect_type, deal_value from new_rows
			except all
			select tenant_id, created_at, status, source, priority, archived, prospect_type, deal_value from old_rows) then
			return null; -- no counted column changed (a profile edit)
		end if;
	end if;
	if TG_OP = 'INSERT' then
		` + countsStatements(countsRecord(countsChanges["INSERT"])[0]) + `
	elsif TG_OP = 'DELETE' then
		` + countsStatements(countsRecord(countsChanges["DELETE"])[0]) + `
	else
		` + countsStatements(countsRecord(countsChanges["UPDATE"])[0]) + `
	end if;
	get diagnostics changed = row_count;
	if changed = 0 then
		return null; -- nothing to fold (a statement that matched no row)
	end if;
	-- The marker, once per transaction and schema; the setting (local to
	-- the transaction, undone with a rolled-back savepoint like the marker)
	-- saves looking for it after every statement.
	if current_setting('crm.lead_counts_marked', true) is distinct from pg_current_xact_id()::text || TG_TABLE_SCHEMA then
		` + countsStatements(countsRecord("")[1]) + `
		perform set_config('crm.lead_counts_marked', pg_current_xact_id()::text || TG_TABLE_SCHEMA, true);
	end if;
	return null;
end
$fn$`

// foldFunction folds a transaction's deltas into the counts at commit.
var foldFunction = `create or replace function public.` + foldFunctionName + ` returns trigger
language plpgsql as $fn$
begin
	` + countsStatements(countsFold) + `
	return null;
end
$fn$`

// The trigger functions' names carry the version of the deltas they
// write: a replay sets up the new tables beside the live ones, whose
// triggers must keep calling the functions that fit them until the swap.
const (
	countsFunctionName = "crm_rm_leads_counts_v2()"
	foldFunctionName   = "crm_rm_lead_counts_fold_v2()"
)

// quote is s as a SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// countsTriggers are the triggers on rm_leads and rm_lead_count_deltas (in
// the search_path's first schema) that call the functions.
var countsTriggers = strings.NewReplacer("COUNTS", "public."+countsFunctionName, "FOLD", "public."+foldFunctionName).Replace(`
create trigger crm_counts_insert after insert on rm_leads referencing new table as new_rows
	for each statement execute function COUNTS;
create trigger crm_counts_update after update on rm_leads referencing old table as old_rows new table as new_rows
	for each statement execute function COUNTS;
create trigger crm_counts_delete after delete on rm_leads referencing old table as old_rows
	for each statement execute function COUNTS;
create trigger crm_counts_truncate after truncate on rm_leads
	for each statement execute function COUNTS;
create constraint trigger crm_counts_fold after insert on rm_lead_count_deltas deferrable initially deferred
	for each row when (new.fold) execute function FOLD;`)

// setupLeadCounts creates the count tables, the trigger functions and the
// triggers in the search_path's first schema, where rm_leads already is.
// If a trigger is missing (a database from before the counts, a new replay
// schema, triggers that were turned off and dropped), it creates them and
// counts rm_leads from scratch in the same transaction: creating a trigger
// locks out rm_leads' writers, so no write can fall between the count and
// the trigger.
func setupLeadCounts(ctx context.Context, tx pgx.Tx) error {
	// Replay and verify set up their schema without projections.SetupAll's lock; a
	// concurrent "create or replace function" of the same function fails.
	if _, err := tx.Exec(ctx, `select pg_advisory_xact_lock(hashtext('crm:setup:crm_rm_leads_counts'))`); err != nil {
		return err
	}
	for _, f := range []struct{ name, sql string }{
		{"public." + countsFunctionName, countsFunction}, {"public." + foldFunctionName, foldFunction},
	} {
		var current bool
		if err := tx.QueryRow(ctx, `select exists (select 1 from pg_proc where oid = to_regprocedure($1) and prosrc = $2)`,
			f.name, functionBody(f.sql)).Scan(&current); err != nil {
			return fmt.Errorf("lead counts function %s: %w", f.name, err)
		}
		if !current {
			if _, err := tx.Exec(ctx, f.sql); err != nil {
				return fmt.Errorf("lead counts function %s: %w", f.name, err)
			}
		}
	}
	if _, err := tx.Exec(ctx, `
create table if not exists rm_lead_counts (
	tenant_id uuid not null,
	status    text not null,
	source    text not null,
	priority  text not null,
	archived  boolean not null,
	n         bigint not null,
	primary key (tenant_id, status, source, priority, archived)
);
create table if not exists rm_lead_counts_daily (
	tenant_id uuid not null,
	day       date not null,
	status    text not null,
	source    text not null,
	priority  text not null,
	archived  boolean not null,
	n         bigint not null,
	primary key (tenant_id, day, status, source, priority, archived)
);
create table if not exists rm_prospect_counts (
	tenant_id     uuid not null,
	status        text not null,
	prospect_type int not null,
	archived      boolean not null,
	n             bigint not null,
	value         numeric not null,
	primary key (tenant_id, status, prospect_type, archived)
);
-- Empty between transactions: the deltas of the transaction in progress.
create table if not exists rm_lead_count_deltas (
	tenant_id uuid not null,
	day       date not null,
	status    text not null,
	source    text not null,
	priority  text not null,
	archived  boolean not null,
	prospect_type int not null,
	n         bigint not null,
	value     numeric not null default 0,
	fold      boolean not null default false,
	xid       xid8 not null default pg_current_xact_id()
);
create index if not exists rm_lead_count_deltas_xid on rm_lead_count_deltas (xid);`); err != nil {
		return fmt.Errorf("lead counts tables: %w", err)
	}
	var triggers int
	if err := tx.QueryRow(ctx, `select count(*) from pg_trigger where tgname like 'crm_counts_%' and tgenabled <> 'D'
		and tgrelid in (to_regclass(format('%I.rm_leads', current_schema())), to_regclass(format('%I.rm_lead_count_deltas', current_schema())))`).Scan(&triggers); err != nil {
		return fmt.Errorf("lead counts triggers: %w", err)
	}
	if triggers == 5 {
		return nil
	}
	if _, err := tx.Exec(ctx, `
drop trigger if exists crm_counts_insert on rm_leads;
drop trigger if exists crm_counts_update on rm_leads;
drop trigger if exists crm_counts_delete on rm_leads;
drop trigger if exists crm_counts_truncate on rm_leads;
drop trigger if exists crm_counts_fold on rm_lead_count_deltas;`+countsTriggers); err != nil {
		return fmt.Errorf("lead counts triggers: %w", err)
	}
	return Recount(ctx, tx)
}

// Recount counts the lead counts from scratch from rm_leads, in the
// search_path's first schema. The triggers keep them whatever writes
// rm_leads; a writer that turns them off (session_replication_role =
// replica, ALTER TABLE … DISABLE TRIGGER) must call this in the same
// transaction after its writes and before it turns them back on.
func Recount(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, fmt.Sprintf(`
delete from rm_lead_counts;
delete from rm_lead_counts_daily;
delete from rm_prospect_counts;
delete from rm_lead_count_deltas where not fold; -- a marker (n = 0) may stay: it folds nothing
insert into rm_prospect_counts (tenant_id, status, prospect_type, archived, n, value)
	select tenant_id, status, prospect_type, archived, count(*), sum(deal_value) from rm_leads group by 1, 2, 3, 4;
insert into rm_lead_counts_daily (tenant_id, day, status, source, priority, archived, n)
	select tenant_id, ((created_at at time zone 'UTC') + interval '%d seconds')::date, status, source, priority, archived, count(*)
	from rm_leads group by 1, 2, 3, 4, 5, 6;
insert into rm_lead_counts (tenant_id, status, source, priority, archived, n)
	select tenant_id, status, source, priority, archived, sum(n) from rm_lead_counts_daily group by 1, 2, 3, 4, 5;`, countsZoneOffset))
	if err != nil {
		return fmt.Errorf("count leads: %w", err)
	}
	return nil
}

// functionBody is the body Postgres stores for a create function statement.
func functionBody(sql string) string {
	_, body, _ := strings.Cut(sql, "$fn$")
	body, _, _ = strings.Cut(body, "$fn$")
	return body
}
