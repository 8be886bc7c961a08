package leader_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/leader"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// standbys records which contenders logged that they stand by.
type standbys struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (s *standbys) saw(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}

// standbyLog is the logger of one contender, feeding standbys.
type standbyLog struct {
	to *standbys
	id string
}

func (h standbyLog) Enabled(context.Context, slog.Level) bool { return true }

func (h standbyLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "standing by") {
		h.to.mu.Lock()
		h.to.ids[h.id] = true
		h.to.mu.Unlock()
	}
	return nil
}

func (h standbyLog) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h standbyLog) WithGroup(string) slog.Handler { return h }

// TestOneProcessLeadsAndAStandbyTakesOver: of two contenders for one role,
// one runs the work while the other stands by (it tried the lock and
// failed); when the leader stops, the standby leads. The work never runs
// twice at once.
func TestOneProcessLeadsAndAStandbyTakesOver(t *testing.T) {
	cfg, err := pgx.ParseConfig(storetest.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	role := "test:" + storetest.Prefix(t)
	seen := &standbys{ids: map[string]bool{}}
	var mu sync.Mutex
	var running, most atomic.Int32
	leading := make(chan string, 2)
	stops := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	for _, id := range []string{"a", "b"} {
		h := standbyLog{to: seen, id: id}
		ctx, stop := context.WithCancel(t.Context())
		stops[id] = stop
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := leader.Lead(ctx, cfg.Copy(), role, slog.New(h), func(ctx context.Context) error {
				n := running.Add(1)
				mu.Lock()
				most.Store(max(most.Load(), n))
				mu.Unlock()
				leading <- id
				<-ctx.Done()
				running.Add(-1)
				return nil
			})
			if err != nil {
				t.Errorf("Lead %s: %v", id, err)
			}
		}()
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
		wg.Wait()
	}()

	var first string
	select {
	case first = <-leading:
	case <-time.After(30 * time.Second):
		t.Fatal("nobody leads")
	}
	second := map[string]string{"a": "b", "b": "a"}[first]
	storetest.WaitFor(t, 30*time.Second, func() (bool, error) { return seen.saw(second), nil })

	stops[first]()
	select {
	case got := <-leading:
		if got != second {
			t.Fatalf("%s leads again after it stopped", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the standby %s did not take over", second)
	}
	if n := most.Load(); n != 1 {
		t.Errorf("the work ran %d times at once, want 1", n)
	}
}
