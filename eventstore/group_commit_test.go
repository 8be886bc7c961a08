package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/eventstore"
)

// TestGroupCommitAgreesWithStepByStep makes a dozen independent commits,
// good and bad, in one group and the same commits one after the other step
// by step (each under its own tenant), and wants the same outcome from each
// and the same streams and reservations afterwards: a member that fails
// leaves the group without taking anything of the others with it.
func TestGroupCommitAgreesWithStepByStep(t *testing.T) {
	grouped, stepped := newStepByStep(t)

	created := func(tn, id uuid.UUID, reserve string, n int) eventstore.Commit {
		c := appendTo(tn, id, eventstore.NoStream, ev("lead.created", n))
		if reserve != "" {
			c.Streams[0].Reserve = reserveEmail(reserve)
		}
		return c
	}
	type step struct {
		name   string
		commit func(tenant, other uuid.UUID, ids []uuid.UUID) eventstore.Commit
	}
	before := []step{
		{"stream 0 owns a@x.com", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return created(tn, ids[0], "a@x.com", 1)
		}},
		{"stream 1 exists", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit { return created(tn, ids[1], "", 2) }},
		{"stream 12 is at version 2", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return appendTo(tn, ids[12], eventstore.NoStream, ev("lead.created", 3), ev("lead.updated", 4))
		}},
		{"key k1 is used", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			c := created(tn, ids[6], "", 5)
			c.IdempotencyKey, c.Note = "k1", []byte(`{"lead":6}`)
			return c
		}},
		{"stream 7 is another tenant's", func(_, other uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return created(other, ids[7], "", 6)
		}},
	}
	group := []step{
		{"create with a reservation", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return created(tn, ids[2], "c@x.com", 10)
		}},
		{"append at the expected version", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return appendTo(tn, ids[0], 1, ev("lead.updated", 11))
		}},
		{"create an existing stream", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return created(tn, ids[1], "", 12)
		}},
		{"a value another stream owns", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return created(tn, ids[3], "a@x.com", 13)
		}},
		{"a used idempotency key", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			c := created(tn, ids[4], "", 14)
			c.IdempotencyKey = "k1"
			return c
		}},
		{"a new idempotency key", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			c := created(tn, ids[5], "", 15)
			c.IdempotencyKey, c.Note = "k2", []byte(`{"lead":5}`)
			return c
		}},
		{"a stream of another tenant", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return appendTo(tn, ids[7], eventstore.AnyVersion, ev("lead.updated", 16))
		}},
		{"any version: two new streams", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			c := appendTo(tn, ids[8], eventstore.AnyVersion, ev("lead.updated", 17), ev("lead.updated", 18))
			c.Streams = append(c.Streams, eventstore.StreamAppend{StreamType: "call", StreamID: ids[9],
				ExpectedVersion: eventstore.AnyVersion, Events: []eventstore.NewEvent{ev("call.logged", 19)}})
			return c
		}},
		{"the first to claim z@x.com", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return created(tn, ids[10], "z@x.com", 20)
		}},
		{"the second to claim z@x.com", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return created(tn, ids[11], "z@x.com", 21)
		}},
		{"stale expected version", func(tn, _ uuid.UUID, ids []uuid.UUID) eventstore.Commit {
			return appendTo(tn, ids[12], 1, ev("lead.updated", 22))
		}},
	}

	run := func(together bool) (outcomes, history []string) {
		tenant, other := newID(t), newID(t)
		ids := newIDs(t, 13)
		firsts := map[string]eventstore.CommitResult{}
		for _, st := range before {
			c := st.commit(tenant, other, ids)
			res, err := stepped.Commit(t.Context(), c)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			describe(t, st.name, c, res, err, ids, firsts)
		}
		commits := make([]eventstore.Commit, len(group))
		results := make([]eventstore.CommitResult, len(group))
		errs := make([]error, len(group))
		for i, st := range group {
			commits[i] = st.commit(tenant, other, ids)
		}
		if together {
			groupsBefore, membersBefore := grouped.GroupStats()
			queued, release := eventstore.HoldGroups(grouped)
			var wg sync.WaitGroup
			for i := range commits {
				wg.Go(func() { results[i], errs[i] = grouped.Commit(t.Context(), commits[i]) })
				waitFor(t, func() bool { return queued() == i+1 }) // arrival order is the script's
			}
			release()
			wg.Wait()
			groups, members := grouped.GroupStats()
			if groups-groupsBefore != 1 || members-membersBefore != 5 {
				t.Errorf("%d groups with %d members committed, want 1 group of the 5 good commits",
					groups-groupsBefore, members-membersBefore)
			}
		} else {
			for i := range commits {
				results[i], errs[i] = stepped.Commit(t.Context(), commits[i])
			}
		}
		for i, st := range group {
			outcomes = append(outcomes, describe(t, st.name, commits[i], results[i], errs[i], ids, firsts))
		}
		for i, id := range ids {
			stream, _ := storedStream(t, stepped, tenant, id, i)
			history = append(history, stream...)
		}
		for _, v := range []string{"a@x.com", "c@x.com", "z@x.com"} {
			owner, ok, err := stepped.LookupReservation(t.Context(), tenant, "email", v)
			if err != nil {
				t.Fatal(err)
			}
			history = append(history, fmt.Sprintf("%s owned %v by stream %d", v, ok, slices.Index(ids, owner)))
		}
		return outcomes, history
	}

	gotOutcomes, gotHistory := run(true)
	wantOutcomes, wantHistory := run(false)
	agreeWithStepByStep(t, "grouped", gotOutcomes, gotHistory, wantOutcomes, wantHistory)
}

