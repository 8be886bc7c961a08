// Package wire is what the relay and the projectors agree on about NATS:
// the form of an event as a JetStream message (subject, headers, body) and
// the stream that holds them (its configuration, its creation, where a
// consumer starts after a position).
package wire

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/crmcore/crm/eventstore"
)

// HeaderPosition carries the event's commit-order position ("tx.pos").
const HeaderPosition = "Crm-Position"

// HeaderPrevious carries the position of the event published just before
// this one. A consumer whose checkpoint is not that position has missed a
// message (a purge, a dropped pull) and reads the gap from the store.
const HeaderPrevious = "Crm-Previous"

// message is the JSON body of an event on NATS.
type message struct {
	Position      eventstore.Position `json:"position"`
	ID            uuid.UUID           `json:"id"`
	TenantID      uuid.UUID           `json:"tenant_id"`
	StreamType    string              `json:"stream_type"`
	StreamID      uuid.UUID           `json:"stream_id"`
	StreamVersion int                 `json:"stream_version"`
	Type          string              `json:"type"`
	SchemaVersion int                 `json:"schema_version"`
	Data          json.RawMessage     `json:"data"`
	Metadata      eventstore.Metadata `json:"metadata"`
	RecordedAt    time.Time           `json:"recorded_at"`
}

// Subject is the NATS subject of an event: one subject per stream, so the
// messages of a permanently deleted stream can be purged by subject.
func Subject(prefix string, e eventstore.Event) string {
	return prefix + "." + e.TenantID.String() + "." + e.StreamType + "." + e.StreamID.String()
}

// Encode renders e as a NATS message on its subject, with its position and
// prev, the position of the event relayed before it. It sets no
// Nats-Msg-Id: the relay's expected-last-sequence header already rules out a
// duplicate (a republished message does not match the stream's last
// sequence), and JetStream's duplicate window would only cost the server a
// map entry per message. The event id is in the body.
func Encode(prefix string, e eventstore.Event, prev eventstore.Position) (*nats.Msg, error) {
	var enc Encoder
	m, _, err := enc.Encode(prefix, e, prev)
	return m, err
}

// Encoder renders events as NATS messages. The body is exactly what
// json.Marshal makes of a message, written by hand: the relay encodes every
// event once, and json.Marshal's reflection and its re-validation of the
// (already valid) jsonb data were most of the relay's CPU time. An encoder
// remembers the last metadata it rendered, since the events of one commit
// share theirs.
type Encoder struct {
	meta     eventstore.Metadata
	metaJSON []byte
}

// Encode is the package's Encode, and returns a header value slice of one string to set
// the expected last sequence with; it falls back on json.Marshal for what
// the fast path does not cover (strings that need escaping, years beyond
// 9999).
func (c *Encoder) Encode(prefix string, e eventstore.Event, prev eventstore.Position) (*nats.Msg, []string, error) {
	body, ok := c.appendBody(make([]byte, 0, 320+len(e.Data)), e)
	if !ok {
		var err error
		if body, err = marshalBody(e); err != nil {
			return nil, nil, err
		}
	}
	// The subject and both positions are cut from one string, and the
	// header values from one slice, whose third place is returned for the
	// relay's expected last sequence: the relay encodes every event, and
	// these small allocations added up.
	text := make([]byte, 0, len(prefix)+len(e.StreamType)+3+2*36+2*41)
	text = append(text, prefix...)
	text = append(text, '.')
	text = appendUUIDText(text, e.TenantID)
	text = append(text, '.')
	text = append(text, e.StreamType...)
	text = append(text, '.')
	text = appendUUIDText(text, e.StreamID)
	subjectEnd := len(text)
	text = appendPosition(text, e.Position)
	positionEnd := len(text)
	text = appendPosition(text, prev)
	all := string(text)
	values := []string{all[subjectEnd:positionEnd], all[positionEnd:], ""}
	m := &nats.Msg{Subject: all[:subjectEnd], Data: body, Header: make(nats.Header, 4)}
	m.Header[HeaderPosition] = values[0:1:1]
	m.Header[HeaderPrevious] = values[1:2:2]
	return m, values[2:3:3], nil
}

// appendPosition appends p as Position.String writes it.
func appendPosition(b []byte, p eventstore.Position) []byte {
	b = strconv.AppendUint(b, p.Tx, 10)
	b = append(b, '.')
	return strconv.AppendInt(b, p.Pos, 10)
}

// marshalBody is the body of e by json.Marshal, the definition appendBody
// follows.
func marshalBody(e eventstore.Event) ([]byte, error) {
	body, err := json.Marshal(message{
		Position: e.Position, ID: e.ID, TenantID: e.TenantID, StreamType: e.StreamType,
		StreamID: e.StreamID, StreamVersion: e.StreamVersion, Type: e.Type,
		SchemaVersion: e.SchemaVersion, Data: e.Data, Metadata: e.Metadata, RecordedAt: e.RecordedAt,
	})
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return body, nil
}

