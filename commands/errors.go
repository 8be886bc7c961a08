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

// DuplicateError is returned by CreateLead under RejectDuplicates.
type DuplicateError struct {
	Field  string // "email" or "phone"
	LeadID uuid.UUID
}

// Error names the field and the lead that owns its value.
func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%s already belongs to lead %s", e.Field, e.LeadID)
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
