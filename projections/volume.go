package projections

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// LeadVolume counts leads by the UTC day they were created and their
// current status, for the lead-volume and total-leads dashboards: a status
// change moves a lead between the counts of its creation day.
type LeadVolume struct{}

// Name implements Projection.
func (LeadVolume) Name() string { return "lead_volume" }

// SchemaVersion implements Versioned: bump it with any change to the tables.
func (LeadVolume) SchemaVersion() int { return 1 }

// Tables implements Projection.
func (LeadVolume) Tables() []string { return []string{"rm_lead_volume", "rm_lead_volume_leads"} }

// Setup implements Projection.
func (LeadVolume) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
create table if not exists rm_lead_volume (
	tenant_id uuid not null,
	day       date not null,
	status    text not null,
	leads     integer not null,
	primary key (tenant_id, day, status)
);
create table if not exists rm_lead_volume_leads (
	tenant_id uuid not null,
	lead_id   uuid not null,
	day       date not null,
	status    text not null,
	primary key (tenant_id, lead_id)
)`)
	return err
}

// Apply implements Projection.
func (LeadVolume) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if e.StreamType != domain.LeadStream {
		return nil
	}
	switch e.Type {
	case domain.LeadCreated:
		ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
		if err != nil {
			return err
		}
		d := ev.Data.(domain.LeadCreatedData)
		if d.LeadID == uuid.Nil {
			return nil // redacted: deleted later
		}
		day := volumeDay(e).Format("2006-01-02")
		if _, err := tx.Exec(ctx, `insert into rm_lead_volume_leads values ($1, $2, $3, $4)`, e.TenantID, e.StreamID, day, string(d.Status)); err != nil {
			return err
		}
		return countVolume(ctx, tx, e.TenantID, day, string(d.Status), 1)
	case domain.LeadStatusChanged:
		ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
		if err != nil {
			return err
		}
		day, from, ok, err := volumeLead(ctx, tx, e)
		if err != nil || !ok {
			return err
		}
		to := string(ev.Data.(domain.LeadStatusChangedData).To)
		if _, err := tx.Exec(ctx, `update rm_lead_volume_leads set status=$3 where tenant_id=$1 and lead_id=$2`, e.TenantID, e.StreamID, to); err != nil {
			return err
		}
		if err := countVolume(ctx, tx, e.TenantID, day, from, -1); err != nil {
			return err
		}
		return countVolume(ctx, tx, e.TenantID, day, to, 1)
	case domain.LeadDeleted:
		day, status, ok, err := volumeLead(ctx, tx, e)
		if err != nil || !ok {
			return err
		}
		if _, err := tx.Exec(ctx, `delete from rm_lead_volume_leads where tenant_id=$1 and lead_id=$2`, e.TenantID, e.StreamID); err != nil {
			return err
		}
		return countVolume(ctx, tx, e.TenantID, day, status, -1)
	}
	return nil
}

func volumeLead(ctx context.Context, tx pgx.Tx, e eventstore.Event) (day, status string, ok bool, err error) {
	err = tx.QueryRow(ctx, `select day::text, status from rm_lead_volume_leads where tenant_id=$1 and lead_id=$2`,
		e.TenantID, e.StreamID).Scan(&day, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", false, nil // redacted history of a lead deleted later
	}
	return day, status, err == nil, err
}

func countVolume(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, day, status string, delta int) error {
	_, err := tx.Exec(ctx, `insert into rm_lead_volume (tenant_id, day, status, leads) values ($1, $2, $3, $4)
		on conflict (tenant_id, day, status) do update set leads = rm_lead_volume.leads + excluded.leads`,
		tenantID, day, status, delta)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `delete from rm_lead_volume where tenant_id=$1 and day=$2 and status=$3 and leads = 0`, tenantID, day, status)
	return err
}

// volumeDay is the day a lead created by e counts under: the UTC day it was
// recorded, as a date at midnight UTC.
func volumeDay(e eventstore.Event) time.Time {
	y, m, d := e.RecordedAt.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
