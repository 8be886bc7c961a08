package e2e

// The load generator and the checks shared by the fault-injection tests
// (faults_test.go): clients write through the HTTP API at a steady rate and
// record every answer; after a fault the checks say whether anything
// acknowledged was lost, anything refused was half written, any event was
// published or applied twice, and whether every read model still equals a
// rebuild from the event store.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/eventstore/relay"
	"github.com/crmcore/crm/projections"
	crmstack "github.com/crmcore/crm/stack"
	"github.com/crmcore/crm/wire"
)

// loadTarget is where the load goes: a crm HTTP server and an API key.
type loadTarget struct{ url, key string }

// loadConfig shapes the load.
type loadConfig struct {
	clients   int           // concurrent clients
	interval  time.Duration // between two requests of one client (a steady rate, not a spin)
	max       int           // requests in all, whatever happens
	callEvery int           // every n-th request of a client logs a call on one of its leads
	timeout   time.Duration // per request
}

var defaultLoad = loadConfig{clients: 4, interval: 15 * time.Millisecond, max: 30000, callEvery: 3, timeout: 15 * time.Second}

// answer is what one write got back. Status 0 means no HTTP answer at all
// (connection refused or cut: the server was killed).
type answer struct {
	kind        string // "lead" or "call"
	token       string // the lead's email, or the call log's notes: unique per request
	leadID      string // the call log's lead
	status      int
	id          string // the created object's id, on 2xx
	retryAfter  string
	consistency string // X-Crm-Consistency
	body        string // on non-2xx
	err         string // transport error
	sent, at    time.Time
}

func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// loadGen runs N clients POSTing Cratio leads (unique emails) and call logs
// on the leads they created, recording every answer.
type loadGen struct {
	t      testing.TB
	cfg    loadConfig
	tag    string
	target atomic.Pointer[loadTarget]
	client *http.Client
	seq    atomic.Int64 // requests sent so far (also makes tokens unique)

	mu      sync.Mutex
	answers []answer
	leads   map[string]string // acknowledged lead id -> email
	calls   map[string]string // acknowledged call log id -> lead id
	acked   int

	stop chan struct{}
	wg   sync.WaitGroup
}

func newLoad(t testing.TB, tag string, cfg loadConfig, target loadTarget) *loadGen {
	g := &loadGen{t: t, cfg: cfg, tag: tag, leads: map[string]string{}, calls: map[string]string{},
		client: &http.Client{Timeout: cfg.timeout, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.clients * 2}}}
	g.target.Store(&target)
	t.Cleanup(g.halt)
	return g
}

// retarget sends the next requests elsewhere (crm dev restarted on another port).
func (g *loadGen) retarget(target loadTarget) {
	g.target.Store(&target)
	g.client.CloseIdleConnections()
}

// start runs the clients until halt (or until max requests were sent).
func (g *loadGen) start() {
	g.stop = make(chan struct{})
	for c := range g.cfg.clients {
		g.wg.Add(1)
		go g.run(c, g.stop)
	}
}

// halt stops the clients and waits for their last answers.
func (g *loadGen) halt() {
	if g.stop == nil {
		return
	}
	close(g.stop)
	g.wg.Wait()
	g.stop = nil
}

func (g *loadGen) run(client int, stop <-chan struct{}) {
	defer g.wg.Done()
	tick := time.NewTicker(g.cfg.interval)
	defer tick.Stop()
	var mine []string // leads this client created
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		n := g.seq.Add(1)
		if n > int64(g.cfg.max) {
			return
		}
		var a answer
		if i%g.cfg.callEvery == g.cfg.callEvery-1 && len(mine) > 0 {
			lead := mine[rand.IntN(len(mine))]
			a = answer{kind: "call", leadID: lead, token: fmt.Sprintf("call %s.%d", g.tag, n)}
			a = g.post("/api/v1/call-logs", map[string]any{"lead_id": lead, "call_type": []string{"Inbound", "Outbound"}[n%2],
				"duration_seconds": n % 600, "outcome": "Completed", "notes": a.token}, a)
		} else {
			a = answer{kind: "lead", token: fmt.Sprintf("%s.%d@load.example.com", g.tag, n)}
			a = g.post("/api/v1/leads", map[string]any{"name": fmt.Sprintf("Load %s %d", g.tag, n), "email": a.token,
				"source": "load", "priority": "Medium"}, a)
			if a.ok() {
				mine = append(mine, a.id)
			}
		}
		g.record(a)
	}
}

