package domain_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
)

// FuzzOrderAndFeedback: the order's and the feedback's decisions on any
// quantities, statuses, texts and ratings refuse with a ValidationError or
// an error they document, and what they decide is storable; an order's
// status only ever moves along its path.
func FuzzOrderAndFeedback(f *testing.F) {
	for _, s := range []struct {
		status, to, text, category string
		quantity, rating           int
	}{
		{"", "shipped", "123 Main St", "Support", 2, 5}, {"delivered", "pending", "", "", 1, 1}, {"lost", "", " ", " ", 0, 0},
		{"cancelled", "processing", strings.Repeat("a", 10001), strings.Repeat("é", 65), math.MaxInt, 6},
		{"pending", "cancelled", "\x00", "\xff", -1, math.MinInt},
	} {
		f.Add(s.status, s.to, s.text, s.category, s.quantity, s.rating)
	}
	created, err := domain.CreateCustomer(uuid.New(), 1, uuid.Nil, domain.CustomerProfile{Name: "Asha"}, "")
	if err != nil {
		f.Fatal(err)
	}
	customer := domain.NewCustomerFromHistory(created)
	f.Fuzz(func(t *testing.T, status, to, text, category string, quantity, rating int) {
		d := domain.OrderDetails{ProductID: uuid.New(), Quantity: quantity, OrderDate: time.Unix(int64(quantity)%1e10, 0),
			ShippingAddress: text, Notes: text}
		order, placed, err := domain.PlaceOrder(uuid.New(), customer, d, domain.OrderStatus(status))
		checkInvalid(t, "PlaceOrder", err)
		if err != nil {
			return
		}
		o := domain.NewOrderFromHistory(checkStorable(t, order))
		if len(checkStorable(t, placed)) != 1 {
			t.Fatalf("PlaceOrder decided %+v for the customer", placed)
		}
		from := o.Status()
		next := o.Details()
		next.BillingAddress = text + category
		events, err := o.Update(next, domain.OrderStatus(to))
		var te domain.OrderTransitionError
		if !errors.As(err, &te) {
			checkInvalid(t, "Update", err)
		}
		for _, e := range checkStorable(t, events) {
			o.Apply(e)
		}
		if o.Status() != from && (err != nil || from == domain.OrderDelivered || from == domain.OrderCancelled) {
			t.Fatalf("status moved from %s to %s (%v)", from, o.Status(), err)
		}

		_, requested, err := domain.RequestFeedback(uuid.New(), customer)
		if err != nil {
			t.Fatal(err)
		}
		fb := domain.NewFeedbackFromHistory(checkStorable(t, requested))
		received, err := fb.Receive(domain.FeedbackAnswer{Rating: rating, Comment: text, Category: category})
		checkInvalid(t, "Receive", err)
		for _, e := range checkStorable(t, received) {
			fb.Apply(e)
		}
		if a := fb.Answer(); err == nil && (a.Rating < domain.MinRating || a.Rating > domain.MaxRating || a.Category != strings.ToLower(a.Category)) {
			t.Fatalf("received %+v", a)
		}
	})
}
