package storetest

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/eventstore"
)

// AdminURL returns the connection string of the PostgreSQL server's
// maintenance database, for tests that manage databases themselves.
func AdminURL() string {
	if env.adminURL != "" {
		return env.adminURL
	}
	if u := os.Getenv(DatabaseURLEnv); u != "" {
		return u
	}
	panic("storetest: no PostgreSQL: call storetest.Main from TestMain, or set " + DatabaseURLEnv)
}

// Postgres creates an empty database for this test alone, drops it when the
// test ends, and returns its connection string.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := AdminURL()
	name := "crmtest_" + randomHex(6)
	// template0 because template1 may hold whatever a shared server's owner
	// put there, and because copying template1 fails while anyone is
	// connected to it. The C locale matches the private cluster (initdb
	// --no-locale), so tests sort the same on every server.
	execSQL(t.Context(), t, admin, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
	t.Cleanup(func() {
		// t.Context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		// FORCE ends connections the test leaked, which would block the drop.
		execSQL(ctx, t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return withDatabase(admin, name)
}

func execSQL(ctx context.Context, t testing.TB, connString, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Fatalf("storetest: connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("storetest: %s: %v", sql, err)
	}
}

// withDatabase returns connString with its database replaced by name, in
// either connection string form pgx accepts.
func withDatabase(connString, name string) string {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err == nil {
			u.Path, u.RawPath = "/"+name, ""
			return u.String()
		}
	}
	// Keyword/value form: a later keyword overrides an earlier one.
	return connString + " dbname=" + name
}

// MigratedPool opens a pool on a database of this test alone (Postgres),
// migrated to crm's schema, and closes it when the test ends.
func MigratedPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := t.Context()
	pool, err := eventstore.OpenPool(ctx, Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := eventstore.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return pool
}
