package eventstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Group commit: concurrent commits share transactions.
//
// Every commit that takes the pipelined path joins a queue. Up to
// groupLeaders goroutines at a time take the queue's head — every commit
// waiting there, up to groupMax — and make it one transaction: BEGIN and
// every member's statements in one pipeline, then COMMIT. Nothing waits for
// a group to fill: a commit that finds a leader free is committed at once,
// alone; groups form only while every leader is busy, out of the commits
// that arrived meanwhile. So a quiet store commits as before, and a busy one
// pays one BEGIN, one COMMIT, one WAL flush and two round trips per group
// instead of per commit.
//
// Guarantees are those of a lone commit:
//   - A caller hears of success only after its group's COMMIT returned, with
//     synchronous_commit on: an acknowledged commit is durable.
//   - Commits on one stream, or with one idempotency key, are made one after
//     the other in the order they arrived: a group never holds two, and a
//     commit waits while a group in flight holds its stream or key. A group
//     locks its idempotency keys in key order, then its stream rows in
//     stream id order, as a lone commit does, so groups and lone commits do
//     not deadlock over them.
//   - Commits on one stream stay in order when one of them leaves its group
//     for the step-by-step path: its streams and key stay held until that
//     commit has ended, so a later commit on them waits in the queue.
//   - Reservations, too, are claimed in one order across the group (tenant,
//     kind, value), the order a lone commit claims its own in, so two groups
//     claiming the same values never wait for each other in a cycle.
//   - A member whose statements fail a check (a version conflict, a value
//     another stream owns, a used idempotency key) or meet an error is taken
//     out, the group's transaction is rolled back, and the others are
//     committed again without it; the member is then committed alone,
//     statement by statement, which gives its exact outcome. No member's
//     failure is ever another's, and nothing of a rolled-back group stays.
//   - So is a member that waits for a lock: a group's statements wait at
//     most groupLockTimeout for a row another transaction holds (a commit
//     of another process on the same stream or value, an outside
//     transaction), and the member whose statement timed out (55P03) or was
//     chosen as a deadlock's victim (40P01) leaves the group. Alone, it may
//     wait as long as its caller's context allows; the others do not wait
//     with it.
//   - A commit's Position is its last event's, as alone: the group's events
//     share one transaction id and are numbered in member order, so a read
//     model at that position has applied the whole commit.
const (
	groupLeaders  = 4  // groups in flight at once (each holds one connection)
	groupMax      = 64 // commits in one group at most
	groupAttempts = 3  // tries of one group before its members go alone
	// groupTimeout bounds one group's transaction: its members' callers may
	// have gone, and a group must still end.
	groupTimeout = 30 * time.Second
	// groupLockTimeout bounds each lock wait of a group's statements: a
	// group holds up to groupMax callers, so one member's wait must not
	// become everyone's. Commits take their locks for milliseconds.
	groupLockTimeout = 100 * time.Millisecond
)

// groupMember is one commit waiting to be made in a group.
type groupMember struct {
	c    Commit
	meta []byte

	res CommitResult
	// err is the outcome the caller gets; errSlowPath sends it down the
	// step-by-step path alone.
	err error
	// failed marks a member whose statements failed in the group being
	// tried: it leaves the group.
	failed bool
	taken  bool          // a leader has it: the caller must wait for done
	done   chan struct{} // closed once res and err are final
}

// committer queues pipelined commits and makes them in groups.
type committer struct {
	store *Store

	mu      sync.Mutex
	queue   []*groupMember
	leaders int
	// busy holds the streams (by id) and idempotency keys of the commits in
	// groups being made: a commit sharing one waits for a later group.
	busy map[string]bool

	groups, members atomic.Int64 // groups made, and their members (GroupStats)

	off atomic.Bool // SetGroupCommit(false)

	// gate, when set (by tests), holds every leader before it takes a group.
	gate chan struct{}
	// lockTimeout, when set (by tests), replaces groupLockTimeout.
	lockTimeout time.Duration
}

// SetGroupCommit turns group commit on (the default) or off. Off, every
// commit has a transaction of its own: for measuring what grouping buys.
func (s *Store) SetGroupCommit(on bool) { s.committer.off.Store(!on) }

// GroupStats reports how many group transactions have committed and how
// many commits they held: members/groups is the mean group size.
func (s *Store) GroupStats() (groups, members int64) {
	return s.committer.groups.Load(), s.committer.members.Load()
}

