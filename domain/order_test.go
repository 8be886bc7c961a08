package domain

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var (
	orderID   = uuid.MustParse("01956c1e-7a00-7000-8000-0000000000d1")
	productID = uuid.MustParse("01956c1e-7a00-7000-8000-0000000000e1")
	orderedAt = time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)
)

func details() OrderDetails {
	return OrderDetails{ProductID: productID, Quantity: 2, OrderDate: orderedAt, ShippingAddress: "123 Main St", Notes: "Rush delivery"}
}

func orderCreated(status OrderStatus) Event {
	return Event{Type: OrderCreated, Data: OrderCreatedData{OrderID: orderID, CustomerID: customerID, Status: status, Order: details()}}
}

func orderStatusChanged(from, to OrderStatus) Event {
	return Event{Type: OrderStatusChanged, Data: OrderStatusChangedData{OrderID: orderID, From: from, To: to}}
}

func orderPlaced() Event {
	return Event{Type: CustomerOrderPlaced, Data: CustomerOrderData{CustomerID: customerID, OrderID: orderID}}
}

func orderRemoved() Event {
	return Event{Type: CustomerOrderRemoved, Data: CustomerOrderData{CustomerID: customerID, OrderID: orderID}}
}

// orderSamples holds one filled-in event of every order and feedback event
// type, and of the order events of a customer's stream.
func orderSamples() map[string]Event {
	return map[string]Event{
		OrderCreated:              orderCreated(OrderPending),
		OrderUpdated:              {Type: OrderUpdated, Data: OrderUpdatedData{OrderID: orderID, Changes: []FieldChange{change("quantity", `2`, `3`)}}},
		OrderStatusChanged:        orderStatusChanged(OrderPending, OrderShipped),
		OrderDeleted:              {Type: OrderDeleted, Data: OrderDeletedData{OrderID: orderID}},
		CustomerOrderPlaced:       orderPlaced(),
		CustomerOrderRemoved:      orderRemoved(),
		FeedbackRequested:         feedbackRequested(),
		FeedbackReceived:          feedbackReceived(5, "Great service!", "support"),
		FeedbackExpired:           {Type: FeedbackExpired, Data: FeedbackExpiredData{FeedbackID: feedbackID, CustomerID: customerID}},
		FeedbackDeleted:           {Type: FeedbackDeleted, Data: FeedbackDeletedData{FeedbackID: feedbackID, CustomerID: customerID}},
		FeedbackReminded:          feedbackReminded(1),
		CustomerFeedbackRequested: {Type: CustomerFeedbackRequested, Data: CustomerFeedbackData{FeedbackID: feedbackID}},
	}
}

// Every order and feedback event survives storage, and decodes from
// redacted data to its zero data.
func TestOrderAndFeedbackEventsRoundTrip(t *testing.T) {
	samples := orderSamples()
	types := slices.Concat(OrderEventTypes(), CustomerOrderEventTypes(), FeedbackEventTypes(), CustomerFeedbackEventTypes())
	if len(samples) != len(types) {
		t.Errorf("%d samples for %d event types", len(samples), len(types))
	}
	for _, eventType := range types {
		e, ok := samples[eventType]
		if !ok {
			t.Fatalf("no sample event of type %s", eventType)
		}
		roundTrip(t, e)
		got, err := DecodeEvent(eventType, SchemaVersion, Redacted)
		if zero := reflect.Zero(reflect.TypeOf(e.Data)).Interface(); err != nil || !reflect.DeepEqual(got.Data, zero) {
			t.Errorf("%s redacted: %+v %v", eventType, got, err)
		}
	}
}

