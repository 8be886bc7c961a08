package eventstore_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/eventstore"
)

// TestPipelinedCommitsAgreeWithStepByStep runs one script of commits, good
// and bad, through the pipelined path and through the step-by-step path
// (each under its own tenant) and wants the same outcome from each commit
// and the same streams and reservations afterwards.
func TestPipelinedCommitsAgreeWithStepByStep(t *testing.T) {
	pipelined, stepped := newStepByStep(t)

	type step struct {
		name   string
		commit func(tenant uuid.UUID, ids []uuid.UUID) eventstore.Commit
	}
	steps := []step{
		{"create with a reservation", func(tn uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			c := appendTo(tn, ids[0], eventstore.NoStream, ev("lead.created", 1), ev("lead.updated", 2))
			c.Streams[0].Reserve = reserveEmail("a@x.com")
			return c
		}},
		{"append at the expected version", func(tn uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return appendTo(tn, ids[0], 2, ev("lead.updated", 3))
		}},
		{"stale expected version", func(tn uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return appendTo(tn, ids[0], 1, ev("lead.updated", 4))
		}},
		{"create an existing stream", func(tn uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return appendTo(tn, ids[0], eventstore.NoStream, ev("lead.created", 5))
		}},
		{"any version: an existing and a new stream", func(tn uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			c := appendTo(tn, ids[0], eventstore.AnyVersion, ev("lead.updated", 6), ev("lead.updated", 7))
			c.Streams = append(c.Streams, eventstore.StreamAppend{StreamType: "call", StreamID: ids[1],
				ExpectedVersion: eventstore.AnyVersion, Events: []eventstore.NewEvent{ev("call.logged", 8)}})
			return c
		}},
		{"a value another stream owns", func(tn uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			c := appendTo(tn, ids[2], eventstore.NoStream, ev("lead.created", 9))
			c.Streams[0].Reserve = reserveEmail("a@x.com")
			return c
		}},
		{"move a value between streams", func(tn uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			c := appendTo(tn, ids[0], 5, ev("lead.updated", 10))
			c.Streams[0].Release = reserveEmail("a@x.com")
			c.Streams = append(c.Streams, eventstore.StreamAppend{StreamType: "lead", StreamID: ids[2],
				ExpectedVersion: eventstore.NoStream, Events: []eventstore.NewEvent{ev("lead.created", 11)},
				Reserve: reserveEmail("a@x.com")})
			return c
		}},
		{"with an idempotency key", func(tn uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			c := appendTo(tn, ids[3], eventstore.NoStream, ev("lead.created", 12))
			c.IdempotencyKey, c.Note = "k1", []byte(`{"lead":3}`)
			return c
		}},
		{"the same key again", func(tn uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			c := appendTo(tn, ids[4], eventstore.NoStream, ev("lead.created", 13))
			c.IdempotencyKey = "k1"
			return c
		}},
		{"a stream of another tenant", func(tn uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return appendTo(tn, ids[5], eventstore.AnyVersion, ev("lead.updated", 14))
		}},
	}

	run := func(s *eventstore.Store) (outcomes []string, history []string) {
		tenant, other := newID(t), newID(t)
		ids := newIDs(t, 6)
		mustCommit(t, s, appendTo(other, ids[5], eventstore.NoStream, ev("lead.created", 0)))
		firsts := map[string]eventstore.CommitResult{}
		for _, st := range steps {
			c := st.commit(tenant, ids)
			res, err := s.Commit(t.Context(), c)
			outcomes = append(outcomes, describe(t, st.name, c, res, err, ids, firsts))
		}
		for i, id := range ids[:5] {
			stream, ok := storedStream(t, s, tenant, id, i)
			history = append(history, stream...)
			if !ok {
				continue
			}
			owner, ok, err := s.LookupReservation(t.Context(), tenant, "email", "a@x.com")
			if err != nil {
				t.Fatal(err)
			}
			history = append(history, fmt.Sprintf("a@x.com owned %v by stream %d", ok, slices.Index(ids, owner)))
		}
		return outcomes, history
	}

	gotOutcomes, gotHistory := run(pipelined)
	wantOutcomes, wantHistory := run(stepped)
	agreeWithStepByStep(t, "pipelined", gotOutcomes, gotHistory, wantOutcomes, wantHistory)
	t.Logf("outcomes: %q", gotOutcomes)
}

