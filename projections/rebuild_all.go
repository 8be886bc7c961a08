package projections

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/crmcore/crm/eventstore"
)

// ReplayAll replays every projection of ps as Replay does each, but
// rebuilds the Rebuilders together: one snapshot of the store, read once,
// feeds every one of their folds, their rows are copied side by side, and
// all their indexes are made in one go. Each projection is then caught up
// and swapped in under its own checkpoint row lock, as Replay swaps it.
func ReplayAll(ctx context.Context, store *eventstore.Store, ps []Projection, batchSize int, progress Progress) error {
	builds, err := rebuildAll(ctx, store, ps, "replay_", batchSize, progress)
	if err != nil {
		return err
	}
	for _, b := range builds {
		if err := b.swap(); err != nil {
			return err
		}
	}
	return nil
}

// rebuildAll builds the tables of ps, each into schema prefix+name, and
// returns the builds caught up with the store, in the order of ps. The
// Rebuilders are rebuilt in bulk from one shared snapshot: their Rebuilds
// run side by side, and the first CopyStreams of each joins one scan of the
// snapshot (sharedScan). The other projections apply every event. A build
// is returned as soon as its schema exists, also on error.
func rebuildAll(ctx context.Context, store *eventstore.Store, ps []Projection, prefix string, batchSize int, progress Progress) ([]*build, error) {
	var builds []*build
	var bulk []*BulkBuild
	for _, p := range ps {
		_, fast := p.(Rebuilder)
		b, err := newBuild(ctx, store, p, prefix+p.Name(), batchSize, progress, !fast)
		if b != nil {
			builds = append(builds, b)
		}
		if err != nil {
			return builds, err
		}
		if fast {
			bulk = append(bulk, &BulkBuild{b: b})
		}
	}
	if len(bulk) > 0 {
		if err := bulkLoadAll(ctx, store, bulk); err != nil {
			return builds, err
		}
	}
	for _, b := range builds {
		if err := b.catchUp(); err != nil {
			return builds, err
		}
	}
	return builds, nil
}

// bulkLoadAll is bulkLoad for several builds from one snapshot.
func bulkLoadAll(ctx context.Context, store *eventstore.Store, bulk []*BulkBuild) error {
	snap, err := store.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	defer snap.Close(ctx)
	g, gctx := errgroup.WithContext(ctx)
	shared := &sharedScan{ctx: gctx, snap: snap, waiting: len(bulk), done: make(chan struct{})}
	for _, bb := range bulk {
		bb.snap, bb.shared = snap, shared
		g.Go(func() error {
			defer shared.leave(bb)
			if err := bb.b.p.(Rebuilder).Rebuild(gctx, bb); err != nil {
				return fmt.Errorf("rebuild %s: %w", bb.b.p.Name(), err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	snap.Close(ctx) // release the connection before the index builds
	var idx []index
	for _, bb := range bulk {
		idx = append(idx, bb.deferred...)
	}
	if err := createIndexes(ctx, store, idx); err != nil {
		return fmt.Errorf("rebuild: create indexes: %w", err)
	}
	for _, bb := range bulk {
		bb.b.loaded(snap.Head(), bb.scanned)
	}
	return nil
}

// sharedScan is one scan of a snapshot that the first CopyStreams of
// several rebuilds share. It starts once every rebuild has either asked
// for its rows (join) or ended without asking (leave); a later CopyStreams
// scans the snapshot on its own, one at a time (alone).
type sharedScan struct {
	ctx  context.Context
	snap *eventstore.Snapshot
	// alone serializes the uses of the snapshot's connection.
	alone sync.Mutex

	mu      sync.Mutex
	waiting int // the rebuilds that have neither joined nor left
	reqs    []*copyRequest
	started bool
	done    chan struct{} // closed when the scan has ended, with err
	err     error
}

// join adds req to the shared scan and waits for the scan to end; false if
// the scan is not req's to join (its rebuild joined once already, or the
// scan has started).
func (s *sharedScan) join(req *copyRequest) (error, bool) {
	s.mu.Lock()
	if s.started || req.bb.joined {
		s.mu.Unlock()
		return nil, false
	}
	req.bb.joined = true
	s.reqs = append(s.reqs, req)
	s.waiting--
	s.startIfReady()
	s.mu.Unlock()
	<-s.done
	return s.err, true
}

// leave counts bb's rebuild out of the scan once it has ended, if it never
// joined.
func (s *sharedScan) leave(bb *BulkBuild) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !bb.joined {
		bb.joined = true
		s.waiting--
		s.startIfReady()
	}
}

// startIfReady starts the scan once no rebuild is still to join; s.mu is
// held.
func (s *sharedScan) startIfReady() {
	if s.waiting > 0 || s.started {
		return
	}
	s.started = true
	go func() {
		defer close(s.done)
		if len(s.reqs) == 0 {
			return
		}
		s.alone.Lock()
		defer s.alone.Unlock()
		s.err = copyStreams(s.ctx, s.snap, s.reqs)
	}()
}
