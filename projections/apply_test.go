package projections_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// A permanently deleted lead's or customer's history is redacted: applied
// event by event (a projector that was behind, or a replay of the tail), it
// leaves no row in any read model, and its delete finds nothing to delete.
// The rule lives in each read model's fold, so live Apply and the bulk
// rebuild share it.
func TestApplyLeavesRedactedHistoryOut(t *testing.T) {
	store, ctx := newReadModelStore(t)
	tenant, lead, customer := uuid.New(), uuid.New(), uuid.New()
	redacted := json.RawMessage(`{"redacted":true}`)
	at := time.Now()
	var events []eventstore.Event
	// A lead's history and a customer's (records of both), each ending in
	// the delete that redacted it.
	for _, s := range []struct {
		stream  string
		id      uuid.UUID
		types   []string
		deleted string
		data    any
	}{
		{domain.LeadStream, lead, domain.LeadEventTypes(), domain.LeadDeleted, domain.LeadLifecycleData{LeadID: lead}},
		{domain.CustomerStream, customer, domain.CustomerEventTypes(), domain.CustomerDeleted, domain.CustomerDeletedData{CustomerID: customer}},
	} {
		deleted, err := json.Marshal(s.data)
		if err != nil {
			t.Fatal(err)
		}
		for i, typ := range append(s.types, s.deleted) {
			data := redacted
			if i == len(s.types) {
				data = deleted
			}
			events = append(events, eventstore.Event{ID: uuid.New(), TenantID: tenant, StreamType: s.stream,
				StreamID: s.id, Type: typ, SchemaVersion: domain.SchemaVersion, Data: data, RecordedAt: at})
		}
	}
	for _, p := range readModels {
		err := pgx.BeginFunc(ctx, store.Pool(), func(tx pgx.Tx) error {
			for _, e := range events {
				if err := p.Apply(ctx, tx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", p.Name(), err)
		}
		for _, table := range p.Tables() {
			if n := rowCount(t, ctx, store, "public", table); n != 0 {
				t.Errorf("%s: %d rows after a redacted history", table, n)
			}
		}
	}
}
