package stack

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/eventstore/relay"
	"github.com/crmcore/crm/leader"
	"github.com/crmcore/crm/projections"
)

// The parts of a running crm, by the names Part and Workers know them.
const (
	Listener      = "listener"   // the LISTEN fan-out every other part hears commits through
	Waiter        = "waiter"     // follows projector checkpoints for read-your-writes
	Statistics    = "statistics" // keeps planner statistics of growing tables
	RequestExpiry = "requests"   // deletes idempotency keys past their 24 hours
	Relay         = "relay"      // Postgres → JetStream, while leading
	Projectors    = "projectors" // one worker per read model
	Timers        = "timers"     // fires due durable timers, while leading
	Imports       = "imports"    // resumes the import jobs no process runs
)

// requestExpiryInterval is how often a serving process deletes idempotency
// keys past their 24 hours (requestlog.Log.ExpireRequests).
const requestExpiryInterval = time.Minute

// statisticsInterval is how often a writing process looks for tables that
// have doubled since their planner statistics were made (see
// eventstore.KeepStatistics).
const statisticsInterval = 2 * time.Second

// Part returns the run function of the named part; it runs until ctx ends.
// Relay and Projectors need ConnectNATS first.
func (s *Stack) Part(name string) func(context.Context) error {
	switch name {
	case Listener:
		return s.Listener.Run
	case Waiter:
		return s.Waiter.Run
	case Statistics:
		return func(ctx context.Context) error {
			return eventstore.KeepStatistics(ctx, s.Pool, statisticsInterval, s.Logger)
		}
	case RequestExpiry:
		return func(ctx context.Context) error {
			return s.Requests.KeepRequestsExpiring(ctx, requestExpiryInterval, s.Logger)
		}
	case Relay:
		return s.runRelay
	case Projectors:
		return s.runProjectors
	case Timers:
		return s.Timers.Run
	case Imports:
		return s.ResumeImports
	}
	panic("stack: no part " + name)
}

// Go runs the named parts in g.
func (s *Stack) Go(ctx context.Context, g *errgroup.Group, names ...string) {
	for _, name := range names {
		run := s.Part(name)
		g.Go(func() error { return run(ctx) })
	}
}

// runRelay relays while leading; standby otherwise.
func (s *Stack) runRelay(ctx context.Context) error {
	r := relay.New(relay.Config{Store: s.Store, Listener: s.Listener, JS: s.JS, Stream: s.Config.Stream,
		Logger: s.Logger, BatchSize: s.Config.RelayBatch, Readers: s.Config.RelayReaders})
	return leader.Lead(ctx, s.Pool.Config().ConnConfig.Copy(), "relay", s.Logger, r.Run)
}

// runProjectors runs the one worker of every read model.
func (s *Stack) runProjectors(ctx context.Context) error {
	return projections.Run(ctx, projections.RunnerConfig{Store: s.Store, JS: s.JS, Stream: s.Config.Stream,
		Logger: s.Logger, BatchSize: s.Config.ProjectorBatch}, s.liveProjections())
}

// Workers runs named parts that can be stopped and started again one by
// one (the benchmark and the fault tests stop the relay or the projectors
// under load). A part that fails while it should run is reported to failed.
type Workers struct {
	ctx     context.Context
	failed  func(name string, err error)
	mu      sync.Mutex
	running map[string]*worker
	order   []string
}

type worker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// NewWorkers runs parts under ctx.
func NewWorkers(ctx context.Context, failed func(name string, err error)) *Workers {
	return &Workers{ctx: ctx, failed: failed, running: map[string]*worker{}}
}

// Start runs a part in the background.
func (w *Workers) Start(name string, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(w.ctx)
	wk := &worker{cancel: cancel, done: make(chan struct{})}
	w.mu.Lock()
	w.running[name] = wk
	w.order = append(w.order, name)
	w.mu.Unlock()
	go func() {
		defer close(wk.done)
		if err := run(ctx); err != nil && ctx.Err() == nil {
			w.failed(name, fmt.Errorf("%s: %w", name, err))
		}
	}()
}

// StartParts starts the named parts of s.
func (w *Workers) StartParts(s *Stack, names ...string) {
	for _, name := range names {
		w.Start(name, s.Part(name))
	}
}

// Stop stops a part and waits for it to return; a part not running is no error.
func (w *Workers) Stop(name string) {
	w.mu.Lock()
	wk := w.running[name]
	delete(w.running, name)
	for i, n := range w.order {
		if n == name {
			w.order = append(w.order[:i], w.order[i+1:]...)
			break
		}
	}
	w.mu.Unlock()
	if wk != nil {
		wk.cancel()
		<-wk.done
	}
}

// StopAll stops every running part, newest first.
func (w *Workers) StopAll() {
	w.mu.Lock()
	names := append([]string(nil), w.order...)
	w.mu.Unlock()
	for i := len(names) - 1; i >= 0; i-- {
		w.Stop(names[i])
	}
}
