package domain

import (
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Order is the order aggregate: a quantity of a product a customer ordered,
// moving forward through its statuses. Its state only changes through
// Apply; decisions read it and return the events to append.
type Order struct {
	id         uuid.UUID
	customerID uuid.UUID
	status     OrderStatus
	details    OrderDetails
	exists     bool
	deleted    bool
	version    int
}

// Errors of order decisions.
var (
	// ErrOrderNotFound: the order was never created, or is deleted.
	ErrOrderNotFound = newError("not_found", "order not found")
	// ErrCustomerHasOrders refuses deleting a customer that has orders:
	// they would name a customer that is gone.
	ErrCustomerHasOrders = newError("conflict", "customer has orders")
)

// OrderTransitionError refuses moving an order's status backwards, or out
// of delivered or cancelled; it names both statuses.
type OrderTransitionError struct{ From, To OrderStatus }

// Error reads as "order status cannot move from shipped to pending".
func (e OrderTransitionError) Error() string {
	return fmt.Sprintf("order status cannot move from %s to %s", e.From, e.To)
}

// ErrorCode names the error's kind in crm's vocabulary (crmerr).
func (e OrderTransitionError) ErrorCode() string { return "conflict" }

// maxQuantity bounds an order's quantity: far above any real order, low
// enough that sums over a customer's orders never overflow.
const maxQuantity = 1_000_000

// orderFields are OrderDetails' fields by JSON name: what order.updated
// changes.
var orderFields = fieldsOf[OrderDetails]()

// ParseOrderStatus returns the status named s (exactly, lower case), or a
// ValidationError naming the field status.
func ParseOrderStatus(s string) (OrderStatus, error) {
	st := OrderStatus(s)
	if !slices.Contains(OrderStatuses, st) {
		return "", invalid("status", "must be one of pending, processing, shipped, delivered, cancelled")
	}
	return st, nil
}

// rank is the status's place on the forward path; cancelled is off it.
func (s OrderStatus) rank() int { return slices.Index(OrderStatuses, s) }

// canMoveTo reports whether an order may go from s to to: forward along
// pending → processing → shipped → delivered (skipping steps is moving
// forward), or to cancelled from pending or processing.
func (s OrderStatus) canMoveTo(to OrderStatus) bool {
	if to == OrderCancelled {
		return s == OrderPending || s == OrderProcessing
	}
	return s != OrderCancelled && to.rank() > s.rank()
}

// NewOrderFromHistory rebuilds an order's state from its stored events, in
// order. It is not a constructor and validates nothing: the events were
// accepted when they were decided.
func NewOrderFromHistory(events []Event) *Order {
	o := &Order{}
	for _, e := range events {
		o.Apply(e)
	}
	return o
}

// Apply evolves the order by one event: a pure switch over event types, no
// validation, no error, since stored events are facts.
func (o *Order) Apply(e Event) {
	o.version++
	switch e.Type {
	case OrderCreated:
		d := eventData[OrderCreatedData](e)
		o.exists = true
		o.id, o.customerID, o.status, o.details = d.OrderID, d.CustomerID, d.Status, d.Order
	case OrderUpdated:
		o.details = o.details.WithChanges(eventData[OrderUpdatedData](e).Changes)
	case OrderStatusChanged:
		o.status = eventData[OrderStatusChangedData](e).To
	case OrderDeleted:
		o.deleted = true
		if o.id == uuid.Nil {
			o.id = eventData[OrderDeletedData](e).OrderID // a redacted stream keeps order.deleted intact
		}
	}
}

// Exists reports whether the order was ever created (even if since deleted).
func (o *Order) Exists() bool { return o.exists }

// Deleted reports whether the order was deleted.
func (o *Order) Deleted() bool { return o.deleted }

// ID returns the order's id.
func (o *Order) ID() uuid.UUID { return o.id }

// CustomerID returns the customer who ordered.
func (o *Order) CustomerID() uuid.UUID { return o.customerID }

// Status returns the order's status.
func (o *Order) Status() OrderStatus { return o.status }

// Details returns the order's fields other than customer and status.
func (o *Order) Details() OrderDetails { return o.details }

// Version returns the number of events applied (the stream version a
// command expects when it appends).
func (o *Order) Version() int { return o.version }

// PlaceOrder decides the creation of order id by customer c with details d
// at status (empty: pending; an order may be recorded at any status, as
// when orders are imported). It returns order.created for the order's
// stream and customer.order_placed for the customer's, one commit. A
// customer never created or deleted is ErrCustomerNotFound.
func PlaceOrder(id uuid.UUID, c *Customer, d OrderDetails, status OrderStatus) (order, customer []Event, err error) {
	if id == uuid.Nil {
		return nil, nil, invalid("order_id", "must be set")
	}
	if err := c.mustExist(); err != nil {
		return nil, nil, err
	}
	if status == "" {
		status = OrderPending
	}
	if status, err = ParseOrderStatus(string(status)); err != nil {
		return nil, nil, err
	}
	if d, err = d.complete(); err != nil {
		return nil, nil, err
	}
	order = []Event{{Type: OrderCreated, Data: OrderCreatedData{OrderID: id, CustomerID: c.id, Status: status, Order: d}}}
	customer = []Event{{Type: CustomerOrderPlaced, Data: CustomerOrderData{CustomerID: c.id, OrderID: id}}}
	return order, customer, nil
}

// WithChanges returns d with changes (order.updated's) applied, as the
// order's own fold applies them: read models use it so an update means the
// same everywhere.
func (d OrderDetails) WithChanges(changes []FieldChange) OrderDetails {
	orderFields.apply(&d, changes)
	return d
}

// complete checks d can be an order's details and returns it in stored
// form (the date in UTC).
func (d OrderDetails) complete() (OrderDetails, error) {
	switch {
	case d.ProductID == uuid.Nil:
		return d, invalid("product_id", "must be set")
	case d.Quantity < 1 || d.Quantity > maxQuantity:
		return d, invalid("quantity", fmt.Sprintf("must be between 1 and %d", maxQuantity))
	case d.OrderDate.IsZero():
		return d, invalid("order_date", "must be set")
	}
	d.OrderDate = d.OrderDate.UTC()
	return d, orderFields.checkTextLengths(d)
}

// Update decides replacing the order's details by d (a partial update
// starts d from Details()) and moving it to status to (empty: unchanged).
// It returns order.updated when a detail changed, then
// order.status_changed when the status did; nothing changed, no event. A
// status it cannot move to is OrderTransitionError.
func (o *Order) Update(d OrderDetails, to OrderStatus) ([]Event, error) {
	if err := o.mustExist(); err != nil {
		return nil, err
	}
	d, err := d.complete()
	if err != nil {
		return nil, err
	}
	var out []Event
	if to != "" && to != o.status {
		if to, err = ParseOrderStatus(string(to)); err != nil {
			return nil, err
		}
		if !o.status.canMoveTo(to) {
			return nil, OrderTransitionError{From: o.status, To: to}
		}
	}
	changes, err := orderFields.diff(o.details, d)
	if err != nil {
		return nil, err
	}
	if len(changes) > 0 {
		out = append(out, Event{Type: OrderUpdated, Data: OrderUpdatedData{OrderID: o.id, Changes: changes}})
	}
	if to != "" && to != o.status {
		out = append(out, Event{Type: OrderStatusChanged, Data: OrderStatusChangedData{OrderID: o.id, From: o.status, To: to}})
	}
	return out, nil
}

// Delete decides deleting the order for good (the store redacts its
// stream): order.deleted for the order's stream and customer.order_removed
// for its customer c's, one commit (none when c is nil: a customer with
// orders cannot be deleted, so that is only defensive). Deleting twice is
// ErrOrderNotFound.
func (o *Order) Delete(c *Customer) (order, customer []Event, err error) {
	if err := o.mustExist(); err != nil {
		return nil, nil, err
	}
	order = []Event{{Type: OrderDeleted, Data: OrderDeletedData{OrderID: o.id}}}
	if c == nil {
		return order, nil, nil
	}
	if c.id != o.customerID {
		return nil, nil, fmt.Errorf("delete order %s: customer %s is not its customer %s", o.id, c.id, o.customerID)
	}
	customer = []Event{{Type: CustomerOrderRemoved, Data: CustomerOrderData{CustomerID: c.id, OrderID: o.id}}}
	return order, customer, nil
}

func (o *Order) mustExist() error {
	if !o.exists || o.deleted {
		return ErrOrderNotFound
	}
	return nil
}

// Orders returns how many live orders the customer has.
func (c *Customer) Orders() int { return c.orders }

// applyOrder counts the customer's live orders; it reports whether e was
// one of the order events of the customer's stream. It counts and keeps no
// ids, so a redacted stream (zero data) still counts right.
func (c *Customer) applyOrder(e Event) bool {
	switch e.Type {
	case CustomerOrderPlaced:
		c.orders++
	case CustomerOrderRemoved:
		c.orders--
	default:
		return false
	}
	return true
}
