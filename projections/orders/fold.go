package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// orderEvents are the order events that change a row of rm_orders: all of
// them.
var orderEvents = domain.OrderEventTypes()

// orderCopyColumns are the columns of rm_orders, in the order of
// orderRow.values.
var orderCopyColumns = []string{"tenant_id", "id", "customer_id", "product_id", "quantity", "status", "order_date",
	"shipping_address", "billing_address", "notes", "created_at", "updated_at"}

// orderRow is an order's row of rm_orders, folded from the order's own
// events: the one statement of what an order event means to the order
// list, used by the bulk rebuild and, row by row, by Apply.
type orderRow struct {
	present    bool // created (not redacted) and not deleted
	tenantID   uuid.UUID
	id         uuid.UUID
	customerID uuid.UUID
	status     string
	details    domain.OrderDetails
	createdAt  time.Time
	updatedAt  time.Time
}

// Fold folds one event of the order's stream into the row: an event for a
// row that does not exist (redacted history, or after a delete) changes
// nothing.
func (r *orderRow) Fold(e eventstore.Event) error {
	ev, err := domain.DecodeEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return err
	}
	switch d := ev.Data.(type) {
	case domain.OrderCreatedData:
		if d.OrderID == uuid.Nil {
			return nil // redacted: the order was permanently deleted later
		}
		if r.present {
			return fmt.Errorf("order %s created twice", e.StreamID)
		}
		*r = orderRow{present: true, tenantID: e.TenantID, id: e.StreamID, customerID: d.CustomerID, status: string(d.Status),
			details: d.Order, createdAt: e.RecordedAt, updatedAt: e.RecordedAt}
	case domain.OrderUpdatedData:
		if r.present {
			r.details, r.updatedAt = r.details.WithChanges(d.Changes), e.RecordedAt
		}
	case domain.OrderStatusChangedData:
		if r.present && d.To != "" {
			r.status, r.updatedAt = string(d.To), e.RecordedAt
		}
	case domain.OrderDeletedData:
		r.present = false
	}
	return nil
}

// values is the row in orderCopyColumns order, for COPY and for Apply's
// insert and update alike.
func (r *orderRow) values() []any {
	d := r.details
	return []any{projections.CopyUUID(r.tenantID), projections.CopyUUID(r.id), projections.CopyUUID(r.customerID),
		projections.CopyUUID(d.ProductID), d.Quantity, r.status, d.OrderDate, d.ShippingAddress, d.BillingAddress, d.Notes,
		r.createdAt, r.updatedAt}
}

// End emits the order's row if it exists.
func (r *orderRow) End(emit func([]any) error) error {
	done := *r
	*r = orderRow{}
	if !done.present {
		return nil
	}
	return emit(done.values())
}

// Rebuild implements projections.Rebuilder: it folds each order's stream
// into its final row, copies the rows into rm_orders and counts them into
// rm_order_counts.
func (Projection) Rebuild(ctx context.Context, b *projections.BulkBuild) error {
	err := b.CopyStreams(ctx, "rm_orders", orderCopyColumns,
		eventstore.ScanFilter{StreamTypes: []string{domain.OrderStream}, EventTypes: orderEvents, NoMetadata: true},
		func() projections.StreamFold { return &orderRow{} })
	if err != nil {
		return err
	}
	return orderCounts.Rebuild(ctx, b, "rm_orders")
}