func (g *loadGen) post(path string, body map[string]any, a answer) answer {
	target := g.target.Load()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", target.url+path, bytes.NewReader(b))
	if err != nil {
		a.err = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+target.key)
	a.sent = time.Now()
	res, err := g.client.Do(req)
	a.at = time.Now()
	if err != nil {
		a.err = err.Error()
		return a
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	a.at = time.Now()
	if err != nil {
		// Answered, but cut before the end of the body: not an acknowledgement.
		a.err = "read body: " + err.Error()
		return a
	}
	a.status = res.StatusCode
	a.retryAfter = res.Header.Get("Retry-After")
	a.consistency = res.Header.Get("X-Crm-Consistency")
	if a.ok() {
		var obj struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(out, &obj); err != nil || obj.ID == "" {
			a.status, a.body = 0, "2xx without an id: "+string(out)
		}
		a.id = obj.ID
	} else {
		a.body = string(out)
	}
	return a
}

func (g *loadGen) record(a answer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answers = append(g.answers, a)
	if !a.ok() {
		return
	}
	g.acked++
	if a.kind == "lead" {
		g.leads[a.id] = a.token
	} else {
		g.calls[a.id] = a.leadID
	}
}

// ackedCount is the number of 2xx answers so far.
func (g *loadGen) ackedCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.acked
}

// waitAcked waits until n more writes than now have been acknowledged.
func (g *loadGen) waitAcked(n int, timeout time.Duration) {
	g.t.Helper()
	want := g.ackedCount() + n
	storetest.WaitFor(g.t, timeout, func() (bool, error) { return g.ackedCount() >= want, nil })
}

// all returns a copy of every answer so far.
func (g *loadGen) all() []answer {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]answer(nil), g.answers...)
}

// tally counts answers by status ("201", "503", "no answer").
func tally(answers []answer) string {
	counts := map[string]int{}
	var keys []string
	for _, a := range answers {
		k := fmt.Sprint(a.status)
		if a.status == 0 {
			k = "no answer"
		}
		if counts[k] == 0 {
			keys = append(keys, k)
		}
		counts[k]++
	}
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %d", k, counts[k])
	}
	return b.String()
}

// assertNo500 fails the test for any answer that is a 5xx other than 503
// with Retry-After: a fault is never an internal error.
func assertNo500(t testing.TB, answers []answer) {
	t.Helper()
	bad := 0
	for _, a := range answers {
		if a.status >= 500 && (a.status != http.StatusServiceUnavailable || a.retryAfter == "") {
			if bad < 5 {
				t.Errorf("%s write answered %d (Retry-After %q): %s", a.kind, a.status, a.retryAfter, a.body)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d answers were a 5xx other than 503 with Retry-After", bad)
	}
}

// lostAcknowledged lists every lead and call log through the API (a range
// of dates wide enough for all, pages of 500) and returns how many
// acknowledged writes it does not show. The load must be halted.
func (g *loadGen) lostAcknowledged(t testing.TB) int {
	t.Helper()
	target := g.target.Load()
	leads := listAll(t, g.client, *target, "/api/v1/leads")
	calls := listAll(t, g.client, *target, "/api/v1/call-logs")
	g.mu.Lock()
	defer g.mu.Unlock()
	lost := 0
	for id, email := range g.leads {
		got, ok := leads[id]
		if !ok {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged lead %s (%s) is missing", id, email)
			}
			continue
		}
		if e, _ := got["email"].(string); e != email {
			t.Errorf("lead %s shows email %q, want %q", id, e, email)
		}
	}
	for id, lead := range g.calls {
		got, ok := calls[id]
		if !ok {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged call log %s (lead %s) is missing", id, lead)
			}
			continue
		}
		if l, _ := got["lead_id"].(string); l != lead {
			t.Errorf("call log %s shows lead %q, want %q", id, l, lead)
		}
	}
	return lost
}

