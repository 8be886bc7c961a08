package main

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/crmcore/crm/projections"
)

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
	for g := 0; g < 6; g++ {
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
		if err := projections.ReplayAll(s.ctx, s.core.store, allProjections(), 0, nil); err != nil {
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
