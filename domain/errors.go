package domain

import (
	"fmt"
)

// Errors callers branch on. A deleted lead does not exist for callers, so
// ErrLeadDeleted wraps ErrLeadNotFound: errors.Is(err, ErrLeadNotFound) holds
// for both, and only code that cares (audit, purge) asks for ErrLeadDeleted.
var (
	// ErrCommentNotFound is returned for a comment the lead does not have.
	ErrCommentNotFound = newError("not_found", "comment not found")
	// ErrCommentChanged: the content given as a comment's current one is
	// not (another edit came first); read it again.
	ErrCommentChanged = newError("conflict", "comment changed since it was read")
	// ErrLeadNotFound: the lead was never created (or is deleted, see ErrLeadDeleted).
	ErrLeadNotFound = newError("not_found", "lead not found")
	// ErrLeadDeleted: the lead existed and was deleted; wraps ErrLeadNotFound.
	ErrLeadDeleted = fmt.Errorf("lead deleted: %w", ErrLeadNotFound)
	// ErrCallLogNotFound: the id is not a live call log of this lead.
	ErrCallLogNotFound = newError("not_found", "call log not found")
	// ErrCallLogExists: the call log id was already used in this lead's stream.
	ErrCallLogExists = newError("duplicate", "call log already exists")
	// ErrInvalid matches every ValidationError through errors.Is, for error
	// mapping that only needs "bad input" and not which field.
	ErrInvalid = newError("invalid", "invalid input")
	// ErrUnknownEventType: a stored event type this code does not know.
	ErrUnknownEventType = newError("internal", "unknown event type")
)

// ValidationError says which input field was rejected and why. Field is the
// LeadProfile JSON name ("emails", "score") or the command field name
// ("status", "call_type"); each API dialect maps it onto its own field names.
// It is returned by value: use errors.As(err, &ve) with var ve ValidationError.
type ValidationError struct {
	Field  string
	Reason string
}

// Error reads as "<field> <reason>", e.g. "score must be between 0 and 100".
func (e ValidationError) Error() string { return e.Field + " " + e.Reason }

// ErrorCode names the error's kind in crm's vocabulary (crmerr).
func (e ValidationError) ErrorCode() string { return "invalid" }

// Is makes errors.Is(err, ErrInvalid) true for every validation error.
func (e ValidationError) Is(target error) bool { return target == ErrInvalid }

// invalid builds the error for a rejected field; reason completes the sentence
// that starts with the field name.
func invalid(field, reason string) error {
	return ValidationError{Field: field, Reason: reason}
}

// LimitError says a lead already holds as many of something as one lead
// may (MaxCommentsPerLead, MaxCallLogsPerLead): the bounds that keep one
// lead's state, which every command on it loads, bounded. Field names the
// collection ("comments", "call_logs"). It is a ValidationError too, for
// the APIs that answer every bad input alike (errors.As gives one).
type LimitError struct {
	Field string
	Limit int
}

// Error reads as "comments must be at most 10000 per lead".
func (e LimitError) Error() string { return e.Field + " " + e.reason() }

func (e LimitError) reason() string { return fmt.Sprintf("must be at most %d per lead", e.Limit) }

// ErrorCode names the error's kind in crm's vocabulary (crmerr): a full collection, not a bad value.
func (e LimitError) ErrorCode() string { return "limit" }

// Is makes errors.Is(err, ErrInvalid) true, as for a ValidationError.
func (e LimitError) Is(target error) bool { return target == ErrInvalid }

// As lets errors.As find a ValidationError naming the same field.
func (e LimitError) As(target any) bool {
	return readAs(target, ValidationError{Field: e.Field, Reason: e.reason()})
}

// readAs sets target to v when it is a *ValidationError: how an error of
// another kind reads as a ValidationError for errors.As.
func readAs(target any, v ValidationError) bool {
	p, ok := target.(*ValidationError)
	if ok {
		*p = v
	}
	return ok
}

// codedError is a domain error that names its kind with a code of crm's
// error vocabulary (package crmerr, whose Coded interface it satisfies):
// domain imports nothing of ours, so the code is written as its string, and
// api's TestEveryExportedErrorHasACode checks each is one crmerr knows.
type codedError struct{ code, message string }

func newError(code, message string) error { return &codedError{code: code, message: message} }

func (e *codedError) Error() string { return e.message }

// ErrorCode is the error's kind (a crmerr code).
func (e *codedError) ErrorCode() string { return e.code }

// EntryError says which entry of a profile field NormalizeProfile could not
// bring into the form the domain stores, precisely enough for each API
// dialect to blame its own field in its own words: Field is the LeadProfile
// JSON name ("emails", "phones", "mobile_no", "assigned_to",
// "custom_fields"), Index the entry of a list field (0 for a field of one
// value), Value the entry as sent and Reason why it was refused ("is not a
// valid phone number"). It reads as a ValidationError too (errors.As gives
// one), for the APIs that answer every bad input alike.
type EntryError struct {
	Field  string
	Index  int
	Value  string
	Reason string
}

// Error reads as the ValidationError it is: `phones entry "12" is not a phone number`.
func (e EntryError) Error() string { return e.validation().Error() }

// validation names the entry in a list field by its value, so a client
// sending several sees which one was refused.
func (e EntryError) validation() ValidationError {
	if listFields[e.Field] {
		return ValidationError{Field: e.Field, Reason: fmt.Sprintf("entry %q %s", e.Value, e.Reason)}
	}
	return ValidationError{Field: e.Field, Reason: e.Reason}
}

// listFields are the profile fields whose entries an EntryError indexes.
var listFields = map[string]bool{"emails": true, "phones": true}

// ErrorCode names the error's kind in crm's vocabulary (crmerr).
func (e EntryError) ErrorCode() string { return "invalid" }

// Is makes errors.Is(err, ErrInvalid) true, as for a ValidationError.
func (e EntryError) Is(target error) bool { return target == ErrInvalid }

// As lets errors.As find the ValidationError the entry error reads as.
func (e EntryError) As(target any) bool { return readAs(target, e.validation()) }

// NormalizeError is NormalizeProfile's refusal: every entry it could not
// normalize, in the order of the profile's fields. All of them, not the
// first: each dialect blames the one its API has always named first.
// errors.As finds the first as an EntryError or a ValidationError.
type NormalizeError struct {
	Entries []EntryError
}

// Error reads as the first entry's error.
func (e *NormalizeError) Error() string { return e.Entries[0].Error() }

// ErrorCode names the error's kind in crm's vocabulary (crmerr).
func (e *NormalizeError) ErrorCode() string { return "invalid" }

// Unwrap gives the entries to errors.Is and errors.As.
func (e *NormalizeError) Unwrap() []error {
	errs := make([]error, len(e.Entries))
	for i, entry := range e.Entries {
		errs[i] = entry
	}
	return errs
}

// Entry returns the first entry of field that was refused.
func (e *NormalizeError) Entry(field string) (EntryError, bool) {
	for _, entry := range e.Entries {
		if entry.Field == field {
			return entry, true
		}
	}
	return EntryError{}, false
}
