package eventstore

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/crmcore/crm/crmerr"
)

// ErrStreamNotFound is returned when a stream has no events for the tenant.
var ErrStreamNotFound = crmerr.New(crmerr.NotFound, "stream not found")

// ConcurrencyError is returned when a stream's version is not the expected one.
type ConcurrencyError struct {
	StreamID uuid.UUID
	Expected int
	Actual   int
}

// ErrorCode implements crmerr.Coded.
func (e *ConcurrencyError) ErrorCode() string { return crmerr.Conflict }

// Error describes the expected and actual versions.
func (e *ConcurrencyError) Error() string {
	return fmt.Sprintf("stream %s: expected version %d, actual %d", e.StreamID, e.Expected, e.Actual)
}

// ReservationError is returned when a value to reserve is owned by another stream.
type ReservationError struct {
	Reservation Reservation
	Owner       uuid.UUID
}

// ErrorCode implements crmerr.Coded.
func (e *ReservationError) ErrorCode() string { return crmerr.Duplicate }

// Error names the value and the stream that owns it.
func (e *ReservationError) Error() string {
	return fmt.Sprintf("%s %q is reserved by stream %s", e.Reservation.Kind, e.Reservation.Value, e.Owner)
}

// DuplicateCommitError is returned when a commit's idempotency key was used
// before; Result is what the first commit returned.
type DuplicateCommitError struct {
	Key    string
	Result CommitResult
}

// ErrorCode implements crmerr.Coded.
func (e *DuplicateCommitError) ErrorCode() string { return crmerr.Duplicate }

// Error names the idempotency key.
func (e *DuplicateCommitError) Error() string {
	return fmt.Sprintf("idempotency key %q already committed", e.Key)
}

// ErrInvalidCommit is wrapped by the error Commit returns for a malformed
// commit (missing tenant, stream or event fields, data that is not a JSON
// object); retrying such a commit cannot succeed.
var ErrInvalidCommit = crmerr.New(crmerr.Internal, "invalid commit")
