// Package localpg runs a private PostgreSQL cluster from the machine's
// PostgreSQL binaries, for `crm dev` and for integration tests. The server
// listens on a unix socket only, so it never competes with a system
// PostgreSQL for a TCP port.
package localpg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crmcore/crm/dirlock"
)

// port names the socket file (.s.PGSQL.5432). The socket directory is
// private to the cluster, so the default port cannot collide with anything.
const port = 5432

// maxSocketPath is the longest path a unix socket can have: sun_path holds
// 108 bytes including the terminating NUL.
const maxSocketPath = 107

// startTimeout bounds how long a start waits for a server that is recovering
// or for the leftovers of a killed server to go away.
const startTimeout = 2 * time.Minute

// stopTimeout bounds a fast shutdown, which waits for a checkpoint.
const stopTimeout = time.Minute

// Options configures Start.
type Options struct {
	// Dir holds the cluster: the data directory is Dir/pgdata, the server log
	// Dir/postgres.log, and the socket lives in Dir unless that path is too
	// long for a unix socket.
	Dir string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
}

// Cluster is a running private PostgreSQL server.
type Cluster struct {
	dir     string
	dataDir string
	sockDir string
	logFile string
	bin     binaries
	owner   *account // nil when we are not root and run the server as ourselves
	log     *slog.Logger
	// lock keeps other processes from starting, reusing or stopping the
	// server while this one owns it (see Start).
	lock *dirlock.Lock
}

// lockFileName is the lock file in Dir that the owning process holds.
const lockFileName = "localpg.lock"

// Start starts the cluster in o.Dir, creating it on first use. A server left
// running from the same directory by a process that died is reused, and one
// that was killed is restarted, so `crm dev` can be killed and rerun on the
// same folder.
//
// The calling process owns the cluster until Stop: Start first takes an OS
// lock on Dir (dirlock), so while another live process owns it Start fails
// at once with a *dirlock.HeldError naming that process, and never reuses,
// restarts or stops its server. A server is reused only when its owner has
// exited (the kernel dropped its lock) or is this same process.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	if o.Dir == "" {
		return nil, errors.New("localpg: Options.Dir is empty")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("localpg: resolve %s: %w", o.Dir, err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{
		dir:     dir,
		dataDir: filepath.Join(dir, "pgdata"),
		sockDir: socketDir(dir),
		logFile: filepath.Join(dir, "postgres.log"),
		log:     log.With("component", "localpg", "dir", dir),
	}
	if err := c.makeDir(); err != nil {
		return nil, fmt.Errorf("localpg: prepare %s: %w", dir, err)
	}
	if c.lock, err = dirlock.Acquire(filepath.Join(dir, lockFileName), dirlock.Holder{PID: os.Getpid()}); err != nil {
		return nil, fmt.Errorf("localpg: %s is owned by another process: %w", dir, err)
	}
	if err := c.prepare(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("localpg: prepare %s: %w", dir, err), c.lock.Release())
	}
	if err := c.start(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("localpg: start %s: %w", dir, err), c.lock.Release())
	}
	return c, nil
}

