package wire

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/eventstore"
)

// The hand-written body is byte for byte what json.Marshal makes of a
// message, whatever the data, strings and times hold.
func TestEncodeMatchesJSONMarshal(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	data := []string{
		`{"a": 1, "b": [1, 2, {"c": "d e"}], "f": null, "g": true}`,
		`{"name": "Dupont & Fils <sales>", "note": "line\nbreak \"quoted\" \\ back\\\\slash"}`,
		"{\"u\": \"\u2028 and \u2029, caf\u00e9, \U0001F600\", \"x\": \"\\u2028\"}",
		"  {\n\t\"spaced\" :\r\n [ 1 , 2 ]\n}  ",
		`{"n": -1.5e+10, "z": 0, "s": "", "esc": "\"\\\"\"", "tab": "a\tb"}`,
		`"just a string"`, `123`, `[]`, `{}`, `{"redacted": true}`,
		``,
		`{"ends in escapes": "\\\\", "e2 alone": "â", "amp": "&&<>"}`, "\"\xe2\x82\xac euro \xe2\x80\xa8\"",
		`{"a": "x"}   `, `   `, `"unterminated`,
	}
	metas := []eventstore.Metadata{
		{},
		{Actor: "bench", API: "bench"},
		{Actor: "user <a&b>", APIKeyID: "k1", API: "cratio", RequestID: "r\"1", CorrelationID: "é", CausationID: "\u2028"},
	}
	types := []string{"lead.created", "lead.deleted", "odd<type>", "quote\"type", "naïve"}
	times := []time.Time{
		time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.UTC),
		time.Date(2025, 3, 4, 5, 6, 7, 0, paris),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.FixedZone("odd", -(9*3600+30*60))),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var enc Encoder
	for i := range 500 {
		e := eventstore.Event{
			Position:      eventstore.Position{Tx: rng.Uint64(), Pos: rng.Int64()},
			TenantID:      uuid.New(),
			StreamType:    types[rng.IntN(len(types))],
			StreamID:      uuid.New(),
			StreamVersion: rng.IntN(1000),
			ID:            uuid.New(),
			Type:          types[rng.IntN(len(types))],
			SchemaVersion: rng.IntN(3) - 1,
			Data:          json.RawMessage(data[i%len(data)]),
			Metadata:      metas[rng.IntN(len(metas))],
			RecordedAt:    times[rng.IntN(len(times))],
		}
		want, wantErr := marshalBody(e)
		m, _, err := enc.Encode("crm.events", e, eventstore.Position{Tx: 1, Pos: 2})
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("event %d: error %v, json.Marshal's %v", i, err, wantErr)
		}
		if err != nil {
			continue
		}
		if !bytes.Equal(m.Data, want) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, m.Data, want)
		}
		if m.Subject != Subject("crm.events", e) || len(m.Header) != 2 ||
			m.Header.Get(HeaderPosition) != e.Position.String() || m.Header.Get(HeaderPrevious) != "1.2" {
			t.Fatalf("event %d: subject %s, headers %v", i, m.Subject, m.Header)
		}
		back, prev, err := Decode(m.Data, m.Header)
		if err != nil {
			t.Fatal(err)
		}
		if back.ID != e.ID || back.Position != e.Position || prev != (eventstore.Position{Tx: 1, Pos: 2}) {
			t.Fatalf("event %d: decoded %+v after %s", i, back, prev)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	e := eventstore.Event{
		Position: eventstore.Position{Tx: 123456, Pos: 7890}, TenantID: uuid.New(), StreamType: "lead",
		StreamID: uuid.New(), StreamVersion: 1, ID: uuid.New(), Type: "lead.created", SchemaVersion: 1,
		Data: json.RawMessage(`{"id": "0196c0a8-3b1e-7c4f-9d2a-1b2c3d4e5f60", "number": 42, "profile": {"first_name": "Ada", ` +
			`"last_name": "Lovelace", "emails": ["ada@example.com"], "phones": ["+33612345678"], "company": "Analytical Engines", ` +
			`"title": "Head of Purchasing", "source": "website", "priority": "medium", "address": {"street": "1 rue de la Paix", ` +
			`"city": "Paris", "postal_code": "75002", "country": "FR"}, "notes": "Met at the trade fair, wants a quote.", ` +
			`"tags": ["fair", "premium"]}, "status": "New"}`),
		Metadata:   eventstore.Metadata{Actor: "bench", API: "bench"},
		RecordedAt: time.Now(),
	}
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := marshalBody(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoder", func(b *testing.B) {
		var enc Encoder
		for b.Loop() {
			if _, _, err := enc.Encode("crm.events", e, e.Position); err != nil {
				b.Fatal(err)
			}
		}
	})
}
