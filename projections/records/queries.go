package records

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
)

// Reader answers queries on owners' records.
type Reader struct {
	pool *pgxpool.Pool
}

// NewReader returns a Reader over rm_interactions, rm_contacts and rm_locations.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

// Owner is whose a record is: a lead's or a customer's.
type Owner struct {
	Type string // domain.LeadStream or domain.CustomerStream
	ID   uuid.UUID
}

// Interaction is a row of rm_interactions.
type Interaction struct {
	domain.Interaction
	Owner     Owner
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Contact is a row of rm_contacts.
type Contact struct {
	domain.Contact
	Owner     Owner
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Location is a row of rm_locations.
type Location struct {
	domain.Location
	Owner     Owner
	CreatedAt time.Time
	UpdatedAt time.Time
}

const interactionColumns = `i.owner_type, i.owner_id, i.number, i.id, i.kind, i.subject, i.notes, i.outcome,
	i.next_action, i.next_action_at, i.occurred_at, i.author, i.created_at, i.updated_at`

// dest is where a row of interactionColumns scans into.
func (i *Interaction) dest() []any {
	return []any{&i.Owner.Type, &i.Owner.ID, &i.Number, &i.ID, &i.Kind, &i.Subject, &i.Notes, &i.Outcome,
		&i.NextAction, &i.NextActionAt, &i.OccurredAt, &i.Author, &i.CreatedAt, &i.UpdatedAt}
}

const contactColumns = `owner_type, owner_id, number, name, email, phone, position, created_at, updated_at`

func (c *Contact) dest() []any {
	return []any{&c.Owner.Type, &c.Owner.ID, &c.Number, &c.Name, &c.Email, &c.Phone, &c.Position, &c.CreatedAt, &c.UpdatedAt}
}

const locationColumns = `owner_type, owner_id, number, name, link, type, created_at, updated_at`

func (l *Location) dest() []any {
	return []any{&l.Owner.Type, &l.Owner.ID, &l.Number, &l.Name, &l.Link, &l.Type, &l.CreatedAt, &l.UpdatedAt}
}

// scanner is a row type of this package: where its columns scan into.
type scanner[T any] interface {
	*T
	dest() []any
}

// all returns the rows of a query, or an error naming what.
func all[T any, P scanner[T]](ctx context.Context, pool *pgxpool.Pool, what, sql string, args ...any) ([]T, error) {
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) {
		var v T
		err := row.Scan(P(&v).dest()...)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// one returns the row a query finds, or projections.ErrNotFound.
func one[T any, P scanner[T]](ctx context.Context, pool *pgxpool.Pool, what, sql string, args ...any) (T, error) {
	var v T
	err := pool.QueryRow(ctx, sql, args...).Scan(P(&v).dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, projections.ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// Interactions returns the interactions of the tenant's owners (a client's
// detail shows its own and its source lead's), latest first.
func (r *Reader) Interactions(ctx context.Context, tenantID uuid.UUID, owners ...uuid.UUID) ([]Interaction, error) {
	return all[Interaction](ctx, r.pool, "interactions", `select `+interactionColumns+` from rm_interactions i
		where i.tenant_id=$1 and i.owner_id = any($2) order by i.occurred_at desc, i.number desc`, tenantID, owners)
}

// InteractionByNumber returns the tenant's interaction with the number, or
// projections.ErrNotFound.
func (r *Reader) InteractionByNumber(ctx context.Context, tenantID uuid.UUID, number int64) (Interaction, error) {
	return one[Interaction](ctx, r.pool, "interaction", `select `+interactionColumns+` from rm_interactions i
		where i.tenant_id=$1 and i.number=$2`, tenantID, number)
}

// InteractionByID returns the tenant's interaction with the id, or
// projections.ErrNotFound.
func (r *Reader) InteractionByID(ctx context.Context, tenantID, id uuid.UUID) (Interaction, error) {
	return one[Interaction](ctx, r.pool, "interaction", `select `+interactionColumns+` from rm_interactions i
		where i.tenant_id=$1 and i.id=$2`, tenantID, id)
}

// Contacts returns the contacts of the tenant's owners, in number order.
func (r *Reader) Contacts(ctx context.Context, tenantID uuid.UUID, owners ...uuid.UUID) ([]Contact, error) {
	return all[Contact](ctx, r.pool, "contacts", `select `+contactColumns+` from rm_contacts
		where tenant_id=$1 and owner_id = any($2) order by number`, tenantID, owners)
}

// ContactByNumber returns the tenant's contact with the number, or
// projections.ErrNotFound.
func (r *Reader) ContactByNumber(ctx context.Context, tenantID uuid.UUID, number int64) (Contact, error) {
	return one[Contact](ctx, r.pool, "contact", `select `+contactColumns+` from rm_contacts where tenant_id=$1 and number=$2`, tenantID, number)
}

// Locations returns the locations of the tenant's owners, in number order.
func (r *Reader) Locations(ctx context.Context, tenantID uuid.UUID, owners ...uuid.UUID) ([]Location, error) {
	return all[Location](ctx, r.pool, "locations", `select `+locationColumns+` from rm_locations
		where tenant_id=$1 and owner_id = any($2) order by number`, tenantID, owners)
}

// LocationByNumber returns the tenant's location with the number, or
// projections.ErrNotFound.
func (r *Reader) LocationByNumber(ctx context.Context, tenantID uuid.UUID, number int64) (Location, error) {
	return one[Location](ctx, r.pool, "location", `select `+locationColumns+` from rm_locations where tenant_id=$1 and number=$2`, tenantID, number)
}

// ActivityFilter selects the follow-ups of the prospects calendar: the
// interactions of one tenant's live leads whose next action falls in
// [From, To]; the other fields filter on the lead and, zero, do not.
type ActivityFilter struct {
	TenantID uuid.UUID
	From, To time.Time // inclusive
	Search   string    // in the lead's name, email, phone or company, case-insensitive
	Statuses []string  // the lead's pipeline status key (the follow-up status), any of
	Types    []int     // the lead's prospect type, any of (none set is 1, a prospect)
	Campaign string    // the lead's campaign id
	Salesman string    // whom the lead is assigned to
	// Ecommerce are the lead's ecommerce type ids, any of.
	Ecommerce []int64
	// ByRole says a role filter (kae, csr, wms, …) was given: no endpoint
	// writes those roles, so it matches nothing.
	ByRole          bool
	IncludeArchived bool
	Limit           int // 0: no limit
}

// Activity is a follow-up of the calendar with the lead it is about.
type Activity struct {
	Interaction
	LeadNumber  int64
	LeadName    string
	LeadCompany string
	LeadStatus  string // pipeline status key
}

// Activities returns the tenant's follow-ups in the filter's range, soonest
// first. It joins rm_leads (the leads read model) for the lead's name and
// status: what the filters ask of the lead is only there.
func (r *Reader) Activities(ctx context.Context, f ActivityFilter) ([]Activity, error) {
	if f.ByRole {
		return nil, nil
	}
	var w projections.Where
	w.Add("i.tenant_id = ?", f.TenantID)
	w.Add("i.owner_type = ?", domain.LeadStream)
	w.Add("i.next_action_at >= ?", f.From)
	w.Add("i.next_action_at <= ?", f.To)
	if !f.IncludeArchived {
		w.Add("l.archived = ?", false)
	}
	if f.Search != "" {
		w.Add("lower(l.name || ' ' || l.email || ' ' || l.phone || ' ' || l.company) like ?", projections.LikePattern(f.Search))
	}
	if len(f.Statuses) > 0 {
		w.Add("l.status = any(?)", f.Statuses)
	}
	if len(f.Types) > 0 {
		w.Add("coalesce((l.profile->>'prospect_type')::int, 1) = any(?)", f.Types)
	}
	if f.Campaign != "" {
		w.Add("l.profile->>'campaign_id' = ?", f.Campaign)
	}
	if f.Salesman != "" {
		w.Add("l.assigned_to = ?", f.Salesman)
	}
	if len(f.Ecommerce) > 0 {
		w.Add("(l.profile->>'ecommerce_type_id')::bigint = any(?)", f.Ecommerce)
	}
	sql := `select ` + interactionColumns + `, l.number, l.name, l.company, l.status
		from rm_interactions i join rm_leads l on l.tenant_id = i.tenant_id and l.id = i.owner_id
		where ` + w.String() + ` order by i.next_action_at, i.number`
	args := w.Args
	if f.Limit > 0 {
		args = append(args, f.Limit)
		sql += fmt.Sprintf(" limit $%d", len(args))
	}
	rows, err := r.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("activities: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Activity, error) {
		var a Activity
		err := row.Scan(append(a.Interaction.dest(), &a.LeadNumber, &a.LeadName, &a.LeadCompany, &a.LeadStatus)...)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("activities: %w", err)
	}
	return out, nil
}
