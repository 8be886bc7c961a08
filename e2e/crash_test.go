package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/eventstore/relay"
	crmstack "github.com/crmcore/crm/stack"
	"github.com/crmcore/crm/wire"
)

// crmBinary is the crm command, built once per test binary, for tests
// that need a real process to run or kill.
func crmBinary(t testing.TB) string {
	t.Helper()
	return storetest.Binary(t, storetest.CRMCommand)
}

// process is a crm subcommand running as its own OS process.
type process struct {
	cmd  *exec.Cmd
	done chan error
}

// spawn runs `crm <command>` against the stack's database and stream; extra
// arguments of the form NAME=value are environment variables.
func (s *stack) spawn(command string, env ...string) *process {
	s.t.Helper()
	cmd := exec.Command(crmBinary(s.t), command)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+s.dbURL, "NATS_URL="+s.natsURL,
		"CRM_NATS_STREAM="+s.stream.Name, "CRM_NATS_SUBJECTS="+s.stream.Subjects, "CRM_LOG_LEVEL=warn",
		// No metrics listener: its fixed default port would tie every
		// child to one port (and to any process left holding it).
		"CRM_METRICS_ADDR=")
	cmd.Env = append(cmd.Env, env...)
	if os.Getenv("CRM_TEST_LOG") != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	s.t.Cleanup(func() { p.kill() })
	return p
}

// kill ends the process with SIGKILL: no cleanup, no last checkpoint.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.done <- nil // let a second kill return at once
}

// writeLeads appends n lead creations and call logs straight through the
// command handler, fast enough to build a backlog.
func (s *stack) writeLeads(n int, tag string) {
	s.t.Helper()
	h := commands.New(s.core.Store, "IN")
	c := commands.Context{TenantID: s.tenantID, Metadata: eventstore.Metadata{Actor: "test"}}
	for i := range n {
		res, err := h.CreateLead(s.ctx, c, commands.CreateLead{Profile: domain.LeadProfile{
			Name: fmt.Sprintf("Lead %s %d", tag, i), Emails: []string{fmt.Sprintf("%s.%d@example.com", tag, i)},
		}})
		if err != nil {
			s.t.Fatal(err)
		}
		if i%3 == 0 {
			if _, err := h.LogCall(s.ctx, c, res.LeadID, domain.CallLog{Type: domain.CallInbound, DurationSeconds: i, CalledAt: time.Now()}); err != nil {
				s.t.Fatal(err)
			}
		}
	}
}

