package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// SchemaVersion is the schema version every lead event is written with today.
// When an event's data changes shape, bump it and teach DecodeLeadEvent to
// upcast the older versions: stored events are never rewritten.
const SchemaVersion = 1

// Event is one domain event: its stable type string (LeadCreated, ...) and its
// data, one of the *Data structs of lead_events.go held by value. Envelope
// fields (ids, positions, tenant, metadata) belong to the event store.
type Event struct {
	Type string
	Data any
}

// MarshalData returns the JSON stored as the event's data. It refuses data of
// the wrong Go type, because that would be stored under the wrong type string
// and break every later replay of the stream.
func (e Event) MarshalData() (json.RawMessage, error) {
	want, err := dataTypeOf(e.Type)
	if err != nil {
		return nil, err
	}
	// A pointer to the right struct marshals the same JSON, and Apply takes it too.
	got := reflect.TypeOf(e.Data)
	if got != want && (got != reflect.PointerTo(want) || reflect.ValueOf(e.Data).IsNil()) {
		return nil, fmt.Errorf("marshal %s: data is %T, want %v", e.Type, e.Data, want)
	}
	b, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", e.Type, err)
	}
	return b, nil
}

// DecodeLeadEvent turns a stored lead event back into an Event. Data that is
// Redacted (the lead was permanently deleted and its personal data erased)
// decodes to the zero data of its type, so the stream still replays.
func DecodeLeadEvent(eventType string, schemaVersion int, data []byte) (Event, error) {
	t, err := dataTypeOf(eventType)
	if err != nil {
		return Event{}, err
	}
	// The upcasting switch point: each older version is brought up to the
	// current shape here, before decoding into today's structs.
	switch schemaVersion {
	case SchemaVersion:
	default:
		return Event{}, fmt.Errorf("decode %s: unsupported schema version %d", eventType, schemaVersion)
	}
	if IsRedacted(data) {
		data = []byte("{}")
	}
	// Unknown JSON fields are ignored so a newer writer does not break an
	// older reader during a rolling deploy.
	v := reflect.New(t)
	if err := json.Unmarshal(data, v.Interface()); err != nil {
		return Event{}, fmt.Errorf("decode %s: %w", eventType, err)
	}
	return Event{Type: eventType, Data: v.Elem().Interface()}, nil
}

// IsRedacted reports whether data is the Redacted marker, in any JSON
// formatting: Postgres jsonb prints it back as {"redacted": true}.
func IsRedacted(data []byte) bool {
	// Cheap pre-check: real event data is rarely this short and never holds
	// the word, so most events skip the second decode.
	if len(data) > 64 || !bytes.Contains(data, []byte("redacted")) {
		return false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || len(m) != 1 {
		return false
	}
	return bytes.Equal(bytes.TrimSpace(m["redacted"]), []byte("true"))
}

// eventDataTypes maps each event type to the Go type of its data. Each
// aggregate's events file registers its own types (registerEvents), so a
// new event type is written beside its aggregate and nowhere else. Two
// types may share a struct (lead.updated and lead.merged) but a type string
// never changes its struct: that would break replays of stored events.
var eventDataTypes = map[string]reflect.Type{}

// eventType is an event type string and the Go type of its data.
type eventType struct {
	name string
	data reflect.Type
}

// eventOf is event type name, whose data is a T.
func eventOf[T any](name string) eventType { return eventType{name, reflect.TypeFor[T]()} }

// registerEvents adds types to eventDataTypes and returns their names in
// order. A type registered twice is a programming error: it panics while
// the package initializes, so no test or binary runs with it.
func registerEvents(types ...eventType) []string {
	names := make([]string, len(types))
	for i, t := range types {
		if _, dup := eventDataTypes[t.name]; dup {
			panic("domain: event type " + t.name + " registered twice")
		}
		eventDataTypes[t.name], names[i] = t.data, t.name
	}
	return names
}

// DecodeEvent turns any stored domain event back into an Event (lead and
// pipeline streams alike).
func DecodeEvent(eventType string, schemaVersion int, data []byte) (Event, error) {
	return DecodeLeadEvent(eventType, schemaVersion, data)
}

func dataTypeOf(eventType string) (reflect.Type, error) {
	t, ok := eventDataTypes[eventType]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownEventType, eventType)
	}
	return t, nil
}
