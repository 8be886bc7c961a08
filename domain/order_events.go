package domain

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// OrderStream is the stream type of an order: what a customer bought (a
// product by its opaque id; crm keeps no catalogue and no prices).
const OrderStream = "order"

// Event types of the order stream. These strings are stored: never rename one.
const (
	OrderCreated       = "order.created"
	OrderUpdated       = "order.updated"
	OrderStatusChanged = "order.status_changed"
	OrderDeleted       = "order.deleted"
)

// Event types an order writes in its customer's stream, in the same commit
// as its own creation or deletion: the customer counts its live orders,
// and a customer with orders cannot be deleted. An event in the customer's
// stream (rather than a reservation, or a query at delete time) is what
// makes that rule hold under concurrency: placing an order and deleting its
// customer both advance the customer's stream version, so one of two
// concurrent commits fails its version check and decides again on the
// other's result. These strings are stored: never rename one.
const (
	CustomerOrderPlaced  = "customer.order_placed"
	CustomerOrderRemoved = "customer.order_removed"
)

// OrderStatus is where an order is in its life: pending → processing →
// shipped → delivered, or cancelled from pending or processing.
type OrderStatus string

// The order statuses.
const (
	OrderPending    OrderStatus = "pending"
	OrderProcessing OrderStatus = "processing"
	OrderShipped    OrderStatus = "shipped"
	OrderDelivered  OrderStatus = "delivered"
	OrderCancelled  OrderStatus = "cancelled"
)

// OrderStatuses are the statuses, in the order an order moves through them
// (cancelled last: it is reached from the first two only).
var OrderStatuses = []OrderStatus{OrderPending, OrderProcessing, OrderShipped, OrderDelivered, OrderCancelled}

// OrderDetails are an order's fields other than its customer and status:
// what order.created stores whole and order.updated changes field by field
// (by these JSON names).
type OrderDetails struct {
	ProductID uuid.UUID `json:"product_id"`
	Quantity  int       `json:"quantity"`
	// OrderDate is when the order was placed (UTC); the command sets the
	// time of the request when none is given.
	OrderDate       time.Time `json:"order_date"`
	ShippingAddress string    `json:"shipping_address,omitempty"`
	BillingAddress  string    `json:"billing_address,omitempty"`
	Notes           string    `json:"notes,omitempty"`
}

// OrderCreatedData is the data of order.created.
type OrderCreatedData struct {
	OrderID    uuid.UUID    `json:"order_id"`
	CustomerID uuid.UUID    `json:"customer_id"`
	Status     OrderStatus  `json:"status"`
	Order      OrderDetails `json:"order"`
}

// OrderUpdatedData is the data of order.updated: the changed detail fields
// with their previous values, so the audit log reads on its own.
type OrderUpdatedData struct {
	OrderID uuid.UUID     `json:"order_id"`
	Changes []FieldChange `json:"changes"`
}

// OrderStatusChangedData is the data of order.status_changed.
type OrderStatusChangedData struct {
	OrderID uuid.UUID   `json:"order_id"`
	From    OrderStatus `json:"from"`
	To      OrderStatus `json:"to"`
}

// OrderDeletedData is the data of order.deleted (the order's earlier
// events are redacted in the same commit).
type OrderDeletedData struct {
	OrderID uuid.UUID `json:"order_id"`
}

// CustomerOrderData is the data of customer.order_placed and
// customer.order_removed: which order of the customer.
type CustomerOrderData struct {
	CustomerID uuid.UUID `json:"customer_id"`
	OrderID    uuid.UUID `json:"order_id"`
}

var (
	orderEvents = registerEvents(
		eventOf[OrderCreatedData](OrderCreated),
		eventOf[OrderUpdatedData](OrderUpdated),
		eventOf[OrderStatusChangedData](OrderStatusChanged),
		eventOf[OrderDeletedData](OrderDeleted),
	)
	customerOrderEvents = registerEvents(
		eventOf[CustomerOrderData](CustomerOrderPlaced),
		eventOf[CustomerOrderData](CustomerOrderRemoved),
	)
)

// OrderEventTypes returns every order event type.
func OrderEventTypes() []string { return slices.Clone(orderEvents) }

// CustomerOrderEventTypes returns the event types an order writes in its
// customer's stream.
func CustomerOrderEventTypes() []string { return slices.Clone(customerOrderEvents) }
