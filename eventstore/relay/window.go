package relay

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/wire"
)

// ackTimeout bounds how long the oldest message in flight may wait for its
// acknowledgement before the session gives up and restarts.
const ackTimeout = 30 * time.Second

// readAhead is how many encoded batches may wait for the window (one more
// waits for encoding, one more is being read).
const readAhead = 2

// outgoing is an event encoded for publishing.
type outgoing struct {
	event eventstore.Event // without its data: the message holds it
	msg   *nats.Msg
	seq   []string // the value of its expected-last-sequence header, to fill
	erase *Erasure // a permanent delete: erase these earlier messages
}

// inFlight is a published message awaiting its acknowledgement.
type inFlight struct {
	outgoing
	seq  uint64 // the stream sequence it must land at
	ack  jetstream.PubAckFuture
	sent time.Time
}

// relayWindow publishes from cursor, the position of the stream's last
// message at sequence lastSeq, until an error. Goroutines read and encode
// the next batches while up to Window messages are in flight; acks
// are taken in publishing order, so everything up to the oldest unacked
// message is in the stream, and the checkpoint (saved by a goroutine of its
// own) only ever names such a position. A permanent delete is a barrier:
// nothing after it is published until it is acknowledged (so is everything
// before it) and its subject's earlier messages are erased, and the
// checkpoint passes it only then. It reports whether any message was
// acknowledged.
func (r *Relay) relayWindow(ctx context.Context, stream jetstream.Stream, wake <-chan string,
	cursor eventstore.Position, lastSeq uint64) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait() // no reader or checkpoint save of this session outlives it
	}()
	read := make(chan []eventstore.Event, 1)
	batches := make(chan []outgoing, readAhead)
	failed := make(chan error, 3)
	wg.Go(func() { failed <- r.read(ctx, cursor, wake, read) })
	wg.Go(func() { failed <- r.encode(ctx, cursor, read, batches) })
	cp := checkpointer{store: r.cfg.Store, want: make(chan eventstore.Position, 1)}
	wg.Go(func() { failed <- cp.run(ctx) })

	streamName := []string{r.cfg.Stream.Name} // every message's; nothing changes it
	tick := time.NewTicker(min(r.cfg.CheckpointInterval, time.Second))
	defer tick.Stop()
	var (
		queue      = make([]inFlight, 0, r.cfg.Window)
		pending    []outgoing
		barrier    bool // a permanent delete is in flight
		acked      = cursor
		saved      = cursor // recoverPurges saved it
		savedAt    = time.Now()
		progressed bool
	)
	// take handles the acknowledgement of the oldest message in flight.
	take := func(ack *jetstream.PubAck) error {
		m := queue[0]
		queue = queue[1:]
		// The relay sets no Nats-Msg-Id, so the server never reports a
		// duplicate; were one reported, the resume point would be stale.
		if ack.Duplicate {
			return fmt.Errorf("event %s was already in the stream: resume point is stale", m.event.ID)
		}
		if ack.Sequence != m.seq {
			return fmt.Errorf("event %s landed at sequence %d, want %d", m.event.ID, ack.Sequence, m.seq)
		}
		if m.erase != nil {
			if err := m.erase.erase(ctx, stream, r.cfg.Stream.Subjects, m.event, ack.Sequence); err != nil {
				return err
			}
			barrier = false
		}
		acked, progressed = m.event.Position, true
		published.Inc()
		return nil
	}
	for {
		for len(pending) > 0 && len(queue) < r.cfg.Window && !barrier {
			o := pending[0]
			pending = pending[1:]
			o.msg.Header[jetstream.ExpectedStreamHeader] = streamName
			o.seq[0] = strconv.FormatUint(lastSeq, 10)
			o.msg.Header[jetstream.ExpectedLastSeqHeader] = o.seq
			f, err := r.cfg.JS.PublishMsgAsync(o.msg)
			if err != nil {
				return progressed, fmt.Errorf("publish event %s: %w", o.event.ID, err)
			}
			lastSeq++
			queue = append(queue, inFlight{outgoing: o, seq: lastSeq, ack: f, sent: time.Now()})
			barrier = o.erase != nil
		}

		var next <-chan []outgoing
		if len(pending) == 0 && !barrier {
			next = batches
		}
		var okc <-chan *jetstream.PubAck
		var errc <-chan error
		if len(queue) > 0 {
			okc, errc = queue[0].ack.Ok(), queue[0].ack.Err()
		}
		select {
		case <-ctx.Done():
			return progressed, ctx.Err()
		case err := <-failed:
			return progressed, err
		case b := <-next:
			pending = b
		case ack := <-okc:
			if err := take(ack); err != nil {
				return progressed, err
			}
			// Take the acks already there without going round the loop.
		drain:
			for len(queue) > 0 {
				select {
				case ack := <-queue[0].ack.Ok():
					if err := take(ack); err != nil {
						return progressed, err
					}
				default:
					break drain
				}
			}
			if len(queue) == 0 && len(pending) == 0 && acked != saved {
				// Caught up with what was read: the checkpoint follows now.
				cp.save(acked)
				saved, savedAt = acked, time.Now()
			}
		case err := <-errc:
			return progressed, fmt.Errorf("publish event %s: %w", queue[0].event.ID, err)
		case now := <-tick.C:
			if len(queue) > 0 && now.Sub(queue[0].sent) > ackTimeout {
				return progressed, fmt.Errorf("publish event %s: no acknowledgement within %s", queue[0].event.ID, ackTimeout)
			}
			if err := failedInFlight(queue); err != nil {
				return progressed, err
			}
			if acked != saved && now.Sub(savedAt) >= r.cfg.CheckpointInterval {
				cp.save(acked)
				saved, savedAt = acked, now
			}
		}
	}
}

