// Package pipelines is the read model of each tenant's lead statuses,
// rm_pipeline_statuses, folded from the tenant's pipeline stream
// (tenantPipeline, for live apply and bulk rebuild alike), and its query.
package pipelines

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// Projection is the read model of each tenant's lead statuses, in order. A
// tenant with no rows has the default pipeline.
type Projection struct{}

// Name implements projections.Projection.
func (Projection) Name() string { return "pipelines" }

// SchemaVersion implements projections.Versioned: bump it with any change to the tables.
func (Projection) SchemaVersion() int { return 1 }

// Tables implements projections.Projection.
func (Projection) Tables() []string { return []string{"rm_pipeline_statuses"} }

// Setup implements projections.Projection.
func (Projection) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
create table if not exists rm_pipeline_statuses (
	tenant_id uuid not null,
	id        bigint not null,
	key       text not null,
	name      text not null,
	color     text not null,
	position  integer not null,
	primary key (tenant_id, id)
)`)
	return err
}

// Apply implements projections.Projection: it loads the tenant's statuses, folds e into
// them as the bulk rebuild does (tenantPipeline), and writes back the
// difference.
func (Projection) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if e.StreamType != domain.PipelineStream {
		return nil
	}
	rows, err := tx.Query(ctx, `select id, key, name, color, position from rm_pipeline_statuses where tenant_id = $1`, e.TenantID)
	if err != nil {
		return fmt.Errorf("load pipeline: %w", err)
	}
	before := tenantPipeline{tenantID: e.TenantID}
	var r pipelineRow
	if _, err := pgx.ForEachRow(rows, []any{&r.status.ID, &r.status.Key, &r.status.Name, &r.status.Color, &r.position}, func() error {
		before.rows = append(before.rows, r)
		return nil
	}); err != nil {
		return fmt.Errorf("load pipeline: %w", err)
	}
	after := tenantPipeline{tenantID: before.tenantID, rows: slices.Clone(before.rows)}
	if err := after.Fold(e); err != nil {
		return err
	}
	for _, was := range before.rows {
		if after.find(was.status.ID) < 0 {
			if _, err := tx.Exec(ctx, `delete from rm_pipeline_statuses where tenant_id=$1 and id=$2`, e.TenantID, was.status.ID); err != nil {
				return err
			}
		}
	}
	for _, now := range after.rows {
		s := now.status
		switch i := before.find(s.ID); {
		case i < 0:
			_, err = tx.Exec(ctx, `insert into rm_pipeline_statuses (tenant_id, id, key, name, color, position)
				values ($1, $2, $3, $4, $5, $6)`, e.TenantID, s.ID, string(s.Key), s.Name, s.Color, now.position)
		case before.rows[i] != now:
			_, err = tx.Exec(ctx, `update rm_pipeline_statuses set key=$3, name=$4, color=$5, position=$6 where tenant_id=$1 and id=$2`,
				e.TenantID, s.ID, string(s.Key), s.Name, s.Color, now.position)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
