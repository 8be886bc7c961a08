package dirlock_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/crmcore/crm/dirlock"
)

// helperEnv makes the test binary, run again as a child, try the lock at
// the path it names and print what happened: another process.
const helperEnv = "DIRLOCK_TEST_TRY"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		_, err := dirlock.Acquire(path, dirlock.Holder{PID: os.Getpid(), Addr: "child"})
		var held *dirlock.HeldError
		switch {
		case errors.As(err, &held):
			os.Stdout.WriteString("held " + strconv.Itoa(held.Holder.PID) + " " + held.Holder.Addr)
		case err != nil:
			os.Stdout.WriteString("error " + err.Error())
		default:
			os.Stdout.WriteString("acquired")
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tryFromChild runs the lock attempt in another process.
func tryFromChild(t *testing.T, path string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestAnotherProcessIsRefusedAndToldTheHolder: while held, another process
// is refused at once with the holder's pid and address; once released, it
// gets the lock.
func TestAnotherProcessIsRefusedAndToldTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crm.lock")
	l, err := dirlock.Acquire(path, dirlock.Holder{PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tryFromChild(t, path), "held "+strconv.Itoa(os.Getpid()); got != want {
		t.Fatalf("child while held: %q, want %q", got, want)
	}
	if err := l.Update(dirlock.Holder{PID: os.Getpid(), Addr: "127.0.0.1:8080"}); err != nil {
		t.Fatal(err)
	}
	if got, want := tryFromChild(t, path), "held "+strconv.Itoa(os.Getpid())+" 127.0.0.1:8080"; got != want {
		t.Fatalf("child after Update: %q, want %q", got, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if got := tryFromChild(t, path); got != "acquired" {
		t.Fatalf("child after Release: %q", got)
	}
}

// TestSharedWithinProcess: parts of one process may take the lock again;
// it is held until the last of them releases it.
func TestSharedWithinProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crm.lock")
	a, err := dirlock.Acquire(path, dirlock.Holder{PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := dirlock.Acquire(path, dirlock.Holder{PID: os.Getpid()})
	if err != nil {
		t.Fatalf("second Acquire in the same process: %v", err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(); err != nil { // twice: no effect
		t.Fatal(err)
	}
	if got := tryFromChild(t, path); !strings.HasPrefix(got, "held ") {
		t.Fatalf("child while b still holds: %q", got)
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	if got := tryFromChild(t, path); got != "acquired" {
		t.Fatalf("child after the last Release: %q", got)
	}
}
