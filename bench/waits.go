package bench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"github.com/crmcore/crm/wire"
)

// waitSampler samples what the database's active sessions wait on, so the
// report can say where a workload's time goes in Postgres.
type waitSampler struct {
	counts  map[string]int
	samples int
	done    chan struct{}
	cancel  context.CancelFunc
}

// sampleWaits starts sampling pg_stat_activity every 20ms on a connection
// of its own (never one of crm's pool) until stop.
func sampleWaits(ctx context.Context, dbURL string) (*waitSampler, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &waitSampler{counts: map[string]int{}, done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(s.done)
		defer conn.Close(context.WithoutCancel(ctx))
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rows, err := conn.Query(ctx, `select case when state = 'idle in transaction' then 'idle in transaction'
					else coalesce(wait_event_type || ':' || wait_event, 'CPU') end, count(*)
				from pg_stat_activity
				where datname = current_database() and state in ('active', 'idle in transaction')
					and pid <> pg_backend_pid() and backend_type = 'client backend'
				group by 1`)
			if err != nil {
				return
			}
			for rows.Next() {
				var what string
				var n int
				if rows.Scan(&what, &n) == nil {
					s.counts[what] += n
				}
			}
			rows.Close()
			s.samples++
		}
	}()
	return s, nil
}

// stop ends the sampling and summarizes it: the top waits, each as the mean
// number of sessions in it ("Lock:transactionid 41.2").
func (s *waitSampler) stop() string {
	s.cancel()
	<-s.done
	if s.samples == 0 {
		return "no samples"
	}
	type kv struct {
		what string
		n    int
	}
	var all []kv
	for k, v := range s.counts {
		all = append(all, kv{k, v})
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Compare(b.n, a.n) })
	var parts []string
	for _, e := range all[:min(4, len(all))] {
		parts = append(parts, fmt.Sprintf("%s %.1f", e.what, float64(e.n)/float64(s.samples)))
	}
	return strings.Join(parts, ", ")
}

// arrivals notes when each relayed event reaches NATS, by its position, on
// a connection of its own: the write-to-visible workload splits each wait
// into the relay's part (commit → NATS) and the projectors' (NATS → applied).
type arrivals struct {
	nc *nats.Conn
	mu sync.Mutex
	at map[string]time.Time
}

// watchArrivals subscribes to every subject of the events stream.
func watchArrivals(env *benchEnv) (*arrivals, error) {
	nc, err := nats.Connect(env.natsURL, nats.Name("crm bench arrivals"))
	if err != nil {
		return nil, err
	}
	a := &arrivals{nc: nc, at: map[string]time.Time{}}
	if _, err := nc.Subscribe(env.stream.Subjects+".>", func(m *nats.Msg) {
		now := time.Now()
		a.mu.Lock()
		a.at[m.Header.Get(wire.HeaderPosition)] = now
		a.mu.Unlock()
	}); err != nil {
		nc.Close()
		return nil, err
	}
	return a, nil
}

// stop ends the subscription once what NATS has sent is handled.
func (a *arrivals) stop() {
	_ = a.nc.Drain()
	for a.nc.IsDraining() {
		time.Sleep(10 * time.Millisecond)
	}
}

// arrived says when the event at position reached NATS.
func (a *arrivals) arrived(position string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.at[position]
	return t, ok
}
