package eventstore

// StepByStep returns a store on the same pool that never pipelines a commit.
func StepByStep(s *Store) *Store {
	o := New(s.pool)
	o.notifier = s.notifier
	o.stepByStep = true
	return o
}
