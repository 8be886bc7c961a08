package storetest_test

import (
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/devenv/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(t.Context()) })
	return conn
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	var exists bool
	err := connect(t, storetest.AdminURL()).QueryRow(t.Context(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestPostgresGivesEachTestItsOwnDatabase(t *testing.T) {
	t.Parallel()
	var first, second string
	t.Run("first", func(t *testing.T) {
		conn := connect(t, storetest.Postgres(t))
		if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&first); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(t.Context(), "CREATE TABLE lead (name text); INSERT INTO lead VALUES ('Ada')"); err != nil {
			t.Fatal(err)
		}
		// A connection left open must not keep the database from being dropped.
		connect(t, storetest.Postgres(t))
	})
	t.Run("second", func(t *testing.T) {
		conn := connect(t, storetest.Postgres(t))
		if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&second); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_tables WHERE tablename = 'lead'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s sees the table of database %s", second, first)
		}
	})
	if !strings.HasPrefix(first, "crmtest_") || first == second {
		t.Fatalf("databases %q and %q, want two distinct crmtest_ databases", first, second)
	}
	for _, name := range []string{first, second} {
		if databaseExists(t, name) {
			t.Errorf("database %s outlived its test", name)
		}
	}
}

func TestPrefixNamesAndCleansStreams(t *testing.T) {
	t.Parallel()
	js := storetest.JetStream(t, storetest.NATS(t))

	var stream string
	t.Run("publish", func(t *testing.T) {
		prefix := storetest.Prefix(t)
		if !regexp.MustCompile(`^[a-z][a-z0-9]{1,11}$`).MatchString(prefix) {
			t.Fatalf("prefix %q is not short lowercase alphanumeric", prefix)
		}
		if other := storetest.Prefix(t); other == prefix {
			t.Fatalf("two tests got prefix %q", prefix)
		}
		stream = strings.ToUpper(prefix) + "_EVENTS"
		s, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: stream, Subjects: []string{prefix + ".events.>"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(t.Context(), prefix+".events.lead", []byte("created")); err != nil {
			t.Fatal(err)
		}
		storetest.WaitFor(t, 5*time.Second, func() (bool, error) {
			info, err := s.Info(t.Context())
			if err != nil {
				return false, err
			}
			return info.State.Msgs == 1, nil
		})
	})
	if _, err := js.Stream(t.Context(), stream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("stream %s after its test: err = %v, want ErrStreamNotFound", stream, err)
	}
}

func TestWaitForPollsUntilTrue(t *testing.T) {
	t.Parallel()
	calls := 0
	storetest.WaitFor(t, 5*time.Second, func() (bool, error) {
		calls++
		if calls < 3 {
			return false, errors.New("not yet")
		}
		return true, nil
	})
	if calls != 3 {
		t.Fatalf("cond called %d times, want 3", calls)
	}
}

// recorder is a testing.TB that records Fatalf instead of failing the test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.failed = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func TestWaitForFailsWithLastError(t *testing.T) {
	t.Parallel()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		storetest.WaitFor(r, 50*time.Millisecond, func() (bool, error) { return false, errors.New("still down") })
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	if !strings.Contains(r.failed, "still down") {
		t.Fatalf("WaitFor past its deadline: Fatalf(%q), want a failure", r.failed)
	}
}
