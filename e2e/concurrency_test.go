package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
)

// TestConcurrentWritersKeepReadModelsEqualToReplay runs many writers at once
// against the same and different leads: merges racing on one phone, call
// logs racing with deletes. Every answer is a success or a clean 404, no
// email or phone ends up on two leads, and every read model equals a replay.
func TestConcurrentWritersKeepReadModelsEqualToReplay(t *testing.T) {
	s := newStack(t)
	const writers, ops = 8, 25
	var (
		mu    sync.Mutex
		leads []string
		wg    sync.WaitGroup
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range ops {
				mu.Lock()
				var target string
				if len(leads) > 0 {
					target = leads[rng.IntN(len(leads))]
				}
				mu.Unlock()
				switch op := rng.IntN(10); {
				case op < 5 || target == "":
					// A small pool of phones and emails: most creates race to merge.
					body := map[string]any{
						"name":  fmt.Sprintf("Writer %d op %d", w, i),
						"phone": fmt.Sprintf("+9198765%05d", rng.IntN(6)),
						"tags":  []string{fmt.Sprintf("w%d", w)},
					}
					if rng.IntN(2) == 0 {
						body["email"] = fmt.Sprintf("shared%d@example.com", rng.IntN(4))
					}
					r := s.do(s.key, "POST", "/api/v1/leads", body)
					if r.Status != http.StatusCreated && r.Status != http.StatusOK {
						t.Errorf("create: %d %s", r.Status, r.Body)
						continue
					}
					id, _ := r.object(t)["id"].(string)
					mu.Lock()
					leads = append(leads, id)
					mu.Unlock()
				case op < 9:
					r := s.do(s.key, "POST", "/api/v1/call-logs", map[string]any{
						"lead_id": target, "call_type": "Outbound", "duration_seconds": rng.IntN(600),
					})
					if r.Status != http.StatusCreated && r.Status != http.StatusNotFound {
						t.Errorf("log call: %d %s", r.Status, r.Body)
					}
				default:
					r := s.do(s.key, "DELETE", "/api/v1/leads/"+target, nil)
					if r.Status != http.StatusOK && r.Status != http.StatusNotFound {
						t.Errorf("delete: %d %s", r.Status, r.Body)
					}
				}
			}
		}()
	}
	wg.Wait()
	s.assertReplayEqual()
	for _, col := range []string{"emails", "phones"} {
		var shared int
		err := s.core.Pool.QueryRow(s.ctx, `select count(*) from (select v from rm_leads, unnest(`+col+`) v
			group by v having count(*) > 1) d`).Scan(&shared)
		if err != nil {
			t.Fatal(err)
		}
		if shared != 0 {
			t.Errorf("%d %s belong to more than one lead", shared, col)
		}
	}
}
