package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
)

// GetLeadByNumber returns the tenant's lead with the per-tenant number.
func (r *Reader) GetLeadByNumber(ctx context.Context, tenantID uuid.UUID, number int64) (Lead, error) {
	l, err := scanLead(r.pool.QueryRow(ctx, `select `+leadColumns+` from rm_leads where tenant_id=$1 and number=$2`, tenantID, number))
	if errors.Is(err, pgx.ErrNoRows) {
		return Lead{}, ErrNotFound
	}
	return l, err
}

// LeadIDsByNumber maps the tenant's lead numbers to lead ids; numbers with
// no lead are left out.
func (r *Reader) LeadIDsByNumber(ctx context.Context, tenantID uuid.UUID, numbers []int64) (map[int64]uuid.UUID, error) {
	rows, err := r.pool.Query(ctx, `select number, id from rm_leads where tenant_id=$1 and number = any($2)`, tenantID, numbers)
	if err != nil {
		return nil, fmt.Errorf("leads by number: %w", err)
	}
	defer rows.Close()
	out := map[int64]uuid.UUID{}
	for rows.Next() {
		var n int64
		var id uuid.UUID
		if err := rows.Scan(&n, &id); err != nil {
			return nil, err
		}
		out[n] = id
	}
	return out, rows.Err()
}

// likePattern escapes q for a LIKE match anywhere in the text.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(q)) + "%"
}

// SearchLeads finds the tenant's live leads whose name, email, phone or
// company contains q (case-insensitive), newest first; a trigram index
// keeps it fast on large tenants.
func (r *Reader) SearchLeads(ctx context.Context, tenantID uuid.UUID, q string, limit, offset int) ([]Lead, int64, error) {
	const match = `tenant_id = $1 and not archived and lower(name || ' ' || email || ' ' || phone || ' ' || company) like $2`
	pattern := likePattern(q)
	var total int64
	if err := r.pool.QueryRow(ctx, `select count(*) from rm_leads where `+match, tenantID, pattern).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count search: %w", err)
	}
	rows, err := r.pool.Query(ctx, `select `+leadColumns+` from rm_leads where `+match+
		` order by created_at desc, id desc limit $3 offset $4`, tenantID, pattern, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("search leads: %w", err)
	}
	leads, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Lead, error) { return scanLead(row) })
	return leads, total, err
}

// CountByStatus counts the tenant's live (not archived) leads per status key.
func (r *Reader) CountByStatus(ctx context.Context, tenantID uuid.UUID) (map[string]int64, error) {
	rows, err := r.pool.Query(ctx, `select status, sum(n)::bigint from rm_lead_counts where tenant_id=$1 and not archived group by status`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("count by status: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// StatusInUse reports whether any lead of the tenant (archived ones too)
// holds the status key.
func (r *Reader) StatusInUse(ctx context.Context, tenantID uuid.UUID, key string) (bool, error) {
	var used bool
	err := r.pool.QueryRow(ctx, `select exists (select 1 from rm_lead_counts where tenant_id=$1 and status=$2)`, tenantID, key).Scan(&used)
	return used, err
}

// PipelineStatuses returns the tenant's lead statuses in order.
func (r *Reader) PipelineStatuses(ctx context.Context, tenantID uuid.UUID) ([]domain.PipelineStatus, error) {
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

// VolumeRow is how many leads created on Day now have Status.
type VolumeRow struct {
	Day    time.Time
	Status string
	Leads  int64
}

// LeadVolume returns the tenant's lead counts per creation day (UTC) and
// current status for days in [from, to].
func (r *Reader) LeadVolume(ctx context.Context, tenantID uuid.UUID, from, to time.Time) ([]VolumeRow, error) {
	rows, err := r.pool.Query(ctx, `select day, status, leads from rm_lead_volume
		where tenant_id=$1 and day between $2::date and $3::date order by day, status`,
		tenantID, from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("lead volume: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (VolumeRow, error) {
		var v VolumeRow
		err := row.Scan(&v.Day, &v.Status, &v.Leads)
		return v, err
	})
}
