package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/bench"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// serveMemoryTarget is the memory target of `crm serve` (the memory
// benchmark's): its peak resident set, in kB.
const serveMemoryTarget = 150e6 / 1024

// longLeadEvents is the length of the stream of the lead one tenant grew.
const longLeadEvents = 100_000

// longLeadComments is how many of its events are comments: one short of
// the bound on comments per lead, so the API adds one and refuses the next.
const longLeadComments = domain.MaxCommentsPerLead - 1

// growLead appends events to lead id, created at version 1, in large
// commits through the store until its stream holds longLeadEvents: comments
// (numbered from a million, clear of the tenant's counter), as many call
// logs as a lead may hold, and profile updates whose notes, half a
// kilobyte each, change every time.
func (s *stack) growLead(id uuid.UUID) {
	s.t.Helper()
	const perCommit = 5000
	note := func(i int) json.RawMessage {
		b, _ := json.Marshal(fmt.Sprintf("%06d %s", i, strings.Repeat("call notes ", 45)))
		return b
	}
	version := 1
	for version < longLeadEvents {
		n := min(perCommit, longLeadEvents-version)
		events := make([]eventstore.NewEvent, n)
		var reserve []eventstore.Reservation
		for i := range events {
			v := version + i + 1
			e := domain.Event{Type: domain.LeadUpdated, Data: domain.LeadUpdatedData{LeadID: id,
				Changes: []domain.FieldChange{{Field: "notes", Old: note(v - 1), New: note(v)}}}}
			if v%10 == 0 && v/10 <= longLeadComments {
				comment := int64(1_000_000 + v/10)
				e = domain.Event{Type: domain.CommentAdded, Data: domain.CommentAddedData{LeadID: id, CommentID: comment,
					Content: "Spoke to them again", Author: "test"}}
				reserve = append(reserve, eventstore.Reservation{Kind: domain.ReserveComment, Value: strconv.FormatInt(comment, 10)})
			}
			if v%10 == 5 && v/10 < domain.MaxCallLogsPerLead {
				call := uuid.New()
				e = domain.Event{Type: domain.CallLogged, Data: domain.CallLoggedData{LeadID: id, CallLogID: call,
					CallType: domain.CallOutbound, DurationSeconds: 60, Notes: "Asked for a quote", CalledAt: time.Now().UTC()}}
				reserve = append(reserve, eventstore.Reservation{Kind: domain.ReserveCallLog, Value: call.String()})
			}
			data, err := e.MarshalData()
			if err != nil {
				s.t.Fatal(err)
			}
			events[i] = eventstore.NewEvent{ID: uuid.New(), Type: e.Type, SchemaVersion: domain.SchemaVersion, Data: data}
		}
		if _, err := s.core.Store.Commit(s.ctx, eventstore.Commit{TenantID: s.tenantID, Metadata: eventstore.Metadata{Actor: "test"},
			Streams: []eventstore.StreamAppend{{StreamType: domain.LeadStream, StreamID: id, ExpectedVersion: version,
				Events: events, Reserve: reserve}}}); err != nil {
			s.t.Fatal(err)
		}
		version += n
	}
}

// serveChild is `crm serve` running as a process of its own.
type serveChild struct {
	t   testing.TB
	s   *stack
	p   *process
	url string
}

// spawnServe starts `crm serve` on a free loopback port and waits until it
// answers /healthz.
func (s *stack) spawnServe() *serveChild {
	s.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := s.spawn("serve", "CRM_ADDR="+addr, "CRM_RATE_LIMIT_KEY=off", "CRM_RATE_LIMIT_TENANT=off",
		"CRM_PHOTO_DIR="+s.t.TempDir())
	child := &serveChild{t: s.t, s: s, p: p, url: "http://" + addr}
	storetest.WaitFor(s.t, time.Minute, func() (bool, error) {
		select {
		case err := <-p.done:
			p.done <- err
			return false, fmt.Errorf("crm serve exited: %v", err)
		default:
		}
		res, err := http.Get(child.url + "/healthz")
		if err != nil {
			return false, nil
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK, nil
	})
	return child
}

// do sends one request to the child, checked against the API's OpenAPI
// document, and returns its status and body.
func (c *serveChild) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	r := c.s.doAt(c.url, http.DefaultClient, c.s.key, method, path, body, nil)
	return r.Status, r.Body
}

// want sends a request and fails the test unless it answers status.
func (c *serveChild) want(status int, method, path string, body any) []byte {
	c.t.Helper()
	got, out := c.do(method, path, body)
	if got != status {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, got, out, status)
	}
	return out
}

// peakKB is the child's peak resident set so far (VmHWM), in kB.
func (c *serveChild) peakKB() int64 {
	kb, ok := bench.ProcKB(fmt.Sprintf("/proc/%d/status", c.p.cmd.Process.Pid), "VmHWM")
	if !ok {
		c.t.Fatal("no VmHWM for crm serve")
	}
	return kb
}

