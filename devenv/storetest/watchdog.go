package storetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// watchdogScript waits for the test binary to exit, then shuts down the
// private PostgreSQL server if it still runs ($1 is its postmaster.pid) and
// removes the temp dir ($2). SIGQUIT is PostgreSQL's immediate shutdown.
const watchdogScript = `read -r _
pid=$(head -n 1 "$1" 2>/dev/null)
if [ -n "$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null || echo postgres)" = postgres ]; then
	kill -QUIT "$pid" 2>/dev/null
	i=0
	while [ -e "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
fi
rm -rf "$2"
`

// watchdogPipe is the write end of the watchdog's stdin. Only the exit of
// this process closes it, so it must stay reachable: a collected *os.File
// closes its descriptor.
var watchdogPipe *os.File

// watchForExit starts a detached process that cleans up after this test
// binary when it dies without running Main's deferred cleanup: a panicking
// test, -timeout, or a signal. Otherwise every such run would leave a
// PostgreSQL server running. After a normal exit there is nothing left for
// it to do.
func watchForExit(pgDir, tempDir string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start watchdog: %w", err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "storetest-watchdog",
		filepath.Join(pgDir, "pgdata", "postmaster.pid"), tempDir)
	cmd.Stdin = r
	cmd.Dir = "/"
	// Its own session, so the Ctrl-C that kills the test binary spares it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start watchdog: %w", err)
	}
	watchdogPipe = w
	return nil
}
