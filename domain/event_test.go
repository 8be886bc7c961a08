package domain

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// sampleEvents holds one filled-in event of every lead event type.
func sampleEvents() map[string]Event {
	p := known()
	p.DealValue = ptr(1500.5)
	p.CustomFields = json.RawMessage(`{"budget":"10k","seats":12}`)
	out := map[string]Event{
		LeadCreated:       {Type: LeadCreated, Data: LeadCreatedData{LeadID: leadID, Number: 42, Profile: p, Status: "Qualified"}},
		LeadUpdated:       updated(change("company", `"Old Co"`, `null`), change("score", `null`, `40`)),
		LeadMerged:        merged(change("tags", `["vip"]`, `["vip","hot"]`)),
		LeadStatusChanged: statusChanged("New", "Won"),
		LeadArchived:      lifecycle(LeadArchived),
		LeadRestored:      lifecycle(LeadRestored),
		LeadDeleted:       lifecycle(LeadDeleted, callA, callB),
		CallLogged:        {Type: CallLogged, Data: CallLoggedData{LeadID: leadID, CallLogID: callA, CallType: CallInbound, DurationSeconds: 12, Outcome: "Busy", Notes: "call back\nafter 5", CalledAt: calledAt}},
		CallLogDeleted:    callDeleted(callA),
		CommentAdded:      {Type: CommentAdded, Data: CommentAddedData{LeadID: leadID, CommentID: 7, Content: "Called, no answer", Author: "api_key:1"}},
		CommentEdited:     {Type: CommentEdited, Data: CommentEditedData{LeadID: leadID, CommentID: 7, Old: "Called, no answer", New: "Called twice"}},
		LeadConverted:     converted(),
		CustomerCreated:   customerCreated(leadID, ashaCustomer()),
		CustomerUpdated:   {Type: CustomerUpdated, Data: CustomerUpdatedData{CustomerID: customerID, Changes: []FieldChange{change("status", `"active"`, `"blocked"`)}}},
		CustomerDeleted:   {Type: CustomerDeleted, Data: CustomerDeletedData{CustomerID: customerID}},
	}
	for k, e := range recordSamples() {
		out[k] = e
	}
	return out
}

func TestEventRoundTrip(t *testing.T) {
	samples := sampleEvents()
	for _, eventType := range allEventTypes() {
		t.Run(eventType, func(t *testing.T) {
			e, ok := samples[eventType]
			if !ok {
				t.Fatalf("no sample event of type %s", eventType)
			}
			roundTrip(t, e)
			// A pointer marshals the same bytes as the value.
			byValue, _ := e.MarshalData()
			ptrData := reflect.New(reflect.TypeOf(e.Data))
			ptrData.Elem().Set(reflect.ValueOf(e.Data))
			byPtr, err := Event{Type: e.Type, Data: ptrData.Interface()}.MarshalData()
			if err != nil || string(byPtr) != string(byValue) {
				t.Errorf("pointer data: %s, %v; want %s", byPtr, err, byValue)
			}
		})
	}
	if len(samples) != len(allEventTypes()) {
		t.Errorf("%d samples for %d event types", len(samples), len(allEventTypes()))
	}
}

