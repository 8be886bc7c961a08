package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// CreateCustomer is the command to create a customer directly (not by
// converting a lead).
type CreateCustomer struct {
	Profile domain.CustomerProfile
	// Follow is its follow-up status (a pipeline status key); empty: Won.
	Follow domain.Status
	// LeadID names the lead it comes from, if any (the /dev/crm API's
	// lead_id; the caller checks it is the tenant's). It converts nothing:
	// ConvertLead is what marks a lead converted.
	LeadID uuid.UUID
}

// CustomerResult says which customer a command wrote, and the customer as
// it is after the command.
type CustomerResult struct {
	Result
	CustomerID uuid.UUID
	Number     int64
	LeadID     uuid.UUID // the lead it was converted from (nil if none)
	Profile    domain.CustomerProfile
	Follow     domain.Status
	// Linked: ConvertLead linked the lead to this existing customer (its
	// email was the lead's) instead of creating one.
	Linked bool
}

func (r CustomerResult) at(p eventstore.Position) CustomerResult { r.Position = p; return r }

// customerResult is the answer about customer c as it is.
func customerResult(c *domain.Customer) CustomerResult {
	return CustomerResult{CustomerID: c.ID(), Number: c.Number(), LeadID: c.LeadID(), Profile: c.Profile(), Follow: c.Follow()}
}

// customerNote is what a customer create or a conversion keeps with its
// idempotency key: the customer it made or linked to.
type customerNote struct {
	CustomerID uuid.UUID `json:"customer_id"`
	Linked     bool      `json:"linked,omitempty"`
}

// CreateCustomer creates a customer with the next per-tenant customer
// number. Its primary email is reserved among the tenant's customers (a
// lead may have it: a converted lead keeps its email). Errors:
// domain.ValidationError, *DuplicateError (the email is another customer's,
// naming it), ErrBusy.
func (h *Handler) CreateCustomer(ctx context.Context, c Context, cmd CreateCustomer) (CustomerResult, error) {
	p, err := domain.NormalizeCustomerProfile(cmd.Profile, h.region)
	if err != nil {
		return CustomerResult{}, err
	}
	// Creates with one email take turns: that is how they find each other.
	return run(ctx, h, c, write[CustomerResult]{
		values: customerReservations(p), byNote: true,
		decide: func(u *unit) (CustomerResult, error) {
			if err := h.customerEmailFree(ctx, c.TenantID, uuid.Nil, p); err != nil {
				return CustomerResult{}, err
			}
			return h.newCustomer(u, func(id uuid.UUID, number int64) ([]domain.Event, error) {
				return domain.CreateCustomer(id, number, cmd.LeadID, p, cmd.Follow)
			})
		},
		replay: func(prior eventstore.CommitResult) (CustomerResult, error) { return h.replayCustomer(ctx, c, prior) },
		failed: func(err error) error {
			var taken *eventstore.ReservationError
			if errors.As(err, &taken) {
				return fmt.Errorf("%w: %w", errLostRace, err) // look the owner up again
			}
			return err
		},
	})
}

// newCustomer stages a new customer's stream with what decide decides for
// its id and next per-tenant number, reserving its email, and answers with it.
func (h *Handler) newCustomer(u *unit, decide func(id uuid.UUID, number int64) ([]domain.Event, error)) (CustomerResult, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return CustomerResult{}, err
	}
	number, err := h.store.NextNumber(u.ctx, u.c.TenantID, "customer")
	if err != nil {
		return CustomerResult{}, fmt.Errorf("number customer: %w", err)
	}
	decided, err := decide(id, number)
	if err != nil {
		return CustomerResult{}, err
	}
	cust := domain.NewCustomerFromHistory(decided)
	// Its number names it in the prospects & clients API (CustomerByNumber).
	u.create(domain.CustomerStream, id, decided, reserving(append(customerReservations(cust.Profile()),
		eventstore.Reservation{Kind: domain.ReserveCustomerNumber, Value: strconv.FormatInt(number, 10)})...))
	u.keep(customerNote{CustomerID: id})
	return customerResult(cust), nil
}

// replayCustomer answers a retried create or conversion with the customer
// the first one made or linked to, as it is now (a deleted one is not
// found, never an empty success).
func (h *Handler) replayCustomer(ctx context.Context, c Context, prior eventstore.CommitResult) (CustomerResult, error) {
	n, err := noted(c, prior, func(n customerNote) bool { return n.CustomerID != uuid.Nil })
	if err != nil {
		return CustomerResult{}, err
	}
	cust, err := h.loadCustomer(ctx, c, n.CustomerID)
	if err != nil {
		return CustomerResult{}, err
	}
	res := customerResult(cust).at(prior.Position)
	res.Linked = n.Linked
	return res, nil
}

// loadCustomer loads a customer outside a command's attempt (to answer a
// retried request); the stream counts as touched by c's request.
func (h *Handler) loadCustomer(ctx context.Context, c Context, id uuid.UUID) (*domain.Customer, error) {
	c.Touched.add(id, false)
	cust, _, err := load(ctx, h.store, customers, c.TenantID, id)
	return cust, err
}

