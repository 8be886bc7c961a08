package relay

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/wire"
)

// Erasure picks the earlier messages of a deletion's subject that carried
// the deleted record's data. They are removed with SecureDeleteMsg, which
// overwrites each message's record in the file store with random bytes: a
// purge only drops messages from the stream's index, and their bytes stay
// readable in its block files until the blocks are compacted or age out.
type Erasure struct {
	// All erases every earlier message of the subject (a deleted stream);
	// the subject is then purged up to the deletion as well.
	All bool
	// Match picks the messages to erase, by their events, when All is false.
	Match func(eventstore.Event) bool
}

// ErasureOf is what e erases from JetStream: what the store redacted of
// e's stream in e's commit (eventstore.Metadata.Erased) — every earlier
// message of a deleted stream, or those of the events a partial delete
// redacted (a call log, a contact). Nil when e's commit redacted nothing
// of its stream.
func ErasureOf(e eventstore.Event) *Erasure {
	er, ok := e.Metadata.ErasedOf(e.StreamID)
	if !ok {
		return nil
	}
	if er.Events == nil {
		return &Erasure{All: true}
	}
	ids := make(map[uuid.UUID]bool, len(er.Events))
	for _, id := range er.Events {
		ids[id] = true
	}
	return &Erasure{Match: func(m eventstore.Event) bool { return ids[m.ID] }}
}

// erase erases the messages of e's subject before e that er picks. seq is
// e's sequence, or 0 when a new session recovers an erasure (then the
// purge keeps the subject's last message, e itself, so lagging consumers
// still see it). Running it twice erases nothing more: erased messages are
// gone from the stream.
func (er *Erasure) erase(ctx context.Context, stream jetstream.Stream, prefix string, e eventstore.Event, seq uint64) error {
	subject := wire.Subject(prefix, e)
	for next := uint64(1); ; {
		msg, err := stream.GetMsg(ctx, next, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return fmt.Errorf("erase messages of stream %s: read %d: %w", e.StreamID, next, err)
		}
		pos, err := eventstore.ParsePosition(msg.Header.Get(wire.HeaderPosition))
		if err != nil {
			return fmt.Errorf("erase messages of stream %s: message %d: %w", e.StreamID, msg.Sequence, err)
		}
		if !pos.Less(e.Position) {
			break
		}
		if ok, err := er.picks(msg); err != nil {
			return fmt.Errorf("erase messages of stream %s: %w", e.StreamID, err)
		} else if ok {
			if err := stream.SecureDeleteMsg(ctx, msg.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				return fmt.Errorf("erase message %d of stream %s: %w", msg.Sequence, e.StreamID, err)
			}
		}
		next = msg.Sequence + 1
	}
	if !er.All {
		return nil
	}
	// A backstop for one request: after the erase it finds nothing before
	// e on the subject, and whatever it found would be gone from the stream
	// at least (if not from the disk).
	opts := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject(subject)}
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

// picks reports whether er erases msg.
func (er *Erasure) picks(msg *jetstream.RawStreamMsg) (bool, error) {
	if er.All {
		return true, nil
	}
	if er.Match == nil {
		return false, nil
	}
	ev, _, err := wire.Decode(msg.Data, msg.Header)
	if err != nil {
		return false, fmt.Errorf("message %d: %w", msg.Sequence, err)
	}
	return er.Match(ev), nil
}
