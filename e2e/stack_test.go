package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
	crmstack "github.com/crmcore/crm/stack"
	"github.com/crmcore/crm/wire"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// stack is crm running in-process against a fresh database and its own
// JetStream stream: real Postgres, real NATS, real HTTP.
type stack struct {
	t        testing.TB
	ctx      context.Context
	core     *crmstack.Stack
	dbURL    string
	natsURL  string
	stream   wire.StreamConfig
	nc       *nats.Conn
	js       jetstream.JetStream
	srv      *httptest.Server
	tenantID uuid.UUID
	key      string
	oas      *openAPIChecker
	workers  *crmstack.Workers
}

// stackConfig is what stack options change.
type stackConfig struct {
	dbURL      string
	logger     *slog.Logger
	natsURL    string
	deps       []func(*api.Deps)
	rateLimits api.RateLimits
}

// stackOption changes how newStack builds the stack.
type stackOption func(*stackConfig)

// withWaitTimeout bounds how long writes wait for the read models.
func withWaitTimeout(d time.Duration) stackOption {
	return func(c *stackConfig) {
		c.deps = append(c.deps, func(deps *api.Deps) { deps.WaitTimeout = d })
	}
}

// withDatabase runs the stack on a database of the test's own (one on a
// Postgres cluster the test may stop and start).
func withDatabase(url string) stackOption {
	return func(c *stackConfig) { c.dbURL = url }
}

// withLogger sends crm's logs to logger.
func withLogger(l *slog.Logger) stackOption {
	return func(c *stackConfig) { c.logger = l }
}

// withRateLimits turns rate limiting on.
func withRateLimits(l api.RateLimits) stackOption {
	return func(c *stackConfig) { c.rateLimits = l }
}

// withNATS uses a NATS server of the test's own, which it may stop.
func withNATS(url string) stackOption {
	return func(c *stackConfig) { c.natsURL = url }
}

