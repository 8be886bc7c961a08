// Package orders is the order read model: rm_orders, one row per live
// order, folded from the order's stream by orderRow for live apply and bulk
// rebuild alike, and its queries.
package orders

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// Projection is the order read model.
type Projection struct{}

// Name implements projections.Projection.
func (Projection) Name() string { return "orders" }

// SchemaVersion implements projections.Versioned: bump it with any change to the tables.
// Version 2 added rm_order_counts.
func (Projection) SchemaVersion() int { return 2 }

// Tables implements projections.Projection.
func (Projection) Tables() []string { return []string{"rm_orders", "rm_order_counts"} }

// Setup implements projections.Projection. The list indexes end in the
// list's order (order_date desc, id desc), so a filtered page is an index
// scan that stops after offset+limit rows, and a filtered total an index
// (only) count; a customer's orders, whatever their status, are few.
func (Projection) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
create table if not exists rm_orders (
	tenant_id        uuid not null,
	id               uuid not null,
	customer_id      uuid not null,
	product_id       uuid not null,
	quantity         integer not null,
	status           text not null,
	order_date       timestamptz not null,
	shipping_address text not null default '',
	billing_address  text not null default '',
	notes            text not null default '',
	created_at       timestamptz not null,
	updated_at       timestamptz not null,
	primary key (tenant_id, id)
);
create index if not exists rm_orders_by_date on rm_orders (tenant_id, order_date desc, id desc);
create index if not exists rm_orders_by_customer on rm_orders (tenant_id, customer_id, order_date desc, id desc);
create index if not exists rm_orders_by_status on rm_orders (tenant_id, status, order_date desc, id desc);
-- The live orders by status, exactly the non-empty groups of rm_orders:
-- the reports' figures, a sum over a few rows.
create table if not exists rm_order_counts (
	tenant_id uuid not null,
	status    text not null,
	n         bigint not null,
	primary key (tenant_id, status)
);`)
	return err
}

// Apply implements projections.Projection: it loads the order's row,
// folds e into it as the bulk rebuild does, writes back the difference and
// moves the order from its old group of the counts to its new one.
func (Projection) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if e.StreamType != domain.OrderStream || !slices.Contains(orderEvents, e.Type) {
		return nil
	}
	var before orderRow
	if err := before.load(ctx, tx, e); err != nil {
		return fmt.Errorf("load order %s: %w", e.StreamID, err)
	}
	after := before
	if err := after.Fold(e); err != nil {
		return err
	}
	if err := writeOrderRow(ctx, tx, before, after); err != nil {
		return err
	}
	return orderCounts.Move(ctx, tx, e.TenantID, before.group(), after.group())
}

// orderCounts are rm_order_counts: the live orders by status.
var orderCounts = projections.NewCounts("rm_order_counts", "status")

// group is the order's group of rm_order_counts; nil when it has no row.
func (r *orderRow) group() []any {
	if !r.present {
		return nil
	}
	return []any{r.status}
}

// load reads the order's row of e's stream; none leaves r not present
// (not created yet, or redacted history of an order deleted later).
func (r *orderRow) load(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	d := &r.details
	err := tx.QueryRow(ctx, `select customer_id, product_id, quantity, status, order_date, shipping_address, billing_address,
		notes, created_at, updated_at from rm_orders where tenant_id=$1 and id=$2`, e.TenantID, e.StreamID).
		Scan(&r.customerID, &d.ProductID, &d.Quantity, &r.status, &d.OrderDate, &d.ShippingAddress, &d.BillingAddress,
			&d.Notes, &r.createdAt, &r.updatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	r.present, r.tenantID, r.id = true, e.TenantID, e.StreamID
	return nil
}

// writeOrderRow writes the change from before to after of one order's row.
func writeOrderRow(ctx context.Context, tx pgx.Tx, before, after orderRow) error {
	switch {
	case after.present && before.present:
		_, err := tx.Exec(ctx, `update rm_orders set customer_id=$3, product_id=$4, quantity=$5, status=$6, order_date=$7,
			shipping_address=$8, billing_address=$9, notes=$10, created_at=$11, updated_at=$12
			where tenant_id=$1 and id=$2`, after.values()...)
		return err
	case after.present:
		_, err := tx.Exec(ctx, `insert into rm_orders (tenant_id, id, customer_id, product_id, quantity, status, order_date,
			shipping_address, billing_address, notes, created_at, updated_at)
			values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`, after.values()...)
		return err
	case before.present:
		_, err := tx.Exec(ctx, `delete from rm_orders where tenant_id=$1 and id=$2`,
			projections.CopyUUID(before.tenantID), projections.CopyUUID(before.id))
		return err
	}
	return nil
}