// streamMessages reads every message of the test's JetStream stream.
func (s *stack) streamMessages() []eventstore.Event {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	str, err := s.js.Stream(ctx, s.stream.Name)
	if err != nil {
		s.t.Fatal(err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []eventstore.Event
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := str.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // purged with a permanently deleted stream
		}
		if err != nil {
			s.t.Fatalf("message %d: %v", seq, err)
		}
		e, _, err := wire.Decode(m.Data, m.Header)
		if err != nil {
			s.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// assertStreamMirrorsStore checks that NATS holds every stored event exactly
// once, in commit order.
func (s *stack) assertStreamMirrorsStore() {
	s.t.Helper()
	stored := s.events()
	storetest.WaitFor(s.t, 30*time.Second, func() (bool, error) {
		cp, err := eventstore.LoadCheckpoint(s.ctx, s.core.Pool, relay.CheckpointName, false)
		return len(stored) > 0 && !cp.Less(stored[len(stored)-1].Position), err
	})
	msgs := s.streamMessages()
	if len(msgs) != len(stored) {
		s.t.Fatalf("stream holds %d messages, store %d events", len(msgs), len(stored))
	}
	for i := range stored {
		if msgs[i].ID != stored[i].ID || msgs[i].Position != stored[i].Position {
			s.t.Fatalf("message %d is event %s at %s, want %s at %s", i, msgs[i].ID, msgs[i].Position, stored[i].ID, stored[i].Position)
		}
	}
}

// relayed counts the messages in the test's stream.
func (s *stack) relayed() uint64 {
	str, err := s.js.Stream(s.ctx, s.stream.Name)
	if err != nil {
		return 0
	}
	info, err := str.Info(s.ctx)
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

func TestRelayKilledMidStreamLosesNothingAndDuplicatesNothing(t *testing.T) {
	s := newStack(t)
	s.stop("relay")
	midStream := 0
	for round := range 3 {
		s.writeLeads(500, fmt.Sprintf("r%d", round)) // the backlog grows while no relay runs
		total := uint64(len(s.events()))
		// Small batches make the relay's work long enough to be cut short.
		p := s.spawn("relay", "CRM_RELAY_BATCH_SIZE=20")
		floor := s.relayed()
		storetest.WaitFor(t, 30*time.Second, func() (bool, error) { return s.relayed() > floor, nil })
		p.kill()
		got := s.relayed()
		if got < total {
			midStream++
		}
		t.Logf("round %d: relay killed with %d of %d events in NATS", round, got, total)
	}
	if midStream == 0 {
		t.Log("the relay finished its backlog before every kill; the restarts were still checked")
	}
	s.spawn("relay")
	s.assertStreamMirrorsStore()
	s.assertReplayEqual()
}

func TestProjectorKilledMidStreamAppliesEveryEventOnce(t *testing.T) {
	s := newStack(t)
	s.stop("projectors")
	s.writeLeads(1500, "b")
	storetest.WaitFor(t, 30*time.Second, func() (bool, error) { return s.relayed() == uint64(len(s.events())), nil })

	applied := func() eventstore.Position {
		cp, _ := eventstore.LoadCheckpoint(s.ctx, s.core.Pool, "leads", false)
		return cp
	}
	for round := range 3 {
		p := s.spawn("project", "CRM_PROJECTOR_BATCH_SIZE=20")
		floor := applied()
		storetest.WaitFor(t, 30*time.Second, func() (bool, error) { return floor.Less(applied()), nil })
		p.kill()
		t.Logf("round %d: projector killed at checkpoint %s", round, applied())
		if round == 1 {
			s.writeLeads(200, "c")
		}
	}
	s.spawn("project")
	s.assertReplayEqual()
	var leads int
	if err := s.core.Pool.QueryRow(s.ctx, `select count(*) from rm_leads`).Scan(&leads); err != nil {
		t.Fatal(err)
	}
	if leads != 1700 {
		t.Fatalf("%d leads in the read model, want 1700", leads)
	}
}

// TestProjectorSkipsRedeliveredMessages gives each projector a consumer
// that acknowledged nothing it applied (as a session killed between its
// commits and their acks leaves it, or as crm before consumers started at
// the checkpoint made it): it redelivers the whole stream, which is within
// the window a projector keeps a consumer for, and the checkpoint must skip
// every message of it.
func TestProjectorSkipsRedeliveredMessages(t *testing.T) {
	s := newStack(t)
	s.writeLeads(50, "d")
	s.caughtUp()
	s.stop("projectors")
	before := s.relayed()
	s.resetConsumer()
	s.startProjectors()
	s.writeLeads(10, "e")
	s.assertReplayEqual()
	if n := s.delivered(); n < before {
		t.Errorf("%d messages delivered, want the %d from before again and the new ones", n, before)
	}
}

// TestProjectorConsumerStartsAfterItsCheckpoint: a projector whose consumer
// is gone (a new read model, a recreated stream) or far behind (kept from a
// session long ago; the store catch-up applied what it missed) starts a
// consumer right after its checkpoint, not at the stream's first message:
// JetStream redelivers nothing already applied, so the writes of the moment
// do not wait behind the retained stream.
func TestProjectorConsumerStartsAfterItsCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reset func(s *stack)
		batch int // the window is 10 batches: 2 puts 50 leads' messages beyond it
	}{
		{"consumer gone", func(s *stack) {
			if err := s.js.DeleteConsumer(s.ctx, s.stream.Name, s.consumerName()); err != nil && err != jetstream.ErrConsumerNotFound {
				s.t.Fatal(err)
			}
		}, 0},
		{"consumer far behind", (*stack).resetConsumer, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			s.writeLeads(50, "d")
			s.caughtUp()
			s.stop("projectors")
			tc.reset(s)
			before := s.relayed()
			s.workers.Start("projectors", func(ctx context.Context) error {
				batched := *s.core // the same stack, projecting tc.batch events a transaction
				batched.Config.ProjectorBatch = tc.batch
				return batched.Part(crmstack.Projectors)(ctx)
			})
			s.writeLeads(10, "e")
			s.assertReplayEqual()
			if n, fresh := s.delivered(), s.relayed()-before; n > fresh {
				t.Errorf("%d messages delivered, want at most the %d relayed since it started", n, fresh)
			}
		})
	}
}

// delivered counts the deliveries of the projectors' consumer,
// redeliveries included.
func (s *stack) delivered() uint64 {
	s.t.Helper()
	info, err := s.consumerInfo(s.ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	return info.Delivered.Consumer
}

// resetConsumer replaces the projectors' consumer, while they are stopped,
// with one that starts at the stream's first message and has acknowledged
// nothing.
func (s *stack) resetConsumer() {
	s.t.Helper()
	if err := s.js.DeleteConsumer(s.ctx, s.stream.Name, s.consumerName()); err != nil && err != jetstream.ErrConsumerNotFound {
		s.t.Fatal(err)
	}
	if _, err := s.js.CreateConsumer(s.ctx, s.stream.Name, jetstream.ConsumerConfig{
		Durable: s.consumerName(), AckPolicy: jetstream.AckAllPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: s.stream.Subjects + ".>", AckWait: time.Minute, MaxAckPending: 5000,
	}); err != nil {
		s.t.Fatal(err)
	}
}
