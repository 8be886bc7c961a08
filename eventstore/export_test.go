package eventstore

import "time"

// StepByStep returns a store on the same pool that never pipelines a commit.
func StepByStep(s *Store) *Store {
	o := New(s.pool, s.erasers...)
	o.notifier = s.notifier
	o.stepByStep = true
	return o
}

// HoldGroups holds s's group leaders until release is called, so that the
// commits made meanwhile queue up and go in one group; queued says how many
// are waiting.
func HoldGroups(s *Store) (queued func() int, release func()) {
	s.committer.mu.Lock()
	s.committer.gate = make(chan struct{})
	s.committer.mu.Unlock()
	queued = func() int {
		s.committer.mu.Lock()
		defer s.committer.mu.Unlock()
		return len(s.committer.queue)
	}
	return queued, func() { close(s.committer.gate) }
}

// SetGroupLockTimeout replaces how long a group's statements wait for a
// lock before their member leaves the group.
func SetGroupLockTimeout(s *Store, d time.Duration) { s.committer.lockTimeout = d }
