package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/eventstore"
)

// CheckpointName is the relay's checkpoint row in the checkpoints table.
const CheckpointName = "relay"

// Config configures a Relay.
type Config struct {
	Store    *eventstore.Store
	Listener *eventstore.Listener // wakes the relay on commit; polling covers a lost NOTIFY
	JS       jetstream.JetStream
	Stream   StreamConfig
	// BatchSize is how many events one publish round reads and awaits (default 1000).
	BatchSize int
	// PollInterval is the fallback wake-up when no NOTIFY arrives (default 1s).
	PollInterval time.Duration
	// PurgeOn reports whether an event ends its stream for good (a permanent
	// delete): the stream's earlier messages are then purged from JetStream
	// too, so NATS keeps no copy of redacted personal data.
	PurgeOn func(eventstore.Event) bool
	Logger  *slog.Logger
}

// Relay tails the event store in commit order and publishes every event to
// JetStream. Each publish expects the stream's last sequence, so messages can
// never land out of order or twice even beyond the duplicate window, and a
// stale leader is fenced off; the stream's last message is the resume point.
type Relay struct {
	cfg Config
}

// New returns a relay; call Run (usually under Lead) to start it.
func New(cfg Config) *Relay {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PurgeOn == nil {
		cfg.PurgeOn = func(eventstore.Event) bool { return false }
	}
	return &Relay{cfg: cfg}
}

// Run relays until ctx ends. NATS being down is not an error: Run retries
// with backoff and loses nothing, because the store is the source of truth.
func (r *Relay) Run(ctx context.Context) error {
	wake, unsubscribe := r.cfg.Listener.Subscribe("crm_events")
	defer unsubscribe()
	b := newBackoff(100*time.Millisecond, 10*time.Second)
	for ctx.Err() == nil {
		err := r.runSession(ctx, wake)
		if ctx.Err() != nil {
			return nil
		}
		r.cfg.Logger.Warn("relay interrupted; retrying", "err", err)
		if !b.wait(ctx) {
			return nil
		}
	}
	return nil
}

// runSession establishes the resume point and publishes until an error.
func (r *Relay) runSession(ctx context.Context, wake <-chan string) error {
	stream, err := EnsureStream(ctx, r.cfg.JS, r.cfg.Stream)
	if err != nil {
		return err
	}
	cursor, lastSeq, err := resumePoint(ctx, stream)
	if errors.Is(err, errAgedOut) {
		cursor, err = eventstore.LoadCheckpoint(ctx, r.cfg.Store.Pool(), CheckpointName, false)
	}
	if err != nil {
		return err
	}
	if err := r.recoverPurges(ctx, stream, cursor); err != nil {
		return err
	}
	poll := time.NewTicker(r.cfg.PollInterval)
	defer poll.Stop()
	for {
		events, err := r.cfg.Store.ReadAll(ctx, cursor, r.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("read events after %s: %w", cursor, err)
		}
		if len(events) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-wake:
			case <-poll.C:
			}
			continue
		}
		seqs, err := r.publish(ctx, events, cursor, lastSeq)
		if err != nil {
			return err
		}
		for i, e := range events {
			if r.cfg.PurgeOn(e) {
				if err := purgeStream(ctx, stream, r.cfg.Stream.Subjects, e, seqs[i]); err != nil {
					return err
				}
			}
		}
		cursor, lastSeq = events[len(events)-1].Position, seqs[len(seqs)-1]
		if err := eventstore.SaveCheckpoint(ctx, r.cfg.Store.Pool(), CheckpointName, cursor); err != nil {
			return fmt.Errorf("save relay checkpoint: %w", err)
		}
		published.Add(float64(len(events)))
	}
}

// publish sends a batch asynchronously, each message expecting its
// predecessor's sequence, and waits for every acknowledgement.
func (r *Relay) publish(ctx context.Context, events []eventstore.Event, prev eventstore.Position, lastSeq uint64) ([]uint64, error) {
	futures := make([]jetstream.PubAckFuture, len(events))
	for i, e := range events {
		msg, err := Encode(r.cfg.Stream.Subjects, e, prev)
		if err != nil {
			return nil, err
		}
		prev = e.Position
		futures[i], err = r.cfg.JS.PublishMsgAsync(msg,
			jetstream.WithMsgID(e.ID.String()),
			jetstream.WithExpectLastSequence(lastSeq+uint64(i)),
			jetstream.WithExpectStream(r.cfg.Stream.Name))
		if err != nil {
			return nil, fmt.Errorf("publish event %s: %w", e.ID, err)
		}
	}
	seqs := make([]uint64, len(events))
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				return nil, fmt.Errorf("event %s was already in the stream: resume point is stale", events[i].ID)
			}
			seqs[i] = ack.Sequence
		case err := <-f.Err():
			return nil, fmt.Errorf("publish event %s: %w", events[i].ID, err)
		case <-timeout.C:
			return nil, errors.New("publish: no acknowledgement within 30s")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return seqs, nil
}

// recoverPurges replays the purges that a crash between publishing and
// checkpointing may have skipped: events after the Postgres checkpoint up to
// the stream's resume point are already in NATS, but their purge may not be.
func (r *Relay) recoverPurges(ctx context.Context, stream jetstream.Stream, resume eventstore.Position) error {
	from, err := eventstore.LoadCheckpoint(ctx, r.cfg.Store.Pool(), CheckpointName, false)
	if err != nil {
		return fmt.Errorf("load relay checkpoint: %w", err)
	}
	for from.Less(resume) {
		events, err := r.cfg.Store.ReadAll(ctx, from, r.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("read events for purge recovery: %w", err)
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			if resume.Less(e.Position) {
				return eventstore.SaveCheckpoint(ctx, r.cfg.Store.Pool(), CheckpointName, resume)
			}
			if r.cfg.PurgeOn(e) {
				if err := purgeStream(ctx, stream, r.cfg.Stream.Subjects, e, 0); err != nil {
					return err
				}
			}
			from = e.Position
		}
	}
	return eventstore.SaveCheckpoint(ctx, r.cfg.Store.Pool(), CheckpointName, resume)
}

// purgeStream removes the earlier messages of e's store stream from NATS,
// keeping e itself (the deletion) so lagging consumers still see it.
func purgeStream(ctx context.Context, stream jetstream.Stream, prefix string, e eventstore.Event, seq uint64) error {
	opts := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject(Subject(prefix, e))}
	if seq > 0 {
		opts = append(opts, jetstream.WithPurgeSequence(seq))
	} else {
		opts = append(opts, jetstream.WithPurgeKeep(1))
	}
	if err := stream.Purge(ctx, opts...); err != nil {
		return fmt.Errorf("purge messages of stream %s: %w", e.StreamID, err)
	}
	return nil
}
