package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// burstSize is how many requests on one lead each burst test sends at once:
// an IVR line or a switchboard number shared by many callers.
const burstSize = 64

// burst sends n requests at once (send(i) makes the i-th) and returns the
// statuses of the answers, counted, with one body per failing status.
func burst(n int, send func(i int) response) (counts map[int]int, bodies map[int]string) {
	counts, bodies = map[int]int{}, map[int]string{}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			r := send(i)
			mu.Lock()
			defer mu.Unlock()
			counts[r.Status]++
			if r.Status >= 300 {
				bodies[r.Status] = string(r.Body)
			}
		})
	}
	close(start)
	wg.Wait()
	return counts, bodies
}

// TestCratioBurstOnOnePhoneMerges sends 64 creates at once with one phone
// and 64 different emails: one creates the lead, every other merges into
// it (the Cratio document promises a merge, never a conflict), and the lead
// ends up with every email.
func TestCratioBurstOnOnePhoneMerges(t *testing.T) {
	s := newStack(t)
	counts, bodies := burst(burstSize, func(i int) response {
		return s.do(s.key, "POST", "/api/v1/leads", map[string]any{
			"name": fmt.Sprintf("Caller %d", i), "phone": "+91 80 4000 1000",
			"email": fmt.Sprintf("caller%d@example.com", i),
		})
	})
	if counts[http.StatusCreated] != 1 || counts[http.StatusOK] != burstSize-1 || len(counts) != 2 {
		t.Fatalf("answers by status %v, want 1×201 and %d×200; failures: %v", counts, burstSize-1, bodies)
	}
	s.assertReplayEqual()
	list := s.listLeads(s.key, "")
	if list.Total != 1 {
		t.Fatalf("%d leads, want 1", list.Total)
	}
	want := make([]string, burstSize)
	for i := range want {
		want[i] = fmt.Sprintf("caller%d@example.com", i)
	}
	got := slices.Sorted(slices.Values(list.Data[0].Emails))
	if slices.Sort(want); !slices.Equal(got, want) {
		t.Errorf("the lead has emails %v, want all %d", got, burstSize)
	}
}

// TestLeadsAPIBurstOnOneLead sends 64 writes at once to one lead through
// the Leads API — updates, status changes and comments, interleaved — and
// wants every one to succeed.
func TestLeadsAPIBurstOnOneLead(t *testing.T) {
	s := newStack(t)
	lead := s.laCreate(s.key, laPerson("Ivr", "ivr@example.com"))
	path := fmt.Sprintf("/leads/%d", lead.ID)
	counts, bodies := burst(burstSize, func(i int) response {
		switch i % 3 {
		case 0:
			return s.do(s.key, "PUT", path, map[string]any{
				"firstName": "Ivr", "email": "ivr@example.com", "company": fmt.Sprintf("Company %d", i)})
		case 1:
			return s.do(s.key, "PUT", "/leads/change-status", map[string]any{"ids": []int64{lead.ID}, "statusId": 1 + i%6})
		default:
			return s.do(s.key, "POST", fmt.Sprintf("/leads/comments/%d", lead.ID), map[string]any{"content": fmt.Sprintf("call %d", i)})
		}
	})
	if counts[http.StatusOK]+counts[http.StatusCreated] != burstSize {
		t.Fatalf("answers by status %v, want all %d to succeed; failures: %v", counts, burstSize, bodies)
	}
	s.assertReplayEqual()
}

// TestOverplaneBurstOnOneLead sends 64 updates at once to one lead through
// the Overplane API and wants every one to succeed.
func TestOverplaneBurstOnOneLead(t *testing.T) {
	s := newStack(t)
	lead := s.opCreate(s.key, map[string]any{"first_name": "Ivr", "email_id": "ivr@example.com"})
	counts, bodies := burst(burstSize, func(i int) response {
		return s.do(s.key, "PATCH", "/api/crm/lead/"+lead.ID, map[string]any{"city": fmt.Sprintf("City %d", i)})
	})
	if counts[http.StatusOK] != burstSize {
		t.Fatalf("answers by status %v, want %d×200; failures: %v", counts, burstSize, bodies)
	}
	s.assertReplayEqual()
}