// customerReservations are the values a customer with profile p reserves:
// its primary email among the tenant's customers.
func customerReservations(p domain.CustomerProfile) []eventstore.Reservation {
	if p.PrimaryEmail() == "" {
		return nil
	}
	return []eventstore.Reservation{{Kind: domain.ReserveCustomerEmail, Value: p.PrimaryEmail()}}
}

// customerEmailFree refuses p's primary email when a customer other than
// self holds it.
func (h *Handler) customerEmailFree(ctx context.Context, tenantID, self uuid.UUID, p domain.CustomerProfile) error {
	for _, r := range customerReservations(p) {
		owner, ok, err := h.store.LookupReservation(ctx, tenantID, r.Kind, r.Value)
		if err != nil {
			return err
		}
		if ok && owner != self {
			return &DuplicateError{Field: "email", CustomerID: owner}
		}
	}
	return nil
}

// UpdateCustomer changes a customer's profile: edit returns the next
// profile from the current one (a partial update changes only the fields it
// was sent; its error is returned as is). When the primary email changes,
// its reservation moves in the same commit. Errors:
// domain.ErrCustomerNotFound, domain.ValidationError, *DuplicateError (the
// new email is another customer's), ErrBusy.
func (h *Handler) UpdateCustomer(ctx context.Context, c Context, id uuid.UUID, edit func(current domain.CustomerProfile) (domain.CustomerProfile, error)) (CustomerResult, error) {
	return run(ctx, h, c, write[CustomerResult]{
		streams: []uuid.UUID{id},
		decide: func(u *unit) (CustomerResult, error) {
			cust, err := u.customer(id)
			if err != nil {
				return CustomerResult{}, err
			}
			current := cust.Profile()
			next, err := edit(current)
			if err != nil {
				return CustomerResult{}, err
			}
			if next, err = domain.NormalizeCustomerProfile(next, h.region); err != nil {
				return CustomerResult{}, err
			}
			if err := h.customerEmailFree(ctx, c.TenantID, id, next); err != nil {
				return CustomerResult{}, err
			}
			decided, err := cust.Update(next)
			if err != nil {
				return CustomerResult{}, err
			}
			u.append(cust, decided, func(sa *eventstore.StreamAppend) {
				if before, after := current.PrimaryEmail(), cust.Profile().PrimaryEmail(); before != after {
					sa.Reserve, sa.Release = customerReservations(cust.Profile()), customerReservations(current)
				}
			})
			return customerResult(cust), nil
		},
		// The customer as it is now (one deleted since is not found).
		replay: func(prior eventstore.CommitResult) (CustomerResult, error) {
			cust, err := h.loadCustomer(ctx, c, id)
			if err != nil {
				return CustomerResult{}, err
			}
			return customerResult(cust).at(prior.Position), nil
		},
		failed: func(err error) error {
			var taken *eventstore.ReservationError
			if errors.As(err, &taken) {
				return &DuplicateError{Field: "email", CustomerID: taken.Owner}
			}
			return err
		},
	})
}

// DeleteCustomer permanently deletes a customer with its records: its
// earlier events are redacted and everything it reserved (its email, its
// records' numbers and contacts' emails) released in the same transaction;
// customer.deleted keeps who deleted it and when. A lead converted into it
// stays (its lead.converted still names the id); its feedback requests go
// with it (deleted and redacted in the same commit). A customer with orders
// is refused: the customer counts them in its own stream (orders.go), so
// an order placed meanwhile fails this commit's version check. Errors:
// domain.ErrCustomerNotFound, domain.ErrCustomerHasOrders.
func (h *Handler) DeleteCustomer(ctx context.Context, c Context, id uuid.UUID) (Result, error) {
	return run(ctx, h, c, write[Result]{streams: []uuid.UUID{id}, decide: func(u *unit) (Result, error) {
		cust, err := u.customer(id)
		if err != nil {
			return Result{}, err
		}
		decided, err := cust.Delete()
		if err != nil {
			return Result{}, err
		}
		u.append(cust, decided, erasing)
		return Result{}, deleteFeedbackOf(u, cust)
	}})
}

// ConvertedStatus is the name of the tenant status a converted lead moves
// to; ConvertLead creates it (at the end of the pipeline) on first use.
const ConvertedStatus = "Converted"

// convertedColor is the colour of the Converted status ConvertLead creates.
const convertedColor = "seagreen"

