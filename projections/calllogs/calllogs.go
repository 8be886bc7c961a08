// Package calllogs is the call log read model, rm_call_logs: each lead's
// live call logs folded from its events (leadCallLogs, for live apply and
// bulk rebuild alike), and its queries.
package calllogs

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// Projection is the call log read model.
type Projection struct{}

// Name implements projections.Projection.
func (Projection) Name() string { return "call_logs" }

// SchemaVersion implements projections.Versioned: bump it with any change to the tables.
func (Projection) SchemaVersion() int { return 1 }

// Tables implements projections.Projection.
func (Projection) Tables() []string { return []string{"rm_call_logs"} }

// Setup implements projections.Projection.
func (Projection) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
create table if not exists rm_call_logs (
	tenant_id        uuid not null,
	id               uuid not null,
	lead_id          uuid not null,
	call_type        text not null,
	duration_seconds integer not null,
	outcome          text not null default '',
	notes            text not null default '',
	called_at        timestamptz not null,
	created_at       timestamptz not null,
	created_by       text not null default '',
	primary key (tenant_id, id)
);
create index if not exists rm_call_logs_called on rm_call_logs (tenant_id, called_at desc, id desc);
create index if not exists rm_call_logs_lead on rm_call_logs (tenant_id, lead_id, called_at desc);`)
	return err
}

// Apply implements projections.Projection: it loads the call logs e can change, folds
// e into them as the bulk rebuild does (leadCallLogs), and writes back the
// difference.
func (Projection) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if e.StreamType != domain.LeadStream || !slices.Contains(callLogEvents, e.Type) {
		return nil
	}
	ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return err
	}
	var before leadCallLogs
	if err := before.load(ctx, tx, e, ev); err != nil {
		return fmt.Errorf("load call logs of lead %s: %w", e.StreamID, err)
	}
	after := leadCallLogs{rows: slices.Clone(before.rows)}
	if err := after.fold(e, ev); err != nil {
		return err
	}
	var gone []uuid.UUID
	for _, c := range before.rows {
		if !after.has(c.id) {
			gone = append(gone, c.id)
		}
	}
	if len(gone) > 0 {
		if _, err := tx.Exec(ctx, `delete from rm_call_logs where tenant_id=$1 and id = any($2)`, e.TenantID, gone); err != nil {
			return err
		}
	}
	for _, c := range after.rows {
		if !before.has(c.id) {
			if _, err := tx.Exec(ctx, `insert into rm_call_logs (tenant_id, id, lead_id, call_type, duration_seconds,
				outcome, notes, called_at, created_at, created_by) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`, c.row...); err != nil {
				return err
			}
		}
	}
	return nil
}

// load reads the ids of the call logs that e, decoded as ev, can change:
// a call log's first event has none yet, a delete has its own, and a
// lead's delete all of the lead's. Their rows stay unread: what is loaded is
// only ever kept or deleted.
func (l *leadCallLogs) load(ctx context.Context, tx pgx.Tx, e eventstore.Event, ev domain.Event) error {
	var rows pgx.Rows
	var err error
	switch d := ev.Data.(type) {
	case domain.CallLogDeletedData:
		rows, err = tx.Query(ctx, `select id from rm_call_logs where tenant_id=$1 and id=$2`, e.TenantID, d.CallLogID)
	case domain.LeadLifecycleData:
		rows, err = tx.Query(ctx, `select id from rm_call_logs where tenant_id=$1 and lead_id=$2`, e.TenantID, e.StreamID)
	default:
		return nil
	}
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	for _, id := range ids {
		l.rows = append(l.rows, callLog{id: id})
	}
	return err
}

// callLogCopyColumns are the columns of rm_call_logs, in callLogRow's order.
var callLogCopyColumns = []string{"tenant_id", "id", "lead_id", "call_type", "duration_seconds",
	"outcome", "notes", "called_at", "created_at", "created_by"}

// callLogRow is the row of rm_call_logs that lead.call_logged e with data d
// makes.
func callLogRow(e eventstore.Event, d domain.CallLoggedData) []any {
	return []any{projections.CopyUUID(e.TenantID), projections.CopyUUID(d.CallLogID), projections.CopyUUID(e.StreamID), string(d.CallType),
		d.DurationSeconds, d.Outcome, d.Notes, d.CalledAt, e.RecordedAt, e.Metadata.Actor}
}
