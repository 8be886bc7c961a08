package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// memoryClients is the concurrency of the memory workload's mixed traffic.
const memoryClients = 16

// rssSample is the child's resident set at a moment of the traffic.
type rssSample struct {
	at time.Duration
	kb int64
}

// benchMemory starts `crm serve` as a process of its own on the loaded
// database, drives mixed traffic at it for cfg.Duration and samples its RSS
// every second (more often in short runs): the figure is the peak over the
// last half, which must also be flat (a leak shows as a slope, not a peak).
func benchMemory(ctx context.Context, env *benchEnv, cfg benchConfig, r *benchReport) error {
	child, err := startServe(ctx, env, cfg.Binary)
	if err != nil {
		return err
	}
	defer child.stop()
	idle, _ := ProcKB(fmt.Sprintf("/proc/%d/status", child.cmd.Process.Pid), "VmRSS")

	ids, err := someLeadIDs(ctx, env, 1000)
	if err != nil {
		return err
	}
	client := apiCall{client: newBenchClient(memoryClients), baseURL: child.url, key: env.apiKey}
	tctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	env.logger.Info("bench: mixed traffic at crm serve", "pid", child.cmd.Process.Pid, "duration", cfg.Duration)

	var samples []rssSample
	sampled := make(chan error, 1)
	start := time.Now()
	// Every second, or often enough for a short run to have a trend.
	every := max(100*time.Millisecond, min(time.Second, cfg.Duration/20))
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-tctx.Done():
				sampled <- nil
				return
			case <-child.done:
				cancel() // no point driving traffic at nothing
				sampled <- errors.New("crm serve exited during the traffic")
				return
			case <-tick.C:
				kb, ok := ProcKB(fmt.Sprintf("/proc/%d/status", child.cmd.Process.Pid), "VmRSS")
				if ok {
					samples = append(samples, rssSample{at: time.Since(start), kb: kb})
				}
			}
		}
	}()
	var requests, failures atomic.Int64
	var wg sync.WaitGroup
	for w := range memoryClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for tctx.Err() == nil {
				err := mixedRequest(tctx, env, client, rng, ids)
				if tctx.Err() != nil {
					return
				}
				requests.Add(1)
				if err != nil {
					if failures.Add(1) == 1 {
						env.logger.Warn("bench: mixed traffic request failed", "err", err)
					}
					time.Sleep(10 * time.Millisecond) // a failing server answers fast: do not spin
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := <-sampled; err != nil {
		return fmt.Errorf("%w\n%s", err, child.logTail())
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	peak, trend, ok := lastHalf(samples)
	if !ok {
		return fmt.Errorf("too few RSS samples (%d) over %s", len(samples), cfg.Duration)
	}
	flat := trend >= -5 && trend <= 5
	mb := func(kb int64) string { return fmt.Sprintf("%.0f MB", float64(kb)*1024/1e6) }
	r.add(benchRow{
		workload: "memory",
		crm: fmt.Sprintf("max %s RSS over the last half of %s of mixed traffic, trend %+.1f%% (%s idle after start; %.0f req/s from %d clients)",
			mb(peak), cfg.Duration, trend, mb(idle), rate(requests.Load(), elapsed), memoryClients),
		baseline: "—", ratio: "—",
		target: "≤ 150 MB, flat over the last half",
		met:    float64(peak)*1024 <= 150e6 && flat,
	})
	r.note("memory: `crm serve` as a child process; traffic 70%% filtered lead lists, 15%% lead creates, 10%% call-log lists, 5%% call-log creates; %d of %d requests failed",
		failures.Load(), requests.Load())
	return nil
}

// mixedRequest sends one request of the memory workload's mix.
func mixedRequest(ctx context.Context, env *benchEnv, c apiCall, rng *rand.Rand, ids []uuid.UUID) error {
	var status int
	var body []byte
	var err error
	switch k := rng.IntN(100); {
	case k < 70:
		status, _, body, err = c.do(ctx, http.MethodGet, randomListQuery(rng).path(), nil)
	case k < 85:
		b, _ := json.Marshal(benchLead(env.leads.take(1)))
		status, _, body, err = c.do(ctx, http.MethodPost, "/api/v1/leads", b)
	case k < 95:
		path := "/api/v1/call-logs?limit=50"
		if rng.IntN(2) == 0 {
			path += "&lead_id=" + ids[rng.IntN(len(ids))].String()
		}
		status, _, body, err = c.do(ctx, http.MethodGet, path, nil)
	default:
		b, _ := json.Marshal(map[string]any{"lead_id": ids[rng.IntN(len(ids))], "call_type": "Outbound",
			"duration_seconds": rng.IntN(600), "outcome": "Interested", "notes": "Discussed the annual plan."})
		status, _, body, err = c.do(ctx, http.MethodPost, "/api/v1/call-logs", b)
	}
	if err == nil && status/100 != 2 {
		err = fmt.Errorf("HTTP %d: %.200s", status, body)
	}
	return err
}

// lastHalf returns the peak of the last half of the samples and their
// least-squares trend over that half, as a percentage of their mean.
func lastHalf(samples []rssSample) (peak int64, trendPct float64, ok bool) {
	half := samples[len(samples)/2:]
	if len(half) < 3 {
		return 0, 0, false
	}
	var st, sy, stt, sty float64
	for _, s := range half {
		t, y := s.at.Seconds(), float64(s.kb)
		st, sy, stt, sty = st+t, sy+y, stt+t*t, sty+t*y
		peak = max(peak, s.kb)
	}
	n := float64(len(half))
	slope := (n*sty - st*sy) / (n*stt - st*st)
	span := half[len(half)-1].at.Seconds() - half[0].at.Seconds()
	return peak, 100 * slope * span / (sy / n), true
}

// someLeadIDs returns up to n lead ids of the benchmark's tenant.
func someLeadIDs(ctx context.Context, env *benchEnv, n int) ([]uuid.UUID, error) {
	rows, err := env.s.Pool.Query(ctx, `select id from rm_leads where tenant_id = $1 limit $2`, env.tenantID, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 && rows.Err() == nil {
		return nil, errors.New("no leads to log calls on")
	}
	return ids, rows.Err()
}

// serveProcess is `crm serve` running as a child process.
type serveProcess struct {
	cmd     *exec.Cmd
	url     string
	logPath string
	done    chan struct{}
}

// startServe runs `crm serve` on the benchmark's database and a free
// loopback port, and waits until it answers /healthz.
func startServe(ctx context.Context, env *benchEnv, binary string) (*serveProcess, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &serveProcess{url: "http://" + addr, logPath: filepath.Join(env.dir, "serve.log"), done: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	p.cmd = exec.Command(binary, "serve")
	// Later entries win: the user's CRM_* settings pass, ours override.
	p.cmd.Env = append(os.Environ(), "DATABASE_URL="+env.dbURL, "CRM_ADDR="+addr, "CRM_LOG_LEVEL=warn",
		"CRM_PHONE_REGION="+env.cfg.Region, "CRM_PHOTO_DIR="+filepath.Join(env.dir, "photos"),
		"CRM_RATE_LIMIT_KEY=off", "CRM_RATE_LIMIT_TENANT=off", "CRM_RATE_LIMIT_IP=off", "CRM_METRICS_ADDR=")
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	// The child must not outlive the benchmark, even if it is killed.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", binary, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	health := newBenchClient(1)
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := health.Get(p.url + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("crm serve did not answer /healthz within a minute\n%s", p.logTail())
		}
		select {
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-p.done:
			return nil, fmt.Errorf("crm serve exited at start\n%s", p.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop asks the child to shut down and kills it if it has not within 15s.
func (p *serveProcess) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// logTail is the end of the child's log, for error messages.
func (p *serveProcess) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return "crm serve log (last lines):\n" + strings.Join(lines[max(0, len(lines)-20):], "\n")
}
