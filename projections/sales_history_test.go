package projections_test

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/timers"
)

// salesHistory is what a tenant's history knows of its orders and feedback
// requests: ids the commands returned, some deleted or closed since.
type salesHistory struct {
	orders   []uuid.UUID
	of       map[uuid.UUID]uuid.UUID // an order's customer
	feedback []uuid.UUID
	timers   *timers.Scheduler // fires the feedback reminders and expiries
}

// clearOrders deletes customer's orders (so the customer may go).
func (hs *history) clearOrders(th *tenantHistory, customer uuid.UUID) {
	for _, id := range th.sales.orders {
		if th.sales.of[id] != customer {
			continue
		}
		if _, err := hs.h.DeleteOrder(hs.ctx, th.c, id); err != nil && !errors.Is(err, domain.ErrOrderNotFound) {
			hs.t.Fatal(err)
		}
	}
}

// salesStep places, moves, edits or deletes an order of one of the live
// customers, or asks one for feedback, answers or expires a request, or
// lets days pass so that reminders and expiries fire, through the command
// handlers (which refuse what the domain refuses).
func (hs *history) salesStep(th *tenantHistory, live []*domain.Customer) {
	ctx, s := hs.ctx, &th.sales
	customer := live[hs.pick(len(live))].ID()
	pick := func(ids []uuid.UUID) uuid.UUID { return ids[hs.pick(len(ids))] }
	var err error
	switch op := hs.pick(100); {
	case op < 25 || len(s.orders) == 0:
		var res commands.OrderResult
		res, err = hs.h.CreateOrder(ctx, th.c, commands.CreateOrder{CustomerID: customer, Order: domain.OrderDetails{
			ProductID: uuid.New(), Quantity: 1 + hs.pick(5), OrderDate: time.Date(2025, 1, 1+hs.pick(300), 0, 0, 0, 0, time.UTC),
			ShippingAddress: fmt.Sprintf("%d Main St", hs.pick(1000))}})
		if err == nil {
			if s.of == nil {
				s.of = map[uuid.UUID]uuid.UUID{}
			}
			s.orders, s.of[res.OrderID] = append(s.orders, res.OrderID), customer
		}
	case op < 40:
		status := domain.OrderStatuses[hs.pick(len(domain.OrderStatuses))]
		_, err = hs.h.UpdateOrder(ctx, th.c, pick(s.orders), commands.UpdateOrder{Status: status,
			Edit: func(d domain.OrderDetails) (domain.OrderDetails, error) {
				if hs.pick(2) == 0 {
					d.Notes, d.Quantity = fmt.Sprintf("note %d", hs.pick(1000)), 1+hs.pick(9)
				}
				return d, nil
			}})
	case op < 47:
		_, err = hs.h.DeleteOrder(ctx, th.c, pick(s.orders))
	case op < 65 || len(s.feedback) == 0:
		var res commands.FeedbackResult
		res, err = hs.h.RequestFeedback(ctx, th.c, customer)
		if err == nil {
			s.feedback = append(s.feedback, res.FeedbackID)
		}
	case op < 80:
		// Days pass: the requests' due reminders and expiries fire.
		if s.timers == nil {
			s.timers = timers.NewScheduler(hs.store.Pool(), timers.SystemClock{}, slog.New(slog.DiscardHandler))
			for kind, fire := range hs.h.TimerHandlers() {
				s.timers.Handle(kind, fire)
			}
		}
		_, err = s.timers.FireDue(ctx, th.c.TenantID, nil, time.Now().Add(time.Duration(2+hs.pick(14))*24*time.Hour))
	case op < 92:
		_, err = hs.h.ReceiveFeedback(ctx, th.c, pick(s.feedback), domain.FeedbackAnswer{Rating: 1 + hs.pick(5),
			Comment: fmt.Sprintf("comment %d", hs.pick(1000)), Category: []string{"", "price", "support"}[hs.pick(3)]})
	default:
		_, err = hs.h.ExpireFeedback(ctx, th.c, pick(s.feedback))
	}
	var closed domain.FeedbackClosedError
	var move domain.OrderTransitionError
	if !expected(err) && !errors.Is(err, domain.ErrOrderNotFound) && !errors.Is(err, domain.ErrFeedbackNotFound) &&
		!errors.Is(err, domain.ErrCustomerBlocked) && !errors.As(err, &closed) && !errors.As(err, &move) {
		hs.t.Fatalf("sales step: %v", err)
	}
}
