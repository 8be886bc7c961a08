package e2e

// Fault injection under load (RELIABILITY.md holds the figures): kill -9 of
// the whole `crm dev`, NATS down for 30 s, a Postgres restart, the active
// relay killed while a standby waits, projectors killed between applying a
// batch and acknowledging it. Each test starts the servers it breaks; none
// touches the machine's shared Postgres or NATS.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/devenv/localnats"
	"github.com/crmcore/crm/devenv/localpg"
	"github.com/crmcore/crm/devenv/storetest"
	crmstack "github.com/crmcore/crm/stack"
	"github.com/crmcore/crm/wire"
)

// traversableTempDir is a temp dir every folder above which the Postgres
// server user may enter (it is not us when we are root), as /tmp allows.
func traversableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestFaultDevKilled kills the whole `crm dev` process (API, relay,
// projectors, embedded NATS) with SIGKILL five times under load and restarts
// it on the same data folder. Its private Postgres outlives each kill, as it
// would on a developer's machine, and is reused by the next run.
func TestFaultDevKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Postgres cluster and six crm dev processes")
	}
	// The load (up to 4 clients × 66 requests/s) is about faults, not about
	// the per-key rate limit (100/s by default), which crm dev inherits.
	t.Setenv("CRM_RATE_LIMIT_KEY", "off")
	t.Setenv("CRM_RATE_LIMIT_TENANT", "off")
	ctx := t.Context()
	dir := traversableTempDir(t)
	// Registered first, so it runs after the crm dev processes are killed:
	// a killed crm dev leaves its Postgres running.
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(dir, "postgres", "pgdata", "postmaster.pid")); err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if c, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(dir, "postgres")}); err != nil {
			t.Errorf("reach the dev's Postgres to stop it: %v", err)
		} else if err := c.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	dev := startDev(t, dir)
	devState, err := crmstack.ReadDevState(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := crmstack.Open(ctx, crmstack.Config{DatabaseURL: devState.DatabaseURL}, storetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	gen := newLoad(t, "dev", defaultLoad, loadTarget{dev.url, dev.key})
	gen.start()
	f := figures{fault: "kill -9 crm dev"}
	var restarts []time.Duration
	for round := 1; round <= 5; round++ {
		gen.waitAcked(150, 60*time.Second)
		_ = dev.signal(syscall.SIGKILL)
		f.injected++

		// Its embedded NATS died with it: open that JetStream store as the
		// next crm dev will, and check that what reached it is the store's
		// events in commit order, none twice.
		stored := storedEvents(t, ctx, c)
		check := devStream(t, dir, func(js jetstream.JetStream) streamCheck {
			return compareStream(t, ctx, js, wire.DefaultStream.Name, stored, false)
		})
		if check.bad() > 0 {
			t.Errorf("round %d: the dev's stream after kill -9: %s", round, check)
		}
		f.duplicates += check.duplicates

		restarting := time.Now()
		dev = startDev(t, dir)
		restarts = append(restarts, time.Since(restarting))
		gen.retarget(loadTarget{dev.url, dev.key})
		gen.waitAcked(150, 60*time.Second)
		gen.halt()

		diverged := divergedReadModels(t, ctx, c) // waits for the read models to catch up
		lost := gen.lostAcknowledged(t)
		partial, unacked := partialWrites(t, ctx, c, gen.all())
		f.committedUnacked = unacked // every answer so far: the last round's count covers all
		t.Logf("round %d: killed with %d events in the store, %d in NATS; serving again %s after its start; %d acknowledged so far, %d lost, %d read models diverged, %d partial",
			round, len(stored), check.messages, restarts[len(restarts)-1].Round(time.Millisecond), gen.ackedCount(), lost, diverged, partial)
		f.lost, f.diverged, f.partial = max(f.lost, lost), max(f.diverged, diverged), max(f.partial, partial)
		if round < 5 {
			gen.start()
		}
	}

	// At rest: everything relayed, then a clean stop (which stops Postgres
	// too), and the dev's NATS must hold every event exactly once, in order.
	answers := gen.all()
	assertNo500(t, answers)
	stored := storedEvents(t, ctx, c)
	waitRelayed(t, ctx, c, stored)
	c.Pool.Close()
	if err := dev.signal(syscall.SIGTERM); err != nil {
		t.Fatalf("crm dev did not stop cleanly: %v", err)
	}
	check := devStream(t, dir, func(js jetstream.JetStream) streamCheck {
		return compareStream(t, ctx, js, wire.DefaultStream.Name, stored, true)
	})
	if check.bad() > 0 {
		t.Errorf("the dev's stream at the end: %s", check)
	}
	f.duplicates += check.duplicates
	f.acknowledged = gen.ackedCount()
	f.extra = fmt.Sprintf("answers={%s} restart_max=%s stream={%s}", tally(answers), maxDuration(restarts).Round(time.Millisecond), check)
	f.log(t)
}

func maxDuration(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// devStream opens the JetStream store of a stopped crm dev in dir with an
// embedded NATS server of our own, and runs check against it.
func devStream(t *testing.T, dir string, check func(jetstream.JetStream) streamCheck) streamCheck {
	t.Helper()
	ns, err := localnats.Start(localnats.Options{Dir: filepath.Join(dir, "nats")})
	if err != nil {
		t.Fatalf("open the dev's NATS store: %v", err)
	}
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return check(js)
}

// TestFaultNATSDown30s stops the NATS server for 30 s under load: every write
// is still accepted (its answer says the read models are pending), and once
// NATS is back the read models catch up and NATS holds every event once.
func TestFaultNATSDown30s(t *testing.T) {
	if testing.Short() {
		t.Skip("keeps NATS down for 30 s")
	}
	dir := t.TempDir()
	port := freePort(t)
	ns, err := localnats.Start(localnats.Options{Dir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown() })
	s := newStack(t, withNATS(ns.URL()), withWaitTimeout(200*time.Millisecond))
	gen := newLoad(t, "nats", defaultLoad, loadTarget{s.srv.URL, s.key})
	gen.start()
	gen.waitAcked(150, 30*time.Second)

	ns.Shutdown()
	down := time.Now()
	// The outage is the fault itself: 30 s of load against a crm without NATS.
	select {
	case <-time.After(30 * time.Second):
	case <-t.Context().Done():
		t.Fatal("test ended during the outage")
	}
	var backlog int // events the read models must catch up on
	if err := s.core.Pool.QueryRow(s.ctx, `select count(*) from events`).Scan(&backlog); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	if ns, err = localnats.Start(localnats.Options{Dir: dir, Port: port}); err != nil {
		t.Fatal(err)
	}
	// Reads catch up: every read model reaches the events written during
	// the outage (the load goes on meanwhile).
	storetest.WaitFor(t, 60*time.Second, func() (bool, error) {
		n, err := appliedByAll(s.ctx, s.core)
		return n >= backlog, err
	})
	caughtUp := time.Since(up)
	gen.waitAcked(150, 30*time.Second)
	gen.halt()

	answers := gen.all()
	assertNo500(t, answers)
	var during []answer
	pending := 0
	for _, a := range answers {
		if a.sent.After(down) && a.at.Before(up) {
			during = append(during, a)
			if !a.ok() {
				t.Errorf("%s write while NATS was down: %d %s %s", a.kind, a.status, a.err, a.body)
			}
			if a.consistency == "pending" {
				pending++
			}
		}
	}
	if len(during) < 100 {
		t.Errorf("only %d writes were answered while NATS was down", len(during))
	}
	if pending == 0 {
		t.Error("no write answered while NATS was down said its read models were pending")
	}

	f, check := audit(t, s, gen, answers, "NATS stopped 30 s", 1)
	f.extra = fmt.Sprintf("answers={%s} during_outage=%d (pending %d) read_models_caught_up_after=%s stream={%s}",
		tally(answers), len(during), pending, caughtUp.Round(time.Millisecond), check)
	f.log(t)
}

// appliedByAll is the number of events every read model has applied.
func appliedByAll(ctx context.Context, c *crmstack.Stack) (int, error) {
	cps, err := c.Store.Checkpoints(ctx)
	if err != nil {
		return 0, err
	}
	least := -1
	for _, p := range crmstack.Projections() {
		cp := cps[p.Name()]
		var n int
		if err := c.Pool.QueryRow(ctx, `select count(*) from events
			where (transaction_id, position) <= ($1::text::xid8, $2)`, fmt.Sprint(cp.Tx), cp.Pos).Scan(&n); err != nil {
			return 0, err
		}
		if least < 0 || n < least {
			least = n
		}
	}
	return least, nil
}

// TestFaultPostgresRestart crashes Postgres under load (an immediate
// shutdown: nothing flushed, recovery from the WAL on the next start) and
// starts it again a few seconds later: while it is down every answer is 503
// with Retry-After, never a 500; once it is back, writes succeed again
// without restarting crm, no acknowledged write is lost, and every read
// model equals a replay, though projector batches commit without a flush
// and the crash may take the last of them back.
func TestFaultPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Postgres cluster")
	}
	ctx := t.Context()
	pgDir := filepath.Join(traversableTempDir(t), "postgres")
	cluster, err := localpg.Start(ctx, localpg.Options{Dir: pgDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if c, err := localpg.Start(ctx, localpg.Options{Dir: pgDir}); err == nil {
			_ = c.Stop(ctx)
		}
	})
	if err := cluster.CreateDatabase(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	s := newStack(t, withDatabase(cluster.URL("crm")), withWaitTimeout(500*time.Millisecond))
	gen := newLoad(t, "pg", defaultLoad, loadTarget{s.srv.URL, s.key})
	gen.start()
	gen.waitAcked(150, 30*time.Second)

	stopping := time.Now()
	if err := cluster.Crash(ctx); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	// Down for at least 3 s, and until clients have been answered often.
	storetest.WaitFor(t, 30*time.Second, func() (bool, error) {
		n := 0
		for _, a := range gen.all() {
			if a.sent.After(down) {
				n++
			}
		}
		return time.Since(down) >= 3*time.Second && n >= 50, nil
	})
	starting := time.Now()
	if cluster, err = localpg.Start(ctx, localpg.Options{Dir: pgDir}); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	gen.waitAcked(150, 60*time.Second)
	gen.halt()

	answers := gen.all()
	assertNo500(t, answers)
	var during, overlap []answer
	firstOK := time.Duration(-1)
	for _, a := range answers {
		switch {
		case a.sent.After(down) && a.at.Before(starting):
			during = append(during, a)
			if a.status != http.StatusServiceUnavailable || a.retryAfter == "" {
				t.Errorf("%s write while Postgres was down: %d (Retry-After %q) %s %s", a.kind, a.status, a.retryAfter, a.err, a.body)
			}
		case a.at.After(stopping) && a.sent.Before(down):
			overlap = append(overlap, a)
			if !a.ok() && a.status != http.StatusServiceUnavailable {
				t.Errorf("%s write cut by the stop: %d %s %s", a.kind, a.status, a.err, a.body)
			}
		case a.sent.After(up) && a.ok() && firstOK < 0:
			firstOK = a.at.Sub(up)
		}
	}
	if len(during) == 0 {
		t.Fatal("no request was answered while Postgres was down")
	}

	f, check := audit(t, s, gen, answers, "Postgres restart", 1)
	f.extra = fmt.Sprintf("answers={%s} during_outage={%s} cut_by_stop={%s} outage=%s first_2xx_after_start=%s stream={%s}",
		tally(answers), tally(during), tally(overlap), starting.Sub(stopping).Round(time.Millisecond),
		firstOK.Round(time.Millisecond), check)
	f.log(t)
}

// logBuffer collects a child process's log.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if os.Getenv("CRM_TEST_LOG") != "" {
		os.Stderr.Write(p)
	}
	return l.buf.Write(p)
}

