package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/eventstore/relay"
	"github.com/crmcore/crm/stack"
	"github.com/crmcore/crm/wire"
)

// stallLimit is how long a wait may see no progress before the run fails.
const stallLimit = 2 * time.Minute

// benchRelay stops the relay and the projectors, appends a backlog of
// cfg.Scale lead.created events, and times the relay from its start until
// JetStream holds them all; the baseline publishes as many messages of the
// same size asynchronously to a scratch stream on the same server. Then the
// projectors catch up on the backlog, which the later workloads read.
func benchRelay(ctx context.Context, env *benchEnv, cfg benchConfig, r *benchReport) error {
	// As the relay makes it (it may not have yet, when this is the first workload).
	stream, err := wire.EnsureStream(ctx, env.js, env.stream)
	if err != nil {
		return err
	}
	if err := env.waitRelayed(ctx, stream); err != nil {
		return fmt.Errorf("relay catching up before the backlog: %w", err)
	}
	if _, err := env.waitProjected(ctx); err != nil {
		return fmt.Errorf("projectors catching up before the backlog: %w", err)
	}
	env.stop("projectors")
	env.stop("relay")
	before, err := eventstore.LoadCheckpoint(ctx, env.s.Pool, relay.CheckpointName, false)
	if err != nil {
		return err
	}

	n := cfg.Scale
	env.logger.Info("bench: appending the backlog with the relay stopped", "events", n)
	if err := appendBacklog(ctx, env, n); err != nil {
		return fmt.Errorf("backlog: %w", err)
	}
	size, err := messageSize(ctx, env, before)
	if err != nil {
		return err
	}

	env.logger.Info("bench: relaying the backlog", "events", n)
	start := time.Now()
	env.startRelay()
	if err := env.waitRelayed(ctx, stream); err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	relayTime := time.Since(start)

	window := env.cfg.RelayBatch
	if window <= 0 {
		window = 1000 // the relay's default batch: as many messages in flight
	}
	env.logger.Info("bench: baseline publish", "messages", n, "bytes", size, "window", window)
	baseTime, err := baselinePublish(ctx, env, n, size, window)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	crmRate, baseRate := rate(int64(n), relayTime), rate(int64(n), baseTime)
	r.add(benchRow{
		workload: "relay",
		crm: fmt.Sprintf("%.0f events/s (backlog of %d events, %d-byte messages, store → JetStream acked)",
			crmRate, n, size),
		baseline: fmt.Sprintf("%.0f msgs/s (async publish, %d in flight, same size, same server, scratch stream)",
			baseRate, window),
		ratio:  ratio(crmRate, baseRate),
		target: "≥ 0.5×",
		met:    crmRate >= 0.5*baseRate,
	})

	env.logger.Info("bench: projectors catching up on the backlog", "events", n)
	start = time.Now()
	env.startProjectors()
	if _, err := env.waitProjected(ctx); err != nil {
		return fmt.Errorf("projectors: %w", err)
	}
	took := time.Since(start)
	r.note("projectors: %d read models caught up on the %d-event backlog in %s (%.0f events/s each, side by side; restarted after the relay, they read what they missed from the store, then follow JetStream)",
		len(stack.Projections()), n, took.Round(time.Millisecond), rate(int64(n), took))
	return nil
}

// waitRelayed waits until the stream holds every event of the store.
func (env *benchEnv) waitRelayed(ctx context.Context, stream jetstream.Stream) error {
	var total int64
	if err := env.s.Pool.QueryRow(ctx, `select count(*) from events`).Scan(&total); err != nil {
		return err
	}
	return waitProgress(ctx, 10*time.Millisecond, stallLimit, func() (int64, bool, error) {
		info, err := stream.Info(ctx)
		if err != nil {
			return 0, false, err
		}
		return int64(info.State.Msgs), int64(info.State.Msgs) >= total, nil
	})
}

