package relay

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/wire"
)

var published = promauto.NewCounter(prometheus.CounterOpts{
	Name: "crm_relay_published_events_total",
	Help: "Events the relay published to JetStream.",
})

// errAgedOut says the stream's last message is gone, so the stream cannot
// tell where the relay left off.
var errAgedOut = errors.New("last message aged out")

// resumePoint reads where the relay left off from the stream itself: the
// position of its last message and that message's sequence.
func resumePoint(ctx context.Context, s jetstream.Stream) (eventstore.Position, uint64, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return eventstore.Position{}, 0, fmt.Errorf("stream info: %w", err)
	}
	last := info.State.LastSeq
	if last == 0 {
		return eventstore.Position{}, 0, nil
	}
	msg, err := s.GetMsg(ctx, last)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		// Aged out (MaxAge): the Postgres checkpoint, written after the
		// message was acknowledged, is the resume point; a republished
		// duplicate would still be skipped by every projector's checkpoint.
		return eventstore.Position{}, last, errAgedOut
	}
	if err != nil {
		return eventstore.Position{}, 0, fmt.Errorf("read last message %d: %w", last, err)
	}
	pos, err := eventstore.ParsePosition(msg.Header.Get(wire.HeaderPosition))
	if err != nil {
		return eventstore.Position{}, 0, fmt.Errorf("last message %d: %w", last, err)
	}
	return pos, last, nil
}