func newStack(t testing.TB, opts ...stackOption) *stack {
	t.Helper()
	opt := stackConfig{}
	for _, o := range opts {
		o(&opt)
	}
	if opt.natsURL == "" {
		opt.natsURL = storetest.NATS(t)
	}
	if opt.dbURL == "" {
		opt.dbURL = storetest.Postgres(t)
	}
	// The environment as crm reads it (a test may set a CRM_ variable),
	// on the test's own database, stream and photo folder.
	cfg, err := crmstack.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	prefix := storetest.Prefix(t)
	cfg.DatabaseURL, cfg.NATSURL, cfg.Region, cfg.PhotoDir = opt.dbURL, opt.natsURL, "IN", t.TempDir()
	cfg.Stream = wire.StreamConfig{Name: strings.ToUpper(prefix) + "_EVENTS", Subjects: prefix + ".events", Replicas: 1, MaxAge: time.Hour}
	cfg.RelayBatch, cfg.ProjectorBatch, cfg.RelayReaders = 0, 0, 0
	cfg.RateLimits = opt.rateLimits // off unless a test asks: tests send bursts on purpose
	if !cfg.JWT.Enabled() {
		cfg.JWT.Secret = []byte(e2eJWTSecret) // the prospects API's tokens (prospects_test.go)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &stack{t: t, ctx: ctx, dbURL: cfg.DatabaseURL, natsURL: cfg.NATSURL, stream: cfg.Stream}
	s.workers = crmstack.NewWorkers(ctx, func(_ string, err error) { t.Errorf("%v", err) })
	logger := opt.logger
	if logger == nil {
		logger = storetest.Logger()
	}
	c, err := crmstack.Open(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	s.core = c
	if err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.ConnectNATS(); err != nil {
		t.Fatal(err)
	}
	s.nc, s.js = c.NC, c.JS
	s.workers.StartParts(c, crmstack.Listener, crmstack.Waiter, crmstack.Relay, crmstack.Projectors)
	s.srv = httptest.NewServer(c.Handler(opt.deps...))
	s.tenantID, s.key = s.newTenant("acme")
	s.oas = newOpenAPIChecker(t)
	t.Cleanup(func() {
		s.srv.Close()
		s.workers.StopAll()
		cancel()
		c.Close()
	})
	return s
}

func (s *stack) stop(name string) { s.workers.Stop(name) }

func (s *stack) startRelay() { s.workers.StartParts(s.core, crmstack.Relay) }

func (s *stack) startProjectors() { s.workers.StartParts(s.core, crmstack.Projectors) }

// newTenant creates a tenant with an API key.
func (s *stack) newTenant(name string) (uuid.UUID, string) {
	s.t.Helper()
	id, err := s.core.Tenants.EnsureTenant(s.ctx, name)
	if err != nil {
		s.t.Fatal(err)
	}
	key, _, err := s.core.Tenants.CreateAPIKey(s.ctx, id, "le_live_")
	if err != nil {
		s.t.Fatal(err)
	}
	return id, key
}

// response is an HTTP answer, checked against the API's OpenAPI document.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// object decodes the body as a JSON object.
func (r response) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	return m
}

// errorField is the field named by a Cratio error body.
func (r response) errorField(t testing.TB) string {
	t.Helper()
	m := r.object(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("not an error body: %s", r.Body)
	}
	f, _ := e["field"].(string)
	return f
}

// do sends a request with the key (empty: none) and a body (string: raw;
// otherwise JSON-encoded) and validates the response against the OpenAPI
// document of the API it went to.
func (s *stack) do(key, method, path string, body any) response {
	s.t.Helper()
	return s.doWith(key, method, path, body, nil)
}

// doWith is do with extra request headers.
func (s *stack) doWith(key, method, path string, body any, header http.Header) response {
	s.t.Helper()
	return s.doAt(s.srv.URL, s.srv.Client(), key, method, path, body, header)
}

// doAt is doWith to the server at baseURL (another crm process) through client.
func (s *stack) doAt(baseURL string, client *http.Client, key, method, path string, body any, header http.Header) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(s.ctx, method, baseURL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	r := response{Status: res.StatusCode, Header: res.Header, Body: out}
	s.oas.check(s.t, req, r)
	return r
}

// caughtUp waits until every projection has applied every committed event.
// (Head would not do: it stops at the oldest transaction still open on the
// whole Postgres cluster, and another package's test may hold one.)
func (s *stack) caughtUp() {
	s.t.Helper()
	// Fails once the projectors have made no progress for 20 s (or after
	// 3 min in all): a large backlog on a busy machine takes longer than a
	// fixed bound, a stuck projector does not.
	const stall, bound = 20 * time.Second, 3 * time.Minute
	start, last, lastBehind := time.Now(), time.Now(), -1
	for {
		behind, err := s.eventsBehind()
		if err != nil {
			s.t.Fatal(err)
		}
		if behind == 0 {
			return
		}
		if lastBehind < 0 || behind < lastBehind {
			last, lastBehind = time.Now(), behind
		}
		if time.Since(last) > stall || time.Since(start) > bound {
			s.t.Fatalf("projectors not caught up: %d events behind, no progress for %s", behind, time.Since(last).Round(time.Second))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventsBehind is how many events the projectors have yet to apply, summed
// over the read models.
func (s *stack) eventsBehind() (int, error) {
	cps, err := s.core.Store.Checkpoints(s.ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, p := range crmstack.Projections() {
		cp := cps[p.Name()]
		var behind int
		if err := s.core.Pool.QueryRow(s.ctx, `select count(*) from events
			where (transaction_id, position) > ($1::text::xid8, $2)`, fmt.Sprint(cp.Tx), cp.Pos).Scan(&behind); err != nil {
			return 0, err
		}
		total += behind
	}
	return total, nil
}

// assertReplayEqual checks that every read model equals a rebuild from the
// event store, row for row.
func (s *stack) assertReplayEqual() {
	s.t.Helper()
	s.caughtUp()
	for _, p := range crmstack.Projections() {
		diffs, err := projections.Verify(s.ctx, s.core.Store, p)
		if err != nil {
			s.t.Fatal(err)
		}
		for table, n := range diffs {
			if n != 0 {
				s.t.Errorf("read model %s: %d rows differ from a replay of the event store", table, n)
			}
		}
	}
}

// events returns every committed event, in commit order, waiting until
// ReadAll shows them all (see caughtUp).
func (s *stack) events() []eventstore.Event {
	s.t.Helper()
	var committed int
	if err := s.core.Pool.QueryRow(s.ctx, `select count(*) from events`).Scan(&committed); err != nil {
		s.t.Fatal(err)
	}
	var all []eventstore.Event
	storetest.WaitFor(s.t, 20*time.Second, func() (bool, error) {
		all = all[:0]
		var cursor eventstore.Position
		for {
			batch, err := s.core.Store.ReadAll(s.ctx, cursor, 1000)
			if err != nil {
				return false, err
			}
			if len(batch) == 0 {
				return len(all) >= committed, nil
			}
			all = append(all, batch...)
			cursor = batch[len(batch)-1].Position
		}
	})
	return all
}

// expect sends a request as do does, fails the test unless it is answered
// with status want, and decodes the body as T.
func expect[T any](s *stack, want int, key, method, path string, body any) T {
	s.t.Helper()
	r := s.do(key, method, path, body)
	if r.Status != want {
		s.t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
	}
	var v T
	r.json(s.t, &v)
	return v
}