// waitProjected waits until every read model has applied the store's head,
// and returns that head.
func (env *benchEnv) waitProjected(ctx context.Context) (eventstore.Position, error) {
	head, err := env.s.Store.Head(ctx)
	if err != nil {
		return head, err
	}
	err = waitProgress(ctx, 20*time.Millisecond, stallLimit, func() (int64, bool, error) {
		cps, err := env.s.Store.Checkpoints(ctx)
		if err != nil {
			return 0, false, err
		}
		var progress int64
		done := true
		for _, p := range stack.Projections() {
			cp := cps[p.Name()]
			progress += cp.Pos
			done = done && !cp.Less(head)
		}
		return progress, done, nil
	})
	return head, err
}

// waitFollowers waits until the relay and, unless relayOnly, every read
// model have reached the store's head, and says how long after start each
// got there.
func (env *benchEnv) waitFollowers(ctx context.Context, start time.Time, relayOnly bool) (relayed, projected time.Duration, err error) {
	head, err := env.s.Store.Head(ctx)
	if err != nil {
		return 0, 0, err
	}
	err = waitProgress(ctx, 20*time.Millisecond, stallLimit, func() (int64, bool, error) {
		cps, err := env.s.Store.Checkpoints(ctx)
		if err != nil {
			return 0, false, err
		}
		if relayed == 0 && !cps["relay"].Less(head) {
			relayed = time.Since(start)
		}
		progress := cps["relay"].Pos
		done := relayed > 0
		for _, p := range stack.Projections() {
			if relayOnly {
				break
			}
			cp := cps[p.Name()]
			progress += cp.Pos
			done = done && !cp.Less(head)
		}
		return progress, done, nil
	})
	return relayed, time.Since(start), err
}

// backlogBatch is how many leads one COPY transaction appends.
const backlogBatch = 10000

// backlogRows is one batch of the backlog, ready to COPY.
type backlogRows struct {
	streams, reserved, events [][]any
}

// appendBacklog appends n lead creations as the command handler would
// write them (stream row, email and phone reservations, a lead.created
// event, numbers from the tenant's counter), with COPY: the backlog is the
// set-up of the relay workload, not part of what it measures. The next
// batch is built while the last one is copied.
func appendBacklog(ctx context.Context, env *benchEnv, n int) error {
	var last int64
	if err := env.s.Pool.QueryRow(ctx, `insert into counters (tenant_id, name, value) values ($1, 'lead', $2)
		on conflict (tenant_id, name) do update set value = counters.value + excluded.value
		returning value`, env.tenantID, n).Scan(&last); err != nil {
		return fmt.Errorf("take lead numbers: %w", err)
	}
	firstNumber, firstSeq := last-int64(n)+1, env.leads.take(n)
	meta, err := json.Marshal(eventstore.Metadata{Actor: "bench", API: "bench"})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan backlogRows, 1)
	built := make(chan error, 1)
	go func() {
		defer close(batches)
		for off := 0; off < n; off += backlogBatch {
			b, err := buildBacklog(env, off, min(backlogBatch, n-off), firstSeq, firstNumber, meta)
			if err != nil {
				built <- err
				return
			}
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
		}
		built <- nil
	}()
	logged, done := time.Now(), 0
	for b := range batches {
		if err := copyBacklog(ctx, env, b); err != nil {
			return err
		}
		if done += len(b.events); time.Since(logged) > 5*time.Second {
			logged = time.Now()
			env.logger.Info("bench: backlog", "appended", done, "of", n)
		}
	}
	return <-built
}

// buildBacklog builds the rows of leads off to off+k of the backlog.
func buildBacklog(env *benchEnv, off, k int, firstSeq, firstNumber int64, meta []byte) (backlogRows, error) {
	b := backlogRows{streams: make([][]any, 0, k), events: make([][]any, 0, k), reserved: make([][]any, 0, 2*k)}
	for i := off; i < off+k; i++ {
		p, status, err := benchLead(firstSeq + int64(i)).profile(env.cfg.Region)
		if err != nil {
			return b, err
		}
		id, eventID := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
		decided, err := domain.CreateLead(id, firstNumber+int64(i), p, status)
		if err != nil {
			return b, err
		}
		data, err := decided[0].MarshalData()
		if err != nil {
			return b, err
		}
		b.streams = append(b.streams, []any{id, env.tenantID, domain.LeadStream, 1})
		b.reserved = append(b.reserved, []any{env.tenantID, domain.ReserveEmail, p.Emails[0], id},
			[]any{env.tenantID, domain.ReservePhone, p.Phones[0], id})
		b.events = append(b.events, []any{env.tenantID, domain.LeadStream, id, 1, eventID, decided[0].Type,
			domain.SchemaVersion, []byte(data), meta})
	}
	return b, nil
}

