package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crmcore/crm/domain"
)

// leadSeq numbers the benchmark's leads across workloads, so every lead
// gets its own email and phone and no create merges into another.
type leadSeq struct{ n atomic.Int64 }

// take reserves n sequence numbers and returns the first.
func (s *leadSeq) take(n int) int64 { return s.n.Add(int64(n)) - int64(n) }

var (
	benchSources = []string{"website", "referral", "google_ads", "trade_show", "partner"}
	benchCities  = []string{"Mumbai", "Delhi", "Bengaluru", "Pune", "Chennai", "Hyderabad", "Kolkata"}
	// benchStatuses is a pipeline's usual shape: most leads are new.
	benchStatuses = []string{"New", "New", "New", "New", "Contacted", "Contacted", "Qualified", "Proposal", "Won", "Lost"}
)

// leadBody is a Cratio create-lead request.
type leadBody struct {
	Name       string   `json:"name"`
	Phone      string   `json:"phone"`
	Email      string   `json:"email"`
	Company    string   `json:"company"`
	City       string   `json:"city"`
	Source     string   `json:"source"`
	Status     string   `json:"status"`
	Priority   string   `json:"priority"`
	DealValue  float64  `json:"deal_value"`
	Tags       []string `json:"tags"`
	Notes      string   `json:"notes"`
	AssignedTo string   `json:"assigned_to"`
}

// benchLead returns lead number seq, the same whichever way it is created.
// Its fields are spread by a hash of seq so filters do not line up.
func benchLead(seq int64) leadBody {
	h := splitmix(uint64(seq))
	pick := func(s []string, shift uint) string { return s[(h>>shift)%uint64(len(s))] }
	return leadBody{
		Name:       fmt.Sprintf("Bench Lead %d", seq),
		Phone:      fmt.Sprintf("+91 98%08d", seq%100000000),
		Email:      fmt.Sprintf("lead%d@bench.example", seq),
		Company:    fmt.Sprintf("Company %d Pvt Ltd", h%5000),
		City:       pick(benchCities, 8),
		Source:     pick(benchSources, 16),
		Status:     pick(benchStatuses, 24),
		Priority:   pick([]string{"Low", "Medium", "High"}, 32),
		DealValue:  float64(h%200000) + 0.5,
		Tags:       []string{"bench", pick([]string{"inbound", "outbound", "event"}, 40)},
		Notes:      "Asked for a callback about pricing for the annual plan.",
		AssignedTo: fmt.Sprintf("agent%d@bench.example", (h>>48)%20),
	}
}

// profile is the lead as the domain stores it, normalized as the API does.
func (b leadBody) profile(region string) (domain.LeadProfile, domain.Status, error) {
	deal := b.DealValue
	p, err := domain.NormalizeProfile(domain.LeadProfile{
		Name: b.Name, Emails: []string{b.Email}, Phones: []string{b.Phone}, Company: b.Company, City: b.City,
		Source: b.Source, Priority: domain.Priority(b.Priority), DealValue: &deal, Tags: b.Tags, Notes: b.Notes,
		AssignedTo: b.AssignedTo,
	}, region)
	return p, domain.Status(b.Status), err
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// newBenchClient is an HTTP client for conns concurrent callers on
// loopback: every caller keeps its connection, nothing is compressed.
func newBenchClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        2 * conns,
			MaxIdleConnsPerHost: 2 * conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// apiCall is one request to the Cratio API with the benchmark's key.
type apiCall struct {
	client  *http.Client
	baseURL string
	key     string
}

// do sends a request and returns the status, the headers and the body.
func (a apiCall) do(ctx context.Context, method, path string, body []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.baseURL+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b, err
}

// createLead posts lead seq; it returns the new lead's id.
func (a apiCall) createLead(ctx context.Context, seq int64) (string, http.Header, error) {
	body, err := json.Marshal(benchLead(seq))
	if err != nil {
		return "", nil, err
	}
	status, h, b, err := a.do(ctx, http.MethodPost, "/api/v1/leads", body)
	if err != nil {
		return "", nil, err
	}
	if status != http.StatusCreated {
		return "", h, fmt.Errorf("create lead: HTTP %d: %.200s", status, b)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return "", h, fmt.Errorf("create lead: %w", err)
	}
	return out.ID, h, nil
}

// latencies collects request durations from concurrent callers.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// pct returns the p-th percentile (nearest rank), p in (0, 1].
func (l *latencies) pct(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	slices.Sort(l.d)
	i := int(math.Ceil(p*float64(len(l.d)))) - 1
	return l.d[max(0, min(i, len(l.d)-1))]
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// runClients runs n items over clients concurrent callers, each item once,
// and returns the wall time. The first error stops the run.
func runClients(ctx context.Context, clients, n int, item func(ctx context.Context, i int) error) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := item(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return elapsed, err
	}
	return elapsed, nil
}

// ms renders a duration in milliseconds.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 10 {
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// rate renders a per-second figure.
func rate(n int64, d time.Duration) float64 { return float64(n) / max(d.Seconds(), 1e-9) }

// ratio renders a/b as "0.42×".
func ratio(a, b float64) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}
