package relay_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/eventstore/relay"
	"github.com/crmcore/crm/wire"
)

// BenchmarkRelayBacklog relays a backlog of RELAY_BENCH_EVENTS (default
// 20000) events from the store into JetStream, until acknowledged, and in
// the same iteration publishes as many messages of the same mean size with
// PublishAsync, 1000 in flight, to a scratch stream on the same server: the
// baseline of `crm bench`'s relay row. It reports both rates and their ratio.
// RELAY_BENCH_WINDOW sets the relay's window and RELAY_BENCH_READERS its
// readers (default: the relay's). On a shared machine the rates swing with
// the load; the CPU time per event (this process, which runs the embedded
// NATS server too, plus, for the relay, the test database's Postgres
// backends) does less.
func BenchmarkRelayBacklog(b *testing.B) {
	n, window := envInt(b, "RELAY_BENCH_EVENTS", 20000), envInt(b, "RELAY_BENCH_WINDOW", 0)
	readers := envInt(b, "RELAY_BENCH_READERS", 0)
	e := newEnv(b)
	e.fillBacklog(b, n)
	size := meanMessageSize(b, e)
	ctx := b.Context()
	var relayTime, baseTime, relayCPU, baseCPU time.Duration
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
		cpu0 := cpuTime(b, e)
		start := time.Now()
		stop := startRelay(b, r)
		waitMsgs(b, e.js, cfg.Name, uint64(n))
		relayTime += time.Since(start)
		relayCPU += cpuTime(b, e) - cpu0
		b.StopTimer()
		stop()
		base := e.streamConfig("B" + strconv.Itoa(i))
		cpu0 = processCPU(b)
		baseTime += baselinePublish(b, base, n, size, 1000)
		baseCPU += processCPU(b) - cpu0
		b.StartTimer()
	}
	b.StopTimer()
	relayRate := float64(n*b.N) / relayTime.Seconds()
	baseRate := float64(n*b.N) / baseTime.Seconds()
	b.ReportMetric(relayRate, "relay-events/s")
	b.ReportMetric(baseRate, "baseline-msgs/s")
	b.ReportMetric(relayRate/baseRate, "ratio")
	b.ReportMetric(float64(size), "msg-bytes")
	b.ReportMetric(float64(relayCPU.Microseconds())/float64(n*b.N), "relay-cpu-µs/event")
	b.ReportMetric(float64(baseCPU.Microseconds())/float64(n*b.N), "baseline-cpu-µs/msg")
}

// processCPU is the CPU time this process has used so far.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuTime is processCPU plus the CPU time of the Postgres backends now
// connected to the test's database (read from /proc: Linux only; a backend
// whose entry cannot be read counts zero).
func cpuTime(tb testing.TB, e *env) time.Duration {
	tb.Helper()
	total := processCPU(tb)
	rows, err := e.store.Pool().Query(tb.Context(), `select pid from pg_stat_activity where datname = current_database()`)
	if err != nil {
		tb.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		tb.Fatal(err)
	}
	for _, pid := range pids {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
		if err != nil {
			continue
		}
		// Fields 14 and 15 (utime, stime, in clock ticks) follow the
		// parenthesized command name.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(utime+stime) * (time.Second / 100) // USER_HZ
	}
	return total
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
		m, err := wire.Encode(e.streamConfig("R0").Subjects, ev, prev)
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
func baselinePublish(tb testing.TB, cfg wire.StreamConfig, n, size, window int) time.Duration {
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
	if _, err := wire.EnsureStream(ctx, js, cfg); err != nil {
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
