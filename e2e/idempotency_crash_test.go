package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crmcore/crm/devenv/storetest"
)

// keyedCreate is one keyed lead create sent to a crm serve process.
type keyedCreate struct {
	key  string
	body []byte
}

// send posts c to the server at url with the stack's API key.
func (c keyedCreate) send(client *http.Client, url, apiKey string) (int, []byte, error) {
	req, err := http.NewRequest("POST", url+"/api/v1/leads", bytes.NewReader(c.body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", c.key)
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// serveProcess starts `crm serve` on a free loopback port and waits until
// it answers.
func (s *stack) serveProcess(t *testing.T, env ...string) (*process, string) {
	t.Helper()
	port := freePort(t)
	p := s.spawn("serve", append(env, fmt.Sprintf("CRM_ADDR=127.0.0.1:%d", port))...)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	storetest.WaitFor(t, 30*time.Second, func() (bool, error) {
		res, err := http.Get(url + "/healthz")
		if err != nil {
			return false, nil
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK, nil
	})
	return p, url
}

// TestKilledRequestsFreeTheirKeys is the finding that a claim left
// in progress by a killed process made every retry a 409 for 24 hours. It
// runs `crm serve` as a child process under keyed lead creates, freezes it
// when some claims are in progress, kills it with -9, starts it again and
// retries every key: each retry ends in the create's 201 once the lease (1 s
// here) is past, and every key made exactly one lead, also those whose
// first attempt committed and never answered.
func TestKilledRequestsFreeTheirKeys(t *testing.T) {
	s := newStack(t)
	env := []string{"CRM_IDEMPOTENCY_LEASE=1s", "CRM_RATE_LIMIT_KEY=off", "CRM_RATE_LIMIT_TENANT=off"}
	srv, url := s.serveProcess(t, env...)
	client := &http.Client{Timeout: 30 * time.Second}

	var mu sync.Mutex
	var sent []keyedCreate
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body, _ := json.Marshal(map[string]any{"name": "Crash", "email": fmt.Sprintf("crash.%d.%d@example.com", w, i)})
				c := keyedCreate{key: fmt.Sprintf("crash-%d-%d", w, i), body: body}
				mu.Lock()
				sent = append(sent, c)
				mu.Unlock()
				if _, _, err := c.send(client, url, s.key); err != nil {
					return // the server was killed
				}
			}
		})
	}

	// Freeze the server, under way, until the store shows keyed requests in
	// progress, best one that committed and was not answered; then kill it.
	var inFlight, committedUnanswered int
	for attempt := 0; ; attempt++ {
		storetest.WaitFor(t, 30*time.Second, func() (bool, error) {
			var done int
			err := s.core.Pool.QueryRow(s.ctx, `select count(*) from http_idempotency
				where tenant_id = $1 and status is not null`, s.tenantID).Scan(&done)
			return done >= 30+3*attempt, err
		})
		if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		if err := s.core.Pool.QueryRow(s.ctx, `select count(*), count(i.key) from http_idempotency h
			left join idempotency i on i.tenant_id = h.tenant_id and i.key like '% ' || h.key
			where h.tenant_id = $1 and h.status is null`, s.tenantID).Scan(&inFlight, &committedUnanswered); err != nil {
			t.Fatal(err)
		}
		if committedUnanswered > 0 || (inFlight > 0 && attempt >= 50) {
			break
		}
		if attempt == 100 {
			t.Fatal("never caught a keyed request in progress")
		}
		if err := srv.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
	srv.kill()
	close(stop)
	wg.Wait()
	t.Logf("killed with %d keyed requests in progress, %d of them committed; %d keys sent", inFlight, committedUnanswered, len(sent))

	_, url = s.serveProcess(t, env...)
	busy := 0
	ids := map[string]string{}
	for _, c := range sent {
		storetest.WaitFor(t, 60*time.Second, func() (bool, error) {
			status, body, err := c.send(client, url, s.key)
			if err != nil {
				return false, err
			}
			if status == http.StatusConflict { // the dead request's lease is not past yet
				busy++
				return false, nil
			}
			var lead struct{ ID string }
			if status != http.StatusCreated || json.Unmarshal(body, &lead) != nil || lead.ID == "" {
				return false, fmt.Errorf("retry of %s: %d %s", c.key, status, body)
			}
			ids[lead.ID] = c.key
			return true, nil
		})
	}
	var leads int
	if err := s.core.Pool.QueryRow(s.ctx, `select count(*) from events where tenant_id = $1 and event_type = 'lead.created'`,
		s.tenantID).Scan(&leads); err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(sent) || leads != len(sent) {
		t.Fatalf("%d keys answered %d leads; %d leads created", len(sent), len(ids), leads)
	}
	t.Logf("retries answered 409 %d times before the lease ran out", busy)
	s.assertReplayEqual()
}
