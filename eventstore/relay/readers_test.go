package relay_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore/relay"
)

// A backlog read in parallel ranges, while an older transaction stays open
// (it holds back everything committed after it began, then writes and
// commits) and more events, deletions among them, are committed during the
// reads: the stream holds every event once, in commit order, and the
// deleted leads' earlier messages are purged.
func TestRelayParallelReadsKeepCommitOrder(t *testing.T) {
	e := newEnv(t)
	e.fillBacklog(t, 4000)
	backlog := len(e.storedEvents(t))

	older := storetest.Begin(t, e.store.Pool())
	ctx := t.Context()
	if _, err := older.Exec(ctx, "select pg_current_xact_id()"); err != nil {
		t.Fatal(err)
	}
	deleted := e.appendLeads(t, 200) // held back by the older transaction

	cfg := e.streamConfig("P")
	r := relay.New(relay.Config{Store: e.store, Listener: e.listener, JS: e.js, Stream: cfg,
		BatchSize: 70, Readers: 3, Window: 50, PollInterval: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	startRelay(t, r)
	storetest.WaitFor(t, time.Minute, func() (bool, error) {
		n, err := streamMsgs(ctx, e.js, cfg.Name)
		return n >= uint64(backlog), err
	})
	if n, err := streamMsgs(ctx, e.js, cfg.Name); err != nil || n != uint64(backlog) {
		t.Fatalf("stream holds %d messages (%v) while an older transaction is open, want the %d before it", n, err, backlog)
	}

	// The older transaction writes after the later commits, then commits:
	// its event comes first in commit order.
	olderID := uuid.Must(uuid.NewV7())
	_, err := older.Exec(ctx, `insert into events
		(tenant_id, stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
		values ($1, 'lead', $2, 1, $3, 'lead.created', 1, $4, '{}')`, e.tenant, uuid.Must(uuid.NewV7()),
		olderID, leadData(-1))
	if err != nil {
		t.Fatal(err)
	}
	if err := older.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// More backlog and more leads while the relay reads.
	e.fillBacklog(t, 3000)
	for id := range e.appendLeads(t, 300) {
		deleted[id] = true
	}
	e.assertMirrors(t, cfg.Name, deleted)
	if got := e.streamEvents(t, cfg.Name); got[backlog].ID != olderID {
		t.Fatalf("message %d is event %s, want the older transaction's %s", backlog, got[backlog].ID, olderID)
	}
}
