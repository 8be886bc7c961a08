package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/wire"
)

// CheckpointName is the relay's checkpoint row in the checkpoints table.
const CheckpointName = "relay"

// Defaults of Config.
const (
	// DefaultBatchSize is how many events one read takes.
	DefaultBatchSize = 1000
	// DefaultWindow is how many messages may await their acknowledgement:
	// as many as `crm bench` lets its async-publish baseline have in flight.
	// On one machine the relay is bound by reading, not by the window (500
	// to 4000 measured the same); a remote cluster's round trip would want
	// more, within the JetStream context's async-publish limit.
	DefaultWindow = 1000
	// DefaultReaders is how many batches the relay reads at once, each on a
	// connection of its own, when it is far behind. Postgres rendering the
	// jsonb columns is most of a read, and with more readers it runs on
	// several cores; but finding the ranges costs Postgres an index scan of
	// them as well. On the two-core bench machine, where Postgres, NATS
	// and crm share the cores, one reader relayed a 100k backlog at
	// 28–30k events/s and two at 21–22k (`crm bench --only relay --scale
	// 100000`, alternated), so the default is one; CRM_RELAY_READERS sets
	// more where Postgres has cores of its own.
	DefaultReaders = 1
)

// Config configures a Relay.
type Config struct {
	Store    *eventstore.Store
	Listener *eventstore.Listener // wakes the relay on commit; polling covers a lost NOTIFY
	JS       jetstream.JetStream
	Stream   wire.StreamConfig
	// BatchSize is how many events one ReadAll reads (DefaultBatchSize).
	// The relay reads ahead while earlier batches are in flight.
	BatchSize int
	// Readers is how many batches are read at once, on separate pool
	// connections, while a backlog of more than two batches waits
	// (DefaultReaders); they are published strictly in commit order all the
	// same. 1 reads one batch at a time.
	Readers int
	// Window is how many published messages may await their acknowledgement
	// at once (DefaultWindow). It must not exceed the async-publish limit of
	// JS (jetstream.WithPublishAsyncMaxPending, 4000 by default), or
	// publishing stalls and the session restarts.
	Window int
	// CheckpointInterval is how often the checkpoint follows the
	// acknowledgements while messages are in flight (default 1s); it is
	// also written whenever everything read has been acknowledged.
	CheckpointInterval time.Duration
	// PollInterval is the fallback wake-up when no NOTIFY arrives (default 1s).
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Relay tails the event store in commit order and publishes every event to
// JetStream. Each publish expects the stream's last sequence, so messages can
// never land out of order or twice (no Nats-Msg-Id duplicate window is
// needed), and a stale leader is fenced off; the stream's last message is
// the resume point.
//
// It is a pipeline: readers read the next batches (up to Readers of them at
// once over a backlog) and an encoder renders them while up to Window
// messages await their acknowledgements, and the checkpoint follows the
// acknowledgements in a goroutine of its own (see window.go).
type Relay struct {
	cfg Config
}

// New returns a relay; call Run (usually under Lead) to start it.
func New(cfg Config) *Relay {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Readers <= 0 {
		cfg.Readers = DefaultReaders
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
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
		progressed, err := r.runSession(ctx, wake)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			// A session that relayed something was not the same failure
			// repeating: the next one starts from the shortest delay.
			b.reset()
		}
		r.cfg.Logger.Warn("relay interrupted; retrying", "err", err)
		if !b.wait(ctx) {
			return nil
		}
	}
	return nil
}

// runSession establishes the resume point and relays until an error; it
// reports whether any message was acknowledged.
func (r *Relay) runSession(ctx context.Context, wake <-chan string) (bool, error) {
	stream, err := wire.EnsureStream(ctx, r.cfg.JS, r.cfg.Stream)
	if err != nil {
		return false, err
	}
	cursor, lastSeq, err := resumePoint(ctx, stream)
	if errors.Is(err, errAgedOut) {
		cursor, err = eventstore.LoadCheckpoint(ctx, r.cfg.Store.Pool(), CheckpointName, false)
	}
	if err != nil {
		return false, err
	}
	if err := r.recoverErasures(ctx, stream, cursor); err != nil {
		return false, err
	}
	return r.relayWindow(ctx, stream, wake, cursor, lastSeq)
}

// recoverErasures replays the erasures that a crash between publishing and
// checkpointing may have skipped: events after the Postgres checkpoint up
// to the stream's resume point are already in NATS, but their erasure may
// not be. The checkpoint passes a deletion only once its erasure is done.
func (r *Relay) recoverErasures(ctx context.Context, stream jetstream.Stream, resume eventstore.Position) error {
	from, err := eventstore.LoadCheckpoint(ctx, r.cfg.Store.Pool(), CheckpointName, false)
	if err != nil {
		return fmt.Errorf("load relay checkpoint: %w", err)
	}
	for from.Less(resume) {
		events, err := r.cfg.Store.ReadAll(ctx, from, r.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("read events for erasure recovery: %w", err)
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			if resume.Less(e.Position) {
				return eventstore.SaveCheckpoint(ctx, r.cfg.Store.Pool(), CheckpointName, resume)
			}
			if er := ErasureOf(e); er != nil {
				if err := er.erase(ctx, stream, r.cfg.Stream.Subjects, e, 0); err != nil {
					return err
				}
			}
			from = e.Position
		}
	}
	return eventstore.SaveCheckpoint(ctx, r.cfg.Store.Pool(), CheckpointName, resume)
}
