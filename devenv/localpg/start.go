package localpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// errNotRunning reports that the server left running went away while we
// waited for it.
var errNotRunning = errors.New("server is not running")

// readyTimeout bounds the wait for a running server to accept connections.
const readyTimeout = 60 * time.Second

// retryInterval spaces out start attempts and readiness probes.
const retryInterval = 100 * time.Millisecond

// start makes sure a server runs on the data directory with our socket
// directory. A server a dead process left behind is reused when it serves
// our socket and restarted otherwise. Only the owner of Dir's lock gets here
// (Start), so a running server is one whose owner died or one of ours:
// never a live program's, which reusing and later stopping would break. A killed server leaves postmaster.pid
// and backends that take a moment to exit, so a failed start is retried
// until startTimeout.
func (c *Cluster) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var lastErr error
	for {
		lf, found, err := readLockFile(c.dataDir)
		if err != nil {
			return err
		}
		h := holderGone
		if found {
			h = lockHolder(lf.pid, c.dataDir)
		}
		switch {
		case h == holderPostmaster && lf.sockDir == c.sockDir:
			err := c.awaitReady(ctx)
			if err == nil {
				c.log.Info("reusing running server", "pid", lf.pid)
				return nil
			}
			if !errors.Is(err, errNotRunning) {
				c.log.Warn("running server is not ready, restarting it", "pid", lf.pid, "err", err)
				if err := c.stopServer(ctx); err != nil {
					return err
				}
			}
		case h == holderPostmaster:
			c.log.Info("restarting server that serves another socket directory", "pid", lf.pid, "socket_dir", lf.sockDir)
			if err := c.stopServer(ctx); err != nil {
				return err
			}
		case h == holderImpostor && dataDirInUse(c.dataDir):
			// Backends of a killed postmaster exit once they notice; starting
			// before would run two servers on one data directory.
			lastErr = fmt.Errorf("processes of the killed server (pid %d) still run in %s", lf.pid, c.dataDir)
		default:
			if h == holderImpostor {
				c.log.Warn("removing lock files of a dead server", "pid", lf.pid)
				if err := c.removeLockFiles(lf.pid); err != nil {
					return err
				}
			}
			c.log.Info("starting server", "pg_ctl", c.bin.pgCtl)
			out, err := c.run(ctx, c.bin.pgCtl, "start", "-w", "-t", seconds(readyTimeout),
				"-D", c.dataDir, "-l", c.logFile, "-o", c.serverOptions())
			if err == nil {
				return nil
			}
			lastErr = fmt.Errorf("pg_ctl start: %w: %s", err, strings.TrimSpace(string(out)))
			c.log.Debug("server did not start, retrying", "err", lastErr)
		}
		select {
		case <-ctx.Done():
			if lastErr == nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w\n%s", lastErr, c.logTail())
		case <-time.After(retryInterval):
		}
	}
}

// serverOptions are the postgres flags pg_ctl passes through /bin/sh.
func (c *Cluster) serverOptions() string {
	return strings.Join([]string{
		"-k", shellQuote(c.sockDir),
		"-p", strconv.Itoa(port),
		// Unix socket only: a system PostgreSQL may own TCP 5432.
		"-c", "listen_addresses=''",
		"-c", "fsync=on",
		"-c", "max_connections=200",
		// Authentication is trust, so only the socket's owner may connect.
		"-c", "unix_socket_permissions=0700",
	}, " ")
}

// seconds formats d for pg_ctl -t.
func seconds(d time.Duration) string { return strconv.Itoa(int(d.Seconds())) }

// shellQuote quotes s for /bin/sh, which pg_ctl runs the server through.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// awaitReady waits until the running server accepts connections, for a
// server that is still recovering after the crash of its previous owner.
func (c *Cluster) awaitReady(ctx context.Context) error {
	// Leave time in start's budget to restart a server that never gets ready.
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		err := c.ping(ctx)
		if err == nil {
			return nil
		}
		if _, live, lerr := c.livePostmaster(); lerr != nil {
			return lerr
		} else if !live {
			return errNotRunning
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server not ready: %w", err)
		case <-time.After(retryInterval):
		}
	}
}

func (c *Cluster) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// stopServer stops the server fast, and immediately (crash-like, recovered
// on the next start) if it will not stop fast.
func (c *Cluster) stopServer(ctx context.Context) error {
	out, err := c.run(ctx, c.bin.pgCtl, "stop", "-D", c.dataDir, "-m", "fast", "-w", "-t", seconds(stopTimeout))
	if err == nil {
		return nil
	}
	c.log.Warn("fast stop failed, stopping immediately", "err", err, "output", string(out))
	if out, err := c.run(ctx, c.bin.pgCtl, "stop", "-D", c.dataDir, "-m", "immediate", "-w"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, out)
	}
	return nil
}

// logTail returns the end of the server log, where the postmaster says why
// it did not start.
func (c *Cluster) logTail() string {
	b, err := os.ReadFile(c.logFile)
	if err != nil {
		return ""
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return "postgres.log: ..." + string(b)
}

// lockFile is what postmaster.pid says about the server that wrote it.
type lockFile struct {
	pid     int
	sockDir string
	status  string
}

// readLockFile reads postmaster.pid; ok is false when there is none.
func readLockFile(dataDir string) (lf lockFile, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if errors.Is(err, os.ErrNotExist) {
		return lockFile{}, false, nil
	}
	if err != nil {
		return lockFile{}, false, err
	}
	// Lines: pid, data dir, start time, port, socket dir, listen address,
	// shared memory key, status.
	lines := strings.Split(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil {
		// A postmaster killed while writing the file; it is not running.
		return lockFile{}, false, nil
	}
	lf.pid = pid
	if len(lines) > 4 {
		lf.sockDir = strings.TrimSpace(lines[4])
	}
	if len(lines) > 7 {
		lf.status = strings.TrimSpace(lines[7])
	}
	return lf, true, nil
}

// removeLockFiles removes postmaster.pid and the socket's lock file, both
// naming the dead postmaster pid, which the next postmaster cannot tell from
// a live one.
func (c *Cluster) removeLockFiles(pid int) error {
	sockLock := filepath.Join(c.sockDir, socketName()+".lock")
	if b, err := os.ReadFile(sockLock); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		if strings.TrimSpace(first) == strconv.Itoa(pid) {
			if err := os.Remove(sockLock); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove stale socket lock: %w", err)
			}
		}
	}
	if err := os.Remove(filepath.Join(c.dataDir, "postmaster.pid")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale postmaster.pid: %w", err)
	}
	return nil
}

// livePostmaster reports the postmaster running on the data directory, if
// there is one.
func (c *Cluster) livePostmaster() (lockFile, bool, error) {
	lf, ok, err := readLockFile(c.dataDir)
	if err != nil || !ok {
		return lf, false, err
	}
	return lf, lockHolder(lf.pid, c.dataDir) == holderPostmaster, nil
}
