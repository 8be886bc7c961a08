package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// CreateOrder is the command to record a customer's order.
type CreateOrder struct {
	CustomerID uuid.UUID
	// Order are its details; a zero OrderDate is the time of the command.
	Order domain.OrderDetails
	// Status is where the order starts; empty: pending.
	Status domain.OrderStatus
}

// UpdateOrder is the command to change an order: its details (Edit returns
// the next details from the current ones; nil keeps them) and its status
// (empty: unchanged; only forward, see domain.Order.Update).
type UpdateOrder struct {
	Edit   func(current domain.OrderDetails) (domain.OrderDetails, error)
	Status domain.OrderStatus
}

// OrderResult says which order a command wrote, and the order as it is
// after the command.
type OrderResult struct {
	Result
	OrderID    uuid.UUID
	CustomerID uuid.UUID
	Status     domain.OrderStatus
	Order      domain.OrderDetails
}

func (r OrderResult) at(p eventstore.Position) OrderResult { r.Position = p; return r }

// orderResult is the answer about order o as it is.
func orderResult(o *domain.Order) OrderResult {
	return OrderResult{OrderID: o.ID(), CustomerID: o.CustomerID(), Status: o.Status(), Order: o.Details()}
}

// orderNote is what an order's creation or deletion keeps with its
// idempotency key: the order it made or deleted.
type orderNote struct {
	OrderID uuid.UUID `json:"order_id"`
	Deleted bool      `json:"deleted,omitempty"` // a deletion's, never a create's
}

// orders are Order streams: short (a handful of events), so not
// snapshotted; domain.ErrOrderNotFound when missing or deleted. An order
// quotes addresses and notes, so it is quoted.
var orders = &kind[*domain.Order]{
	stream:  domain.OrderStream,
	blank:   func() *domain.Order { return domain.NewOrderFromHistory(nil) },
	decode:  domain.DecodeEvent,
	missing: domain.ErrOrderNotFound,
	live:    func(o *domain.Order) bool { return o.Exists() && !o.Deleted() },
	quoted:  true,
}

// UnknownReferenceError says that an id a command was given in a field
// names nothing the tenant has (an order's customer_id): a not-found error
// that names the field, for the APIs that say which reference failed.
// errors.Is finds the underlying not-found error (domain.ErrCustomerNotFound).
type UnknownReferenceError struct {
	Field string    // "customer_id"
	ID    uuid.UUID // the id as given
	Err   error     // what the reference's load said
}

// Error reads as "customer_id <id> not found".
func (e *UnknownReferenceError) Error() string { return fmt.Sprintf("%s %s not found", e.Field, e.ID) }

// ErrorCode implements crmerr.Coded.
func (e *UnknownReferenceError) ErrorCode() string { return crmerr.NotFound }

// Unwrap gives errors.Is the underlying not-found error.
func (e *UnknownReferenceError) Unwrap() error { return e.Err }

// CreateOrder records an order of cmd.CustomerID in one commit: order.created
// in the new order's stream and customer.order_placed in the customer's
// (so a customer with orders cannot be deleted, even concurrently: both
// commits check the customer's version). The customer must be the
// tenant's and live. Errors: *UnknownReferenceError naming customer_id
// (errors.Is domain.ErrCustomerNotFound), domain.ValidationError, ErrBusy.
func (h *Handler) CreateOrder(ctx context.Context, c Context, cmd CreateOrder) (OrderResult, error) {
	if cmd.Order.OrderDate.IsZero() {
		cmd.Order.OrderDate = time.Now().UTC()
	}
	return run(ctx, h, c, write[OrderResult]{
		// Known by its note: each attempt names a new order stream.
		streams: []uuid.UUID{cmd.CustomerID}, byNote: true,
		decide: func(u *unit) (OrderResult, error) {
			id, err := uuid.NewV7()
			if err != nil {
				return OrderResult{}, err
			}
			cust, err := u.customer(cmd.CustomerID)
			if errors.Is(err, domain.ErrCustomerNotFound) {
				return OrderResult{}, &UnknownReferenceError{Field: "customer_id", ID: cmd.CustomerID, Err: err}
			}
			if err != nil {
				return OrderResult{}, err
			}
			order, placed, err := domain.PlaceOrder(id, cust, cmd.Order, cmd.Status)
			if err != nil {
				return OrderResult{}, err
			}
			u.create(domain.OrderStream, id, order)
			u.append(cust, placed)
			u.keep(orderNote{OrderID: id})
			return orderResult(domain.NewOrderFromHistory(order)), nil
		},
		replay: func(prior eventstore.CommitResult) (OrderResult, error) {
			n, err := noted(c, prior, func(n orderNote) bool { return n.OrderID != uuid.Nil && !n.Deleted })
			if err != nil {
				return OrderResult{}, err
			}
			return h.replayOrder(ctx, c, n.OrderID, prior)
		},
	})
}

