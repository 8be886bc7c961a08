package orders

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

// Reader answers queries on the orders (rm_orders).
type Reader struct {
	pool *pgxpool.Pool
}

// NewReader returns a Reader over rm_orders.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

// Order is a row of the order list.
type Order struct {
	ID         uuid.UUID
	CustomerID uuid.UUID
	Status     domain.OrderStatus
	domain.OrderDetails
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Filter selects orders of one tenant; zero fields do not filter.
type Filter struct {
	TenantID      uuid.UUID
	CustomerID    uuid.UUID
	Status        domain.OrderStatus
	Limit, Offset int
}

const orderColumns = `id, customer_id, status, product_id, quantity, order_date, shipping_address, billing_address,
	notes, created_at, updated_at`

func scanOrder(row pgx.Row) (Order, error) {
	var o Order
	err := row.Scan(&o.ID, &o.CustomerID, &o.Status, &o.ProductID, &o.Quantity, &o.OrderDate, &o.ShippingAddress,
		&o.BillingAddress, &o.Notes, &o.CreatedAt, &o.UpdatedAt)
	o.OrderDate = o.OrderDate.UTC()
	return o, err
}

// Get returns one order of the tenant, or projections.ErrNotFound.
func (r *Reader) Get(ctx context.Context, tenantID, id uuid.UUID) (Order, error) {
	o, err := scanOrder(r.pool.QueryRow(ctx, `select `+orderColumns+` from rm_orders where tenant_id=$1 and id=$2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, projections.ErrNotFound
	}
	if err != nil {
		return Order{}, fmt.Errorf("get order: %w", err)
	}
	return o, nil
}

// List returns a page of the tenant's orders, newest order date first, and
// the total that match; both statements go in one round trip.
func (r *Reader) List(ctx context.Context, f Filter) ([]Order, int64, error) {
	var w projections.Where
	w.Add("tenant_id = ?", f.TenantID)
	if f.CustomerID != uuid.Nil {
		w.Add("customer_id = ?", f.CustomerID)
	}
	if f.Status != "" {
		w.Add("status = ?", string(f.Status))
	}
	out, total, err := projections.PageWithTotal(ctx, r.pool, "rm_orders", orderColumns, &w, "order_date desc, id desc",
		f.Limit, f.Offset, func(row pgx.CollectableRow) (Order, error) { return scanOrder(row) })
	if err != nil {
		return nil, 0, fmt.Errorf("list orders: %w", err)
	}
	return out, total, nil
}

// CustomerOrders is how many live orders a customer has: all of them, and
// those with an order date at or after a given time (the health score's
// recent orders), and the date of the newest.
type CustomerOrders struct {
	Total  int64
	Since  int64
	Newest time.Time // zero when none
}

// OrdersOfCustomers counts the orders of each of the tenant's customers
// named, and those dated at or after since, in one statement (a page of a
// customer list); a customer without orders is absent. Each customer's
// count reads its own orders by index.
func (r *Reader) OrdersOfCustomers(ctx context.Context, tenantID uuid.UUID, customerIDs []uuid.UUID, since time.Time) (map[uuid.UUID]CustomerOrders, error) {
	rows, err := r.pool.Query(ctx, `select customer_id, count(*), count(*) filter (where order_date >= $3), max(order_date)
		from rm_orders where tenant_id = $1 and customer_id = any($2) group by customer_id`, tenantID, customerIDs, since)
	if err != nil {
		return nil, fmt.Errorf("orders of customers: %w", err)
	}
	out := map[uuid.UUID]CustomerOrders{}
	var id uuid.UUID
	var c CustomerOrders
	_, err = pgx.ForEachRow(rows, []any{&id, &c.Total, &c.Since, &c.Newest}, func() error {
		c.Newest = c.Newest.UTC()
		out[id] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("orders of customers: %w", err)
	}
	return out, nil
}

// CountsSQL is the statement Counts runs.
const CountsSQL = `select status, n from rm_order_counts where tenant_id = $1`

// Counts returns the tenant's live orders by status, from rm_order_counts.
func (r *Reader) Counts(ctx context.Context, tenantID uuid.UUID) (map[string]int64, error) {
	rows, err := r.pool.Query(ctx, CountsSQL, tenantID)
	if err != nil {
		return nil, fmt.Errorf("order counts: %w", err)
	}
	counts := map[string]int64{}
	var status string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error { counts[status] = n; return nil }); err != nil {
		return nil, fmt.Errorf("order counts: %w", err)
	}
	return counts, nil
}
