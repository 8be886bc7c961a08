package pipelines

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/domain"
)

// Reader answers queries on the pipeline read model.
type Reader struct {
	pool *pgxpool.Pool
}

// NewReader returns a Reader over rm_pipeline_statuses.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

// Statuses returns the tenant's lead statuses in order.
func (r *Reader) Statuses(ctx context.Context, tenantID uuid.UUID) ([]domain.PipelineStatus, error) {
	rows, err := r.pool.Query(ctx, `select id, key, name, color from rm_pipeline_statuses where tenant_id=$1 order by position, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("pipeline statuses: %w", err)
	}
	statuses, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.PipelineStatus, error) {
		var s domain.PipelineStatus
		err := row.Scan(&s.ID, &s.Key, &s.Name, &s.Color)
		return s, err
	})
	if err != nil {
		return nil, err
	}
	if len(statuses) == 0 {
		return domain.DefaultPipeline(), nil
	}
	return statuses, nil
}
