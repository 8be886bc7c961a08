package eventstore_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/eventstore"
)

func TestCommitAndReadStream(t *testing.T) {
	s := newStore(t)
	tenant, stream := newID(t), newID(t)
	c := appendTo(tenant, stream, eventstore.NoStream, ev("lead.created", 1), ev("lead.status_changed", 2))
	c.Metadata = eventstore.Metadata{Actor: "alice", RequestID: "req-1"}
	res := mustCommit(t, s, c)
	if !slices.Equal(res.Versions, []int{2}) || res.Position.IsZero() {
		t.Fatalf("result = %+v", res)
	}
	res2 := mustCommit(t, s, appendTo(tenant, stream, 2, ev("lead.archived", 3)))
	if !res.Position.Less(res2.Position) || res2.Versions[0] != 3 {
		t.Fatalf("second result = %+v after %+v", res2, res)
	}

	events, err := s.ReadStream(t.Context(), tenant, stream)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := types(events), []string{"lead.created", "lead.status_changed", "lead.archived"}; !slices.Equal(got, want) {
		t.Fatalf("types = %v, want %v", got, want)
	}
	for i, e := range events {
		if e.StreamVersion != i+1 || e.TenantID != tenant || e.StreamID != stream || e.StreamType != "lead" ||
			e.ID == uuid.Nil || e.SchemaVersion != 1 || e.RecordedAt.IsZero() {
			t.Errorf("event %d = %+v", i, e)
		}
	}
	var data struct{ N int }
	if err := json.Unmarshal(events[1].Data, &data); err != nil || data.N != 2 {
		t.Errorf("data = %s (%v)", events[1].Data, err)
	}
	if events[0].Metadata.Actor != "alice" || events[0].Metadata.RequestID != "req-1" {
		t.Errorf("metadata = %+v", events[0].Metadata)
	}
	if events[2].Position != res2.Position {
		t.Errorf("last position %v, commit said %v", events[2].Position, res2.Position)
	}

	if _, err := s.ReadStream(t.Context(), tenant, newID(t)); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("unknown stream: err = %v", err)
	}
}

func TestCommitKeepsGivenEventIDs(t *testing.T) {
	s := newStore(t)
	tenant, stream, id := newID(t), newID(t), newID(t)
	e := ev("lead.created", 1)
	e.ID = id
	mustCommit(t, s, appendTo(tenant, stream, eventstore.NoStream, e))
	events, err := s.ReadStream(t.Context(), tenant, stream)
	if err != nil || events[0].ID != id {
		t.Fatalf("events = %+v, %v", events, err)
	}
	// The same event id twice is refused.
	if _, err := s.Commit(t.Context(), appendTo(tenant, newID(t), eventstore.NoStream, e)); err == nil {
		t.Fatal("duplicate event id accepted")
	}
}

func TestCommitValidation(t *testing.T) {
	s := newStore(t)
	tenant, stream := newID(t), newID(t)
	bad := map[string]eventstore.Commit{
		"no tenant":      appendTo(uuid.Nil, stream, 0, ev("a", 1)),
		"no stream":      {TenantID: tenant},
		"no events":      appendTo(tenant, stream, 0),
		"no type":        appendTo(tenant, stream, 0, eventstore.NewEvent{SchemaVersion: 1, Data: json.RawMessage(`{}`)}),
		"no schema":      appendTo(tenant, stream, 0, eventstore.NewEvent{Type: "a", Data: json.RawMessage(`{}`)}),
		"data not json":  appendTo(tenant, stream, 0, eventstore.NewEvent{Type: "a", SchemaVersion: 1, Data: json.RawMessage(`{`)}),
		"data an array":  appendTo(tenant, stream, 0, eventstore.NewEvent{Type: "a", SchemaVersion: 1, Data: json.RawMessage(`[]`)}),
		"bad version":    appendTo(tenant, stream, -2, ev("a", 1)),
		"no stream id":   appendTo(tenant, uuid.Nil, 0, ev("a", 1)),
		"stream twice":   {TenantID: tenant, Streams: append(appendTo(tenant, stream, 0, ev("a", 1)).Streams, appendTo(tenant, stream, 0, ev("a", 1)).Streams...)},
		"no stream type": {TenantID: tenant, Streams: []eventstore.StreamAppend{{StreamID: stream, Events: []eventstore.NewEvent{ev("a", 1)}}}},
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Commit(t.Context(), c); !errors.Is(err, eventstore.ErrInvalidCommit) {
				t.Fatalf("err = %v, want ErrInvalidCommit", err)
			}
		})
	}
	if got := readAll(t, s); len(got) != 0 {
		t.Fatalf("invalid commits wrote %d events", len(got))
	}
}

