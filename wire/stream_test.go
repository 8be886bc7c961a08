package wire_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/wire"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestFirstAfter finds where a consumer starts to get every event after a
// position, with holes left by purged subjects (permanently deleted
// streams) at the start, in the middle and at the end of the stream.
func TestFirstAfter(t *testing.T) {
	ctx := t.Context()
	js := storetest.JetStream(t, storetest.NATS(t))
	prefix := storetest.Prefix(t)
	cfg := wire.StreamConfig{Name: strings.ToUpper(prefix) + "_FIRST", Subjects: prefix + ".first", Replicas: 1, MaxAge: time.Hour}
	stream, err := wire.EnsureStream(ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	at := func(i int) eventstore.Position { return eventstore.Position{Tx: 1000 + uint64(i/3), Pos: int64(i)} }
	if got, err := wire.FirstAfter(ctx, stream, cfg.Subjects, eventstore.Position{}); err != nil || got != 1 {
		t.Fatalf("empty stream: %d, %v; want 1", got, err)
	}
	// Messages 1..20 carry positions at(1)..at(20); those of streams
	// "gone" (1, 2, 9, 10, 11, 20) are purged.
	gone := map[int]bool{1: true, 2: true, 9: true, 10: true, 11: true, 20: true}
	for i := 1; i <= 20; i++ {
		subject := cfg.Subjects + ".t.lead.s" + strconv.Itoa(i)
		if gone[i] {
			subject = cfg.Subjects + ".t.lead.gone"
		}
		m := nats.NewMsg(subject)
		m.Header.Set(wire.HeaderPosition, at(i).String())
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(cfg.Subjects+".t.lead.gone")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		after eventstore.Position
		want  uint64 // the first sequence to deliver; a purged one delivers the next
	}{
		{eventstore.Position{}, 1},
		{at(1), 2},
		{at(2), 3},
		{at(3), 4},
		{at(7), 8},
		{at(8), 9},
		{at(9), 10},
		{at(11), 12},
		{eventstore.Position{Tx: at(11).Tx, Pos: 999}, 12}, // after 11 (same tx, later pos), before 12
		{at(19), 20},
		{at(20), 21},
		{eventstore.Position{Tx: 5000}, 21},
	} {
		got, err := wire.FirstAfter(ctx, stream, cfg.Subjects, tc.after)
		if err != nil {
			t.Fatal(err)
		}
		// Any sequence between the last message at or before the position
		// and the first one after it delivers the same messages.
		if !sameStart(t, stream, cfg.Subjects, got, tc.want) {
			t.Errorf("after %v: start %d, want %d (or an equivalent purged sequence)", tc.after, got, tc.want)
		}
	}
}

// sameStart reports whether a consumer starting at a or at b gets the same
// first message: they differ only by purged sequences.
func sameStart(t *testing.T, s jetstream.Stream, subjects string, a, b uint64) bool {
	t.Helper()
	first := func(seq uint64) uint64 {
		m, err := s.GetMsg(t.Context(), seq, jetstream.WithGetMsgSubject(subjects+".>"))
		if err == jetstream.ErrMsgNotFound {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return m.Sequence
	}
	return first(a) == first(b)
}