// commitGrouped makes c in a group and returns its result, or errSlowPath
// if c must be made alone, step by step. With errSlowPath, c's streams and
// idempotency key stay held — no later commit on them is taken into a group
// — until the caller has ended its own transaction and called release, so
// commits on one stream keep their order. release may always be called.
func (g *committer) commitGrouped(ctx context.Context, c Commit, meta []byte) (res CommitResult, release func(), err error) {
	m := &groupMember{c: c, meta: meta, done: make(chan struct{})}
	release = func() {}
	if g.off.Load() {
		g.commitGroup([]*groupMember{m})
		return m.res, release, m.err
	}
	g.mu.Lock()
	g.queue = append(g.queue, m)
	g.startLeader()
	g.mu.Unlock()

	select {
	case <-m.done:
	case <-ctx.Done():
		g.mu.Lock()
		if !m.taken {
			g.queue = slices.DeleteFunc(g.queue, func(q *groupMember) bool { return q == m })
			g.mu.Unlock()
			return CommitResult{}, release, fmt.Errorf("commit: %w", ctx.Err())
		}
		g.mu.Unlock()
		<-m.done // in a transaction already: its outcome is the caller's
	}
	if errors.Is(m.err, errSlowPath) {
		release = sync.OnceFunc(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.hold(c, false)
			g.startLeader() // commits may wait for these streams with no leader left
		})
	}
	return m.res, release, m.err
}

// startLeader starts another leader if commits wait and fewer than
// groupLeaders run. g.mu is held.
func (g *committer) startLeader() {
	if len(g.queue) > 0 && g.leaders < groupLeaders {
		g.leaders++
		go g.lead()
	}
}

// lead makes groups from the queue until it is empty.
func (g *committer) lead() {
	for {
		g.mu.Lock()
		gate := g.gate // a test's hold (HoldGroups); nil in production
		g.mu.Unlock()
		if gate != nil {
			<-gate
		}
		g.mu.Lock()
		group := g.take()
		if len(group) == 0 {
			g.leaders--
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.commitGroup(group)
		g.mu.Lock()
		for _, m := range group {
			if !errors.Is(m.err, errSlowPath) { // those stay held: see commitGrouped
				g.hold(m.c, false)
			}
		}
		g.mu.Unlock()
		for _, m := range group {
			close(m.done)
		}
	}
}

// take removes the next group from the queue: its commits in arrival order,
// skipping (for a later group) any that shares a stream or an idempotency
// key with one taken already, in this group or in one still in flight. So
// commits on one stream are made in the order they arrived. g.mu is held.
func (g *committer) take() []*groupMember {
	var group []*groupMember
	rest := g.queue[:0]
	for _, m := range g.queue {
		if len(group) == groupMax || !g.free(m.c) {
			rest = append(rest, m)
			continue
		}
		g.hold(m.c, true)
		m.taken = true
		group = append(group, m)
	}
	clear(g.queue[len(rest):])
	g.queue = rest
	return group
}

// free reports whether c shares no stream and no idempotency key with a
// commit in a group being made. g.mu is held.
func (g *committer) free(c Commit) bool {
	for _, sa := range c.Streams {
		if g.busy[sa.StreamID.String()] {
			return false
		}
	}
	return c.IdempotencyKey == "" || !g.busy[idempotencyBusyKey(c)]
}

// hold marks c's streams and idempotency key busy, or frees them. g.mu is held.
func (g *committer) hold(c Commit, busy bool) {
	if g.busy == nil {
		g.busy = map[string]bool{}
	}
	mark := func(k string) {
		if busy {
			g.busy[k] = true
		} else {
			delete(g.busy, k)
		}
	}
	for _, sa := range c.Streams {
		mark(sa.StreamID.String())
	}
	if c.IdempotencyKey != "" {
		mark(idempotencyBusyKey(c))
	}
}

// idempotencyBusyKey names c's idempotency key among the busy streams.
func idempotencyBusyKey(c Commit) string {
	return "key\x00" + c.TenantID.String() + "\x00" + c.IdempotencyKey
}

// commitGroup makes group in one transaction, trying again without the
// members that failed; those, and all of them after groupAttempts tries,
// get errSlowPath. Each member's res and err are set on return.
func (g *committer) commitGroup(group []*groupMember) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	group = slices.Clone(group) // members leave this one; the caller's stays whole
	for attempt := 1; len(group) > 0; attempt++ {
		if attempt > groupAttempts {
			for _, m := range group {
				m.err = errSlowPath
			}
			return
		}
		err := g.store.commitMembers(ctx, group)
		if err == nil {
			g.groups.Add(1)
			g.members.Add(int64(len(group)))
			return
		}
		var pgErr *pgconn.PgError
		if !errors.Is(err, errSlowPath) && !errors.As(err, &pgErr) {
			// The connection failed, or the context ended: the outcome is
			// every member's, as it would be alone.
			for _, m := range group {
				m.err = err
			}
			return
		}
		blamed := false
		group = slices.DeleteFunc(group, func(m *groupMember) bool {
			if m.failed {
				m.err, blamed = errSlowPath, true
			}
			return m.failed
		})
		if !blamed {
			// No member to blame (the COMMIT itself failed, say): each
			// goes alone, which tells them apart.
			for _, m := range group {
				m.err = errSlowPath
			}
			return
		}
	}
}