// copyBacklog writes one batch in one transaction.
func copyBacklog(ctx context.Context, env *benchEnv, b backlogRows) error {
	return pgx.BeginFunc(ctx, env.s.Pool, func(tx pgx.Tx) error {
		for _, c := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"streams", []string{"stream_id", "tenant_id", "stream_type", "version"}, b.streams},
			{"reservations", []string{"tenant_id", "kind", "value", "stream_id"}, b.reserved},
			{"events", []string{"tenant_id", "stream_type", "stream_id", "stream_version", "event_id",
				"event_type", "schema_version", "data", "metadata"}, b.events},
		} {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
				return fmt.Errorf("copy %s: %w", c.table, err)
			}
		}
		return nil
	})
}

// messageSize is the mean size in bytes of the relay's messages (body and
// headers) over a sample of the backlog after from.
func messageSize(ctx context.Context, env *benchEnv, from eventstore.Position) (int, error) {
	// The backlog is readable once every transaction that began before it
	// committed has ended; on a shared cluster that includes transactions
	// of other databases (their advisory-lock declarations are not seen
	// here, see eventstore's horizon), so wait for them, boundedly.
	var events []eventstore.Event
	for deadline := time.Now().Add(time.Minute); ; {
		var err error
		if events, err = env.s.Store.ReadAll(ctx, from, 1000); err != nil {
			return 0, err
		}
		if len(events) > 0 {
			break
		}
		if time.Now().After(deadline) {
			return 0, errors.New("backlog not readable after a minute")
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	total, prev := 0, from
	for _, e := range events {
		m, err := wire.Encode(env.stream.Subjects, e, prev)
		if err != nil {
			return 0, err
		}
		prev = e.Position
		total += len(m.Data) + len("NATS/1.0\r\n\r\n")
		for k, vs := range m.Header {
			for _, v := range vs {
				total += len(k) + len(v) + len(": \r\n")
			}
		}
	}
	return total / len(events), nil
}

// baselinePublish publishes n messages of size bytes to a scratch stream
// as `nats bench js pub --async` does: PublishAsync with at most window
// unacknowledged, on a connection of its own; it returns the time until
// the last acknowledgement.
func baselinePublish(ctx context.Context, env *benchEnv, n, size, window int) (time.Duration, error) {
	nc, err := nats.Connect(env.natsURL, nats.Name("crm-bench-baseline"))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	var failed atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(window),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		return 0, err
	}
	stream, err := wire.EnsureStream(ctx, js, env.baselineStream)
	if err != nil {
		return 0, err
	}
	defer func() { _ = js.DeleteStream(context.WithoutCancel(ctx), env.baselineStream.Name) }()
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	subject := env.baselineStream.Subjects + ".bench"
	start := time.Now()
	for i := range n {
		if i%1000 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if _, err := js.PublishAsync(subject, payload, jetstream.WithStallWait(time.Minute)); err != nil {
			return 0, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(stallLimit):
		return 0, fmt.Errorf("%d publishes unacknowledged after %s", js.PublishAsyncPending(), stallLimit)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	elapsed := time.Since(start)
	if failed.Load() > 0 {
		return 0, fmt.Errorf("%d publishes failed", failed.Load())
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	if info.State.Msgs != uint64(n) {
		return 0, fmt.Errorf("scratch stream holds %d messages, want %d", info.State.Msgs, n)
	}
	return elapsed, nil
}