func TestPlaceOrder(t *testing.T) {
	c := NewCustomerFromHistory([]Event{customerCreated(uuid.Nil, ashaCustomer())})
	// When: an order is placed with no status, at a date in another zone.
	d := details()
	d.OrderDate = orderedAt.In(time.FixedZone("IST", 19800))
	order, customer, err := PlaceOrder(orderID, c, d, "")
	if err != nil {
		t.Fatal(err)
	}
	// Then: order.created at pending with the date in UTC, and the
	// customer's stream counts the order.
	if !reflect.DeepEqual(order, []Event{orderCreated(OrderPending)}) || !reflect.DeepEqual(customer, []Event{orderPlaced()}) {
		t.Fatalf("got %s %s", dump(order), dump(customer))
	}
	for _, e := range append(order, customer...) {
		roundTrip(t, e)
	}
	c.Apply(customer[0])
	if c.Orders() != 1 {
		t.Fatalf("customer counts %d orders", c.Orders())
	}
	// At a status given.
	if order, _, err := PlaceOrder(orderID, c, details(), OrderShipped); err != nil || eventData[OrderCreatedData](order[0]).Status != OrderShipped {
		t.Fatalf("placed shipped: %s %v", dump(order), err)
	}
}

func TestPlaceOrderRefusesBadInput(t *testing.T) {
	c := NewCustomerFromHistory([]Event{customerCreated(uuid.Nil, ashaCustomer())})
	for field, d := range map[string]OrderDetails{
		"product_id":       {Quantity: 1, OrderDate: orderedAt},
		"quantity":         {ProductID: productID, OrderDate: orderedAt},
		"order_date":       {ProductID: productID, Quantity: 1},
		"shipping_address": {ProductID: productID, Quantity: 1, OrderDate: orderedAt, ShippingAddress: strings.Repeat("a", maxTextLen+1)},
		"notes":            {ProductID: productID, Quantity: 1, OrderDate: orderedAt, Notes: strings.Repeat("a", maxLongTextLen+1)},
	} {
		if _, _, err := PlaceOrder(orderID, c, d, ""); err == nil {
			t.Errorf("%s: accepted", field)
		} else {
			wantField(t, err, field)
		}
	}
	huge := details()
	huge.Quantity = maxQuantity + 1
	if _, _, err := PlaceOrder(orderID, c, huge, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("quantity %d: %v", huge.Quantity, err)
	}
	if _, _, err := PlaceOrder(orderID, c, details(), "lost"); err == nil {
		t.Error("status lost accepted")
	} else {
		wantField(t, err, "status")
	}
	// A customer never created, or deleted, is not found.
	gone := NewCustomerFromHistory([]Event{customerCreated(uuid.Nil, ashaCustomer()), {Type: CustomerDeleted, Data: CustomerDeletedData{CustomerID: customerID}}})
	for name, c := range map[string]*Customer{"never created": NewCustomerFromHistory(nil), "deleted": gone} {
		if _, _, err := PlaceOrder(orderID, c, details(), ""); !errors.Is(err, ErrCustomerNotFound) {
			t.Errorf("%s customer: %v", name, err)
		}
	}
}

// decision is one Given events / When command / Then events (or error)
// case of an aggregate A folded by fold: the scenarios of the order and
// feedback aggregates.
type decision[A folded] struct {
	name  string
	given []Event
	when  func(A) ([]Event, error)
	then  []Event
	err   error  // matched with errors.Is
	field string // the ValidationError's field, when the command is invalid
	check func(*testing.T, A)
}

// folded is an aggregate as its scenarios see it.
type folded interface {
	Apply(Event)
	Version() int
}

// runDecisions runs each scenario: the decision must not change the
// aggregate, its events must be the ones expected and survive storage, and
// check sees the aggregate after them.
func runDecisions[A folded](t *testing.T, fold func([]Event) A, scenarios []decision[A]) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			a := fold(sc.given)
			got, err := sc.when(a)
			if !reflect.DeepEqual(a, fold(sc.given)) {
				t.Fatal("the decision changed the aggregate; only Apply may")
			}
			switch {
			case sc.field != "":
				wantField(t, err, sc.field)
			case sc.err != nil && !errors.Is(err, sc.err), sc.err == nil && err != nil:
				t.Fatalf("err = %v, want %v", err, sc.err)
			}
			if !reflect.DeepEqual(got, sc.then) {
				t.Fatalf("events:\n got %s\nwant %s", dump(got), dump(sc.then))
			}
			for _, e := range got {
				roundTrip(t, e)
				a.Apply(e)
			}
			if a.Version() != len(sc.given)+len(got) {
				t.Errorf("Version() = %d, want %d", a.Version(), len(sc.given)+len(got))
			}
			if sc.check != nil {
				sc.check(t, a)
			}
		})
	}
}