// TestGroupCommitSkipsSharedStreams queues two commits on one stream and
// wants them in two groups, in arrival order: a group never holds two
// commits of one stream, so the second is checked against the first's
// result.
func TestGroupCommitSkipsSharedStreams(t *testing.T) {
	s := newStore(t)
	tenant, stream, other := newID(t), newID(t), newID(t)
	queued, release := eventstore.HoldGroups(s)
	commits := []eventstore.Commit{
		appendTo(tenant, stream, eventstore.NoStream, ev("lead.created", 1)),
		appendTo(tenant, stream, 1, ev("lead.updated", 2)),
		appendTo(tenant, other, eventstore.NoStream, ev("lead.created", 3)),
	}
	errs := make([]error, len(commits))
	var wg sync.WaitGroup
	for i := range commits {
		wg.Go(func() { _, errs[i] = s.Commit(t.Context(), commits[i]) })
		waitFor(t, func() bool { return queued() == i+1 })
	}
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("commit %d: %v", i, err)
		}
	}
	if groups, members := s.GroupStats(); groups != 2 || members != 3 {
		t.Errorf("%d groups with %d members, want 2 with 3", groups, members)
	}
	events, err := s.ReadStream(t.Context(), tenant, stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := types(events); !slices.Equal(got, []string{"lead.created", "lead.updated"}) {
		t.Errorf("stream holds %v", got)
	}
}

// TestGroupCommitCallerGivesUp cancels a commit while it waits for a group:
// the caller hears so and nothing of it is written.
func TestGroupCommitCallerGivesUp(t *testing.T) {
	s := newStore(t)
	tenant, stream := newID(t), newID(t)
	queued, release := eventstore.HoldGroups(s)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := s.Commit(ctx, appendTo(tenant, stream, eventstore.NoStream, ev("lead.created", 1)))
		done <- err
	}()
	waitFor(t, func() bool { return queued() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	release()
	mustCommit(t, s, appendTo(tenant, newID(t), eventstore.NoStream, ev("lead.created", 2)))
	if _, err := s.ReadStream(t.Context(), tenant, stream); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("the given-up commit's stream: err = %v, want ErrStreamNotFound", err)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met in 10 s")
}
