package localpg_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/devenv/localpg"
)

// clusterDir returns an empty folder for a cluster. t.TempDir's parent is
// private to us; when we are root the server runs as another user, who must
// be able to enter it.
func clusterDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "pg")
}

// start starts a cluster on dir and stops it when the test ends.
func start(t *testing.T, dir string) *localpg.Cluster {
	t.Helper()
	c, err := localpg.Start(t.Context(), localpg.Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return c
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.WithoutCancel(t.Context())) })
	return conn
}

func exec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// startWithNote starts a cluster on a folder of its own whose postgres
// database holds a note table of one row, note, for wantNote to find after
// whatever the test does to the server; conn is the connection that wrote it.
func startWithNote(t *testing.T, note string) (dir string, c *localpg.Cluster, conn *pgx.Conn) {
	t.Helper()
	dir = clusterDir(t)
	c = start(t, dir)
	conn = connect(t, c.URL("postgres"))
	exec(t, conn, "CREATE TABLE note (body text)")
	exec(t, conn, "INSERT INTO note VALUES ('"+note+"')")
	return dir, c, conn
}

func wantNote(t *testing.T, url, want string) {
	t.Helper()
	conn := connect(t, url)
	var got string
	if err := conn.QueryRow(t.Context(), "SELECT body FROM note").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("note = %q, want %q", got, want)
	}
}

func postmasterPID(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "pgdata", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(first)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir, c, conn := startWithNote(t, "kept")
	conn.Close(t.Context())
	if err := c.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pgdata", "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("postmaster.pid after Stop: %v", err)
	}

	c = start(t, dir)
	wantNote(t, c.URL("postgres"), "kept")
}

func TestStartAfterKill(t *testing.T) {
	t.Parallel()
	dir, c, conn := startWithNote(t, "committed")
	conn.Close(t.Context())
	if err := syscall.Kill(postmasterPID(t, dir), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	c = start(t, dir)
	wantNote(t, c.URL("postgres"), "committed")
}

// TestStartReusesServerLeftRunning is `crm dev` killed and rerun: the
// server it started outlives it.
func TestStartReusesServerLeftRunning(t *testing.T) {
	t.Parallel()
	dir, _, _ := startWithNote(t, "shared")
	pid := postmasterPID(t, dir)

	c2 := start(t, dir)
	if got := postmasterPID(t, dir); got != pid {
		t.Errorf("postmaster pid = %d, want the running %d", got, pid)
	}
	wantNote(t, c2.URL("postgres"), "shared")
}

func TestLongDirUsesShortSocketDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(clusterDir(t), strings.Repeat("d", 100))
	c := start(t, dir)
	url := c.URL("postgres")
	if strings.Contains(url, strings.Repeat("d", 100)) {
		t.Fatalf("URL %s uses a socket path longer than a unix socket allows", url)
	}
	conn := connect(t, url)
	exec(t, conn, "SELECT 1")
}

func TestCreateDatabase(t *testing.T) {
	t.Parallel()
	c := start(t, clusterDir(t))
	for range 2 {
		if err := c.CreateDatabase(t.Context(), "crm-dev"); err != nil {
			t.Fatal(err)
		}
	}
	conn := connect(t, c.URL("crm-dev"))
	var name string
	if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "crm-dev" {
		t.Fatalf("current_database() = %q, want crm-dev", name)
	}
}

func TestStartNamesUnreachableDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs the server as another user")
	}
	t.Parallel()
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := localpg.Start(t.Context(), localpg.Options{Dir: filepath.Join(private, "pg")})
	if err == nil || !strings.Contains(err.Error(), "chmod o+x "+private) {
		t.Fatalf("Start under a private folder: err = %v, want one naming %s", err, private)
	}
}

// TestStartAfterInterruptedInitdb is a first run killed during initdb.
func TestStartAfterInterruptedInitdb(t *testing.T) {
	t.Parallel()
	dir := clusterDir(t)
	for _, d := range []string{filepath.Join(dir, "pgdata"), filepath.Join(dir, "pgdata.initdb")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "pgdata.initdb", "PG_VERSION"), []byte("15\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := start(t, dir)
	exec(t, connect(t, c.URL("postgres")), "SELECT 1")
}

// TestStartAfterPidReuse is a stale postmaster.pid whose pid now belongs to
// another program (here the test itself): Start must neither signal it nor
// wait for it.
func TestStartAfterPidReuse(t *testing.T) {
	t.Parallel()
	dir := clusterDir(t)
	c := start(t, dir)
	if err := c.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	stale := strconv.Itoa(os.Getpid()) + "\n" + filepath.Join(dir, "pgdata") + "\n1700000000\n5432\n" + dir + "\n\n  5432001  0\nready   \n"
	if err := os.WriteFile(filepath.Join(dir, "pgdata", "postmaster.pid"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".s.PGSQL.5432.lock"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	c = start(t, dir)
	exec(t, connect(t, c.URL("postgres")), "SELECT 1")
}
