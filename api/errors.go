package api

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

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
