package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/eventstore/relay"
	"github.com/crmcore/crm/wire"
)

// faultyJS is JetStream with faults injected into the relay's publishes,
// and a log of what reaches the server: publishes and purges, in order.
type faultyJS struct {
	jetstream.JetStream
	mu        sync.Mutex
	publishes int
	// fault, when set, may change or drop the n-th publish (from 1); it
	// returns false to drop the message, which is then never answered.
	fault func(n int, m *nats.Msg) bool
	// failErasures is how many secure deletes fail before they reach the
	// server: a relay dying between publishing a deletion and erasing.
	failErasures int
	log          []string
}

func (f *faultyJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	f.mu.Lock()
	f.publishes++
	n := f.publishes
	send := f.fault == nil || f.fault(n, m)
	if send {
		f.log = append(f.log, "publish "+m.Header.Get(wire.HeaderPosition))
	}
	f.mu.Unlock()
	if !send {
		return lostFuture{}, nil
	}
	return f.JetStream.PublishMsgAsync(m, opts...)
}

func (f *faultyJS) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	s, err := f.JetStream.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return loggedStream{Stream: s, js: f}, nil
}

func (f *faultyJS) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := f.JetStream.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return loggedStream{Stream: s, js: f}, nil
}

func (f *faultyJS) entries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

// loggedStream logs the purges of a stream to its faultyJS.
type loggedStream struct {
	jetstream.Stream
	js *faultyJS
}

func (s loggedStream) Purge(ctx context.Context, opts ...jetstream.StreamPurgeOpt) error {
	if err := s.Stream.Purge(ctx, opts...); err != nil {
		return err
	}
	var req jetstream.StreamPurgeRequest
	for _, o := range opts {
		if err := o(&req); err != nil {
			return err
		}
	}
	entry := "purge " + req.Subject // a deletion just acknowledged, purged up to its sequence
	if req.Sequence == 0 {
		entry = "recover purge " + req.Subject // a new session's recoverPurges
	}
	s.js.mu.Lock()
	s.js.log = append(s.js.log, entry)
	s.js.mu.Unlock()
	return nil
}

func (s loggedStream) SecureDeleteMsg(ctx context.Context, seq uint64) error {
	s.js.mu.Lock()
	fail := s.js.failErasures > 0
	if fail {
		s.js.failErasures--
	}
	s.js.mu.Unlock()
	if fail {
		return errors.New("injected: the relay died before erasing")
	}
	if err := s.Stream.SecureDeleteMsg(ctx, seq); err != nil {
		return err
	}
	s.js.mu.Lock()
	s.js.log = append(s.js.log, "erase "+strconv.FormatUint(seq, 10))
	s.js.mu.Unlock()
	return nil
}

// lostFuture is the future of a message lost on its way: never answered.
type lostFuture struct{}

func (lostFuture) Ok() <-chan *jetstream.PubAck { return nil }
func (lostFuture) Err() <-chan error            { return nil }
func (lostFuture) Msg() *nats.Msg               { return nil }

