package commands

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
)

// Errors of commands beyond the domain's own. Each declares its crmerr
// code, so every API answers it without classifying it again.

// ErrKeyReused is returned when an idempotency key comes back on another
// kind of request than the one that first used it.
var ErrKeyReused = crmerr.New(crmerr.KeyReused, "idempotency key reused")

// ErrBusy is returned when a command could not get its turn on a lead, or
// kept losing races for it to other processes, for busyFor (see lineup.go).
var ErrBusy = crmerr.New(crmerr.Busy, "too many concurrent changes; try again")

// DuplicateError is returned for a value another owner holds: a lead's
// email or phone (CreateLead under RejectDuplicates, UpdateLead), a
// customer's email (CreateCustomer, UpdateCustomer) or a contact's email
// (AddRecord, ChangeRecord).
type DuplicateError struct {
	Field  string    // "email" or "phone"
	LeadID uuid.UUID // the lead that holds it (itself or as its contact's)
	// CustomerID is set instead of LeadID when a customer holds it.
	CustomerID uuid.UUID
	// Contact: the value is a contact's of the lead or customer.
	Contact bool
}

// Error names the field and who holds its value.
func (e *DuplicateError) Error() string {
	holder := "lead " + e.LeadID.String()
	if e.CustomerID != uuid.Nil {
		holder = "customer " + e.CustomerID.String()
	}
	if e.Contact {
		holder = "a contact of " + holder
	}
	return fmt.Sprintf("%s already belongs to %s", e.Field, holder)
}

// ErrorCode implements crmerr.Coded.
func (e *DuplicateError) ErrorCode() string { return crmerr.Duplicate }

// LeadsNotFoundError lists the ids of a bulk command that match no lead.
type LeadsNotFoundError struct {
	IDs []uuid.UUID
}

// Error counts the ids not found.
func (e *LeadsNotFoundError) Error() string {
	return fmt.Sprintf("%d of the leads were not found", len(e.IDs))
}

// ErrorCode implements crmerr.Coded.
func (e *LeadsNotFoundError) ErrorCode() string { return crmerr.NotFound }

// Is makes errors.Is(err, domain.ErrLeadNotFound) hold.
func (e *LeadsNotFoundError) Is(target error) bool { return target == domain.ErrLeadNotFound }