// ConvertLead converts a lead into a customer in one commit: lead.converted
// and lead.status_changed (to the tenant status named Converted, created in
// the pipeline's stream in the same commit on first use) in the lead's
// stream, and customer.created (from the lead's profile, pointing back at
// it, with the next customer number) in the new customer's. A lead whose
// primary email is already a customer's is linked to that customer instead
// (lead.converted naming it, no new customer; Linked in the answer).
// Errors: domain.ErrLeadNotFound, domain.AlreadyConvertedError (naming the
// customer the lead became), domain.ValidationError (a lead without a name,
// company or email for the customer), ErrBusy.
func (h *Handler) ConvertLead(ctx context.Context, c Context, leadID uuid.UUID) (CustomerResult, error) {
	return run(ctx, h, c, write[CustomerResult]{
		// Known by its note: the commit names a new customer's stream.
		streams: []uuid.UUID{leadID}, byNote: true,
		decide: func(u *unit) (CustomerResult, error) {
			lead, err := u.lead(leadID)
			if err != nil {
				return CustomerResult{}, err
			}
			if id := lead.CustomerID(); id != uuid.Nil {
				return CustomerResult{}, domain.AlreadyConvertedError{CustomerID: id}
			}
			to, err := h.convertedStatus(u)
			if err != nil {
				return CustomerResult{}, err
			}
			if owner, ok, err := h.customerOfLead(u, lead); err != nil || ok {
				if err != nil {
					return CustomerResult{}, err
				}
				return h.linkLead(u, lead, owner, to)
			}
			return h.newCustomer(u, func(id uuid.UUID, number int64) ([]domain.Event, error) {
				leadEvents, customerEvents, err := lead.Convert(id, number, to)
				if err == nil {
					u.append(lead, leadEvents)
				}
				return customerEvents, err
			})
		},
		replay: func(prior eventstore.CommitResult) (CustomerResult, error) { return h.replayCustomer(ctx, c, prior) },
		failed: func(err error) error {
			var taken *eventstore.ReservationError
			if errors.As(err, &taken) {
				// A customer took the lead's email meanwhile: link to it.
				return fmt.Errorf("%w: %w", errLostRace, err)
			}
			return err
		},
	})
}

// convertedStatus is the key of the tenant's Converted status, staging its
// creation when the tenant has none (statusNamed).
func (h *Handler) convertedStatus(u *unit) (domain.Status, error) {
	return h.statusNamed(u, ConvertedStatus, convertedColor)
}

// namedStatus is status, or the key of the status called name when one is
// given (statusNamed).
func (h *Handler) namedStatus(u *unit, status domain.Status, name string) (domain.Status, error) {
	if name == "" {
		return status, nil
	}
	return h.statusNamed(u, name, namedColor)
}

// namedColor is the colour of a status a command creates by name.
const namedColor = "steelblue"

// statusNamed is the key of the tenant's status called name (case
// ignored), staging its creation at the end of the pipeline, in colour
// color, when the tenant has none: the commit then checks the pipeline's
// version, so two commands that both create it cannot both commit (the
// loser tries again and finds it).
func (h *Handler) statusNamed(u *unit, name, color string) (domain.Status, error) {
	p, err := u.pipeline()
	if err != nil {
		return "", err
	}
	for _, s := range p.Statuses() {
		if strings.EqualFold(s.Name, name) {
			return s.Key, nil
		}
	}
	decided, s, err := p.CreateStatus(name, color)
	if err != nil {
		return "", err
	}
	u.append(p, decided)
	return s.Key, nil
}

// customerOfLead finds the customer holding the lead's primary email.
func (h *Handler) customerOfLead(u *unit, lead *domain.Lead) (uuid.UUID, bool, error) {
	emails := lead.Profile().Emails
	if len(emails) == 0 {
		return uuid.Nil, false, nil
	}
	return h.store.LookupReservation(u.ctx, u.c.TenantID, domain.ReserveCustomerEmail, emails[0])
}

// linkLead stages lead.converted naming the existing customer id, with the
// turn on the customer.
func (h *Handler) linkLead(u *unit, lead *domain.Lead, id uuid.UUID, to domain.Status) (CustomerResult, error) {
	if err := u.turn(id); err != nil {
		return CustomerResult{}, err
	}
	cust, err := u.customer(id)
	if errors.Is(err, domain.ErrCustomerNotFound) {
		// Deleted since its email was looked up: the release is on its way.
		return CustomerResult{}, fmt.Errorf("%w: %w", errLostRace, err)
	}
	if err != nil {
		return CustomerResult{}, err
	}
	decided, err := lead.LinkTo(cust, to)
	if err != nil {
		return CustomerResult{}, err
	}
	u.append(lead, decided)
	u.keep(customerNote{CustomerID: id, Linked: true})
	res := customerResult(cust)
	res.Linked = true
	return res, nil
}

// CustomerByNumber is the id of the tenant's customer with the per-tenant
// number n (the prospects & clients API's client id). Errors:
// domain.ErrCustomerNotFound (no such number, or the customer was deleted:
// its number was released).
func (h *Handler) CustomerByNumber(ctx context.Context, tenantID uuid.UUID, n int64) (uuid.UUID, error) {
	id, ok, err := h.store.LookupReservation(ctx, tenantID, domain.ReserveCustomerNumber, strconv.FormatInt(n, 10))
	if err != nil {
		return uuid.Nil, fmt.Errorf("look up customer %d: %w", n, err)
	}
	if !ok {
		return uuid.Nil, domain.ErrCustomerNotFound
	}
	return id, nil
}
