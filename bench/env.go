package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/devenv/localnats"
	"github.com/crmcore/crm/devenv/localpg"
	"github.com/crmcore/crm/jwtauth"
	"github.com/crmcore/crm/stack"
	"github.com/crmcore/crm/wire"
)

// benchEnv is crm running as `crm dev` runs it, in this process, on a
// Postgres database and JetStream streams of the benchmark's own.
type benchEnv struct {
	// ctx ends when the caller's context does or a component fails; the
	// failure is its cause.
	ctx    context.Context
	fail   context.CancelCauseFunc
	logger *slog.Logger
	cfg    stack.Config

	dir       string // temporary: private Postgres, NATS store, COPY files, logs
	dbURL     string
	natsURL   string
	pgWhere   string // where Postgres comes from, for the report
	natsWhere string
	s         *stack.Stack
	nc        *nats.Conn
	js        jetstream.JetStream
	stream    wire.StreamConfig
	// baselineStream is the scratch stream of the NATS publish baseline.
	baselineStream wire.StreamConfig
	cmds           *commands.Handler
	baseURL        string
	tenantID       uuid.UUID
	apiKey         string
	// token is a JWT of the tenant with the prospects API's read
	// permission (319), signed with the bench's own HS256 secret.
	token       string
	jwtSecret   []byte
	pgVersion   string
	natsVersion string
	leads       leadSeq
	cpu         cpuMeter

	workers *stack.Workers
	closers []func(context.Context) // run in reverse order by close
}

// startBenchEnv brings crm up: a private Postgres cluster unless
// DATABASE_URL (then a scratch database on that server), embedded NATS
// unless NATS_URL, migrations, relay, projectors and the HTTP API.
func startBenchEnv(parent context.Context, cfg stack.Config, logger *slog.Logger) (_ *benchEnv, err error) {
	ctx, fail := context.WithCancelCause(parent)
	env := &benchEnv{ctx: ctx, fail: fail, logger: logger, cfg: cfg}
	env.workers = stack.NewWorkers(ctx, func(_ string, err error) { fail(err) })
	defer func() {
		if err != nil {
			env.close()
		}
	}()
	if env.dir, err = os.MkdirTemp("", "crm-bench-"); err != nil {
		return nil, err
	}
	dir := env.dir
	env.onClose(func(context.Context) { _ = os.RemoveAll(dir) })
	// Postgres runs as an unprivileged user when crm runs as root.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if err := env.startPostgres(ctx); err != nil {
		return nil, err
	}
	if err := env.startNATS(); err != nil {
		return nil, err
	}

	suffix := randomSuffix()
	env.stream = wire.StreamConfig{Name: "CRMBENCH_" + strings.ToUpper(suffix) + "_EVENTS",
		Subjects: "crmbench" + suffix + ".events", Replicas: 1, MaxAge: 24 * time.Hour}
	env.baselineStream = wire.StreamConfig{Name: "CRMBENCH_" + strings.ToUpper(suffix) + "_BASELINE",
		Subjects: "crmbench" + suffix + ".baseline", Replicas: 1, MaxAge: 24 * time.Hour}

	scfg := env.cfg
	scfg.DatabaseURL, scfg.NATSURL, scfg.Stream = env.dbURL, env.natsURL, env.stream
	scfg.PhotoDir = filepath.Join(dir, "photos")
	// A benchmark measures capacity, not the per-key and per-tenant limits.
	scfg.RateLimits = api.RateLimits{}
	// The prospects API's reads need a bearer JWT: the bench signs its
	// own with a secret of its own.
	env.jwtSecret = []byte("bench-" + randomSuffix() + randomSuffix() + randomSuffix() + randomSuffix())
	scfg.JWT = jwtauth.Settings{Secret: env.jwtSecret}
	if env.s, err = stack.Open(ctx, scfg, logger); err != nil {
		return nil, err
	}
	env.onClose(func(context.Context) { env.s.Close() })
	if err := env.s.Migrate(ctx); err != nil {
		return nil, err
	}
	if err := env.s.ConnectNATS(); err != nil {
		return nil, err
	}
	env.nc, env.js = env.s.NC, env.s.JS
	env.onClose(func(ctx context.Context) {
		for _, s := range []string{env.stream.Name, env.baselineStream.Name} {
			if err := env.js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				logger.Warn("bench: delete stream", "stream", s, "err", err)
			}
		}
	})
	env.natsVersion = env.nc.ConnectedServerVersion()
	if err := env.s.Pool.QueryRow(ctx, "show server_version").Scan(&env.pgVersion); err != nil {
		return nil, err
	}

	env.cmds = commands.New(env.s.Store, env.cfg.Region)
	env.workers.StartParts(env.s, stack.Listener, stack.Statistics, stack.Waiter, stack.Relay, stack.Projectors)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	env.baseURL = "http://" + ln.Addr().String()
	handler := env.s.Handler()
	env.workers.Start("http", func(ctx context.Context) error { return stack.ServeHTTP(ctx, ln, handler, logger) })

	if env.tenantID, err = env.s.Tenants.EnsureTenant(ctx, "bench"); err != nil {
		return nil, err
	}
	if env.apiKey, _, err = env.s.Tenants.CreateAPIKey(ctx, env.tenantID, "le_live_"); err != nil {
		return nil, err
	}
	if env.token, err = jwtauth.IssueHS256(env.jwtSecret, jwtauth.Grant{Tenant: "bench", Subject: "bench",
		Permissions: []string{"319"}, TTL: 24 * time.Hour}, time.Now()); err != nil {
		return nil, err
	}
	logger.Info("bench: crm is up", "api", env.baseURL, "postgres", env.pgWhere, "nats", env.natsWhere)
	return env, nil
}

