package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crmcore/crm/crmerr"
)

// ErrorCode classifies err once for every dialect: the crmerr code the
// error declares; unavailable when a dependency is down; else internal.
// Declared codes come first, as a domain error wrapping a driver's is the
// domain's answer.
func ErrorCode(err error) string {
	if code := crmerr.Code(err); code != "" {
		return code
	}
	if Unavailable(err) {
		return crmerr.Unavailable
	}
	return crmerr.Internal
}

// Unavailable reports whether err means a dependency (Postgres) is down or
// restarting: the API answers 503 with Retry-After, not 500.
func Unavailable(err error) bool {
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P0x: shutdown, crash, cannot connect now.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	}
	// A connection Postgres dropped (a crash, a restart) that pgx is asked
	// to use again: it refuses with "conn closed", an error it marks safe to
	// retry since nothing was sent. A cancelled context is marked so too:
	// a client that went away is not an outage.
	if pgconn.SafeToRetry(err) && !errors.Is(err, context.Canceled) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// ErrorCode implements crmerr.Coded: a refusal is bad input, unless its
// status says the thing asked for is missing or the body too large.
func (e *BadInput) ErrorCode() string {
	switch e.Status {
	case http.StatusNotFound:
		return crmerr.NotFound
	case http.StatusRequestEntityTooLarge:
		return crmerr.TooLarge
	}
	return crmerr.Invalid
}

// Answer renders an error of one code in a dialect's shape: the status and
// the JSON body. It reads per-field detail from err when its shape needs it.
type Answer func(c *gin.Context, err error) (status int, body any)

// ErrorShape is how one dialect answers errors: a row per crmerr code (its
// tests check each code has one) and the shape of the API layer's own
// refusals (BadInput), whose status is decided already.
type ErrorShape struct {
	// Name names the dialect in the log line of an internal error.
	Name string
	// BadInput is the body for a BadInput, answered with its Status.
	BadInput func(bad *BadInput) any
	// Codes answers every other error by its code.
	Codes map[string]Answer
}

// retryLater are the codes whose answers tell the client when to retry:
// the same request may succeed in a second.
var retryLater = map[string]bool{crmerr.Busy: true, crmerr.Unavailable: true}

// Fail answers err in shape s. It is the one place an error becomes an
// answer: a BadInput as the API layer decided it (first, as it names the
// field); any other error by its code's row; an internal error (or a code
// s has no row for) is logged here, with its route and request id, and
// shown as s's 500 without detail.
func (d *Deps) Fail(c *gin.Context, err error, s *ErrorShape) {
	var bad *BadInput
	if errors.As(err, &bad) {
		c.JSON(bad.Status, s.BadInput(bad))
		return
	}
	code := ErrorCode(err)
	answer, ok := s.Codes[code]
	if code == crmerr.Internal || !ok {
		d.Logger.Error(s.Name+" request failed", "route", c.FullPath(), "err", err, "code", code,
			"request_id", c.GetString(HeaderRequestID))
		code, answer = crmerr.Internal, s.Codes[crmerr.Internal]
	}
	if retryLater[code] {
		c.Header("Retry-After", "1")
	}
	status, body := answer(c, err)
	c.JSON(status, body)
}
