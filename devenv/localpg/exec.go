package localpg

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// run runs a PostgreSQL program as the server's user and returns its
// combined output.
func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	// The server user may not be able to enter our working directory.
	cmd.Dir = c.dir
	cmd.Env = childEnv()
	if c.owner != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.owner.credential()}
	}
	// pg_ctl start hands the server its own log file, so nothing should hold
	// our pipes after pg_ctl exits; bound the wait in case something does.
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// childEnv is our environment without PG* variables, which would otherwise
// redirect pg_ctl and the server (PGDATA, PGPORT, PGHOST, ...).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}
