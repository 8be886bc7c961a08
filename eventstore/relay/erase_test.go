package relay_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/eventstore/relay"
	"github.com/crmcore/crm/wire"
)

// A call log deleted for good: the relay erases the one message that
// logged it with a secure delete, and keeps the lead's other messages. The
// first erase fails, as if the relay died right after publishing the
// deletion: the next session's recovery erases it all the same, before the
// checkpoint passes the deletion.
func TestRelayErasesADeletedCallLogEvenAfterACrash(t *testing.T) {
	e := newEnv(t)
	lead := uuid.Must(uuid.NewV7())
	gone, kept := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	appendTo := func(sa eventstore.StreamAppend) {
		t.Helper()
		sa.StreamType, sa.StreamID, sa.ExpectedVersion = "lead", lead, eventstore.AnyVersion
		if _, err := e.store.Commit(t.Context(), eventstore.Commit{TenantID: e.tenant, Streams: []eventstore.StreamAppend{sa}}); err != nil {
			t.Fatal(err)
		}
	}
	logged := func(id uuid.UUID, notes string) eventstore.NewEvent {
		return eventstore.NewEvent{ID: uuid.Must(uuid.NewV7()), Type: "lead.call_logged", SchemaVersion: 1,
			Data: fmt.Appendf(nil, `{"lead_id":%q,"call_log_id":%q,"notes":%q}`, lead, id, notes)}
	}
	goneEvent := logged(gone, "secret-notes")
	appendTo(eventstore.StreamAppend{Events: []eventstore.NewEvent{
		{Type: "lead.created", SchemaVersion: 1, Data: leadData(1)}, goneEvent, logged(kept, "kept-notes")}})
	appendTo(eventstore.StreamAppend{RedactEvents: []uuid.UUID{goneEvent.ID}, RedactKeep: []string{"lead_id", "call_log_id"},
		Events: []eventstore.NewEvent{{Type: "lead.call_log_deleted", SchemaVersion: 1,
			Data: fmt.Appendf(nil, `{"lead_id":%q,"call_log_id":%q}`, lead, gone)}}})
	stored := e.storedEvents(t)

	// The relay publishes from a copy of the store taken before the
	// deletion redacted it: the message of the gone call log holds its notes.
	cfg := e.streamConfig("E")
	stream, err := wire.EnsureStream(t.Context(), e.js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range stored[:3] {
		if ev.ID == goneEvent.ID {
			ev.Data = goneEvent.Data
		}
		prev := eventstore.Position{}
		if i > 0 {
			prev = stored[i-1].Position
		}
		m, err := wire.Encode(cfg.Subjects, ev, prev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}

	js := &faultyJS{JetStream: e.js, failErasures: 1}
	r := relay.New(relay.Config{Store: e.store, Listener: e.listener, JS: js, Stream: cfg,
		PollInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	startRelay(t, r)
	last := stored[len(stored)-1].Position
	storetest.WaitFor(t, time.Minute, func() (bool, error) {
		cp, err := eventstore.LoadCheckpoint(t.Context(), e.store.Pool(), relay.CheckpointName, false)
		return !cp.Less(last), err
	})

	if log := js.entries(); !slices.Equal(log, []string{"publish " + last.String(), "erase 2"}) {
		t.Fatalf("relay log %v, want the deletion published, then message 2 erased", log)
	}
	var types []string
	for _, ev := range e.streamEvents(t, cfg.Name) {
		types = append(types, ev.Type)
		if strings.Contains(string(ev.Data), "secret-notes") {
			t.Errorf("message of %s still holds the deleted call log's notes", ev.Type)
		}
	}
	if want := []string{"lead.created", "lead.call_logged", "lead.call_log_deleted"}; !slices.Equal(types, want) {
		t.Fatalf("stream holds %v, want %v", types, want)
	}
	if _, err := stream.GetMsg(t.Context(), 2); err == nil {
		t.Fatal("message 2 is still in the stream")
	}
}
