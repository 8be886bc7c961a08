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
	want, err := leadEventDataType(e.Type)
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
	t, err := leadEventDataType(eventType)
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

// leadEventData maps each lead event type to the Go type of its data. Two
// types may share a struct (lead.updated and lead.merged) but a type string
// never changes its struct: that would break replays of stored events.
var leadEventData = map[string]reflect.Type{
	LeadCreated:       reflect.TypeFor[LeadCreatedData](),
	LeadUpdated:       reflect.TypeFor[LeadUpdatedData](),
	LeadMerged:        reflect.TypeFor[LeadUpdatedData](),
	LeadStatusChanged: reflect.TypeFor[LeadStatusChangedData](),
	LeadArchived:      reflect.TypeFor[LeadLifecycleData](),
	LeadRestored:      reflect.TypeFor[LeadLifecycleData](),
	LeadDeleted:       reflect.TypeFor[LeadLifecycleData](),
	CallLogged:        reflect.TypeFor[CallLoggedData](),
	CallLogDeleted:    reflect.TypeFor[CallLogDeletedData](),
	CommentAdded:      reflect.TypeFor[CommentAddedData](),
	CommentEdited:     reflect.TypeFor[CommentEditedData](),
	LeadConverted:     reflect.TypeFor[LeadConvertedData](),

	CustomerCreated: reflect.TypeFor[CustomerCreatedData](),
	CustomerUpdated: reflect.TypeFor[CustomerUpdatedData](),
	CustomerDeleted: reflect.TypeFor[CustomerDeletedData](),

	LeadInteractionLogged:      reflect.TypeFor[InteractionData](),
	LeadInteractionChanged:     reflect.TypeFor[InteractionData](),
	LeadInteractionDeleted:     reflect.TypeFor[RecordRemovedData](),
	LeadContactAdded:           reflect.TypeFor[ContactData](),
	LeadContactChanged:         reflect.TypeFor[ContactData](),
	LeadContactRemoved:         reflect.TypeFor[RecordRemovedData](),
	LeadLocationAdded:          reflect.TypeFor[LocationData](),
	LeadLocationChanged:        reflect.TypeFor[LocationData](),
	LeadLocationRemoved:        reflect.TypeFor[RecordRemovedData](),
	CustomerInteractionLogged:  reflect.TypeFor[InteractionData](),
	CustomerInteractionChanged: reflect.TypeFor[InteractionData](),
	CustomerInteractionDeleted: reflect.TypeFor[RecordRemovedData](),
	CustomerContactAdded:       reflect.TypeFor[ContactData](),
	CustomerContactChanged:     reflect.TypeFor[ContactData](),
	CustomerContactRemoved:     reflect.TypeFor[RecordRemovedData](),
	CustomerLocationAdded:      reflect.TypeFor[LocationData](),
	CustomerLocationChanged:    reflect.TypeFor[LocationData](),
	CustomerLocationRemoved:    reflect.TypeFor[RecordRemovedData](),

	OrderCreated:         reflect.TypeFor[OrderCreatedData](),
	OrderUpdated:         reflect.TypeFor[OrderUpdatedData](),
	OrderStatusChanged:   reflect.TypeFor[OrderStatusChangedData](),
	OrderDeleted:         reflect.TypeFor[OrderDeletedData](),
	CustomerOrderPlaced:  reflect.TypeFor[CustomerOrderData](),
	CustomerOrderRemoved: reflect.TypeFor[CustomerOrderData](),
	FeedbackRequested:    reflect.TypeFor[FeedbackRequestedData](),
	FeedbackReceived:     reflect.TypeFor[FeedbackReceivedData](),
	FeedbackExpired:      reflect.TypeFor[FeedbackExpiredData](),

	PipelineStatusCreated:   reflect.TypeFor[PipelineStatusData](),
	PipelineStatusChanged:   reflect.TypeFor[PipelineStatusChangedData](),
	PipelineStatusDeleted:   reflect.TypeFor[PipelineStatusData](),
	PipelineStatusReordered: reflect.TypeFor[PipelineData](),
}

// DecodeEvent turns any stored domain event back into an Event (lead and
// pipeline streams alike).
func DecodeEvent(eventType string, schemaVersion int, data []byte) (Event, error) {
	return DecodeLeadEvent(eventType, schemaVersion, data)
}

// PipelineEventTypes returns every pipeline event type.
func PipelineEventTypes() []string {
	return []string{PipelineStatusCreated, PipelineStatusChanged, PipelineStatusDeleted, PipelineStatusReordered}
}

// LeadEventTypes returns every lead event type, for subscribers and tests
// that must handle them all.
func LeadEventTypes() []string {
	return append([]string{
		LeadCreated, LeadUpdated, LeadMerged, LeadStatusChanged,
		LeadArchived, LeadRestored, LeadDeleted, CallLogged, CallLogDeleted,
		CommentAdded, CommentEdited, LeadConverted,
	}, RecordEventTypes(LeadStream)...)
}

func leadEventDataType(eventType string) (reflect.Type, error) {
	t, ok := leadEventData[eventType]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownEventType, eventType)
	}
	return t, nil
}