func TestEventDataIsStable(t *testing.T) {
	// The stored shape is a contract with every event already written.
	data, err := sampleEvents()[CallLogged].MarshalData()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"lead_id":"01956c1e-7a00-7000-8000-000000000001","call_log_id":"01956c1e-7a00-7000-8000-0000000000a1",` +
		`"call_type":"Inbound","duration_seconds":12,"outcome":"Busy","notes":"call back\nafter 5","called_at":"2025-03-01T10:30:00Z"}`
	if string(data) != want {
		t.Errorf("call_logged data:\n got %s\nwant %s", data, want)
	}
}

func TestDecodeRedacted(t *testing.T) {
	for _, eventType := range allEventTypes() {
		for _, data := range []string{string(Redacted), `{"redacted": true}`, " {\n \"redacted\" : true } "} {
			e, err := DecodeLeadEvent(eventType, SchemaVersion, []byte(data))
			if err != nil {
				t.Fatalf("%s %s: %v", eventType, data, err)
			}
			zero := reflect.Zero(reflect.TypeOf(sampleEvents()[eventType].Data)).Interface()
			if e.Type != eventType || !reflect.DeepEqual(e.Data, zero) {
				t.Errorf("%s %s decoded to %+v, want zero %T", eventType, data, e, zero)
			}
		}
	}
}

func TestIsRedacted(t *testing.T) {
	tests := map[string]bool{
		`{"redacted":true}`:                true,
		`{"redacted": true}`:               true,
		`{"redacted":false}`:               false,
		`{"redacted":true,"lead_id":"x"}`:  false,
		`{"notes":"this was redacted"}`:    false,
		`{"redacted":"true"}`:              false,
		`not json, redacted`:               false,
		`{"lead_id":"01956c1e-7a00-7000"}`: false,
	}
	for data, want := range tests {
		if got := IsRedacted([]byte(data)); got != want {
			t.Errorf("IsRedacted(%s) = %v, want %v", data, got, want)
		}
	}
}

// TestRedactedStreamReplays: a permanently deleted lead's events are redacted
// in place except lead.deleted, and the stream must still load.
func TestRedactedStreamReplays(t *testing.T) {
	var history []Event
	for _, eventType := range []string{LeadCreated, LeadUpdated, CallLogged, LeadArchived} {
		e, err := DecodeLeadEvent(eventType, SchemaVersion, Redacted)
		if err != nil {
			t.Fatal(err)
		}
		history = append(history, e)
	}
	deleted, _ := lifecycle(LeadDeleted, callA).MarshalData()
	e, err := DecodeLeadEvent(LeadDeleted, SchemaVersion, deleted)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLeadFromHistory(append(history, e))
	if !l.Deleted() || l.ID() != leadID || l.Version() != 5 || l.CallLogIDs() != nil {
		t.Errorf("deleted=%v id=%v version=%d calls=%v", l.Deleted(), l.ID(), l.Version(), l.CallLogIDs())
	}
	if _, err := l.ChangeStatus("Won"); !errors.Is(err, ErrLeadNotFound) {
		t.Errorf("ChangeStatus on a redacted lead: %v", err)
	}
}

func TestDecodeLeadEventErrors(t *testing.T) {
	tests := []struct {
		name      string
		eventType string
		version   int
		data      string
		unknown   bool
	}{
		{name: "unknown type", eventType: "lead.teleported", version: SchemaVersion, data: `{}`, unknown: true},
		{name: "Go type name is not an event type", eventType: "LeadCreatedData", version: SchemaVersion, data: `{}`, unknown: true},
		{name: "future schema version", eventType: LeadCreated, version: SchemaVersion + 1, data: `{}`},
		{name: "no schema version", eventType: LeadCreated, version: 0, data: `{}`},
		{name: "not JSON", eventType: LeadCreated, version: SchemaVersion, data: `{`},
		{name: "wrong shape", eventType: CallLogged, version: SchemaVersion, data: `{"duration_seconds":"long"}`},
	}
	for _, tt := range tests {
		_, err := DecodeLeadEvent(tt.eventType, tt.version, []byte(tt.data))
		if err == nil {
			t.Errorf("%s: no error", tt.name)
		}
		if errors.Is(err, ErrUnknownEventType) != tt.unknown {
			t.Errorf("%s: errors.Is(%v, ErrUnknownEventType) = %v", tt.name, err, !tt.unknown)
		}
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	e, err := DecodeLeadEvent(LeadArchived, SchemaVersion, []byte(`{"lead_id":"`+leadID.String()+`","reason":"spam"}`))
	if err != nil || !reflect.DeepEqual(e, lifecycle(LeadArchived)) {
		t.Fatalf("got %+v, %v", e, err)
	}
}

func TestMarshalDataRefusesMismatchedData(t *testing.T) {
	tests := []Event{
		{Type: LeadArchived, Data: LeadCreatedData{}},
		{Type: LeadCreated, Data: nil},
		{Type: LeadCreated, Data: (*LeadCreatedData)(nil)},
		{Type: LeadCreated, Data: map[string]any{"lead_id": leadID}},
		{Type: "lead.teleported", Data: LeadLifecycleData{}},
	}
	for _, e := range tests {
		if data, err := e.MarshalData(); err == nil {
			t.Errorf("MarshalData(%s, %T) = %s, want an error", e.Type, e.Data, data)
		}
	}
}
