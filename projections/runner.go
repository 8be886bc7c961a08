package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/leader"
	"github.com/crmcore/crm/wire"
)

var (
	appliedEvents = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "crm_projection_applied_events_total",
		Help: "Events applied to a read model.",
	}, []string{"projection"})
	lag = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "crm_projection_lag_events",
		Help: "Events in JetStream that a read model has not applied yet, as of its last batch.",
	}, []string{"projection"})
	gapFilled = promauto.NewCounter(prometheus.CounterOpts{
		Name: "crm_projection_gaps_filled_total",
		Help: "Times a projector found missing messages on NATS and read them from the store.",
	})
)

// RunnerConfig configures the projector workers.
type RunnerConfig struct {
	Store  *eventstore.Store
	JS     jetstream.JetStream
	Stream wire.StreamConfig
	// BatchSize caps the events applied in one transaction (default 500).
	BatchSize int
	Logger    *slog.Logger
}

// Run projects every read model of ps until ctx ends, in one worker: one
// active worker across all processes (the advisory lock of the role
// "projectors"), others stand by. The worker reads each event once (from
// the store while catching up, then from one JetStream consumer) and applies
// each batch to every read model in one transaction, each past its own
// checkpoint (group.go).
func Run(ctx context.Context, cfg RunnerConfig, ps []Projection) error {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	g := newGroup(cfg, ps)
	connCfg := cfg.Store.Pool().Config().ConnConfig.Copy()
	return leader.Lead(ctx, connCfg, groupRole, g.logger, func(ctx context.Context) error {
		return g.runSession(ctx)
	})
}

// groupRole is the leadership role of the projectors' worker.
const groupRole = "projectors"

// Consumer names the projectors' JetStream consumer, after the stream's
// name and an underscore.
const Consumer = "projectors"

// runSession first catches up from the store (so NATS retention never
// limits a new or long-stopped projector), then follows JetStream.
func (g *group) runSession(ctx context.Context) error {
	cfg := g.cfg
	if err := g.catchUp(ctx); err != nil {
		return err
	}
	g.dropOldConsumers(ctx)
	cp, _, err := g.floor(ctx)
	if err != nil {
		return err
	}
	cons, err := startConsumer(ctx, cfg, Consumer, cp)
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(cfg.BatchSize))
	if err != nil {
		return fmt.Errorf("consume for the projectors: %w", err)
	}
	defer it.Stop()

	msgs := make(chan jetstream.Msg, cfg.BatchSize)
	errc := make(chan error, 1)
	go func() {
		defer close(msgs)
		for {
			m, err := it.Next()
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					errc <- err
				}
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	context.AfterFunc(ctx, it.Stop)

	batch := make([]jetstream.Msg, 0, cfg.BatchSize)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return fmt.Errorf("next message for the projectors: %w", err)
		case m, ok := <-msgs:
			if !ok {
				return nil
			}
			batch = append(batch, m)
		}
	drain: // take what is already here, without waiting: batches grow under load only
		for len(batch) < cfg.BatchSize {
			select {
			case m, ok := <-msgs:
				if !ok {
					break drain
				}
				batch = append(batch, m)
			default:
				break drain
			}
		}
		if err := g.applyMessages(ctx, batch); err != nil {
			return err
		}
	}
}

// startConsumer returns the durable consumer name, made to start right
// after the checkpoint cp (wire.FirstAfter) when it is new or would
// redeliver more than MaxAckPending messages already applied. From the stream's first
// sequence, a new consumer redelivers the whole retained stream once the
// store catch-up has applied it all (measured: 100k skipped messages kept
// the writes of the moment waiting 5–6 s); a consumer kept from a session
// long ago (the store catch-up applied what it missed) does the same from
// its acknowledgement floor. A consumer whose floor is the checkpoint, or
// within a window of it (a projector stopped between a commit and its ack),
// is kept: its few redeliveries are skipped by the checkpoint.
func startConsumer(ctx context.Context, cfg RunnerConfig, name string, cp eventstore.Position) (jetstream.Consumer, error) {
	stream, err := wire.EnsureStream(ctx, cfg.JS, cfg.Stream)
	if err != nil {
		return nil, err
	}
	start, err := wire.FirstAfter(ctx, stream, cfg.Stream.Subjects, cp)
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", name, err)
	}
	maxAckPending := 10 * cfg.BatchSize
	want := jetstream.ConsumerConfig{
		Durable:       cfg.Stream.Name + "_" + name,
		AckPolicy:     jetstream.AckAllPolicy,
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   start,
		FilterSubject: cfg.Stream.Subjects + ".>",
		AckWait:       time.Minute,
		MaxAckPending: maxAckPending,
	}
	switch have, err := cfg.JS.Consumer(ctx, cfg.Stream.Name, want.Durable); {
	case err == nil:
		floor := have.CachedInfo().AckFloor.Stream
		if floor < start && start-floor-1 <= uint64(maxAckPending) {
			// Keep it: an update may not change where it started.
			want.DeliverPolicy, want.OptStartSeq = have.CachedInfo().Config.DeliverPolicy, have.CachedInfo().Config.OptStartSeq
			cons, err := cfg.JS.CreateOrUpdateConsumer(ctx, cfg.Stream.Name, want)
			if err != nil {
				return nil, fmt.Errorf("consumer %s: %w", name, err)
			}
			return cons, nil
		}
		if err := cfg.JS.DeleteConsumer(ctx, cfg.Stream.Name, want.Durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("consumer %s: %w", name, err)
		}
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return nil, fmt.Errorf("consumer %s: %w", name, err)
	}
	cons, err := cfg.JS.CreateConsumer(ctx, cfg.Stream.Name, want)
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", name, err)
	}
	return cons, nil
}

// CatchUp applies every event of the store past p's checkpoint, batch by batch.
func CatchUp(ctx context.Context, store *eventstore.Store, p Projection, batchSize int) error {
	notifier := eventstore.NewNotifier(store.Pool(), NotifyChannel)
	return catchUp(ctx, store, p, batchSize, func(m moved) {
		notifier.Send(announcement(map[string]eventstore.Position{p.Name(): m.cp}))
		appliedEvents.WithLabelValues(p.Name()).Add(float64(m.applied))
	})
}

// announcement is the payload of a NOTIFY on NotifyChannel telling waiters
// where read models stand: a line "name tx.pos" each, in name order.
func announcement(cps map[string]eventstore.Position) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(cps)) {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(name + " " + cps[name].String())
	}
	return b.String()
}

// catchUp applies the store past p's checkpoint alone, batch by batch,
// calling done after each batch that committed.
func catchUp(ctx context.Context, store *eventstore.Store, p Projection, batchSize int, done func(moved)) error {
	for {
		cp, err := eventstore.LoadCheckpoint(ctx, store.Pool(), p.Name(), false)
		if err != nil {
			return fmt.Errorf("load checkpoint %s: %w", p.Name(), err)
		}
		events, err := store.ReadAll(ctx, cp, batchSize)
		if err != nil {
			return fmt.Errorf("catch up %s: %w", p.Name(), err)
		}
		if len(events) == 0 {
			return nil
		}
		batch := make([]delivery, len(events))
		for i, e := range events {
			batch[i] = delivery{event: e}
		}
		var applied int
		if err := inPipelinedTx(ctx, store.Pool(), func(tx pgx.Tx) (err error) {
			cp, applied, err = applyBatch(ctx, tx, store, labelled{p}, batch)
			return err
		}); err != nil {
			return err
		}
		if applied > 0 {
			done(moved{p: p, cp: cp, applied: applied})
		}
	}
}