// replayOrder answers a retried order command with order id as it is now.
func (h *Handler) replayOrder(ctx context.Context, c Context, id uuid.UUID, prior eventstore.CommitResult) (OrderResult, error) {
	return current(ctx, h, c, orders, id, orderResult, prior)
}

// current answers a retried command with stream id of kind k as it is now
// (one deleted since is not found, never an empty success), at the first
// commit's position; the stream counts as touched by c's request.
func current[A aggregate, T outcome[T]](ctx context.Context, h *Handler, c Context, k *kind[A], id uuid.UUID,
	answer func(A) T, prior eventstore.CommitResult) (T, error) {
	c.Touched.add(id, false)
	agg, _, err := load(ctx, h.store, k, c.TenantID, id)
	if err != nil {
		var zero T
		return zero, err
	}
	return answer(agg).at(prior.Position), nil
}

// UpdateOrder changes order id's details and status: order.updated for
// the details that changed, then order.status_changed; nothing changed, no
// event (the answer is at the order's position). Errors:
// domain.ErrOrderNotFound, domain.ValidationError,
// domain.OrderTransitionError (a status it cannot move to), ErrBusy; Edit's
// error as is.
func (h *Handler) UpdateOrder(ctx context.Context, c Context, id uuid.UUID, cmd UpdateOrder) (OrderResult, error) {
	return run(ctx, h, c, write[OrderResult]{
		streams: []uuid.UUID{id},
		decide: func(u *unit) (OrderResult, error) {
			o, err := use(u, orders, id)
			if err != nil {
				return OrderResult{}, err
			}
			next := o.Details()
			if cmd.Edit != nil {
				if next, err = cmd.Edit(next); err != nil {
					return OrderResult{}, err
				}
			}
			decided, err := o.Update(next, cmd.Status)
			if err != nil {
				return OrderResult{}, err
			}
			u.append(o, decided)
			return orderResult(o), nil
		},
		replay: func(prior eventstore.CommitResult) (OrderResult, error) { return h.replayOrder(ctx, c, id, prior) },
	})
}

// DeleteOrder permanently deletes order id in one commit: order.deleted in
// its stream, whose earlier events are redacted, and
// customer.order_removed in its customer's (who may then be deleted).
// Errors: domain.ErrOrderNotFound, ErrBusy.
func (h *Handler) DeleteOrder(ctx context.Context, c Context, id uuid.UUID) (Result, error) {
	return run(ctx, h, c, write[Result]{
		// Known by its note: the commit writes the customer's stream too,
		// which the command learns only from the order.
		streams: []uuid.UUID{id}, byNote: true,
		decide: func(u *unit) (Result, error) {
			o, err := use(u, orders, id)
			if err != nil {
				return Result{}, err
			}
			if err := u.turn(o.CustomerID()); err != nil {
				return Result{}, err
			}
			cust, err := u.customer(o.CustomerID())
			if errors.Is(err, domain.ErrCustomerNotFound) {
				cust, err = nil, nil // cannot happen: a customer with orders stays
			}
			if err != nil {
				return Result{}, err
			}
			order, removed, err := o.Delete(cust)
			if err != nil {
				return Result{}, err
			}
			u.append(o, order, erasing)
			if cust != nil {
				u.append(cust, removed)
			}
			u.keep(orderNote{OrderID: id, Deleted: true})
			return Result{}, nil
		},
		replay: func(prior eventstore.CommitResult) (Result, error) {
			if _, err := noted(c, prior, func(n orderNote) bool { return n.OrderID == id && n.Deleted }); err != nil {
				return Result{}, err
			}
			return Result{Position: prior.Position}, nil
		},
	})
}