// appendLeads commits n leads in commits of up to 20 streams, each lead a
// created event and some updates; every seventh lead is deleted for good
// (lead.deleted) in a later commit. It returns the deleted streams.
func (e *env) appendLeads(tb testing.TB, n int) map[uuid.UUID]bool {
	tb.Helper()
	deleted := make(map[uuid.UUID]bool)
	var doomed []uuid.UUID
	for off := 0; off < n; off += 20 {
		c := eventstore.Commit{TenantID: e.tenant, Metadata: eventstore.Metadata{Actor: "test", RequestID: strconv.Itoa(off)}}
		for i := off; i < min(off+20, n); i++ {
			id := uuid.Must(uuid.NewV7())
			events := []eventstore.NewEvent{{Type: "lead.created", SchemaVersion: 1, Data: leadData(i)}}
			for k := range i % 3 {
				events = append(events, eventstore.NewEvent{Type: "lead.status_changed", SchemaVersion: 1,
					Data: json.RawMessage(fmt.Sprintf(`{"status": "s%d", "from": "New"}`, k))})
			}
			c.Streams = append(c.Streams, eventstore.StreamAppend{StreamType: "lead", StreamID: id,
				ExpectedVersion: eventstore.NoStream, Events: events})
			if i%7 == 0 {
				doomed = append(doomed, id)
			}
		}
		if _, err := e.store.Commit(tb.Context(), c); err != nil {
			tb.Fatalf("commit: %v", err)
		}
		if len(doomed) >= 3 || off+20 >= n {
			d := eventstore.Commit{TenantID: e.tenant, Metadata: eventstore.Metadata{Actor: "test"}}
			for _, id := range doomed {
				d.Streams = append(d.Streams, eventstore.StreamAppend{StreamType: "lead", StreamID: id,
					ExpectedVersion: eventstore.AnyVersion, Redact: true, ReleaseAll: true,
					Events: []eventstore.NewEvent{{Type: "lead.deleted", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
				deleted[id] = true
			}
			if _, err := e.store.Commit(tb.Context(), d); err != nil {
				tb.Fatalf("commit deletions: %v", err)
			}
			doomed = nil
		}
	}
	return deleted
}

// assertMirrors checks that the stream holds every stored event once, in
// commit order, except the messages of deleted streams before their
// deletion, which were purged; and that the relay checkpoint reached the
// last event.
func (e *env) assertMirrors(tb testing.TB, name string, deleted map[uuid.UUID]bool) {
	tb.Helper()
	stored := e.storedEvents(tb)
	var want []eventstore.Event
	for _, ev := range stored {
		if !deleted[ev.StreamID] || ev.Type == "lead.deleted" {
			want = append(want, ev)
		}
	}
	last := stored[len(stored)-1].Position
	storetest.WaitFor(tb, time.Minute, func() (bool, error) {
		cp, err := eventstore.LoadCheckpoint(tb.Context(), e.store.Pool(), relay.CheckpointName, false)
		return !cp.Less(last), err
	})
	got := e.streamEvents(tb, name)
	if len(got) != len(want) {
		tb.Fatalf("stream holds %d messages, want %d (%d events stored)", len(got), len(want), len(stored))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Position != want[i].Position {
			tb.Fatalf("message %d is event %s at %s, want %s at %s", i, got[i].ID, got[i].Position, want[i].ID, want[i].Position)
		}
	}
}

// streamEvents decodes every message the stream holds, in sequence order,
// checking that each names its predecessor in the stream (or a purged one).
func (e *env) streamEvents(tb testing.TB, name string) []eventstore.Event {
	tb.Helper()
	ctx := tb.Context()
	s, err := e.js.Stream(ctx, name)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	var out []eventstore.Event
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // purged
		}
		if err != nil {
			tb.Fatalf("message %d: %v", seq, err)
		}
		ev, _, err := wire.Decode(m.Data, m.Header)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// A window much smaller than a batch, and restarts forced mid-window: a
// publish expecting the wrong last sequence (the server refuses it and
// everything after it), and a message lost on its way (never answered,
// while the ones after it fail). The stream still holds every event once,
// in order, the deleted leads' earlier messages purged.
func TestRelayWindowRestartsMidWindow(t *testing.T) {
	e := newEnv(t)
	deleted := e.appendLeads(t, 400)
	cfg := e.streamConfig("W")
	var faults []string
	js := &faultyJS{JetStream: e.js, fault: func(n int, m *nats.Msg) bool {
		switch n {
		case 57, 300:
			m.Header.Set(jetstream.ExpectedLastSeqHeader, "999999")
			faults = append(faults, "wrong sequence at publish "+strconv.Itoa(n))
		case 170, 520:
			faults = append(faults, "lost publish "+strconv.Itoa(n))
			return false
		}
		return true
	}}
	r := relay.New(relay.Config{Store: e.store, Listener: e.listener, JS: js, Stream: cfg,
		BatchSize: 50, Window: 16, PollInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	stop := startRelay(t, r)

	// More events arrive while the relay runs.
	more := e.appendLeads(t, 200)
	for id := range more {
		deleted[id] = true
	}
	e.assertMirrors(t, cfg.Name, deleted)
	stop()
	js.mu.Lock()
	if len(faults) != 4 {
		t.Fatalf("faults injected: %v, want 4", faults)
	}
	js.mu.Unlock()
	assertPurgeBarriers(t, js.entries(), e.storedEvents(t), cfg.Subjects)
}

// assertPurgeBarriers checks from the log of publishes, erasures and
// purges that each deletion's purge came right after the deletion was
// published and its earlier messages erased, before anything else was (the
// purge names the deletion's sequence, from its ack; a session that fails
// before the ack leaves the erasure to the next one's recoverErasures).
func assertPurgeBarriers(t *testing.T, log []string, stored []eventstore.Event, prefix string) {
	t.Helper()
	deletionSubject := make(map[string]string)
	for _, ev := range stored {
		if ev.Type == "lead.deleted" {
			deletionSubject["publish "+ev.Position.String()] = wire.Subject(prefix, ev)
		}
	}
	purges, deletions := 0, 0
	for i, entry := range log {
		switch {
		case strings.HasPrefix(entry, "purge "):
			purges++
			prev := i - 1
			for prev >= 0 && strings.HasPrefix(log[prev], "erase ") {
				prev--
			}
			if prev < 0 || prev == i-1 || "purge "+deletionSubject[log[prev]] != entry {
				t.Fatalf("log entry %d: %q after %q, not right after the deletion and its erasures", i, entry, log[max(prev, 0)])
			}
		case deletionSubject[entry] != "":
			deletions++
		}
	}
	if purges == 0 || deletions == 0 {
		t.Fatalf("%d purges, %d deletions published: the test proves nothing", purges, deletions)
	}
}

// Two relays at once — a stale leader that has not noticed yet — with
// small windows, while events keep arriving: the expected sequences fence
// them off each other, and the stream holds every event once, in order.
func TestRelayWindowTwoRelaysFenceEachOther(t *testing.T) {
	e := newEnv(t)
	deleted := e.appendLeads(t, 200)
	cfg := e.streamConfig("F")
	for range 2 {
		r := relay.New(relay.Config{Store: e.store, Listener: e.listener, JS: e.js, Stream: cfg,
			BatchSize: 30, Window: 8, PollInterval: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		startRelay(t, r)
	}
	more := e.appendLeads(t, 300)
	for id := range more {
		deleted[id] = true
	}
	e.assertMirrors(t, cfg.Name, deleted)
}

// A relay stopped mid-backlog resumes from the stream's last message: the
// next one publishes the rest, nothing twice.
func TestRelayWindowResumesAfterStop(t *testing.T) {
	e := newEnv(t)
	e.fillBacklog(t, 3000)
	e.storedEvents(t) // the backlog is visible
	cfg := e.streamConfig("S")
	newRelay := func() *relay.Relay {
		return relay.New(relay.Config{Store: e.store, Listener: e.listener, JS: e.js, Stream: cfg,
			BatchSize: 100, Window: 64, PollInterval: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	}
	stop := startRelay(t, newRelay())
	storetest.WaitFor(t, time.Minute, func() (bool, error) {
		n, err := streamMsgs(t.Context(), e.js, cfg.Name)
		return n > 500, err
	})
	stop()
	n, err := streamMsgs(t.Context(), e.js, cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped with %d of 3000 events in the stream", n)
	startRelay(t, newRelay())
	e.assertMirrors(t, cfg.Name, nil)
}
