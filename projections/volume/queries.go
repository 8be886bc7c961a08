package volume

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Reader answers queries on the lead volume.
type Reader struct {
	pool *pgxpool.Pool
}

// NewReader returns a Reader over rm_lead_volume.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

// Row is how many leads created on Day now have Status.
type Row struct {
	Day    time.Time
	Status string
	Leads  int64
}

// Counts returns the tenant's lead counts per creation day (UTC) and
// current status for days in [from, to].
func (r *Reader) Counts(ctx context.Context, tenantID uuid.UUID, from, to time.Time) ([]Row, error) {
	rows, err := r.pool.Query(ctx, `select day, status, leads from rm_lead_volume
		where tenant_id=$1 and day between $2::date and $3::date order by day, status`,
		tenantID, from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("lead volume: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Row, error) {
		var v Row
		err := row.Scan(&v.Day, &v.Status, &v.Leads)
		return v, err
	})
}
