// Package crmerr is the one vocabulary of error kinds, after wtf's error
// codes: every error a caller may see declares one code, ErrorCode reads it
// once, and each API dialect keeps only its own code → answer table.
//
// It imports only the standard library, so domain (which imports nothing
// else of ours), commands and eventstore can all declare their codes here
// without domain pulling in I/O or eventstore depending on domain.
package crmerr

import "errors"

// The codes. They are a closed set: a dialect's table has a row for each
// (its tests check), so adding one means answering it in every dialect.
const (
	Invalid      = "invalid"      // the input is not acceptable as given
	Limit        = "limit"        // a bounded collection is full
	NotFound     = "not_found"    // the thing named does not exist (for the caller)
	Duplicate    = "duplicate"    // the thing or value already exists
	Conflict     = "conflict"     // the state changed or forbids the change
	Busy         = "busy"         // contention: the same request later may succeed
	KeyReused    = "key_reused"   // an idempotency key came back with another request
	TooLarge     = "too_large"    // the request body is over the limit
	RateLimited  = "rate_limited" // the caller sent too many requests
	Unauthorized = "unauthorized" // no valid API key
	Unavailable  = "unavailable"  // a dependency (Postgres) is down or restarting
	Internal     = "internal"     // a bug or a surprise: logged, never shown
)

// Codes lists every code, for the tests that check a table answers them all.
var Codes = []string{Invalid, Limit, NotFound, Duplicate, Conflict, Busy, KeyReused, TooLarge,
	RateLimited, Unauthorized, Unavailable, Internal}

// Coded is an error that declares its kind. Error types implement it;
// sentinels are made with New.
type Coded interface {
	error
	ErrorCode() string
}

// Error is a sentinel with a code. Pointers compare by identity, so
// errors.Is works on it as on errors.New.
type Error struct {
	code    string
	message string
}

// New returns a sentinel error of kind code; its text is message alone.
func New(code, message string) error { return &Error{code: code, message: message} }

// Error returns the message New was given.
func (e *Error) Error() string { return e.message }

// ErrorCode implements Coded.
func (e *Error) ErrorCode() string { return e.code }

// withCode gives an error from elsewhere (a driver, the standard library) a
// code, keeping it in the chain for errors.Is/As and logs.
type withCode struct {
	code string
	err  error
}

func (e *withCode) Error() string     { return e.err.Error() }
func (e *withCode) Unwrap() error     { return e.err }
func (e *withCode) ErrorCode() string { return e.code }

// Wrap marks err as of kind code, for a caller that knows what an outside
// error means here (an API key store that cannot answer: unavailable).
func Wrap(code string, err error) error { return &withCode{code: code, err: err} }

// Code returns the code the outermost coded error in err's chain declares,
// or "" when none does (err is nil, or nothing in it was given a code).
func Code(err error) string {
	if c := find(err); c != nil {
		return c.ErrorCode()
	}
	return ""
}

// Message returns the text of the outermost coded error in err's chain:
// "lead not found" for an error wrapping domain.ErrLeadNotFound, without
// the context the wrappers added. It is "" when Code is.
func Message(err error) string {
	if c := find(err); c != nil {
		return c.Error()
	}
	return ""
}

func find(err error) Coded {
	var c Coded
	if errors.As(err, &c) {
		return c
	}
	return nil
}
