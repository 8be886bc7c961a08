package eventstore

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// prepare validates c and returns a copy whose events all have an id, so the
// caller's slices are never written to.
func prepare(c Commit) (Commit, error) {
	if c.TenantID == uuid.Nil {
		return c, fmt.Errorf("%w: no tenant", ErrInvalidCommit)
	}
	if len(c.Streams) == 0 {
		return c, fmt.Errorf("%w: no stream", ErrInvalidCommit)
	}
	streams := make([]StreamAppend, len(c.Streams))
	seen := make(map[uuid.UUID]bool, len(c.Streams))
	total := 0
	for i, sa := range c.Streams {
		if err := validateStream(sa, seen); err != nil {
			return c, fmt.Errorf("%w: stream %d: %w", ErrInvalidCommit, i, err)
		}
		events := make([]NewEvent, len(sa.Events))
		for j, e := range sa.Events {
			if err := validateEvent(e); err != nil {
				return c, fmt.Errorf("%w: stream %s event %d: %w", ErrInvalidCommit, sa.StreamID, j, err)
			}
			if e.ID == uuid.Nil {
				id, err := uuid.NewV7()
				if err != nil {
					return c, fmt.Errorf("event id: %w", err)
				}
				e.ID = id
			}
			events[j] = e
		}
		sa.Events = events
		streams[i] = sa
		total += len(events)
	}
	if total == 0 {
		return c, fmt.Errorf("%w: no event", ErrInvalidCommit)
	}
	c.Streams = streams
	return c, nil
}

func validateStream(sa StreamAppend, seen map[uuid.UUID]bool) error {
	switch {
	case sa.StreamID == uuid.Nil:
		return fmt.Errorf("no stream id")
	case seen[sa.StreamID]:
		return fmt.Errorf("stream %s appears twice", sa.StreamID)
	case sa.StreamType == "":
		return fmt.Errorf("no stream type")
	case sa.ExpectedVersion < AnyVersion:
		return fmt.Errorf("expected version %d", sa.ExpectedVersion)
	}
	seen[sa.StreamID] = true
	for _, rs := range [][]Reservation{sa.Reserve, sa.Release} {
		for _, r := range rs {
			if r.Kind == "" || r.Value == "" {
				return fmt.Errorf("reservation %q %q: empty kind or value", r.Kind, r.Value)
			}
		}
	}
	return nil
}

func validateEvent(e NewEvent) error {
	switch {
	case e.Type == "":
		return fmt.Errorf("no event type")
	case e.SchemaVersion <= 0:
		return fmt.Errorf("schema version %d", e.SchemaVersion)
	case !json.Valid(e.Data) || !bytes.HasPrefix(bytes.TrimLeft(e.Data, " \t\r\n"), []byte("{")):
		return fmt.Errorf("data is not a JSON object")
	}
	return nil
}