func TestExpectedVersionConflict(t *testing.T) {
	s := newStore(t)
	tenant, stream := newID(t), newID(t)
	mustCommit(t, s, appendTo(tenant, stream, eventstore.NoStream, ev("a", 1), ev("b", 2)))

	var ce *eventstore.ConcurrencyError
	_, err := s.Commit(t.Context(), appendTo(tenant, stream, 1, ev("c", 3)))
	if !errors.As(err, &ce) || ce.StreamID != stream || ce.Expected != 1 || ce.Actual != 2 {
		t.Fatalf("stale version: err = %v", err)
	}
	_, err = s.Commit(t.Context(), appendTo(tenant, stream, eventstore.NoStream, ev("c", 3)))
	if !errors.As(err, &ce) || ce.Expected != eventstore.NoStream || ce.Actual != 2 {
		t.Fatalf("NoStream on existing stream: err = %v", err)
	}
	_, err = s.Commit(t.Context(), appendTo(tenant, newID(t), 3, ev("c", 3)))
	if !errors.As(err, &ce) || ce.Actual != 0 {
		t.Fatalf("version on missing stream: err = %v", err)
	}

	res := mustCommit(t, s, appendTo(tenant, stream, eventstore.AnyVersion, ev("c", 3)))
	if res.Versions[0] != 3 {
		t.Fatalf("AnyVersion result = %+v", res)
	}
	res = mustCommit(t, s, appendTo(tenant, newID(t), eventstore.AnyVersion, ev("a", 1)))
	if res.Versions[0] != 1 {
		t.Fatalf("AnyVersion on new stream result = %+v", res)
	}
	if events, _ := s.ReadStream(t.Context(), tenant, stream); len(events) != 3 {
		t.Fatalf("stream has %d events, want 3", len(events))
	}
}

func TestConcurrentAppendsToOneStream(t *testing.T) {
	s := newStore(t)
	tenant, stream := newID(t), newID(t)
	mustCommit(t, s, appendTo(tenant, stream, eventstore.NoStream, ev("a", 0)))
	const writers = 10
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = s.Commit(t.Context(), appendTo(tenant, stream, 1, ev("b", i)))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		var ce *eventstore.ConcurrencyError
		switch {
		case err == nil:
			won++
		case errors.As(err, &ce) && ce.Actual == 2:
		default:
			t.Errorf("err = %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers won, want 1", won)
	}
}

func TestMultiStreamCommitIsAtomic(t *testing.T) {
	s := newStore(t)
	tenant, first, second := newID(t), newID(t), newID(t)
	mustCommit(t, s, appendTo(tenant, second, eventstore.NoStream, ev("a", 1)))

	c := eventstore.Commit{TenantID: tenant, Streams: []eventstore.StreamAppend{
		{StreamType: "lead", StreamID: first, ExpectedVersion: eventstore.NoStream, Events: []eventstore.NewEvent{ev("a", 1)},
			Reserve: []eventstore.Reservation{{Kind: "email", Value: "a@example.com"}}},
		{StreamType: "lead", StreamID: second, ExpectedVersion: eventstore.NoStream, Events: []eventstore.NewEvent{ev("b", 2)}},
	}}
	var ce *eventstore.ConcurrencyError
	if _, err := s.Commit(t.Context(), c); !errors.As(err, &ce) || ce.StreamID != second {
		t.Fatalf("err = %v, want conflict on second stream", err)
	}
	if _, err := s.ReadStream(t.Context(), tenant, first); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("first stream written: %v", err)
	}
	if _, ok, _ := s.LookupReservation(t.Context(), tenant, "email", "a@example.com"); ok {
		t.Fatal("first stream's reservation written")
	}

	c.Streams[1].ExpectedVersion = 1
	res := mustCommit(t, s, c)
	if !slices.Equal(res.Versions, []int{1, 2}) {
		t.Fatalf("versions = %v", res.Versions)
	}
	if got := len(readAll(t, s)); got != 3 {
		t.Fatalf("%d events in store, want 3", got)
	}
}

func TestTenantIsolation(t *testing.T) {
	s := newStore(t)
	tenant, other, stream := newID(t), newID(t), newID(t)
	mustCommit(t, s, appendTo(tenant, stream, eventstore.NoStream, ev("a", 1)))

	if _, err := s.ReadStream(t.Context(), other, stream); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("other tenant reads stream: err = %v", err)
	}
	for _, expected := range []int{eventstore.NoStream, 1, eventstore.AnyVersion} {
		var ce *eventstore.ConcurrencyError
		_, err := s.Commit(t.Context(), appendTo(other, stream, expected, ev("b", 2)))
		if !errors.As(err, &ce) || ce.Actual != 0 {
			t.Fatalf("other tenant appends with expected %d: err = %v", expected, err)
		}
	}
	if events, _ := s.ReadStream(t.Context(), tenant, stream); len(events) != 1 {
		t.Fatalf("stream has %d events, want 1", len(events))
	}
}

