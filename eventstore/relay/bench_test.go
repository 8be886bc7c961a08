package relay_test

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/eventstore/relay"
	"github.com/crmcore/crm/eventstore/storetest"
)

// BenchmarkRelayBacklog relays a backlog of RELAY_BENCH_EVENTS (default
// 20000) events from the store into JetStream, until acknowledged, and in
// the same iteration publishes as many messages of the same mean size with
// PublishAsync, 1000 in flight, to a scratch stream on the same server: the
// baseline of `crm bench`'s relay row. It reports both rates and their ratio.
// RELAY_BENCH_WINDOW sets the relay's window and RELAY_BENCH_READERS its
// readers (default: the relay's).
func BenchmarkRelayBacklog(b *testing.B) {
	n, window := envInt(b, "RELAY_BENCH_EVENTS", 20000), envInt(b, "RELAY_BENCH_WINDOW", 0)
	readers := envInt(b, "RELAY_BENCH_READERS", 0)
	e := newEnv(b)
	e.fillBacklog(b, n)
	size := meanMessageSize(b, e)
	ctx := b.Context()
	var relayTime, baseTime time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if _, err := e.store.Pool().Exec(ctx, `delete from checkpoints where name = $1`, relay.CheckpointName); err != nil {
			b.Fatal(err)
		}
		cfg := e.streamConfig("R" + strconv.Itoa(i))
		r := relay.New(relay.Config{Store: e.store, Listener: e.listener, JS: e.js, Stream: cfg, Window: window, Readers: readers,
			Logger: slog.New(slog.DiscardHandler)})
		b.StartTimer()
		start := time.Now()
		stop := startRelay(b, r)
		waitMsgs(b, e.js, cfg.Name, uint64(n))
		relayTime += time.Since(start)
		b.StopTimer()
		stop()
		base := e.streamConfig("B" + strconv.Itoa(i))
		baseTime += baselinePublish(b, base, n, size, 1000)
		b.StartTimer()
	}
	b.StopTimer()
	relayRate := float64(n*b.N) / relayTime.Seconds()
	baseRate := float64(n*b.N) / baseTime.Seconds()
	b.ReportMetric(relayRate, "relay-events/s")
	b.ReportMetric(baseRate, "baseline-msgs/s")
	b.ReportMetric(relayRate/baseRate, "ratio")
	b.ReportMetric(float64(size), "msg-bytes")
}

// envInt is the integer in the environment variable name, or def.
func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return n
}

// waitMsgs waits until the stream holds want messages.
func waitMsgs(tb testing.TB, js jetstream.JetStream, name string, want uint64) {
	tb.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		got, err := streamMsgs(tb.Context(), js, name)
		if err == nil && got >= want {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("stream %s holds %d messages after 5m, want %d (%v)", name, got, want, err)
		}
		<-tick.C
	}
}

// meanMessageSize is the mean size of the relay's messages (body and
// headers) over the first events of the store, as `crm bench` measures it.
func meanMessageSize(tb testing.TB, e *env) int {
	tb.Helper()
	events := e.storedEvents(tb) // waits until the whole backlog is visible
	events = events[:min(len(events), 1000)]
	if len(events) == 0 {
		tb.Fatal("sample the backlog: no events")
	}
	total, prev := 0, eventstore.Position{}
	for _, ev := range events {
		m, err := relay.Encode(e.streamConfig("R0").Subjects, ev, prev)
		if err != nil {
			tb.Fatal(err)
		}
		prev = ev.Position
		total += len(m.Data) + len("NATS/1.0\r\n\r\n")
		for k, vs := range m.Header {
			for _, v := range vs {
				total += len(k) + len(v) + len(": \r\n")
			}
		}
	}
	return total / len(events)
}

// baselinePublish publishes n messages of size bytes with PublishAsync, at
// most window unacknowledged, on a connection of its own, and returns the
// time until the last acknowledgement.
func baselinePublish(tb testing.TB, cfg relay.StreamConfig, n, size, window int) time.Duration {
	tb.Helper()
	ctx := tb.Context()
	nc, err := nats.Connect(storetest.NATS(tb))
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	var failed atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(window),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := relay.EnsureStream(ctx, js, cfg); err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = js.DeleteStream(context.WithoutCancel(ctx), cfg.Name) }()
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	subject := cfg.Subjects + ".bench"
	start := time.Now()
	for range n {
		if _, err := js.PublishAsync(subject, payload, jetstream.WithStallWait(time.Minute)); err != nil {
			tb.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		tb.Fatalf("%d publishes unacknowledged after 2m", js.PublishAsyncPending())
	}
	elapsed := time.Since(start)
	if failed.Load() > 0 {
		tb.Fatalf("%d publishes failed", failed.Load())
	}
	return elapsed
}
