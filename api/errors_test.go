package api

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestUnavailable(t *testing.T) {
	// A connection pgx will not use (here: never opened; after a crash:
	// closed) fails before sending anything, as "conn closed" does.
	var dead pgconn.PgConn
	_, deadErr := dead.Exec(context.Background(), "select 1").ReadAll()
	if deadErr == nil {
		t.Fatal("exec on a connection that was never opened succeeded")
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"dead connection", fmt.Errorf("commit: %w", deadErr), true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"request cancelled", fmt.Errorf("query: %w", context.Canceled), false},
		{"deadline passed waiting for Postgres", fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{"a bug", errors.New("boom"), false},
	} {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
