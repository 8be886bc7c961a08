package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crmcore/crm/devenv/storetest"
)

// devProcess is `crm dev` as a new user runs it: no DATABASE_URL, no
// NATS_URL, only a data folder.
type devProcess struct {
	cmd     *exec.Cmd
	url     string
	key     string
	metrics string // the metrics listener's base URL
	done    chan error
}

var devBanner = regexp.MustCompile(`serving on (http://\S+)|API key \(tenant "default"\): (\S+)|metrics on (http://\S+)/metrics`)

// devCommand is `crm dev` on dir with free loopback ports, in an
// environment without DATABASE_URL, NATS_URL or a preset key.
func devCommand(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(crmBinary(t), append([]string{"dev", "--data", dir, "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "NATS_URL=") && !strings.HasPrefix(kv, "CRM_DEV_API_KEY=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

func startDev(t *testing.T, dir string, args ...string) *devProcess {
	t.Helper()
	cmd := devCommand(t, dir, args...)
	if os.Getenv("CRM_TEST_LOG") != "" {
		cmd.Stderr = os.Stderr
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &devProcess{cmd: cmd, done: make(chan error, 1)}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		p.done <- cmd.Wait()
	}()
	deadline := time.After(90 * time.Second)
	for p.url == "" || p.key == "" || p.metrics == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("crm dev exited before serving: %v", <-p.done)
			}
			if m := devBanner.FindStringSubmatch(line); m != nil {
				switch {
				case m[1] != "":
					p.url = m[1]
				case m[2] != "":
					p.key = m[2]
				default:
					p.metrics = m[3]
				}
			}
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatal("crm dev did not start within 90s")
		}
	}
	go func() {
		for range lines {
		}
	}()
	t.Cleanup(func() { p.signal(syscall.SIGKILL) })
	return p
}

func (p *devProcess) signal(sig syscall.Signal) error {
	select {
	case err := <-p.done: // already exited
		p.done <- err
		return err
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		return context.DeadlineExceeded
	}
}

func (p *devProcess) call(t *testing.T, key, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, p.url+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestDevRunsWithNothingSetUp runs `crm dev` the way the README says, on a
// fresh folder: private Postgres, embedded NATS, a printed key; records
// survive a clean stop and a kill -9; `crm keys create --data` reaches it.
func TestDevRunsWithNothingSetUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Postgres cluster")
	}
	// Postgres runs as an unprivileged user when crm runs as root: every
	// folder above the data folder must let it through, as /tmp does.
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dev := startDev(t, dir)
	if code, body := dev.call(t, "", "GET", "/healthz", ""); code != 200 {
		t.Fatalf("healthz: %d %s", code, body)
	}
	// Metrics on their own listener, not on the API's port.
	if code, body := dev.call(t, "", "GET", "/metrics", ""); code != http.StatusNotFound {
		t.Fatalf("/metrics on the API port: %d %s", code, body)
	}
	if code, body := get(t, dev.metrics+"/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics on the metrics listener: %d %.200s", code, body)
	}
	code, body := dev.call(t, dev.key, "POST", "/api/v1/leads", `{"name":"Rahul Sharma","phone":"+91 98765 43210"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	// A second tenant's key, through the running dev's data folder.
	out, err := exec.Command(crmBinary(t), "keys", "create", "--tenant", "globex", "--data", dir).Output()
	if err != nil {
		t.Fatalf("crm keys create: %v", err)
	}
	other := strings.TrimSpace(string(out))
	if !strings.HasPrefix(other, "le_live_") || strings.Contains(other, "\n") {
		t.Fatalf("crm keys create printed %q", out)
	}
	if code, body := dev.call(t, other, "GET", "/api/v1/leads", ""); code != 200 || !strings.Contains(string(body), `"total":0`) {
		t.Fatalf("other tenant: %d %s", code, body)
	}
	// A JWT for it, signed with the secret crm dev keeps in the folder.
	out, err = exec.Command(crmBinary(t), "tokens", "issue", "--tenant", "globex", "--permissions", "319", "--data", dir).Output()
	if err != nil || strings.Count(string(out), "\n") != 1 || strings.Count(string(out), ".") != 2 {
		t.Fatalf("crm tokens issue: %v, printed %q", err, out)
	}
	// crm dev verifies it: the prospects API answers the token's tenant.
	if code, body := dev.call(t, strings.TrimSpace(string(out)), "POST", "/prospects/process", `[{"email":"a@globex.example"}]`); code != 200 ||
		!strings.Contains(string(body), `"inserts":[{"email":"a@globex.example"}]`) {
		t.Fatalf("prospects API with the issued token: %d %s", code, body)
	}

	// Clean stop: Postgres goes down with it.
	if err := dev.signal(syscall.SIGTERM); err != nil {
		t.Fatalf("crm dev did not stop cleanly: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres", "pgdata", "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("Postgres still running after crm dev stopped (postmaster.pid: %v)", err)
	}

	// Restart: same key, same record; then kill -9 and restart again.
	dev = startDev(t, dir)
	assertOneLead := func(d *devProcess) {
		t.Helper()
		code, body := d.call(t, d.key, "GET", "/api/v1/leads", "")
		var list struct{ Total int }
		_ = json.Unmarshal(body, &list)
		if code != 200 || list.Total != 1 {
			t.Fatalf("after restart: %d %s", code, body)
		}
	}
	assertOneLead(dev)
	_ = dev.signal(syscall.SIGKILL)
	dev = startDev(t, dir, "--api-key", "le_live_fixed_for_ci")
	if dev.key != "le_live_fixed_for_ci" {
		t.Fatalf("--api-key ignored: %q", dev.key)
	}
	assertOneLead(dev)
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		code, _ := dev.call(t, "", "GET", "/healthz", "")
		return code == 200, nil
	})
	if err := dev.signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}
