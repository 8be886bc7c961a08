package eventstore_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// newStore returns a store on a fresh, migrated database.
func newStore(t *testing.T) *eventstore.Store {
	t.Helper()
	return eventstore.New(storetest.MigratedPool(t))
}

func newID(t *testing.T) uuid.UUID {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// newIDs returns n new ids.
func newIDs(t *testing.T, n int) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = newID(t)
	}
	return ids
}

// ev builds an event of type typ whose data records n.
func ev(typ string, n int) eventstore.NewEvent {
	return eventstore.NewEvent{Type: typ, SchemaVersion: 1, Data: json.RawMessage(fmt.Sprintf(`{"n": %d}`, n))}
}

// appendTo is a commit of events to one stream of tenant.
func appendTo(tenant, stream uuid.UUID, expected int, events ...eventstore.NewEvent) eventstore.Commit {
	return eventstore.Commit{
		TenantID: tenant,
		Streams: []eventstore.StreamAppend{{
			StreamType: "lead", StreamID: stream, ExpectedVersion: expected, Events: events,
		}},
	}
}

// mustCommit commits c, failing the test on an error.
var mustCommit = storetest.MustCommit

// readAll returns every committed event (storetest.Committed).
func readAll(t *testing.T, s *eventstore.Store) []eventstore.Event {
	t.Helper()
	return storetest.Committed(t, s, 10*time.Second)
}

// types lists the event types of events, in order.
func types(events []eventstore.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}