// listAll pages through a Cratio list endpoint and returns its objects by id.
func listAll(t testing.TB, client *http.Client, target loadTarget, path string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for offset := 0; ; offset += 500 {
		url := fmt.Sprintf("%s%s?from_date=2000-01-01&to_date=2999-12-31&limit=500&offset=%d", target.url, path, offset)
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+target.key)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v %s", url, res.StatusCode, err, body)
		}
		var page struct {
			Data    []map[string]any `json:"data"`
			Total   int              `json:"total"`
			HasMore bool             `json:"has_more"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		for _, o := range page.Data {
			id, _ := o["id"].(string)
			if _, dup := out[id]; dup {
				t.Errorf("%s lists %s twice", path, id)
			}
			out[id] = o
		}
		if !page.HasMore {
			if len(out) != page.Total {
				t.Errorf("%s: %d objects listed, total says %d", path, len(out), page.Total)
			}
			return out
		}
		if offset > 1_000_000 {
			t.Fatalf("%s: more than a million objects", path)
		}
	}
}

// partialWrites checks the event store against the answers: every stream's
// version matches its events, every reservation belongs to a stream that
// exists, every acknowledged write is in the store exactly once, and every
// write that was refused or never answered is either entirely there (it
// committed before the failure: an unacknowledged write) or entirely absent.
// It returns the number of half-written or duplicated writes, and how many
// unanswered or refused writes committed anyway.
func partialWrites(t testing.TB, ctx context.Context, c *crmstack.Stack, answers []answer) (partial, committedUnacked int) {
	t.Helper()
	var broken int
	if err := c.Pool.QueryRow(ctx, `select
		(select count(*) from streams s where s.version <> coalesce((select max(stream_version) from events e where e.stream_id = s.stream_id), 0)
		                                 or s.version <> (select count(*) from events e where e.stream_id = s.stream_id)) +
		(select count(*) from (select distinct stream_id from events) e where not exists (select 1 from streams s where s.stream_id = e.stream_id)) +
		(select count(*) from reservations r where not exists (select 1 from events e where e.stream_id = r.stream_id))`).Scan(&broken); err != nil {
		t.Fatal(err)
	}
	if broken > 0 {
		t.Errorf("%d streams or reservations disagree with the events", broken)
		partial += broken
	}
	// What the store holds for each request token.
	type held struct{ events, reserved, rows int }
	leads := map[string]*held{}
	rows, err := c.Pool.Query(ctx, `select e.email, e.n,
			(select count(*) from reservations r where r.kind = $1 and r.value = e.email),
			(select count(*) from rm_leads l where e.email = any(l.emails))
		from (select em as email, count(*) as n from events, jsonb_array_elements_text(data->'profile'->'emails') em
		      where event_type = $2 and em like '%@load.example.com' group by em) e`, domain.ReserveEmail, domain.LeadCreated)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var email string
		var h held
		if err := rows.Scan(&email, &h.events, &h.reserved, &h.rows); err != nil {
			t.Fatal(err)
		}
		leads[email] = &h
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]*held{}
	rows, err = c.Pool.Query(ctx, `select e.notes, e.n,
			(select count(*) from reservations r where r.kind = $1 and r.value = any(e.ids)),
			(select count(*) from rm_call_logs l where l.notes = e.notes)
		from (select data->>'notes' as notes, count(*) as n, array_agg(data->>'call_log_id') as ids from events
		      where event_type = $2 and data->>'notes' like 'call %' group by 1) e`, domain.ReserveCallLog, domain.CallLogged)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var notes string
		var h held
		if err := rows.Scan(&notes, &h.events, &h.reserved, &h.rows); err != nil {
			t.Fatal(err)
		}
		calls[notes] = &h
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, a := range answers {
		h := leads[a.token]
		if a.kind == "call" {
			h = calls[a.token]
		}
		if h == nil {
			h = &held{}
		}
		whole := h.events == 1 && h.reserved == 1 && h.rows == 1
		switch {
		case a.ok() && !whole:
			partial++
			if partial <= 5 {
				t.Errorf("acknowledged %s %q: %d events, %d reservations, %d read-model rows; want one each", a.kind, a.token, h.events, h.reserved, h.rows)
			}
		case !a.ok() && whole:
			committedUnacked++
		case !a.ok() && *h != held{}:
			partial++
			if partial <= 5 {
				t.Errorf("%s %q answered %d %s: half written (%d events, %d reservations, %d read-model rows)",
					a.kind, a.token, a.status, a.err, h.events, h.reserved, h.rows)
			}
		}
	}
	return partial, committedUnacked
}

// coreCaughtUp waits until every projection has applied every committed
// event (the check of stack.caughtUp, for any core).
func coreCaughtUp(t testing.TB, ctx context.Context, c *crmstack.Stack) {
	t.Helper()
	storetest.WaitFor(t, 60*time.Second, func() (bool, error) {
		cps, err := c.Store.Checkpoints(ctx)
		if err != nil {
			return false, err
		}
		for _, p := range crmstack.Projections() {
			cp := cps[p.Name()]
			var behind int
			if err := c.Pool.QueryRow(ctx, `select count(*) from events
				where (transaction_id, position) > ($1::text::xid8, $2)`, fmt.Sprint(cp.Tx), cp.Pos).Scan(&behind); err != nil {
				return false, err
			}
			if behind > 0 {
				return false, nil
			}
		}
		return true, nil
	})
}

// divergedReadModels waits for the projectors to catch up, rebuilds every
// read model from the event store beside the live one, and returns how many
// read models differ from their rebuild (0 is the only good answer).
func divergedReadModels(t testing.TB, ctx context.Context, c *crmstack.Stack) int {
	t.Helper()
	coreCaughtUp(t, ctx, c)
	diverged := 0
	for _, p := range crmstack.Projections() {
		diffs, err := projections.Verify(ctx, c.Store, p)
		if err != nil {
			t.Fatal(err)
		}
		bad := false
		for table, n := range diffs {
			if n != 0 {
				t.Errorf("read model %s: %d rows differ from a rebuild from the event store", table, n)
				bad = true
			}
		}
		if bad {
			diverged++
		}
	}
	return diverged
}

// storedEvents returns every committed event in commit order.
func storedEvents(t testing.TB, ctx context.Context, c *crmstack.Stack) []eventstore.Event {
	t.Helper()
	return storetest.Committed(t, c.Store, 30*time.Second)
}

// waitRelayed waits until the relay's checkpoint covers the last event.
func waitRelayed(t testing.TB, ctx context.Context, c *crmstack.Stack, stored []eventstore.Event) {
	t.Helper()
	if len(stored) == 0 {
		return
	}
	storetest.WaitFor(t, 60*time.Second, func() (bool, error) {
		cp, err := eventstore.LoadCheckpoint(ctx, c.Pool, relay.CheckpointName, false)
		return !cp.Less(stored[len(stored)-1].Position), err
	})
}

// streamCheck compares a JetStream stream with the store's events.
type streamCheck struct {
	messages   int // in the stream
	duplicates int // events published more than once
	missing    int // stored events not in the stream (only counted when complete)
	misplaced  int // messages out of commit order
}

func (c streamCheck) bad() int { return c.duplicates + c.missing + c.misplaced }

func (c streamCheck) String() string {
	return fmt.Sprintf("%d messages, %d duplicates, %d missing, %d out of order", c.messages, c.duplicates, c.missing, c.misplaced)
}

// compareStream reads every message of the stream. With complete, the stream
// must hold every stored event exactly once, in commit order; without (the
// relay may not have caught up), it must be a prefix of the store.
func compareStream(t testing.TB, ctx context.Context, js jetstream.JetStream, name string, stored []eventstore.Event, complete bool) streamCheck {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	str, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var check streamCheck
	seen := map[string]bool{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := str.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		e, _, err := wire.Decode(m.Data, m.Header)
		if err != nil {
			t.Fatal(err)
		}
		i := check.messages
		check.messages++
		if seen[e.ID.String()] {
			check.duplicates++
			continue
		}
		seen[e.ID.String()] = true
		if i >= len(stored) || stored[i].ID != e.ID || stored[i].Position != e.Position {
			check.misplaced++
		}
	}
	if complete {
		check.missing = len(stored) - len(seen)
	}
	return check
}

// figures is the one line each fault test logs, which RELIABILITY.md collects.
type figures struct {
	fault                        string
	injected, acknowledged       int
	lost, diverged, partial      int
	duplicates, committedUnacked int
	extra                        string
}

// audit checks a stack after a fault under gen's load: every acknowledged
// write present, read models equal to a rebuild, no partial write, and the
// JetStream stream holding the store's events once each, in order. It
// returns the figures (extra left for the caller) and the stream check.
func audit(t testing.TB, s *stack, gen *loadGen, answers []answer, fault string, injected int) (figures, streamCheck) {
	t.Helper()
	f := figures{fault: fault, injected: injected, acknowledged: gen.ackedCount()}
	f.diverged = divergedReadModels(t, s.ctx, s.core) // waits for the read models to catch up
	f.lost = gen.lostAcknowledged(t)
	f.partial, f.committedUnacked = partialWrites(t, s.ctx, s.core, answers)
	stored := storedEvents(t, s.ctx, s.core)
	waitRelayed(t, s.ctx, s.core, stored)
	check := compareStream(t, s.ctx, s.js, s.stream.Name, stored, true)
	if check.bad() > 0 {
		t.Errorf("%s: stream afterwards: %s", fault, check)
	}
	f.duplicates = check.duplicates
	return f, check
}

func (f figures) log(t testing.TB) {
	t.Helper()
	t.Logf("FAULT-FIGURES fault=%q injected=%d acknowledged=%d lost=%d diverged=%d partial=%d duplicated=%d unacknowledged_committed=%d %s",
		f.fault, f.injected, f.acknowledged, f.lost, f.diverged, f.partial, f.duplicates, f.committedUnacked, f.extra)
	if f.lost != 0 || f.diverged != 0 || f.partial != 0 || f.duplicates != 0 {
		t.Errorf("%s: %d acknowledged writes lost, %d read models diverged, %d partial writes, %d duplicated events; want 0 each",
			f.fault, f.lost, f.diverged, f.partial, f.duplicates)
	}
}
