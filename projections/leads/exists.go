package leads

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// LiveLeads returns those of ids that name a live lead of the tenant (not
// deleted): one query for a page of rows that each name a lead.
func (r *Reader) LiveLeads(ctx context.Context, tenantID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	rows, err := r.pool.Query(ctx, `select id from rm_leads where tenant_id = $1 and id = any($2)`, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("live leads: %w", err)
	}
	live, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("live leads: %w", err)
	}
	out := make(map[uuid.UUID]bool, len(live))
	for _, id := range live {
		out[id] = true
	}
	return out, nil
}
