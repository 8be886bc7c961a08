package e2e

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/projections"
	crmstack "github.com/crmcore/crm/stack"
)

// projectorState is where one read model stands, in stream sequences: the
// stream holds one message per event in commit order, so the checkpoint's
// sequence is the number of events at or before it.
type projectorState struct {
	applied   uint64 // stream sequence of the checkpoint (committed by the projector)
	ackFloor  uint64 // JetStream's: every message up to here is acknowledged
	delivered uint64 // JetStream's: the last message handed to the projector
}

// appliedUnacked is how many messages the projector had applied and
// committed, and been delivered, without acknowledging them yet.
func (p projectorState) appliedUnacked() uint64 {
	if top := min(p.applied, p.delivered); top > p.ackFloor {
		return top - p.ackFloor
	}
	return 0
}

// consumerName is the projectors' one JetStream consumer (every read model
// is applied from it).
func (s *stack) consumerName() string { return s.stream.Name + "_" + projections.Consumer }

func (s *stack) consumerInfo(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	c, err := s.js.Consumer(ctx, s.stream.Name, s.consumerName())
	if err != nil {
		return nil, err
	}
	return c.Info(ctx)
}

// projectorStates reads where every read model stands.
func (s *stack) projectorStates() (map[string]projectorState, error) {
	cps, err := s.core.Store.Checkpoints(s.ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]projectorState{}
	for _, p := range crmstack.Projections() {
		var st projectorState
		cp := cps[p.Name()]
		if err := s.core.Pool.QueryRow(s.ctx, `select count(*) from events
			where (transaction_id, position) <= ($1::text::xid8, $2)`, fmt.Sprint(cp.Tx), cp.Pos).Scan(&st.applied); err != nil {
			return nil, err
		}
		info, err := s.consumerInfo(s.ctx)
		if err != nil {
			return nil, err
		}
		st.ackFloor, st.delivered = info.AckFloor.Stream, info.Delivered.Stream
		out[p.Name()] = st
	}
	return out, nil
}

// TestFaultProjectorKilledBeforeAck kills `crm project` with SIGKILL while it
// holds batches it has applied and committed but not yet acknowledged, five
// times under load. To pick the moment, the process is frozen (SIGSTOP) at
// some point of its work and killed if any read model is between its commit
// and its ack, else thawed and tried again a little later. JetStream would
// redeliver the unacknowledged messages after the consumer's AckWait (1 min);
// the test forces the redelivery at once by shortening AckWait while no
// projector runs, and the next projector (which sets AckWait back) receives
// them again: its checkpoint must skip every one.
func TestFaultProjectorKilledBeforeAck(t *testing.T) {
	s := newStack(t, withWaitTimeout(300*time.Millisecond))
	s.stop("projectors")
	gen := newLoad(t, "proj", defaultLoad, loadTarget{s.srv.URL, s.key})
	gen.start()
	const batch = "CRM_PROJECTOR_BATCH_SIZE=20"
	proc := s.spawn("project", batch)

	const kills, maxProbes = 5, 400
	var inWindow, held, appliedUnacked, probes, probeFetched int
	for round := 1; round <= kills; round++ {
		// Following NATS again: every read model has acknowledged something new.
		var start map[string]projectorState
		storetest.WaitFor(t, 30*time.Second, func() (ok bool, err error) {
			start, err = s.projectorStates() // the first projector creates the consumers
			return err == nil, err
		})
		storetest.WaitFor(t, 30*time.Second, func() (bool, error) {
			now, err := s.projectorStates()
			if err != nil {
				return false, err
			}
			for name, st := range now {
				if st.ackFloor <= start[name].ackFloor {
					return false, nil
				}
			}
			return true, nil
		})
		gen.waitAcked(30, 30*time.Second)

		var frozen map[string]projectorState
		var err error
		hit := false
		probe := 1
		for ; ; probe++ {
			probes++
			if err := proc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			if frozen, err = s.projectorStates(); err != nil {
				t.Fatal(err)
			}
			for _, st := range frozen {
				hit = hit || st.appliedUnacked() > 0
			}
			if hit || probe == maxProbes {
				break
			}
			if err := proc.cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			// A little later: once some read model has applied more.
			storetest.WaitFor(t, 30*time.Second, func() (bool, error) {
				now, err := s.projectorStates()
				if err != nil {
					return false, err
				}
				for name, st := range now {
					if st.applied != frozen[name].applied {
						return true, nil
					}
				}
				return false, nil
			})
		}
		proc.kill()
		// Acknowledgements already on the wire when it froze still count.
		dead, err := s.projectorStates()
		if err != nil {
			t.Fatal(err)
		}
		roundUnacked := uint64(0)
		for _, st := range dead {
			roundUnacked += st.appliedUnacked()
			held += int(st.delivered - st.ackFloor)
		}
		if roundUnacked > 0 {
			inWindow++
			appliedUnacked += int(roundUnacked)
		}
		t.Logf("round %d: killed at probe %d with %d applied, unacknowledged messages (applied, ack floor, delivered): %v", round, probe, roundUnacked, dead)

		// Force the redelivery now rather than in a minute (every read
		// model's state holds the one consumer's).
		for _, st := range dead {
			if st.delivered != st.ackFloor {
				probeFetched += s.forceRedelivery(t, st)
				break
			}
		}
		proc = s.spawn("project", batch)
	}
	gen.waitAcked(50, 30*time.Second)
	gen.halt()
	s.caughtUp()

	answers := gen.all()
	assertNo500(t, answers)
	info, err := s.consumerInfo(s.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// One consumer sequence per delivery, one stream sequence per message.
	redelivered := info.Delivered.Consumer - info.Delivered.Stream
	// Each message the test fetched was either a redelivery itself or,
	// given back, is redelivered once more to the projector.
	redelivered -= uint64(probeFetched)
	if inWindow == 0 {
		t.Errorf("no kill landed between a commit and its ack in %d probes", probes)
	}
	if redelivered == 0 {
		t.Error("JetStream redelivered nothing to the projectors")
	}

	f, check := audit(t, s, gen, answers, "projector killed between commit and ack", kills)
	f.extra = fmt.Sprintf("answers={%s} kills_between_commit_and_ack=%d unacked_at_kills=%d (applied %d) redelivered_to_projectors=%d probes=%d stream={%s}",
		tally(answers), inWindow, held, appliedUnacked, redelivered, probes, check)
	f.log(t)
}

// forceRedelivery shortens the consumer's AckWait while no projector runs,
// so that JetStream redelivers the messages the killed projector held, and
// waits until it does: it fetches from the consumer itself until it receives
// one of those messages again, and gives everything it received back (nak)
// for the next projector. It returns how many messages it fetched.
func (s *stack) forceRedelivery(t *testing.T, dead projectorState) (fetched int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	cons, err := s.js.Consumer(ctx, s.stream.Name, s.consumerName())
	if err != nil {
		t.Fatal(err)
	}
	cfg := cons.CachedInfo().Config
	cfg.AckWait = 100 * time.Millisecond
	if _, err := s.js.UpdateConsumer(ctx, s.stream.Name, cfg); err != nil {
		t.Fatal(err)
	}
	storetest.WaitFor(t, 20*time.Second, func() (bool, error) {
		msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			return false, err
		}
		again := false
		for m := range msgs.Messages() {
			fetched++
			md, err := m.Metadata()
			if err != nil {
				return false, err
			}
			again = again || (md.NumDelivered > 1 && md.Sequence.Stream <= dead.delivered)
			if err := m.Nak(); err != nil {
				return false, err
			}
		}
		return again, msgs.Error()
	})
	return fetched
}