func (l *logBuffer) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

// spawnLogged is spawn with the child's info log kept, to wait on what it says.
func (s *stack) spawnLogged(command string, env ...string) (*process, *logBuffer) {
	s.t.Helper()
	cmd := exec.Command(crmBinary(s.t), command)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+s.dbURL, "NATS_URL="+s.natsURL,
		"CRM_NATS_STREAM="+s.stream.Name, "CRM_NATS_SUBJECTS="+s.stream.Subjects, "CRM_LOG_LEVEL=info")
	cmd.Env = append(cmd.Env, env...)
	log := &logBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	s.t.Cleanup(func() { p.kill() })
	return p, log
}

// TestFaultRelayStandbyTakeover runs two `crm relay` processes under load and
// kills the active one with SIGKILL, three times (each time a new standby
// joins): the standby must publish again within 5 s, and NATS must hold
// every event exactly once, in commit order.
func TestFaultRelayStandbyTakeover(t *testing.T) {
	s := newStack(t, withWaitTimeout(300*time.Millisecond))
	// Let the projectors create their consumer first: nats-server v2.15.2
	// has a data race between a consumer's creation and a stream update
	// (EnsureStream, which every relay session starts with), which -race
	// reports when NATS is the test binary's own.
	storetest.WaitFor(t, 30*time.Second, func() (bool, error) {
		_, err := s.consumerInfo(s.ctx)
		return err == nil, err
	})
	s.stop("relay")
	active, _ := s.spawnLogged("relay")
	gen := newLoad(t, "relay", defaultLoad, loadTarget{s.srv.URL, s.key})
	gen.start()
	gen.waitAcked(100, 30*time.Second)
	storetest.WaitFor(t, 30*time.Second, func() (bool, error) { return s.relayed() > 0, nil })

	const kills = 3
	var takeovers []time.Duration
	for round := 1; round <= kills; round++ {
		standby, log := s.spawnLogged("relay")
		storetest.WaitFor(t, 30*time.Second, func() (bool, error) { return log.has("standing by"), nil })
		gen.waitAcked(50, 30*time.Second)
		active.kill()
		killed := time.Now()
		// Only the new leader can publish an event committed after the kill.
		var committed uint64
		if err := s.core.Pool.QueryRow(s.ctx, `select count(*) from events`).Scan(&committed); err != nil {
			t.Fatal(err)
		}
		storetest.WaitFor(t, 30*time.Second, func() (bool, error) { return s.relayed() > committed, nil })
		took := time.Since(killed)
		takeovers = append(takeovers, took)
		t.Logf("round %d: the standby published events written after the kill %s after it (leading: %v)",
			round, took.Round(time.Millisecond), log.has(`msg=leading role=relay`))
		if took > 5*time.Second {
			t.Errorf("round %d: takeover took %s, want at most 5 s", round, took)
		}
		active = standby
	}
	gen.waitAcked(50, 30*time.Second)
	gen.halt()

	answers := gen.all()
	assertNo500(t, answers)
	f, check := audit(t, s, gen, answers, "active relay killed, standby takes over", kills)
	var ts []string
	for _, d := range takeovers {
		ts = append(ts, d.Round(time.Millisecond).String())
	}
	f.extra = fmt.Sprintf("answers={%s} takeover=[%s] takeover_max=%s stream={%s}",
		tally(answers), strings.Join(ts, " "), maxDuration(takeovers).Round(time.Millisecond), check)
	f.log(t)
}