// TestServeLeadOf100kEventsStaysUnderMemoryTarget grows one lead to 100,000
// events, then drives `crm serve`, as a process of its own, through
// commands on that lead (update, comment, status change, each loading the
// lead) and pages of its audit log and timeline: each succeeds, the
// comment and the call log past the bounds per lead are 422 naming
// comments and call_logs, and the child's peak resident set stays under
// the memory target.
func TestServeLeadOf100kEventsStaysUnderMemoryTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("measures a child crm serve process at 100k events")
	}
	s := newStack(t)
	h := commands.New(s.core.Store, "IN")
	lead, err := h.CreateLead(s.ctx, commands.Context{TenantID: s.tenantID, Metadata: eventstore.Metadata{Actor: "test"}},
		commands.CreateLead{Profile: domain.LeadProfile{Name: "Long Lived", Emails: []string{"long.lived@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	s.growLead(lead.LeadID)
	storetest.WaitFor(t, 3*time.Minute, func() (bool, error) {
		var n int
		err := s.core.Pool.QueryRow(s.ctx, `select count(*) from rm_leads where id = $1`, lead.LeadID).Scan(&n)
		return n == 1, err
	})

	child := s.spawnServe()
	idle := child.peakKB()
	path := fmt.Sprintf("/leads/%d", lead.Number)
	for range 2 { // the second round starts from the snapshot the first wrote
		child.want(http.StatusOK, "PUT", path, map[string]any{"firstName": "Long", "lastName": "Lived", "email": "long.lived@example.com"})
		child.want(http.StatusOK, "PUT", "/leads/change-status", map[string]any{"ids": []int64{lead.Number}, "statusId": 2})
		child.want(http.StatusOK, "PUT", "/leads/change-status", map[string]any{"ids": []int64{lead.Number}, "statusId": 3})
	}
	child.want(http.StatusCreated, "POST", fmt.Sprintf("/leads/comments/%d", lead.Number), map[string]any{"content": "The last one"})
	status, body := child.do("POST", fmt.Sprintf("/leads/comments/%d", lead.Number), map[string]any{"content": "One too many"})
	var refused struct {
		Field string `json:"field"`
	}
	if status != http.StatusUnprocessableEntity || json.Unmarshal(body, &refused) != nil || refused.Field != "comments" {
		t.Errorf("comment past the bound: %d %s, want 422 naming comments", status, body)
	}
	status, body = child.do("POST", "/api/v1/call-logs", map[string]any{"lead_id": lead.LeadID, "call_type": "Inbound", "duration_seconds": 30})
	var cratioRefusal struct {
		Error struct {
			Field string `json:"field"`
		} `json:"error"`
	}
	if status != http.StatusUnprocessableEntity || json.Unmarshal(body, &cratioRefusal) != nil || cratioRefusal.Error.Field != "call_logs" {
		t.Errorf("call log past the bound: %d %s, want 422 naming call_logs", status, body)
	}
	for _, q := range []string{"", "?page=2&limit=200", "?page=500&limit=200", "?page=1000&limit=200"} {
		var logs struct {
			Count int `json:"count"`
			Logs  []struct {
				ID int `json:"id"`
			} `json:"logs"`
		}
		if err := json.Unmarshal(child.want(http.StatusOK, "GET", fmt.Sprintf("/leads/logs/%d%s", lead.Number, q), nil), &logs); err != nil {
			t.Fatal(err)
		}
		if logs.Count < longLeadEvents || (q != "?page=1000&limit=200" && len(logs.Logs) == 0) {
			t.Fatalf("logs%s: count %d, %d entries", q, logs.Count, len(logs.Logs))
		}
	}
	for _, q := range []string{"", "?page=3&limit=200", "?page=999&limit=100"} {
		var tl struct {
			Items         []json.RawMessage `json:"logsAndComments"`
			LogsCount     int               `json:"logsCount"`
			CommentsCount int               `json:"commentsCount"`
		}
		if err := json.Unmarshal(child.want(http.StatusOK, "GET", fmt.Sprintf("/leads/logs-and-comments/%d%s", lead.Number, q), nil), &tl); err != nil {
			t.Fatal(err)
		}
		if tl.LogsCount < longLeadEvents || tl.CommentsCount != domain.MaxCommentsPerLead || len(tl.Items) == 0 {
			t.Fatalf("logs-and-comments%s: %d logs, %d comments, %d items", q, tl.LogsCount, tl.CommentsCount, len(tl.Items))
		}
	}
	peak := child.peakKB()
	t.Logf("crm serve peak RSS: %d kB after start, %d kB after the commands and log pages on a lead of %d events (target %.0f kB)",
		idle, peak, longLeadEvents, serveMemoryTarget)
	if float64(peak) > serveMemoryTarget {
		t.Fatalf("crm serve peak RSS %d kB, over the memory target of %.0f kB", peak, serveMemoryTarget)
	}
}
