package relay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/eventstore/relay"
	"github.com/crmcore/crm/wire"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// env is one test's event store and NATS connection.
type env struct {
	store    *eventstore.Store
	listener *eventstore.Listener
	nc       *nats.Conn
	js       jetstream.JetStream
	prefix   string
	tenant   uuid.UUID
}

// newEnv returns a store on a fresh, migrated database, with its listener
// running, and a JetStream connection whose streams the test owns.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	ctx := tb.Context()
	pool, err := eventstore.OpenPool(ctx, storetest.Postgres(tb)) // as crm configures its pool
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	if err := eventstore.Migrate(ctx, pool); err != nil {
		tb.Fatal(err)
	}
	listener := eventstore.NewListener(pool, nil)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = listener.Run(lctx) }()
	tb.Cleanup(func() { stop(); <-done })

	nc, err := nats.Connect(storetest.NATS(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return &env{store: eventstore.New(pool), listener: listener, nc: nc, js: js,
		prefix: storetest.Prefix(tb), tenant: uuid.Must(uuid.NewV7())}
}

// streamConfig names a JetStream stream of this test; name tells several
// streams of one test apart.
func (e *env) streamConfig(name string) wire.StreamConfig {
	return wire.StreamConfig{Name: strings.ToUpper(e.prefix) + "_" + name, Subjects: e.prefix + "." + strings.ToLower(name),
		Replicas: 1, MaxAge: time.Hour}
}

// leadData is a lead.created body of about the size crm writes.
func leadData(i int) []byte {
	return fmt.Appendf(nil, `{"id":"%s","number":%d,"profile":{"first_name":"Lead%d","last_name":"Backlog",`+
		`"emails":["lead%d@example.com"],"phones":["+3361234%04d"],"company":"Example Holdings %d",`+
		`"title":"Head of Purchasing","source":"website","priority":"medium","address":{"street":"%d rue de la Paix",`+
		`"city":"Paris","postal_code":"75002","country":"FR"},"notes":"Met at the trade fair, wants a quote for `+
		`the premium plan before the end of the quarter; call back on Tuesday morning.","tags":["fair","premium"]},`+
		`"status":"New","assigned_to":"sales-team-1"}`, uuid.Must(uuid.NewV7()), i, i, i, i%10000, i%97, i)
}

// fillBacklog appends n lead.created events, one stream each, with COPY in
// transactions of up to 5000 events.
func (e *env) fillBacklog(tb testing.TB, n int) {
	tb.Helper()
	meta, _ := json.Marshal(eventstore.Metadata{Actor: "bench", API: "bench"})
	for off := 0; off < n; off += 5000 {
		k := min(5000, n-off)
		rows := make([][]any, 0, k)
		for i := off; i < off+k; i++ {
			rows = append(rows, []any{e.tenant, "lead", uuid.Must(uuid.NewV7()), 1, uuid.Must(uuid.NewV7()),
				"lead.created", 1, leadData(i), meta})
		}
		err := pgx.BeginFunc(tb.Context(), e.store.Pool(), func(tx pgx.Tx) error {
			_, err := tx.CopyFrom(tb.Context(), pgx.Identifier{"events"}, []string{"tenant_id", "stream_type",
				"stream_id", "stream_version", "event_id", "event_type", "schema_version", "data", "metadata"},
				pgx.CopyFromRows(rows))
			return err
		})
		if err != nil {
			tb.Fatalf("fill backlog: %v", err)
		}
	}
}

// storedEvents returns every committed event, in commit order.
func (e *env) storedEvents(tb testing.TB) []eventstore.Event {
	tb.Helper()
	return storetest.Committed(tb, e.store, 30*time.Second)
}

// streamMsgs returns the number of messages the stream holds.
func streamMsgs(ctx context.Context, js jetstream.JetStream, name string) (uint64, error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// startRelay runs r until the test ends or the returned stop is called.
func startRelay(tb testing.TB, r *relay.Relay) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(tb.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("relay: %v", err)
		}
	}
	tb.Cleanup(stop)
	return stop
}