// failedInFlight returns the error of a message in flight that already
// failed while an older one is still unacknowledged: each message expects
// its predecessor's sequence, so nothing after a failure can land, and the
// session restarts at once rather than wait for the older one (which may
// be lost and never answered) to time out.
func failedInFlight(queue []inFlight) error {
	for _, m := range queue {
		select {
		case err := <-m.ack.Err():
			return fmt.Errorf("publish event %s: %w", m.event.ID, err)
		default:
		}
	}
	return nil
}

// read reads the events after after in batches and sends them to out
// until ctx ends or a read fails; it waits for a NOTIFY or the poll
// interval when it has caught up. It reads the next batch while encode
// works on the last one: the query's time is mostly Postgres rendering
// jsonb, which then overlaps the relay's own work. Far behind (a read
// filled its batch), readRanges reads several batches at once.
func (r *Relay) read(ctx context.Context, after eventstore.Position, wake <-chan string, out chan<- []eventstore.Event) error {
	poll := time.NewTicker(r.cfg.PollInterval)
	defer poll.Stop()
	behind := true // a new session usually is
	for {
		if behind && r.cfg.Readers > 1 {
			if err := r.readRanges(ctx, &after, out); err != nil {
				return err
			}
		}
		events, err := r.cfg.Store.ReadAll(ctx, after, r.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("read events after %s: %w", after, err)
		}
		behind = len(events) == r.cfg.BatchSize
		if len(events) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-wake:
			case <-poll.C:
			}
			continue
		}
		select {
		case out <- events:
		case <-ctx.Done():
			return ctx.Err()
		}
		after = events[len(events)-1].Position
	}
}

// marksAhead is how many ranges one ReadMarks query finds.
const marksAhead = 64

// rangeRead is a range of events being read.
type rangeRead struct {
	after, upTo eventstore.Position
	done        chan struct{} // closed when events and err are set
	events      []eventstore.Event
	err         error
}

// readRanges reads what is visible after *after in ranges of BatchSize
// events (ReadMarks finds their ends), up to Readers of them at once, each
// on a pool connection of its own, and sends them to out strictly in
// commit order, advancing *after past each range it sent. It returns when
// fewer than two ranges are left (then ReadAll reads the rest) or on error.
// The ends are visible positions, so every event of a range is committed
// and none can land in it later: the ranges together hold every event up
// to the last end, once, whatever is committed meanwhile.
func (r *Relay) readRanges(ctx context.Context, after *eventstore.Position, out chan<- []eventstore.Event) error {
	var wg sync.WaitGroup
	defer wg.Wait() // no range read outlives the call
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		queue []*rangeRead          // started, in commit order
		marks []eventstore.Position // ends of the ranges not started yet
		from  = *after              // where the next range starts
		more  = true                // the last ReadMarks found all it asked for
	)
	for {
		if len(marks) == 0 && more {
			m, err := r.cfg.Store.ReadMarks(ctx, from, r.cfg.BatchSize, marksAhead)
			if err != nil {
				return fmt.Errorf("read marks after %s: %w", from, err)
			}
			if len(queue) == 0 && len(m) < 2 {
				return nil
			}
			marks, more = m, len(m) == marksAhead
		}
		for len(queue) < r.cfg.Readers && len(marks) > 0 {
			rr := &rangeRead{after: from, upTo: marks[0], done: make(chan struct{})}
			wg.Go(func() {
				defer close(rr.done)
				rr.events, rr.err = r.cfg.Store.ReadRange(ctx, rr.after, rr.upTo)
			})
			from, marks = rr.upTo, marks[1:]
			queue = append(queue, rr)
		}
		if len(queue) == 0 {
			return nil
		}
		rr := queue[0]
		select {
		case <-rr.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		queue = queue[1:]
		if rr.err != nil {
			return fmt.Errorf("read events after %s: %w", rr.after, rr.err)
		}
		if len(rr.events) > 0 {
			select {
			case out <- rr.events:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		*after = rr.upTo
	}
}

// encode renders the batches from in as messages, each naming its
// predecessor (the first one after), and sends them to out until ctx ends.
func (r *Relay) encode(ctx context.Context, after eventstore.Position, in <-chan []eventstore.Event, out chan<- []outgoing) error {
	var enc wire.Encoder
	for {
		var events []eventstore.Event
		select {
		case events = <-in:
		case <-ctx.Done():
			return ctx.Err()
		}
		batch := make([]outgoing, len(events))
		for i, e := range events {
			msg, seq, err := enc.Encode(r.cfg.Stream.Subjects, e, after)
			if err != nil {
				return err
			}
			erase := ErasureOf(e) // while e has its data
			e.Data = nil
			batch[i] = outgoing{event: e, msg: msg, seq: seq, erase: erase}
			after = e.Position
		}
		select {
		case out <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// checkpointer saves the relay checkpoint off the publishing path: save
// hands it the latest acknowledged position, and run writes the newest one
// it has, skipping those a slow write made stale.
type checkpointer struct {
	store *eventstore.Store
	want  chan eventstore.Position // capacity 1: the newest position to save
}

// save asks for p to be saved. Only the relay loop calls it, so after
// emptying want there is room for p.
func (c *checkpointer) save(p eventstore.Position) {
	select {
	case <-c.want:
	default:
	}
	c.want <- p
}

// run saves what save asks for until ctx ends or a save fails.
func (c *checkpointer) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case p := <-c.want:
			if err := eventstore.SaveCheckpoint(ctx, c.store.Pool(), CheckpointName, p); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("save relay checkpoint: %w", err)
			}
		}
	}
}
