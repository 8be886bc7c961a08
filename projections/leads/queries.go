package leads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
)

// Reader answers queries on the lead list (rm_leads and the lead counts).
type Reader struct {
	pool *pgxpool.Pool
}

// NewReader returns a Reader over those tables.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

// Lead is a row of the lead list.
type Lead struct {
	ID        uuid.UUID
	Number    int64
	Status    string
	Archived  bool
	Profile   domain.LeadProfile
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Filter selects leads of one tenant; zero fields do not filter.
type Filter struct {
	TenantID    uuid.UUID
	CreatedFrom time.Time // inclusive
	CreatedTo   time.Time // exclusive
	Status      string
	Source      string
	Priority    string
	AssignedTo  string
	// Search is free text found in the name, email, phone or company
	// (case-insensitive; the trigram index of SearchLeads).
	Search          string
	IncludeArchived bool
	OnlyArchived    bool
	Limit, Offset   int
}

const leadColumns = `id, number, status, archived, profile, created_at, updated_at`

func scanLead(row pgx.Row) (Lead, error) {
	var l Lead
	var profile []byte
	if err := row.Scan(&l.ID, &l.Number, &l.Status, &l.Archived, &profile, &l.CreatedAt, &l.UpdatedAt); err != nil {
		return Lead{}, err
	}
	if err := unmarshalProfile(l.ID, profile, &l.Profile); err != nil {
		return Lead{}, err
	}
	return l, nil
}

// unmarshalProfile decodes the profile column of lead id.
func unmarshalProfile(id uuid.UUID, profile []byte, p *domain.LeadProfile) error {
	if err := json.Unmarshal(profile, p); err != nil {
		return fmt.Errorf("profile of lead %s: %w", id, err)
	}
	return nil
}

// ListLeads returns a page of leads, newest first, and the total that match.
// The total comes from the lead counts where the filter allows (see
// counts.go); both statements go in one round trip.
func (r *Reader) ListLeads(ctx context.Context, f Filter) ([]Lead, int64, error) {
	span, err := r.countsSpan(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	countSQL, countArgs := countLeadsSQL(f, span)
	_, _, pageSQL, pageArgs := ListSQL(f)
	var b pgx.Batch
	var total int64
	b.Queue(countSQL, countArgs...).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(&total); err != nil {
			return fmt.Errorf("count leads: %w", err)
		}
		return nil
	})
	var leads []Lead
	b.Queue(pageSQL, pageArgs...).Query(
		func(rows pgx.Rows) (err error) {
			leads, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Lead, error) { return scanLead(row) })
			if err != nil {
				return fmt.Errorf("list leads: %w", err)
			}
			return nil
		})
	if err := r.pool.SendBatch(ctx, &b).Close(); err != nil {
		return nil, 0, err
	}
	return leads, total, nil
}

// GetLead returns one lead of the tenant, or projections.ErrNotFound.
func (r *Reader) GetLead(ctx context.Context, tenantID, id uuid.UUID) (Lead, error) {
	l, err := scanLead(r.pool.QueryRow(ctx, `select `+leadColumns+` from rm_leads where tenant_id=$1 and id=$2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Lead{}, projections.ErrNotFound
	}
	return l, err
}

// GetLeadByNumber returns the tenant's lead with the per-tenant number.
func (r *Reader) GetLeadByNumber(ctx context.Context, tenantID uuid.UUID, number int64) (Lead, error) {
	l, err := scanLead(r.pool.QueryRow(ctx, `select `+leadColumns+` from rm_leads where tenant_id=$1 and number=$2`, tenantID, number))
	if errors.Is(err, pgx.ErrNoRows) {
		return Lead{}, projections.ErrNotFound
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