func TestRedact(t *testing.T) {
	s := newStore(t)
	tenant, stream, other := newID(t), newID(t), newID(t)
	mustCommit(t, s, appendTo(tenant, stream, eventstore.NoStream, ev("lead.created", 1), ev("lead.updated", 2)))
	mustCommit(t, s, appendTo(tenant, other, eventstore.NoStream, ev("lead.created", 3)))

	c := appendTo(tenant, stream, 2, ev("lead.deleted", 4))
	c.Streams[0].Redact = true
	mustCommit(t, s, c)

	events, err := s.ReadStream(t.Context(), tenant, stream)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range events[:2] {
		var d map[string]any
		if err := json.Unmarshal(e.Data, &d); err != nil || d["redacted"] != true || len(d) != 1 {
			t.Errorf("event %d data = %s", i, e.Data)
		}
	}
	if string(events[2].Data) != `{"n": 4}` {
		t.Errorf("the deleting event itself was redacted: %s", events[2].Data)
	}
	kept, _ := s.ReadStream(t.Context(), tenant, other)
	if string(kept[0].Data) != `{"n": 3}` {
		t.Errorf("another stream was redacted: %s", kept[0].Data)
	}
}

// A commit that redacts some events of a stream (a call log deleted for
// good) replaces their data but for the fields it keeps, leaves the other
// events alone, and drops the client-sent request and correlation ids from
// the redacted events' metadata, keeping who wrote them. A whole-stream
// redaction drops those ids too.
func TestRedactEventsKeepsIDsAndDropsRequestIDs(t *testing.T) {
	s := newStore(t)
	tenant, stream := newID(t), newID(t)
	meta := eventstore.Metadata{Actor: "api_key:k", APIKeyID: "k", API: "cratio",
		RequestID: "rid-asha@example.com", CorrelationID: "rid-asha@example.com", CausationID: "c"}
	logged := eventstore.NewEvent{ID: newID(t), Type: "lead.call_logged", SchemaVersion: 1,
		Data: json.RawMessage(`{"lead_id": "l", "call_log_id": "a", "notes": "private"}`)}
	c := appendTo(tenant, stream, eventstore.NoStream, ev("lead.created", 1), logged, ev("lead.updated", 2))
	c.Metadata = meta
	mustCommit(t, s, c)

	c = appendTo(tenant, stream, 3, ev("lead.call_log_deleted", 3))
	c.Metadata = meta
	c.Streams[0].RedactEvents, c.Streams[0].RedactKeep = []uuid.UUID{logged.ID}, []string{"lead_id", "call_log_id", "absent"}
	mustCommit(t, s, c)
	events, err := s.ReadStream(t.Context(), tenant, stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(events[1].Data); got != `{"lead_id": "l", "redacted": true, "call_log_id": "a"}` {
		t.Errorf("redacted call log: %s", got)
	}
	var marked int
	if err := s.Pool().QueryRow(t.Context(), `select count(*) from events where stream_id = $1 and redacted_at is not null`,
		stream).Scan(&marked); err != nil || marked != 0 {
		t.Errorf("%d events marked as of a deleted stream (%v), want none", marked, err)
	}
	want := eventstore.Metadata{Actor: "api_key:k", APIKeyID: "k", API: "cratio", CausationID: "c"}
	if !events[1].Metadata.Equal(want) {
		t.Errorf("redacted event's metadata %+v, want %+v", events[1].Metadata, want)
	}
	for _, i := range []int{0, 2} {
		if !events[i].Metadata.Equal(meta) || strings.Contains(string(events[i].Data), "redacted") {
			t.Errorf("event %d was redacted: %s %+v", i, events[i].Data, events[i].Metadata)
		}
	}
	// The deleting event says what its commit erased, for the copies
	// elsewhere (the relay erases them from JetStream).
	erasing := meta
	erasing.Erased = []eventstore.Erased{{StreamID: stream, Events: []uuid.UUID{logged.ID}}}
	if !events[3].Metadata.Equal(erasing) || strings.Contains(string(events[3].Data), "redacted") {
		t.Errorf("deleting event: %s %+v, want metadata %+v", events[3].Data, events[3].Metadata, erasing)
	}

	c = appendTo(tenant, stream, 4, ev("lead.deleted", 4))
	c.Streams[0].Redact = true
	mustCommit(t, s, c)
	events, err = s.ReadStream(t.Context(), tenant, stream)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range events[:4] {
		if e.Metadata.RequestID != "" || e.Metadata.CorrelationID != "" || e.Metadata.Actor != "api_key:k" {
			t.Errorf("event %d of the deleted stream keeps metadata %+v", i, e.Metadata)
		}
	}
	if er, ok := events[4].Metadata.ErasedOf(stream); !ok || er.Events != nil {
		t.Errorf("the delete's metadata %+v does not say it erased the whole stream", events[4].Metadata)
	}
}

// TestMetadataEqualSeesEveryField: Equal compares every field of
// Metadata, so a field added later is not left out of the comparison.
func TestMetadataEqualSeesEveryField(t *testing.T) {
	var zero eventstore.Metadata
	v := reflect.ValueOf(&zero).Elem()
	for i := range v.NumField() {
		m := eventstore.Metadata{}
		f := reflect.ValueOf(&m).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		default:
			t.Fatalf("field %s of kind %s: teach this test", v.Type().Field(i).Name, f.Kind())
		}
		if m.Equal(zero) || zero.Equal(m) {
			t.Errorf("Equal misses field %s", v.Type().Field(i).Name)
		}
		if !m.Equal(m) {
			t.Errorf("Equal is false for equal %s", v.Type().Field(i).Name)
		}
	}
}
