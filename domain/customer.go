package domain

import (
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Customer is the customer aggregate: someone who buys, created directly or
// by converting a lead. Its state only changes through Apply; decisions
// read it and return the events to append.
type Customer struct {
	id      uuid.UUID
	number  int64
	leadID  uuid.UUID
	profile CustomerProfile
	follow  Status
	exists  bool
	deleted bool
	version int
	// orders counts its live orders (order.go): one with orders cannot be deleted.
	orders int
	// feedback are the feedback requests made of it (feedback.go): they are
	// deleted with it.
	feedback []uuid.UUID
	// records are its interactions, contacts and locations (records.go).
	records records
}

// Errors of customer decisions.
var (
	// ErrCustomerNotFound: the customer was never created, or is deleted.
	ErrCustomerNotFound = newError("not_found", "customer not found")
)

// AlreadyConvertedError refuses converting a lead twice; it names the
// customer the lead already became.
type AlreadyConvertedError struct{ CustomerID uuid.UUID }

// Error reads as "lead already converted to customer <id>".
func (e AlreadyConvertedError) Error() string {
	return fmt.Sprintf("lead already converted to customer %s", e.CustomerID)
}

// ErrorCode names the error's kind in crm's vocabulary (crmerr).
func (e AlreadyConvertedError) ErrorCode() string { return "conflict" }

// NewCustomerFromHistory rebuilds a customer's state from its stored events,
// in order. It is not a constructor and validates nothing: the events were
// accepted when they were decided.
func NewCustomerFromHistory(events []Event) *Customer {
	c := &Customer{}
	for _, e := range events {
		c.Apply(e)
	}
	return c
}

// Apply evolves the customer by one event: a pure switch over event types,
// no validation, no error, since stored events are facts.
func (c *Customer) Apply(e Event) {
	c.version++
	switch e.Type {
	case CustomerCreated:
		d := eventData[CustomerCreatedData](e)
		c.exists = true
		c.id, c.number, c.leadID = d.CustomerID, d.Number, d.LeadID
		c.profile, c.follow = d.Profile.clone(), d.Follow
	case CustomerUpdated:
		c.profile = c.profile.WithChanges(eventData[CustomerUpdatedData](e).Changes)
	case CustomerDeleted:
		d := eventData[CustomerDeletedData](e)
		c.deleted = true
		if c.id == uuid.Nil {
			c.id = d.CustomerID // a redacted stream keeps customer.deleted intact
		}
	case CustomerFeedbackRequested:
		if id := eventData[CustomerFeedbackData](e).FeedbackID; id != uuid.Nil {
			c.feedback = append(c.feedback, id)
		}
	default:
		if !c.applyOrder(e) {
			c.records.apply(recordKindsOf(CustomerStream), e)
		}
	}
}

// Exists reports whether the customer was ever created (even if since deleted).
func (c *Customer) Exists() bool { return c.exists }

// Deleted reports whether the customer was deleted.
func (c *Customer) Deleted() bool { return c.deleted }

// ID returns the customer's id.
func (c *Customer) ID() uuid.UUID { return c.id }

// Number returns the per-tenant integer id some APIs show.
func (c *Customer) Number() int64 { return c.number }

// LeadID returns the lead the customer was converted from (nil if none).
func (c *Customer) LeadID() uuid.UUID { return c.leadID }

// Profile returns a deep copy of the profile.
func (c *Customer) Profile() CustomerProfile { return c.profile.clone() }

// Follow returns the customer's follow-up status.
func (c *Customer) Follow() Status { return c.follow }

// Version returns the number of events applied (the stream version a
// command expects when it appends).
func (c *Customer) Version() int { return c.version }

// CreateCustomer decides the creation of customer id with per-tenant number,
// profile p (already normalized) and follow-up status follow; leadID names
// the lead it comes from, if any. Type defaults to business when there is a
// company, else individual; status to active; follow to Won (a buyer).
// Uniqueness of the email is a reservation, the caller's job.
func CreateCustomer(id uuid.UUID, number int64, leadID uuid.UUID, p CustomerProfile, follow Status) ([]Event, error) {
	if id == uuid.Nil {
		return nil, invalid("customer_id", "must be set")
	}
	if number < 1 {
		return nil, invalid("number", "must be positive")
	}
	if follow == "" {
		follow = "Won"
	}
	follow, err := ParseStatus(string(follow))
	if err != nil {
		return nil, err
	}
	p, err = p.complete()
	if err != nil {
		return nil, err
	}
	return []Event{{Type: CustomerCreated, Data: CustomerCreatedData{
		CustomerID: id, Number: number, LeadID: leadID, Profile: p, Follow: follow,
	}}}, nil
}

// Update decides the replacement of the whole profile by p; a dialect with
// partial updates starts p from Profile(). Nothing changed, no event.
func (c *Customer) Update(p CustomerProfile) ([]Event, error) {
	if err := c.mustExist(); err != nil {
		return nil, err
	}
	p, err := p.complete()
	if err != nil {
		return nil, err
	}
	changes, err := customerFields.diff(c.profile, p)
	if err != nil || len(changes) == 0 {
		return nil, err
	}
	return []Event{{Type: CustomerUpdated, Data: CustomerUpdatedData{CustomerID: c.id, Changes: changes}}}, nil
}

// Delete decides deleting the customer for good (the store redacts its
// stream). Deleting twice is ErrCustomerNotFound; a customer with orders
// is ErrCustomerHasOrders.
func (c *Customer) Delete() ([]Event, error) {
	if err := c.mustExist(); err != nil {
		return nil, err
	}
	if c.orders > 0 {
		return nil, ErrCustomerHasOrders
	}
	return []Event{{Type: CustomerDeleted, Data: CustomerDeletedData{CustomerID: c.id}}}, nil
}

// FeedbackRequests returns the ids of the feedback requests made of the
// customer, oldest first: deleting the customer deletes them.
func (c *Customer) FeedbackRequests() []uuid.UUID { return slices.Clone(c.feedback) }

func (c *Customer) mustExist() error {
	if !c.exists || c.deleted {
		return ErrCustomerNotFound
	}
	return nil
}

// Convert decides converting the lead into customer id (per-tenant number),
// one commit over both streams: lead.converted and, unless the lead is there
// already, lead.status_changed to status to (the tenant's "Converted"
// status) in the lead's stream; customer.created, from the lead's profile
// and with follow-up status to, in the customer's. The lead's events come
// first. A lead converted before is AlreadyConvertedError naming its
// customer.
func (l *Lead) Convert(id uuid.UUID, number int64, to Status) (lead, customer []Event, err error) {
	if err := l.mustExist(); err != nil {
		return nil, nil, err
	}
	if l.customerID != uuid.Nil {
		return nil, nil, AlreadyConvertedError{CustomerID: l.customerID}
	}
	customer, err = CreateCustomer(id, number, l.id, customerFromLead(l.profile), to)
	if err != nil {
		return nil, nil, err
	}
	lead = []Event{{Type: LeadConverted, Data: LeadConvertedData{LeadID: l.id, CustomerID: id, CustomerNumber: number}}}
	status, err := l.ChangeStatus(to)
	if err != nil {
		return nil, nil, err
	}
	return append(lead, status...), customer, nil
}

// LinkTo decides converting the lead by linking it to customer c, which
// already exists (its email is the lead's): lead.converted naming c and,
// unless the lead is there already, lead.status_changed to status to. No
// customer is created. A lead converted before is AlreadyConvertedError.
func (l *Lead) LinkTo(c *Customer, to Status) ([]Event, error) {
	if err := l.mustExist(); err != nil {
		return nil, err
	}
	if l.customerID != uuid.Nil {
		return nil, AlreadyConvertedError{CustomerID: l.customerID}
	}
	if err := c.mustExist(); err != nil {
		return nil, err
	}
	status, err := l.ChangeStatus(to)
	if err != nil {
		return nil, err
	}
	converted := Event{Type: LeadConverted, Data: LeadConvertedData{LeadID: l.id, CustomerID: c.id, CustomerNumber: c.number}}
	return append([]Event{converted}, status...), nil
}

// CustomerID returns the customer the lead was converted to (nil if none).
func (l *Lead) CustomerID() uuid.UUID { return l.customerID }
