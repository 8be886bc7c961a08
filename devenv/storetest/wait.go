package storetest

import (
	"testing"
	"time"
)

// pollInterval is how often WaitFor checks its condition.
const pollInterval = 10 * time.Millisecond

// WaitFor checks cond every 10ms until it reports true, and fails the test
// if that has not happened within timeout, with cond's last error. An error
// does not end the wait: a condition is often unreachable until it is met.
func WaitFor(t testing.TB, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		ok, err := cond()
		if ok && err == nil {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("condition not met within %s: %v", timeout, err)
			} else {
				t.Fatalf("condition not met within %s", timeout)
			}
			return
		}
		<-tick.C
	}
}
