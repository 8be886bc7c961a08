package projections

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// CallLogs is the call log read model.
type CallLogs struct{}

// Name implements Projection.
func (CallLogs) Name() string { return "call_logs" }

// SchemaVersion implements Versioned: bump it with any change to the tables.
func (CallLogs) SchemaVersion() int { return 1 }

// Tables implements Projection.
func (CallLogs) Tables() []string { return []string{"rm_call_logs"} }

// Setup implements Projection.
func (CallLogs) Setup(ctx context.Context, tx pgx.Tx) error {
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

// Apply implements Projection.
func (CallLogs) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if e.StreamType != domain.LeadStream {
		return nil
	}
	var err error
	switch e.Type {
	case domain.CallLogged:
		ev, derr := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
		if derr != nil {
			return derr
		}
		d := ev.Data.(domain.CallLoggedData)
		if d.CallLogID == uuid.Nil || d.Redacted {
			return nil // redacted: it or its lead was permanently deleted later
		}
		_, err = tx.Exec(ctx, `insert into rm_call_logs (tenant_id, id, lead_id, call_type, duration_seconds,
			outcome, notes, called_at, created_at, created_by) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
			callLogRow(e, d)...)
	case domain.CallLogDeleted:
		ev, derr := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
		if derr != nil {
			return derr
		}
		d := ev.Data.(domain.CallLogDeletedData)
		_, err = tx.Exec(ctx, `delete from rm_call_logs where tenant_id=$1 and id=$2`, e.TenantID, d.CallLogID)
	case domain.LeadDeleted:
		_, err = tx.Exec(ctx, `delete from rm_call_logs where tenant_id=$1 and lead_id=$2`, e.TenantID, e.StreamID)
	}
	return err
}

// callLogCopyColumns are the columns of rm_call_logs, in callLogRow's order.
var callLogCopyColumns = []string{"tenant_id", "id", "lead_id", "call_type", "duration_seconds",
	"outcome", "notes", "called_at", "created_at", "created_by"}

// callLogRow is the row of rm_call_logs that lead.call_logged e with data d
// makes.
func callLogRow(e eventstore.Event, d domain.CallLoggedData) []any {
	return []any{copyUUID(e.TenantID), copyUUID(d.CallLogID), copyUUID(e.StreamID), string(d.CallType),
		d.DurationSeconds, d.Outcome, d.Notes, d.CalledAt, e.RecordedAt, e.Metadata.Actor}
}