// makeDir creates Dir, its parents traversable so the server user can
// reach it.
func (c *Cluster) makeDir() error {
	if err := os.MkdirAll(filepath.Dir(c.dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(c.dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// socketDir returns dir when a socket path in it fits in sun_path, and
// otherwise a short directory under /tmp derived from dir, so that a rerun
// on the same dir finds the socket of a server it left running.
func socketDir(dir string) string {
	if len(filepath.Join(dir, socketName())) <= maxSocketPath {
		return dir
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join("/tmp", "crm-pg-"+hex.EncodeToString(sum[:8]))
}

func socketName() string { return ".s.PGSQL." + strconv.Itoa(port) }

// prepare finds the binaries, makes the directories, and initializes the
// data directory if it holds no cluster yet.
func (c *Cluster) prepare(ctx context.Context) error {
	version, err := clusterVersion(c.dataDir)
	if err != nil {
		return err
	}
	if c.bin, err = findBinaries(ctx, version); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		if c.owner, err = serverAccount(ctx); err != nil {
			return err
		}
	}
	if err := c.makeDirs(); err != nil {
		return err
	}
	if version != "" {
		return nil
	}
	return c.initdb(ctx)
}

// initdb creates the cluster in a scratch directory and renames it into
// place, so that a run killed during initdb leaves no half-made cluster
// that the next run would take for a real one.
func (c *Cluster) initdb(ctx context.Context) error {
	if entries, err := os.ReadDir(c.dataDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s holds no cluster (no PG_VERSION) but is not empty: remove it", c.dataDir)
	}
	scratch := c.dataDir + ".initdb"
	if err := os.RemoveAll(scratch); err != nil {
		return fmt.Errorf("remove leftover %s: %w", scratch, err)
	}
	c.log.Info("initializing cluster", "initdb", c.bin.initdb)
	// Sync stays on (no --no-sync): a dev cluster's data must survive a crash.
	out, err := c.run(ctx, c.bin.initdb, "-D", scratch, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
	if err != nil {
		return fmt.Errorf("initdb: %w: %s", err, out)
	}
	if err := os.Remove(c.dataDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Rename(scratch, c.dataDir)
}

// makeDirs creates the cluster's other directories (Dir itself exists:
// makeDir) and, when the server runs as another user, hands them to that user.
func (c *Cluster) makeDirs() error {
	if c.sockDir != c.dir {
		if err := makeSocketDir(c.sockDir, c.owner); err != nil {
			return err
		}
	}
	if c.owner == nil {
		return nil
	}
	if err := c.owner.checkTraversable(c.dir); err != nil {
		return err
	}
	// pg_ctl, running as the server user, appends to the log file.
	f, err := os.OpenFile(c.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{c.dir, c.logFile} {
		if err := c.owner.chown(p); err != nil {
			return err
		}
	}
	return c.owner.chownTree(c.dataDir)
}

// makeSocketDir creates the short socket directory under /tmp. /tmp is
// shared, so a directory already there is only used if it belongs to us.
func makeSocketDir(dir string, owner *account) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok {
		return fmt.Errorf("socket directory %s is not a directory", dir)
	}
	if owner != nil {
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
		return owner.chown(dir)
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("socket directory %s belongs to uid %d, not to us", dir, st.Uid)
	}
	return nil
}

// clusterVersion returns the major version recorded in dataDir, or "" if
// dataDir holds no cluster.
func clusterVersion(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// URL returns a pgx connection string for database on the cluster's socket.
func (c *Cluster) URL(database string) string {
	q := url.Values{}
	q.Set("host", c.sockDir)
	// An explicit port keeps a PGPORT in the environment from changing the
	// socket file name.
	q.Set("port", strconv.Itoa(port))
	q.Set("sslmode", "disable")
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/" + database, RawQuery: q.Encode()}
	return u.String()
}

// CreateDatabase creates database name unless it exists.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("localpg: create database %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("localpg: create database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" {
		// duplicate_database: a concurrent caller created it first.
		return nil
	}
	if err != nil {
		return fmt.Errorf("localpg: create database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down, letting it finish a checkpoint so the next
// start needs no recovery, and gives up the process's ownership of Dir.
// Stopping a cluster that is not running is not an error.
func (c *Cluster) Stop(ctx context.Context) error {
	if err := c.stop(ctx); err != nil {
		return err
	}
	return c.lock.Release()
}

func (c *Cluster) stop(ctx context.Context) error {
	if _, ok, err := c.livePostmaster(); err != nil {
		return fmt.Errorf("localpg: stop %s: %w", c.dir, err)
	} else if !ok {
		return c.removeSocketDir()
	}
	c.log.Info("stopping server")
	if out, err := c.run(ctx, c.bin.pgCtl, "stop", "-D", c.dataDir, "-m", "fast", "-w", "-t", seconds(stopTimeout)); err != nil {
		return fmt.Errorf("localpg: stop %s: %w: %s", c.dir, err, out)
	}
	return c.removeSocketDir()
}

// Crash stops the server as a crash would (pg_ctl stop -m immediate): every
// backend exits at once, nothing is flushed or checkpointed, and the next
// start recovers from the WAL, losing the commits made with
// synchronous_commit off whose WAL was not yet written. For fault tests.
func (c *Cluster) Crash(ctx context.Context) error {
	c.log.Info("crashing server")
	if out, err := c.run(ctx, c.bin.pgCtl, "stop", "-D", c.dataDir, "-m", "immediate", "-w"); err != nil {
		return fmt.Errorf("localpg: crash %s: %w: %s", c.dir, err, out)
	}
	return c.removeSocketDir()
}

// removeSocketDir removes the short socket directory, which only exists so
// the socket path fits; Dir itself belongs to the caller.
func (c *Cluster) removeSocketDir() error {
	if c.sockDir == c.dir {
		return nil
	}
	if err := os.RemoveAll(c.sockDir); err != nil {
		return fmt.Errorf("localpg: remove socket directory: %w", err)
	}
	return nil
}