// orderAt checks the order's status.
func orderAt(s OrderStatus) func(*testing.T, *Order) {
	return func(t *testing.T, o *Order) {
		if o.Status() != s {
			t.Errorf("status %q, want %q", o.Status(), s)
		}
	}
}

func TestOrderDecisions(t *testing.T) {
	update := func(edit func(*OrderDetails), to OrderStatus) func(o *Order) ([]Event, error) {
		return func(o *Order) ([]Event, error) {
			d := o.Details()
			edit(&d)
			return o.Update(d, to)
		}
	}
	same := func(*OrderDetails) {}
	moved := func(from, to OrderStatus) decision[*Order] {
		return decision[*Order]{name: string(from) + " to " + string(to), given: []Event{orderCreated(from)},
			when: update(same, to), then: []Event{orderStatusChanged(from, to)}, check: orderAt(to)}
	}
	refused := func(from, to OrderStatus) decision[*Order] {
		return decision[*Order]{name: string(from) + " not to " + string(to), given: []Event{orderCreated(from)},
			when: update(same, to), err: OrderTransitionError{From: from, To: to}, check: orderAt(from)}
	}
	scenarios := []decision[*Order]{
		moved(OrderPending, OrderProcessing), moved(OrderProcessing, OrderShipped), moved(OrderShipped, OrderDelivered),
		moved(OrderPending, OrderShipped), // skipping a step still moves forward
		moved(OrderPending, OrderCancelled), moved(OrderProcessing, OrderCancelled),
		refused(OrderProcessing, OrderPending), refused(OrderDelivered, OrderShipped), refused(OrderShipped, OrderCancelled),
		refused(OrderDelivered, OrderCancelled), refused(OrderCancelled, OrderPending), refused(OrderCancelled, OrderDelivered),
		{name: "same status is nothing", given: []Event{orderCreated(OrderShipped)}, when: update(same, OrderShipped), check: orderAt(OrderShipped)},
		{name: "details and status", given: []Event{orderCreated(OrderPending)},
			when: update(func(d *OrderDetails) { d.Quantity, d.Notes = 3, "" }, OrderProcessing),
			then: []Event{{Type: OrderUpdated, Data: OrderUpdatedData{OrderID: orderID, Changes: []FieldChange{
				change("quantity", `2`, `3`), change("notes", `"Rush delivery"`, `null`)}}}, orderStatusChanged(OrderPending, OrderProcessing)},
			check: orderAt(OrderProcessing)},
		{name: "bad quantity", given: []Event{orderCreated(OrderPending)}, when: update(func(d *OrderDetails) { d.Quantity = 0 }, ""),
			err: ErrInvalid, check: orderAt(OrderPending)},
		{name: "bad status", given: []Event{orderCreated(OrderPending)}, when: update(same, "lost"), err: ErrInvalid, check: orderAt(OrderPending)},
		{name: "delete", given: []Event{orderCreated(OrderShipped)},
			when: func(o *Order) ([]Event, error) { order, _, err := o.Delete(nil); return order, err },
			then: []Event{{Type: OrderDeleted, Data: OrderDeletedData{OrderID: orderID}}}, check: orderAt(OrderShipped)},
		{name: "update deleted", given: []Event{orderCreated(OrderPending), {Type: OrderDeleted, Data: OrderDeletedData{OrderID: orderID}}},
			when: update(same, OrderShipped), err: ErrOrderNotFound, check: orderAt(OrderPending)},
		{name: "delete twice", given: []Event{orderCreated(OrderPending), {Type: OrderDeleted, Data: OrderDeletedData{OrderID: orderID}}},
			when: func(o *Order) ([]Event, error) { order, _, err := o.Delete(nil); return order, err }, err: ErrOrderNotFound, check: orderAt(OrderPending)},
		{name: "update never created", when: update(func(d *OrderDetails) { *d = details() }, ""), err: ErrOrderNotFound, check: orderAt("")},
	}
	runDecisions(t, NewOrderFromHistory, scenarios)
}

