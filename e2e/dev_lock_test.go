package e2e

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// get fetches url and returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestDevRefusesSecondOnSameFolder starts `crm dev` twice on one data
// folder, on the first's address and on another: the second exits at once,
// non-zero, naming the first, and the first's Postgres and NATS are left
// alone: it keeps answering reads and writes. (The second used to reuse the
// first's Postgres, fail to bind or run its own NATS on the same store, and
// stop that Postgres on its way out.)
func TestDevRefusesSecondOnSameFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Postgres cluster")
	}
	dir := traversableTempDir(t)
	first := startDev(t, dir)
	firstAddr := strings.TrimPrefix(first.url, "http://")
	pidFile := filepath.Join(dir, "postgres", "pgdata", "postmaster.pid")
	postmaster, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	works := func(when string, n int) {
		t.Helper()
		if code, body := first.call(t, first.key, "POST", "/api/v1/leads", `{"name":"Lead `+strconv.Itoa(n)+`","email":"lead`+strconv.Itoa(n)+`@example.com"}`); code != http.StatusCreated {
			t.Fatalf("first crm dev, %s: create: %d %s", when, code, body)
		}
		code, body := first.call(t, first.key, "GET", "/api/v1/leads", "")
		if code != http.StatusOK || !strings.Contains(string(body), `"total":`+strconv.Itoa(n)) {
			t.Fatalf("first crm dev, %s: list: %d %s, want total %d", when, code, body, n)
		}
	}
	works("before the second", 1)

	want := "crm dev is already running on this data folder: pid " + strconv.Itoa(first.cmd.Process.Pid) + ", serving on " + firstAddr
	for i, addr := range []string{firstAddr, "127.0.0.1:0"} {
		second := runToEnd(t, devCommand(t, dir, "--addr", addr))
		if second.err == nil || second.code == 0 {
			t.Fatalf("second crm dev on %s: exited %d (%v), want a refusal\n%s", addr, second.code, second.err, second.out)
		}
		if !strings.Contains(second.out, want) {
			t.Fatalf("second crm dev on %s said:\n%s\nwant it to say %q", addr, second.out, want)
		}
		if strings.Contains(second.out, "serving on http") {
			t.Fatalf("second crm dev on %s served:\n%s", addr, second.out)
		}
		works("after second #"+strconv.Itoa(i+1)+" exited", i+2)
		if now, err := os.ReadFile(pidFile); err != nil || string(now) != string(postmaster) {
			t.Fatalf("the first's Postgres changed under it: postmaster.pid %q (%v), was %q", now, err, postmaster)
		}
	}
	if code, body := first.call(t, "", "GET", "/healthz", ""); code != http.StatusOK {
		t.Fatalf("first crm dev healthz: %d %s", code, body)
	}
}

// exited is how a child process ended.
type exited struct {
	out  string // stdout and stderr
	code int
	err  error
}

// runToEnd runs cmd until it exits, killing it if it runs for a minute.
func runToEnd(t *testing.T, cmd *exec.Cmd) exited {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
	defer stop.Stop()
	err := cmd.Wait()
	return exited{out: out.String(), code: cmd.ProcessState.ExitCode(), err: err}
}