// commitMembers makes every member of group in one transaction of two round
// trips (three with idempotency keys): BEGIN and all the members'
// statements in one pipeline, then COMMIT. Locks are taken in the order
// every commit takes them, each kind in one order across the group:
// idempotency keys, stream rows in stream id order, then reservations. A
// member whose check fails is marked failed and the others are still
// checked; errSlowPath (or the first Postgres error, which marks its
// member: a lock wait past the group's lock_timeout too) then rolls
// everything back.
func (s *Store) commitMembers(ctx context.Context, group []*groupMember) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	defer conn.Release()

	lockTimeout := cmp.Or(s.committer.lockTimeout, groupLockTimeout)
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue("select set_config('lock_timeout', $1, true)", fmt.Sprintf("%dms", lockTimeout.Milliseconds()))
	keyed := make([]*groupMember, 0, len(group))
	for _, m := range group {
		m.failed = false
		m.res = CommitResult{Versions: make([]int, len(m.c.Streams)),
			StreamIDs: make([]uuid.UUID, len(m.c.Streams)), Note: m.c.Note}
		if m.c.IdempotencyKey != "" {
			keyed = append(keyed, m)
		}
	}
	slices.SortFunc(keyed, func(a, b *groupMember) int {
		if c := slices.Compare(a.c.TenantID[:], b.c.TenantID[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.c.IdempotencyKey, b.c.IdempotencyKey)
	})
	for _, m := range keyed {
		guard(b.Queue(claimKeySQL, m.c.TenantID, m.c.IdempotencyKey, IdempotencyTTL.Seconds()), m, oneRow)
	}
	type advance struct {
		m *groupMember
		i int
	}
	var advances []advance
	for _, m := range group {
		for i := range m.c.Streams {
			advances = append(advances, advance{m, i})
		}
	}
	slices.SortFunc(advances, func(a, b advance) int {
		return slices.Compare(a.m.c.Streams[a.i].StreamID[:], b.m.c.Streams[b.i].StreamID[:])
	})
	for _, a := range advances {
		sa := a.m.c.Streams[a.i]
		a.m.res.StreamIDs[a.i] = sa.StreamID
		queueAdvance(b, a.m.c.TenantID, sa, &a.m.res.Versions[a.i], a.m)
	}
	for _, m := range group {
		for _, sa := range m.c.Streams {
			queueRelease(b, m.c.TenantID, sa, m)
		}
	}
	for _, cl := range claimsInLockOrder(group) {
		queueReserve(b, cl.m.c.TenantID, cl.stream, cl.values, cl.m)
	}
	for _, m := range group {
		queueInsertEvents(b, m.c, m.meta, &m.res.Position, m)
	}

	err = conn.SendBatch(ctx, b).Close()
	if err == nil && slices.ContainsFunc(group, func(m *groupMember) bool { return m.failed }) {
		err = errSlowPath
	}
	if err == nil && len(keyed) > 0 {
		err = saveIdempotentResults(ctx, conn, keyed)
	}
	if err != nil {
		// Never leave the pooled connection inside the transaction.
		if _, rbErr := conn.Exec(context.WithoutCancel(ctx), "rollback"); rbErr != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
		return err
	}
	tag, err := conn.Exec(ctx, "commit")
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if tag.String() != "COMMIT" {
		return fmt.Errorf("commit: transaction ended with %s", tag)
	}
	return nil
}
