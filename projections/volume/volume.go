// Package volume is the lead volume read model behind the dashboards:
// leads counted by creation day and current status, each lead's row folded
// from its events (volumeLeadRow, for live apply and bulk rebuild alike),
// and its queries.
package volume

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// Projection counts leads by the UTC day they were created and their
// current status, for the lead-volume and total-leads dashboards: a status
// change moves a lead between the counts of its creation day.
type Projection struct{}

// Name implements projections.Projection.
func (Projection) Name() string { return "lead_volume" }

// SchemaVersion implements projections.Versioned: bump it with any change to the tables.
func (Projection) SchemaVersion() int { return 1 }

// Tables implements projections.Projection.
func (Projection) Tables() []string { return []string{"rm_lead_volume", "rm_lead_volume_leads"} }

// Setup implements projections.Projection.
func (Projection) Setup(ctx context.Context, tx pgx.Tx) error {
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

// Apply implements projections.Projection: it loads the lead's row (not for the
// lead's create: there is none yet), folds e into it as the bulk rebuild
// does (volumeLeadRow), writes back the difference and moves the counts by
// it.
func (Projection) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if e.StreamType != domain.LeadStream || !slices.Contains(volumeEvents, e.Type) {
		return nil
	}
	var before volumeLeadRow
	if e.Type != domain.LeadCreated {
		err := tx.QueryRow(ctx, `select day, status from rm_lead_volume_leads where tenant_id=$1 and lead_id=$2`,
			e.TenantID, e.StreamID).Scan(&before.day, &before.status)
		switch {
		case err == nil:
			before.present, before.tenantID, before.id = true, e.TenantID, e.StreamID
		case !errors.Is(err, pgx.ErrNoRows): // none: redacted history of a lead deleted later
			return fmt.Errorf("load lead %s: %w", e.StreamID, err)
		}
	}
	after := before
	if err := after.Fold(e); err != nil {
		return err
	}
	if before == after {
		return nil
	}
	var err error
	switch {
	case !before.present:
		_, err = tx.Exec(ctx, `insert into rm_lead_volume_leads values ($1, $2, $3, $4)`, e.TenantID, e.StreamID, after.day, after.status)
	case !after.present:
		_, err = tx.Exec(ctx, `delete from rm_lead_volume_leads where tenant_id=$1 and lead_id=$2`, e.TenantID, e.StreamID)
	default:
		_, err = tx.Exec(ctx, `update rm_lead_volume_leads set status=$3 where tenant_id=$1 and lead_id=$2`, e.TenantID, e.StreamID, after.status)
	}
	if err != nil {
		return err
	}
	if before.present {
		if err := countVolume(ctx, tx, e.TenantID, before.day, before.status, -1); err != nil {
			return err
		}
	}
	if after.present {
		return countVolume(ctx, tx, e.TenantID, after.day, after.status, 1)
	}
	return nil
}

// countVolume moves the count of leads of day and status by delta, keeping
// no count of zero.
func countVolume(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, day time.Time, status string, delta int) error {
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
