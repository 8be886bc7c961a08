package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// Pipelines is the read model of each tenant's lead statuses, in order. A
// tenant with no rows has the default pipeline.
type Pipelines struct{}

// Name implements Projection.
func (Pipelines) Name() string { return "pipelines" }

// SchemaVersion implements Versioned: bump it with any change to the tables.
func (Pipelines) SchemaVersion() int { return 1 }

// Tables implements Projection.
func (Pipelines) Tables() []string { return []string{"rm_pipeline_statuses"} }

// Setup implements Projection.
func (Pipelines) Setup(ctx context.Context, tx pgx.Tx) error {
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

// Apply implements Projection.
func (Pipelines) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if e.StreamType != domain.PipelineStream {
		return nil
	}
	ev, err := domain.DecodeEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return err
	}
	// The first change of a tenant's pipeline materializes the default one.
	var seeded bool
	if err := tx.QueryRow(ctx, `select exists (select 1 from rm_pipeline_statuses where tenant_id = $1)`, e.TenantID).Scan(&seeded); err != nil {
		return err
	}
	for i, s := range domain.DefaultPipeline() {
		if seeded {
			break
		}
		if _, err := tx.Exec(ctx, `insert into rm_pipeline_statuses (tenant_id, id, key, name, color, position)
			values ($1, $2, $3, $4, $5, $6)`, e.TenantID, s.ID, string(s.Key), s.Name, s.Color, i+1); err != nil {
			return err
		}
	}
	switch d := ev.Data.(type) {
	case domain.PipelineStatusData:
		if e.Type == domain.PipelineStatusDeleted {
			_, err = tx.Exec(ctx, `delete from rm_pipeline_statuses where tenant_id=$1 and id=$2`, e.TenantID, d.Status.ID)
			return err
		}
		_, err = tx.Exec(ctx, `insert into rm_pipeline_statuses (tenant_id, id, key, name, color, position)
			values ($1, $2, $3, $4, $5, (select coalesce(max(position), 0) + 1 from rm_pipeline_statuses where tenant_id = $1))`,
			e.TenantID, d.Status.ID, string(d.Status.Key), d.Status.Name, d.Status.Color)
	case domain.PipelineStatusChangedData:
		_, err = tx.Exec(ctx, `update rm_pipeline_statuses set name=$3, color=$4 where tenant_id=$1 and id=$2`,
			e.TenantID, d.To.ID, d.To.Name, d.To.Color)
	case domain.PipelineData:
		for i, s := range d.Statuses {
			if _, err = tx.Exec(ctx, `update rm_pipeline_statuses set position=$3 where tenant_id=$1 and id=$2`,
				e.TenantID, s.ID, i+1); err != nil {
				return err
			}
		}
	}
	return err
}
