package commands_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
)

var product = uuid.MustParse("01956c1e-7a00-7000-8000-0000000000e1")

func (f *fixture) order(t *testing.T, customer uuid.UUID) commands.OrderResult {
	t.Helper()
	res, err := f.h.CreateOrder(f.ctx, f.c, commands.CreateOrder{CustomerID: customer,
		Order: domain.OrderDetails{ProductID: product, Quantity: 2, ShippingAddress: "123 Main St", Notes: "Rush delivery"}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// commitTypes lists the event types of the transaction that wrote stream
// id's first event, by stream type and version.
func (f *fixture) commitTypes(t *testing.T, id uuid.UUID) string {
	t.Helper()
	var types string
	if err := f.store.Pool().QueryRow(f.ctx, `select string_agg(event_type, ',' order by stream_type, stream_version)
		from events where transaction_id = (select transaction_id from events where stream_id = $1 and stream_version = 1)`, id).Scan(&types); err != nil {
		t.Fatal(err)
	}
	return types
}

func TestOrderLifecycle(t *testing.T) {
	f := newFixture(t)
	cust := f.customer(t, "Asha Rao", "asha@example.com")
	// An order in one commit with the customer's count; a keyed retry
	// answers the first and writes nothing.
	keyed := f.c
	keyed.IdempotencyKey = "k-order"
	at := time.Date(2024, 1, 15, 10, 0, 0, 0, time.FixedZone("IST", 19800))
	first, err := f.h.CreateOrder(f.ctx, keyed, commands.CreateOrder{CustomerID: cust.CustomerID,
		Order: domain.OrderDetails{ProductID: product, Quantity: 2, OrderDate: at, BillingAddress: "1 Side St"}})
	if err != nil {
		t.Fatal(err)
	}
	if first.CustomerID != cust.CustomerID || first.Status != domain.OrderPending || first.Order.Quantity != 2 ||
		!first.Order.OrderDate.Equal(at) || first.Order.OrderDate.Location() != time.UTC {
		t.Fatalf("created %+v", first)
	}
	if types := f.commitTypes(t, first.OrderID); types != "customer.order_placed,order.created" {
		t.Fatalf("the order's commit wrote %s", types)
	}
	before := f.eventCount(t)
	again, err := f.h.CreateOrder(f.ctx, keyed, commands.CreateOrder{CustomerID: cust.CustomerID,
		Order: domain.OrderDetails{ProductID: product, Quantity: 2}})
	if err != nil || again.OrderID != first.OrderID || again.Position != first.Position || f.eventCount(t) != before {
		t.Fatalf("retry: %+v %v, want %+v", again, err, first)
	}
	// No date: the time of the command.
	if second := f.order(t, cust.CustomerID); time.Since(second.Order.OrderDate) > time.Minute {
		t.Fatalf("default order date %s", second.Order.OrderDate)
	}

	// A partial update and a forward move; the same again is nothing.
	updated, err := f.h.UpdateOrder(f.ctx, f.c, first.OrderID, commands.UpdateOrder{Status: domain.OrderShipped,
		Edit: func(d domain.OrderDetails) (domain.OrderDetails, error) {
			d.Notes = "Shipped via express"
			return d, nil
		}})
	if err != nil || updated.Status != domain.OrderShipped || updated.Order.Notes != "Shipped via express" || updated.Order.BillingAddress != "1 Side St" {
		t.Fatalf("update: %+v %v", updated, err)
	}
	before = f.eventCount(t)
	same, err := f.h.UpdateOrder(f.ctx, f.c, first.OrderID, commands.UpdateOrder{Status: domain.OrderShipped})
	if err != nil || same.Position != updated.Position || f.eventCount(t) != before {
		t.Fatalf("no change: %+v %v (%d events)", same, err, f.eventCount(t)-before)
	}
	// Backwards is a conflict naming both statuses; bad input names its field.
	_, err = f.h.UpdateOrder(f.ctx, f.c, first.OrderID, commands.UpdateOrder{Status: domain.OrderPending})
	var te domain.OrderTransitionError
	if !errors.As(err, &te) || te.From != domain.OrderShipped || te.To != domain.OrderPending || crmerr.Code(err) != crmerr.Conflict {
		t.Fatalf("backwards: %v", err)
	}
	_, err = f.h.UpdateOrder(f.ctx, f.c, first.OrderID, commands.UpdateOrder{
		Edit: func(d domain.OrderDetails) (domain.OrderDetails, error) { d.Quantity = 0; return d, nil }})
	var ve domain.ValidationError
	if !errors.As(err, &ve) || ve.Field != "quantity" || f.eventCount(t) != before {
		t.Fatalf("quantity 0: %v", err)
	}

	// The customer has orders: it cannot be deleted.
	if _, err := f.h.DeleteCustomer(f.ctx, f.c, cust.CustomerID); !errors.Is(err, domain.ErrCustomerHasOrders) || crmerr.Code(err) != crmerr.Conflict {
		t.Fatalf("delete a customer with orders: %v", err)
	}
	// Deleting an order redacts it and uncounts it; a keyed retry answers
	// the first delete; a second delete is not found.
	keyed.IdempotencyKey = "k-delete-order"
	deleted, err := f.h.DeleteOrder(f.ctx, keyed, first.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if retried, err := f.h.DeleteOrder(f.ctx, keyed, first.OrderID); err != nil || retried.Position != deleted.Position {
		t.Fatalf("retried delete: %+v %v, want %+v", retried, err, deleted)
	}
	if raw := f.rawData(t, first.OrderID); strings.Contains(raw, "Side St") || strings.Contains(raw, "express") {
		t.Fatalf("deleted order's events still hold its data: %s", raw)
	}
	for name, err := range map[string]error{
		"delete twice": func() error { _, err := f.h.DeleteOrder(f.ctx, f.c, first.OrderID); return err }(),
		"update deleted": func() error {
			_, err := f.h.UpdateOrder(f.ctx, f.c, first.OrderID, commands.UpdateOrder{Status: domain.OrderDelivered})
			return err
		}(),
		"delete unknown":         func() error { _, err := f.h.DeleteOrder(f.ctx, f.c, uuid.New()); return err }(),
		"a customer as an order": func() error { _, err := f.h.DeleteOrder(f.ctx, f.c, cust.CustomerID); return err }(),
	} {
		if !errors.Is(err, domain.ErrOrderNotFound) || crmerr.Code(err) != crmerr.NotFound {
			t.Errorf("%s: %v", name, err)
		}
	}
	// One order left; once it goes the customer can be deleted.
	if _, err := f.h.DeleteCustomer(f.ctx, f.c, cust.CustomerID); !errors.Is(err, domain.ErrCustomerHasOrders) {
		t.Fatalf("delete with one order left: %v", err)
	}
}

func TestCreateOrderRefusesAnUnknownCustomer(t *testing.T) {
	f := newFixture(t)
	cust := f.customer(t, "Asha Rao", "asha@example.com")
	other := f.c
	other.TenantID = uuid.New()
	gone := f.customer(t, "Bala", "bala@example.com")
	if _, err := f.h.DeleteCustomer(f.ctx, f.c, gone.CustomerID); err != nil {
		t.Fatal(err)
	}
	before := f.eventCount(t)
	for name, tc := range map[string]struct {
		c  commands.Context
		id uuid.UUID
	}{
		"unknown":          {f.c, uuid.New()},
		"another tenant's": {other, cust.CustomerID},
		"deleted":          {f.c, gone.CustomerID},
		"a lead":           {f.c, f.lead(t, "Lead", "lead@example.com")},
	} {
		_, err := f.h.CreateOrder(f.ctx, tc.c, commands.CreateOrder{CustomerID: tc.id, Order: domain.OrderDetails{ProductID: product, Quantity: 1}})
		var ref *commands.UnknownReferenceError
		if !errors.As(err, &ref) || ref.Field != "customer_id" || ref.ID != tc.id || !errors.Is(err, domain.ErrCustomerNotFound) ||
			crmerr.Code(err) != crmerr.NotFound {
			t.Errorf("%s customer: %v", name, err)
		}
	}
	// Bad details name their field; nothing is written.
	_, err := f.h.CreateOrder(f.ctx, f.c, commands.CreateOrder{CustomerID: cust.CustomerID, Order: domain.OrderDetails{Quantity: 1}})
	var ve domain.ValidationError
	if !errors.As(err, &ve) || ve.Field != "product_id" {
		t.Errorf("no product: %v", err)
	}
	if n := f.eventCount(t) - before; n != 1 { // the lead's creation
		t.Errorf("%d events written by refused orders", n-1)
	}
}

// An order placed while its customer is being deleted: either the order
// is refused (the customer went first) or the delete is (the order went
// first), never a deleted customer with an order.
func TestCreateOrderRacesDeleteCustomer(t *testing.T) {
	f := newFixture(t)
	for i := range 8 {
		cust := f.customer(t, "Asha", "asha"+string(rune('a'+i))+"@example.com")
		var wg sync.WaitGroup
		var orderErr, deleteErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, orderErr = f.h.CreateOrder(f.ctx, f.c, commands.CreateOrder{CustomerID: cust.CustomerID, Order: domain.OrderDetails{ProductID: product, Quantity: 1}})
		}()
		go func() {
			defer wg.Done()
			_, deleteErr = f.h.DeleteCustomer(f.ctx, f.c, cust.CustomerID)
		}()
		wg.Wait()
		ordered, deleted := orderErr == nil, deleteErr == nil
		switch {
		case ordered == deleted:
			t.Fatalf("round %d: order %v, delete %v", i, orderErr, deleteErr)
		case ordered && !errors.Is(deleteErr, domain.ErrCustomerHasOrders):
			t.Fatalf("round %d: delete after the order: %v", i, deleteErr)
		case deleted && !errors.Is(orderErr, domain.ErrCustomerNotFound):
			t.Fatalf("round %d: order after the delete: %v", i, orderErr)
		}
	}
}