func TestOrderTransitionErrorNamesBothStatuses(t *testing.T) {
	o := NewOrderFromHistory([]Event{orderCreated(OrderDelivered)})
	_, err := o.Update(o.Details(), OrderPending)
	var te OrderTransitionError
	if !errors.As(err, &te) || te.From != OrderDelivered || te.To != OrderPending || te.ErrorCode() != "conflict" ||
		err.Error() != "order status cannot move from delivered to pending" {
		t.Fatalf("got %v", err)
	}
	// An update replays to the details it asked for.
	p := NewOrderFromHistory([]Event{orderCreated(OrderPending)})
	want := p.Details()
	want.BillingAddress, want.OrderDate = "1 Side St", orderedAt.Add(time.Hour)
	events, err := p.Update(want, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		roundTrip(t, e)
		p.Apply(e)
	}
	if !reflect.DeepEqual(p.Details(), want) {
		t.Fatalf("details %+v, want %+v", p.Details(), want)
	}
}

// A customer with orders cannot be deleted; once they are deleted it can.
// The count survives the snapshot and a redacted stream.
func TestCustomerWithOrdersCannotBeDeleted(t *testing.T) {
	// Given a customer with an order.
	history := []Event{customerCreated(uuid.Nil, ashaCustomer()), orderPlaced()}
	c := NewCustomerFromHistory(history)
	if _, err := c.Delete(); !errors.Is(err, ErrCustomerHasOrders) {
		t.Fatalf("delete with an order: %v", err)
	}
	raw, err := json.Marshal(c.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var snap CustomerSnapshot
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	if restored, err := UnmarshalCustomerFromSnapshot(snap); err != nil || !reflect.DeepEqual(restored, c) {
		t.Fatalf("restored %+v %v, want %+v", restored, err, c)
	}
	// When the order is deleted.
	o := NewOrderFromHistory([]Event{orderCreated(OrderPending)})
	order, customer, err := o.Delete(c)
	if err != nil || !reflect.DeepEqual(order, []Event{{Type: OrderDeleted, Data: OrderDeletedData{OrderID: orderID}}}) ||
		!reflect.DeepEqual(customer, []Event{orderRemoved()}) {
		t.Fatalf("delete order: %s %s %v", dump(order), dump(customer), err)
	}
	c.Apply(customer[0])
	// Then the customer can be deleted.
	deleted, err := c.Delete()
	if err != nil || len(deleted) != 1 {
		t.Fatalf("delete without orders: %v", err)
	}
	// Its redacted stream (zero data) still counts no orders.
	redacted := NewCustomerFromHistory([]Event{{Type: CustomerCreated, Data: CustomerCreatedData{}},
		{Type: CustomerOrderPlaced, Data: CustomerOrderData{}}, {Type: CustomerOrderRemoved, Data: CustomerOrderData{}}, deleted[0]})
	if redacted.Orders() != 0 || !redacted.Deleted() {
		t.Fatalf("redacted replay: %d orders, deleted %v", redacted.Orders(), redacted.Deleted())
	}
	// An order is deleted only against its own customer.
	other := NewCustomerFromHistory([]Event{{Type: CustomerCreated, Data: CustomerCreatedData{CustomerID: uuid.New(), Number: 4,
		Profile: ashaCustomer(), Follow: "Won"}}})
	if _, _, err := o.Delete(other); err == nil {
		t.Fatal("deleted against another customer")
	}
}
