package customers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
)

// Reader answers queries on the customers (rm_customers, rm_lead_customers).
type Reader struct {
	pool *pgxpool.Pool
}

// NewReader returns a Reader over those tables.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

// Customer is a row of the customer list.
type Customer struct {
	ID     uuid.UUID
	Number int64
	// LeadID is the lead the customer was converted from (uuid.Nil: created
	// directly); the lead may be gone since.
	LeadID    uuid.UUID
	Follow    string // pipeline status key
	Profile   domain.CustomerProfile
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Filter selects customers of one tenant; zero fields do not filter.
type Filter struct {
	TenantID      uuid.UUID
	Status        string
	Type          string
	Search        string // in name, email, phone or company, case-insensitive
	Limit, Offset int
}

const customerColumns = `id, number, lead_id, follow, profile, created_at, updated_at`

func scanCustomer(row pgx.Row) (Customer, error) {
	var c Customer
	var lead pgtype.UUID
	var profile []byte
	if err := row.Scan(&c.ID, &c.Number, &lead, &c.Follow, &profile, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return Customer{}, err
	}
	c.LeadID = lead.Bytes
	if err := json.Unmarshal(profile, &c.Profile); err != nil {
		return Customer{}, fmt.Errorf("profile of customer %s: %w", c.ID, err)
	}
	return c, nil
}

// one returns the customer the query finds, or projections.ErrNotFound.
func (r *Reader) one(ctx context.Context, where string, args ...any) (Customer, error) {
	c, err := scanCustomer(r.pool.QueryRow(ctx, `select `+customerColumns+` from rm_customers where `+where, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return Customer{}, projections.ErrNotFound
	}
	if err != nil {
		return Customer{}, fmt.Errorf("get customer: %w", err)
	}
	return c, nil
}

// Get returns one customer of the tenant, or projections.ErrNotFound.
func (r *Reader) Get(ctx context.Context, tenantID, id uuid.UUID) (Customer, error) {
	return r.one(ctx, `tenant_id=$1 and id=$2`, tenantID, id)
}

// GetByNumber returns the tenant's customer with the per-tenant number, or
// projections.ErrNotFound.
func (r *Reader) GetByNumber(ctx context.Context, tenantID uuid.UUID, number int64) (Customer, error) {
	return r.one(ctx, `tenant_id=$1 and number=$2`, tenantID, number)
}

// List returns a page of the tenant's customers, newest first, and the
// total that match; both statements go in one round trip.
func (r *Reader) List(ctx context.Context, f Filter) ([]Customer, int64, error) {
	var w projections.Where
	w.Add("tenant_id = ?", f.TenantID)
	if f.Status != "" {
		w.Add("status = ?", f.Status)
	}
	if f.Type != "" {
		w.Add("type = ?", f.Type)
	}
	if f.Search != "" {
		w.Add("lower(name || ' ' || email || ' ' || phone || ' ' || company) like ?", projections.LikePattern(f.Search))
	}
	out, total, err := projections.PageWithTotal(ctx, r.pool, "rm_customers", customerColumns, &w, "created_at desc, id desc",
		f.Limit, f.Offset, func(row pgx.CollectableRow) (Customer, error) { return scanCustomer(row) })
	if err != nil {
		return nil, 0, fmt.Errorf("list customers: %w", err)
	}
	return out, total, nil
}

// LeadCustomer is the customer a lead was converted to.
type LeadCustomer struct {
	CustomerID     uuid.UUID
	CustomerNumber int64
}

// CustomerOfLead returns the live customer the tenant's lead was converted
// to, or projections.ErrNotFound (never converted, or the customer is gone).
func (r *Reader) CustomerOfLead(ctx context.Context, tenantID, leadID uuid.UUID) (LeadCustomer, error) {
	m, err := r.CustomersOfLeads(ctx, tenantID, []uuid.UUID{leadID})
	if err != nil {
		return LeadCustomer{}, err
	}
	c, ok := m[leadID]
	if !ok {
		return LeadCustomer{}, projections.ErrNotFound
	}
	return c, nil
}

// CustomersOfLeads maps those of the tenant's leads that were converted to
// a customer still live to it (a page of a lead list in one query).
func (r *Reader) CustomersOfLeads(ctx context.Context, tenantID uuid.UUID, leadIDs []uuid.UUID) (map[uuid.UUID]LeadCustomer, error) {
	rows, err := r.pool.Query(ctx, `select l.lead_id, l.customer_id, l.customer_number from rm_lead_customers l
		join rm_customers c on c.tenant_id = l.tenant_id and c.id = l.customer_id
		where l.tenant_id = $1 and l.lead_id = any($2)`, tenantID, leadIDs)
	if err != nil {
		return nil, fmt.Errorf("customers of leads: %w", err)
	}
	defer rows.Close()
	out := map[uuid.UUID]LeadCustomer{}
	for rows.Next() {
		var lead uuid.UUID
		var c LeadCustomer
		if err := rows.Scan(&lead, &c.CustomerID, &c.CustomerNumber); err != nil {
			return nil, fmt.Errorf("customers of leads: %w", err)
		}
		out[lead] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("customers of leads: %w", err)
	}
	return out, nil
}
