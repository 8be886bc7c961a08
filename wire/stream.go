package wire

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/eventstore"
)

// StreamConfig names the JetStream stream events are relayed to.
type StreamConfig struct {
	Name     string // e.g. "CRM_EVENTS"
	Subjects string // subject prefix, e.g. "crm.events"; the stream takes prefix.>
	Replicas int    // 1 for crm dev, 3 for a production cluster
	// MaxAge bounds how long NATS keeps events; the store keeps them forever,
	// and read models rebuild from the store, never from NATS.
	MaxAge time.Duration
}

// DefaultStream is the stream crm uses unless configured otherwise.
var DefaultStream = StreamConfig{Name: "CRM_EVENTS", Subjects: "crm.events", Replicas: 1, MaxAge: 30 * 24 * time.Hour}

// EnsureStream creates the events stream (file storage), or updates it when
// its configuration differs: every relay and projector start calls this, and
// an update racing consumer creation is needless work for the server.
func EnsureStream(ctx context.Context, js jetstream.JetStream, c StreamConfig) (jetstream.Stream, error) {
	want := streamConfig(c)
	if s, err := js.Stream(ctx, c.Name); err == nil {
		have := s.CachedInfo().Config
		if slices.Equal(have.Subjects, want.Subjects) && have.Storage == want.Storage && have.Retention == want.Retention &&
			have.MaxAge == want.MaxAge && have.Replicas == want.Replicas && have.Duplicates == want.Duplicates &&
			have.Discard == want.Discard {
			return s, nil
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("look up stream %s: %w", c.Name, err)
	}
	s, err := js.CreateOrUpdateStream(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", c.Name, err)
	}
	return s, nil
}

// streamConfig is the JetStream configuration of the events stream.
func streamConfig(c StreamConfig) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       c.Name,
		Subjects:   []string{c.Subjects + ".>"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     c.MaxAge,
		Replicas:   max(c.Replicas, 1),
		Duplicates: 2 * time.Minute,
		Discard:    jetstream.DiscardOld,
	}
}

// FirstAfter returns the sequence a consumer of stream s (subjects, its
// subject prefix) starts at to receive every event after position p and
// none before: the first message whose event is after p, or the sequence
// after the stream's last one if there is none yet. Sequences follow
// commit order (the relay publishes in that order, each message expecting
// the previous sequence), so it is a binary search over the stream; messages
// purged with a deleted stream leave holes, which GetMsg's next-by-subject
// steps over.
//
// A projector that caught up from the store starts its consumer here: from
// the first sequence, a new consumer would redeliver the whole retained
// stream, every message of it skipped by the checkpoint, while the writes
// of the moment waited behind them.
func FirstAfter(ctx context.Context, s jetstream.Stream, subjects string, p eventstore.Position) (uint64, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	// Every message before lo is at or before p; every message from hi on
	// is after it.
	lo, hi := max(info.State.FirstSeq, 1), info.State.LastSeq+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		msg, err := s.GetMsg(ctx, mid, jetstream.WithGetMsgSubject(subjects+".>"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			hi = mid // nothing from mid on
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read message %d: %w", mid, err)
		}
		pos, err := eventstore.ParsePosition(msg.Header.Get(HeaderPosition))
		if err != nil {
			return 0, fmt.Errorf("message %d: %w", msg.Sequence, err)
		}
		if p.Less(pos) {
			hi = mid // the messages from mid on start at msg
		} else {
			lo = msg.Sequence + 1
		}
	}
	return lo, nil
}
