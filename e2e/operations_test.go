package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmcore/crm/devenv/localnats"
	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/projections"
	crmstack "github.com/crmcore/crm/stack"
)

// TestReplayRebuildsWhileTheAPIServes runs `crm replay --all` as an operator
// would while clients keep reading and writing: every request succeeds, the
// replay reports progress, and the swapped-in read models equal the store.
func TestReplayRebuildsWhileTheAPIServes(t *testing.T) {
	s := newStack(t)
	s.writeLeads(600, "r")
	s.caughtUp()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, writes atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if r := s.do(s.key, "GET", "/api/v1/leads?limit=5", nil); r.Status != http.StatusOK {
				t.Errorf("read during replay: %d %s", r.Status, r.Body)
				return
			}
			reads.Add(1)
			r := s.do(s.key, "POST", "/api/v1/leads", map[string]any{"name": "During replay", "email": fmt.Sprintf("during.%d@example.com", i)})
			if r.Status != http.StatusCreated {
				t.Errorf("write during replay: %d %s", r.Status, r.Body)
				return
			}
			writes.Add(1)
		}
	}()
	cmd := exec.Command(crmBinary(t), "replay", "--all")
	cmd.Env = append(cmd.Environ(), "DATABASE_URL="+s.dbURL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("crm replay --all: %v\n%s", err, stderr.String())
	}
	for _, p := range crmstack.Projections() {
		if !strings.Contains(stderr.String(), "replay "+p.Name()+": done") {
			t.Errorf("no progress report for %s:\n%s", p.Name(), stderr.String())
		}
	}
	if reads.Load() == 0 || writes.Load() == 0 {
		t.Fatalf("no traffic during the replay (%d reads, %d writes)", reads.Load(), writes.Load())
	}
	list := s.listLeads(s.key, "?limit=1")
	if want := 600 + int(writes.Load()); list.Total != want {
		t.Fatalf("%d leads after replay, want %d", list.Total, want)
	}
	s.assertReplayEqual()
}

// TestReplaySwapsUnderConcurrentReads runs replays while readers hammer the
// lists: a swap that locked rm_leads and then waited for the counts tables
// deadlocked with a list holding the counts and waiting for rm_leads, and
// Postgres failed the list (500) to break it. No read may fail.
func TestReplaySwapsUnderConcurrentReads(t *testing.T) {
	s := newStack(t)
	s.writeLeads(300, "r")
	s.caughtUp()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, fails atomic.Int64
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, path := range []string{"/api/v1/leads?limit=5", "/api/v1/call-logs?limit=5", "/api/v1/leads?limit=5&status=New"} {
					r := s.do(s.key, "GET", path, nil)
					reads.Add(1)
					if r.Status != http.StatusOK {
						fails.Add(1)
						t.Errorf("%s during a replay: %d %s", path, r.Status, r.Body)
					}
				}
			}
		}()
	}
	for range 4 {
		if err := projections.ReplayAll(s.ctx, s.core.Store, crmstack.Projections(), 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("no reads during the replays")
	}
	t.Logf("%d reads during 4 replays, %d failed", reads.Load(), fails.Load())
}

// TestRelayStandbyTakesOver runs two relay processes: one leads, one waits;
// killing the leader hands the work to the standby.
func TestRelayStandbyTakesOver(t *testing.T) {
	s := newStack(t)
	s.stop("relay")
	first := s.spawn("relay")
	s.writeLeads(20, "s")
	storetest.WaitFor(t, 20*time.Second, func() (bool, error) { return s.relayed() == uint64(len(s.events())), nil })
	s.spawn("relay") // the standby
	first.kill()
	s.writeLeads(20, "t")
	s.assertStreamMirrorsStore()
	s.assertReplayEqual()
}

// freePort returns a loopback TCP port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestWritesSucceedWhileNATSIsDown stops the NATS server under a running
// crm: writes keep being accepted (their answers say the read models are
// pending), and once NATS is back every read model catches up and NATS holds
// every event exactly once.
func TestWritesSucceedWhileNATSIsDown(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	ns, err := localnats.Start(localnats.Options{Dir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, withNATS(ns.URL()), withWaitTimeout(200*time.Millisecond))
	lead := s.createLead(s.key, rahul)
	ns.Shutdown()

	var accepted []string
	for i := range 10 {
		r := s.do(s.key, "POST", "/api/v1/leads", map[string]any{"name": "Offline", "email": fmt.Sprintf("offline.%d@example.com", i)})
		if r.Status != http.StatusCreated || r.Header.Get("X-Crm-Consistency") != "pending" {
			t.Fatalf("write while NATS is down: %d %v %s", r.Status, r.Header, r.Body)
		}
		accepted = append(accepted, r.object(t)["id"].(string))
	}
	if r := s.do(s.key, "POST", "/api/v1/call-logs", map[string]any{"lead_id": lead.ID, "call_type": "Inbound", "duration_seconds": 0}); r.Status != http.StatusCreated {
		t.Fatalf("call log while NATS is down: %d %s", r.Status, r.Body)
	}

	ns, err = localnats.Start(localnats.Options{Dir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	s.assertStreamMirrorsStore()
	s.assertReplayEqual()
	list := s.listLeads(s.key, "?limit=500")
	if list.Total != 11 {
		t.Fatalf("%d leads after NATS came back, want 11", list.Total)
	}
}
