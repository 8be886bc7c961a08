package localpg_test

import (
	"context"
	"errors"
	"os"
	osexec "os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmcore/crm/devenv/localpg"
	"github.com/crmcore/crm/dirlock"
)

// startEnv makes the test binary, run again as a child, Start a cluster on
// the folder it names, Stop it if that worked, and print the outcome.
const startEnv = "LOCALPG_TEST_START"

func TestMain(m *testing.M) {
	if dir := os.Getenv(startEnv); dir != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, err := localpg.Start(ctx, localpg.Options{Dir: dir})
		var held *dirlock.HeldError
		switch {
		case errors.As(err, &held):
			os.Stdout.WriteString("refused: " + err.Error())
		case err != nil:
			os.Stdout.WriteString("error: " + err.Error())
		default:
			os.Stdout.WriteString("started")
			_ = c.Stop(ctx)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestStartRefusesClusterOwnedByAnotherProcess is a second program starting
// on the folder of a running one: it must be refused at once and leave the
// server alone. (It used to reuse the running server and stop it on its
// way out, under the first program.)
func TestStartRefusesClusterOwnedByAnotherProcess(t *testing.T) {
	t.Parallel()
	dir := clusterDir(t)
	c := start(t, dir)
	pid := postmasterPID(t, dir)

	cmd := osexec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), startEnv+"="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if !strings.HasPrefix(string(out), "refused: ") || !strings.Contains(string(out), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second process on the folder: %q, want refused naming pid %d", out, os.Getpid())
	}
	if got := postmasterPID(t, dir); got != pid {
		t.Fatalf("postmaster pid = %d after the second process, want %d", got, pid)
	}
	exec(t, connect(t, c.URL("postgres")), "SELECT 1")
}