// newStepByStep returns a store on a fresh, migrated database and a store on
// the same pool that commits step by step, the path another commit path
// (pipelined, grouped) must agree with.
func newStepByStep(t *testing.T) (s, stepped *eventstore.Store) {
	t.Helper()
	s = newStore(t)
	return s, eventstore.StepByStep(s)
}

// agreeWithStepByStep fails unless a commit path, named path, had the
// outcomes and left the stored history the step-by-step path did.
func agreeWithStepByStep(t *testing.T, path string, outcomes, history, stepOutcomes, stepHistory []string) {
	t.Helper()
	if !slices.Equal(outcomes, stepOutcomes) {
		t.Errorf("outcomes differ:\n%-14s%q\nstep by step: %q", path+":", outcomes, stepOutcomes)
	}
	if !slices.Equal(history, stepHistory) {
		t.Errorf("stored history differs:\n%-14s%q\nstep by step: %q", path+":", history, stepHistory)
	}
}

// storedStream describes stream id, the i-th of a test's script, as it is
// stored: a line per event, or one saying there is none (ok false), so two
// stores' histories compare as lists of lines.
func storedStream(t *testing.T, s *eventstore.Store, tenant, id uuid.UUID, i int) (lines []string, ok bool) {
	t.Helper()
	events, err := s.ReadStream(t.Context(), tenant, id)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return []string{fmt.Sprintf("stream %d: none", i)}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		lines = append(lines, fmt.Sprintf("stream %d v%d %s %s", i, e.StreamVersion, e.Type, e.Data))
	}
	return lines, true
}

// describe tells the outcome of commit c as the same words whichever path
// made it and whichever tenant it was for: streams are named by their index
// in ids, and a duplicate commit says whether it got back exactly the result
// of the first commit with its key (recorded in firsts).
func describe(t *testing.T, name string, c eventstore.Commit, res eventstore.CommitResult, err error,
	ids []uuid.UUID, firsts map[string]eventstore.CommitResult) string {
	t.Helper()
	var (
		conflict *eventstore.ConcurrencyError
		taken    *eventstore.ReservationError
		dup      *eventstore.DuplicateCommitError
	)
	switch {
	case err == nil:
		if c.IdempotencyKey != "" {
			firsts[c.IdempotencyKey] = res
		}
		return fmt.Sprintf("%s: ok versions %v", name, res.Versions)
	case errors.As(err, &conflict):
		return fmt.Sprintf("%s: conflict on stream %d expected %d actual %d", name,
			slices.Index(ids, conflict.StreamID), conflict.Expected, conflict.Actual)
	case errors.As(err, &taken):
		return fmt.Sprintf("%s: %s taken by stream %d", name, taken.Reservation.Value, slices.Index(ids, taken.Owner))
	case errors.As(err, &dup):
		first := firsts[dup.Key]
		same := dup.Result.Position == first.Position && slices.Equal(dup.Result.Versions, first.Versions) &&
			strings.ReplaceAll(string(dup.Result.Note), " ", "") == strings.ReplaceAll(string(first.Note), " ", "")
		return fmt.Sprintf("%s: duplicate, first result back %v", name, same)
	default:
		t.Fatalf("%s: %v", name, err)
		return ""
	}
}

// reserveEmail is the reservation of one email address.
func reserveEmail(v string) []eventstore.Reservation {
	return []eventstore.Reservation{{Kind: "email", Value: v}}
}