// startPostgres starts the private cluster, or makes a scratch database on
// the server of DATABASE_URL so the benchmark neither reads nor leaves
// anything in a database of the user's.
func (env *benchEnv) startPostgres(ctx context.Context) error {
	if env.cfg.DatabaseURL == "" {
		cluster, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(env.dir, "postgres"), Logger: env.logger})
		if err != nil {
			return fmt.Errorf("start private Postgres (or set DATABASE_URL): %w", err)
		}
		env.onClose(func(ctx context.Context) {
			if err := cluster.Stop(ctx); err != nil {
				env.logger.Error("bench: stop Postgres", "err", err)
			}
		})
		if err := cluster.CreateDatabase(ctx, "crm_bench"); err != nil {
			return err
		}
		env.dbURL, env.pgWhere = cluster.URL("crm_bench"), "private cluster (localpg, defaults, fsync on)"
		env.cpu.pgData = filepath.Join(env.dir, "postgres", "pgdata")
		return nil
	}
	admin := env.cfg.DatabaseURL
	name := "crm_bench_" + randomSuffix()
	if err := execOnce(ctx, admin, "create database "+name+" template template0 encoding 'UTF8' lc_collate 'C' lc_ctype 'C'"); err != nil {
		return fmt.Errorf("create scratch database on the DATABASE_URL server (needs CREATEDB): %w", err)
	}
	env.onClose(func(ctx context.Context) {
		if err := execOnce(ctx, admin, "drop database if exists "+name+" with (force)"); err != nil {
			env.logger.Error("bench: drop scratch database", "database", name, "err", err)
		}
	})
	env.dbURL, env.pgWhere = databaseNamed(admin, name), "server of DATABASE_URL (scratch database)"
	return nil
}

func (env *benchEnv) startNATS() error {
	if env.cfg.NATSURL != "" {
		env.natsURL, env.natsWhere = env.cfg.NATSURL, "server of NATS_URL"
		return nil
	}
	ns, err := localnats.Start(localnats.Options{Dir: filepath.Join(env.dir, "nats"), Host: "127.0.0.1"})
	if err != nil {
		return fmt.Errorf("start embedded NATS (or set NATS_URL): %w", err)
	}
	env.onClose(func(context.Context) { ns.Shutdown() })
	env.natsURL, env.natsWhere = ns.URL(), "embedded (localnats)"
	return nil
}

func (env *benchEnv) onClose(f func(context.Context)) { env.closers = append(env.closers, f) }

// close stops every component and undoes the set-up, newest first; it
// works on a context of its own, since the run's may be over.
func (env *benchEnv) close() {
	env.workers.StopAll()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(env.ctx), time.Minute)
	defer cancel()
	for i := len(env.closers) - 1; i >= 0; i-- {
		env.closers[i](ctx)
	}
	env.fail(nil)
}

// stop stops a component and waits for it to return.
func (env *benchEnv) stop(name string) { env.workers.Stop(name) }

func (env *benchEnv) startRelay() { env.workers.StartParts(env.s, stack.Relay) }

func (env *benchEnv) startProjectors() { env.workers.StartParts(env.s, stack.Projectors) }

// waitProgress polls check every interval until it reports done. It gives
// up when progress (the number check returns) stalls for stall: a bound that
// holds at any scale, where a fixed deadline would not.
func waitProgress(ctx context.Context, interval, stall time.Duration, check func() (progress int64, done bool, err error)) error {
	last, lastMove := int64(-1), time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		p, done, err := check()
		if err != nil || done {
			return err
		}
		if p != last {
			last, lastMove = p, time.Now()
		} else if time.Since(lastMove) > stall {
			return fmt.Errorf("no progress for %s (stuck at %d)", stall, p)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// execOnce runs one statement on a connection of its own.
func execOnce(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// databaseNamed returns connString with its database replaced by name.
func databaseNamed(connString, name string) string {
	if u, err := url.Parse(connString); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path, u.RawPath = "/"+name, ""
		return u.String()
	}
	return connString + " dbname=" + name // keyword/value form: the last one wins
}

func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// machineLine describes where the benchmark ran: CPU, cores, memory and the
// versions of Go, Postgres and NATS.
func machineLine(env *benchEnv) string {
	cpu, mem := "unknown CPU", "unknown RAM"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if kb, ok := ProcKB("/proc/meminfo", "MemTotal"); ok {
		mem = fmt.Sprintf("%.1f GiB RAM", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%s, %d cores, %s, %s/%s; Go %s; PostgreSQL %s, %s; NATS %s, %s",
		cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, strings.TrimPrefix(runtime.Version(), "go"),
		env.pgVersion, env.pgWhere, env.natsVersion, env.natsWhere)
}

// ProcKB reads a "Name:   123 kB" line of a /proc file, in kB (the memory
// workload and the end-to-end memory test read a child's VmRSS and VmHWM).
func ProcKB(path, name string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != name {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// loadAverage is the 1-minute load average: other work on the machine
// shows in the figures, so the report says how busy it was.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