// appendBody appends the JSON body of e as json.Marshal writes it, or
// reports false if e needs the general path.
func (c *Encoder) appendBody(b []byte, e eventstore.Event) ([]byte, bool) {
	if !plainString(e.StreamType) || !plainString(e.Type) || e.RecordedAt.Year() < 0 || e.RecordedAt.Year() > 9999 {
		return b, false
	}
	if c.metaJSON == nil || !c.meta.Equal(e.Metadata) {
		meta, err := json.Marshal(e.Metadata)
		if err != nil {
			return b, false
		}
		c.meta, c.metaJSON = e.Metadata, meta
	}
	b = append(b, `{"position":{"tx":`...)
	b = strconv.AppendUint(b, e.Position.Tx, 10)
	b = append(b, `,"pos":`...)
	b = strconv.AppendInt(b, e.Position.Pos, 10)
	b = append(b, `},"id":`...)
	b = appendUUID(b, e.ID)
	b = append(b, `,"tenant_id":`...)
	b = appendUUID(b, e.TenantID)
	b = append(b, `,"stream_type":"`...)
	b = append(b, e.StreamType...)
	b = append(b, `","stream_id":`...)
	b = appendUUID(b, e.StreamID)
	b = append(b, `,"stream_version":`...)
	b = strconv.AppendInt(b, int64(e.StreamVersion), 10)
	b = append(b, `,"type":"`...)
	b = append(b, e.Type...)
	b = append(b, `","schema_version":`...)
	b = strconv.AppendInt(b, int64(e.SchemaVersion), 10)
	b = append(b, `,"data":`...)
	var ok bool
	if b, ok = appendCompactJSON(b, e.Data); !ok {
		return b, false
	}
	b = append(b, `,"metadata":`...)
	b = append(b, c.metaJSON...)
	b = append(b, `,"recorded_at":"`...)
	b = e.RecordedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	return b, true
}

// plainString reports whether json.Marshal writes s as is between quotes:
// printable ASCII without quote, backslash or the HTML-escaped <, >, &.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendUUID appends id as a JSON string, as its MarshalText writes it.
func appendUUID(b []byte, id uuid.UUID) []byte {
	b = append(b, '"')
	b = appendUUIDText(b, id)
	return append(b, '"')
}

// appendUUIDText appends id as its String writes it.
func appendUUIDText(b []byte, id uuid.UUID) []byte {
	var buf [36]byte
	hex.Encode(buf[0:8], id[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], id[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], id[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], id[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], id[10:])
	return append(b, buf[:]...)
}

// appendCompactJSON appends the valid JSON document src as json.Marshal
// writes a json.RawMessage: nil as null, whitespace outside strings removed,
// and <, >, &, U+2028 and U+2029 escaped. It reports false if src does not
// end outside a string or is empty but for whitespace (json.Marshal fails).
// Postgres hands out jsonb with a space after every colon and comma, so
// the data is never copied verbatim.
func appendCompactJSON(b, src []byte) ([]byte, bool) {
	if src == nil {
		return append(b, "null"...), true
	}
	n0 := len(b)
	inString := false
	start := 0
	for i := 0; i < len(src); i++ {
		if inString {
			// Most of a document is string contents: skip to what matters.
			for i < len(src) && !stringSpecial[src[i]] {
				i++
			}
			if i == len(src) {
				break
			}
		}
		switch c := src[i]; {
		case c == '<' || c == '>' || c == '&':
			b = append(b, src[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case c == 0xE2:
			if i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8 {
				b = append(b, src[start:i]...)
				b = append(b, '\\', 'u', '2', '0', '2', hexDigits[src[i+2]&0xF])
				start = i + 3
				i += 2
			}
		case inString:
			switch c {
			case '\\':
				i++ // the escaped byte: ASCII, nothing to do
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			b = append(b, src[start:i]...)
			start = i + 1
		}
	}
	if inString {
		return b[:n0], false
	}
	b = append(b, src[start:]...)
	if len(b) == n0 {
		return b, false
	}
	return b, true
}

// stringSpecial marks the bytes appendCompactJSON stops at inside a
// string: its end, an escape, and what json.Marshal escapes (<, >, & and
// 0xE2, which starts U+2028 and U+2029).
var stringSpecial = [256]bool{'"': true, '\\': true, '<': true, '>': true, '&': true, 0xE2: true}

const hexDigits = "0123456789abcdef"

// Decode reads an event back from a NATS message, with the position of the
// event relayed before it.
func Decode(data []byte, h nats.Header) (eventstore.Event, eventstore.Position, error) {
	var m message
	if err := json.Unmarshal(data, &m); err != nil {
		return eventstore.Event{}, eventstore.Position{}, fmt.Errorf("decode event: %w", err)
	}
	prev, err := eventstore.ParsePosition(h.Get(HeaderPrevious))
	if err != nil {
		return eventstore.Event{}, eventstore.Position{}, fmt.Errorf("decode event %s: %w", m.ID, err)
	}
	return eventstore.Event{
		Position: m.Position, ID: m.ID, TenantID: m.TenantID, StreamType: m.StreamType,
		StreamID: m.StreamID, StreamVersion: m.StreamVersion, Type: m.Type,
		SchemaVersion: m.SchemaVersion, Data: m.Data, Metadata: m.Metadata, RecordedAt: m.RecordedAt,
	}, prev, nil
}
