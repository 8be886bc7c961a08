package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestIdempotencyKeyFollowsStripesRules: a retry with the same key and body
// gets the first response back (marked replayed); the same key with another
// body is refused in each API's shape; concurrent retries of one key make
// one lead.
func TestIdempotencyKeyFollowsStripesRules(t *testing.T) {
	s := newStack(t)
	key := http.Header{"Idempotency-Key": {"stripe-rules-1"}}
	first := s.doWith(s.key, "POST", "/api/v1/leads", rahul, key)
	again := s.doWith(s.key, "POST", "/api/v1/leads", rahul, key)
	if first.Status != http.StatusCreated || again.Status != http.StatusCreated || string(first.Body) != string(again.Body) ||
		again.Header.Get("Idempotent-Replayed") != "true" || again.Header.Get("X-Crm-Position") != first.Header.Get("X-Crm-Position") {
		t.Fatalf("replay: %d %s / %d %v %s", first.Status, first.Body, again.Status, again.Header, again.Body)
	}
	// The same key with another body: refused, nothing written.
	before := len(s.events())
	other := map[string]any{"name": "Someone Else", "email": "else@example.com"}
	if r := s.doWith(s.key, "POST", "/api/v1/leads", other, key); r.Status != http.StatusUnprocessableEntity || r.errorField(t) != "Idempotency-Key" {
		t.Fatalf("key reused with another body (Cratio): %d %s", r.Status, r.Body)
	}
	if r := s.doWith(s.key, "POST", "/api/crm/lead", map[string]any{"lead_name": "X", "email_id": "x@example.com"}, key); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("key reused on another endpoint (Overplane): %d %s", r.Status, r.Body)
	}
	// The Leads API's own shape, naming the header.
	s.laFails(s.doWith(s.key, "POST", "/leads", map[string]any{"firstName": "X", "email": "x@example.com"}, key),
		http.StatusUnprocessableEntity, "Idempotency-Key was already used for another request (method, path or body)", "Idempotency-Key")
	if after := len(s.events()); after != before {
		t.Fatalf("refused retries wrote %d events", after-before)
	}

	// Ten concurrent retries of one new key: one lead, every answer the
	// first response or a 409 asking to retry.
	concurrent := http.Header{"Idempotency-Key": {"stripe-rules-2"}}
	body := map[string]any{"name": "Concurrent", "email": "concurrent@example.com"}
	var wg sync.WaitGroup
	results := make([]response, 10)
	for i := range results {
		wg.Go(func() { results[i] = s.doWith(s.key, "POST", "/api/v1/leads", body, concurrent) })
	}
	wg.Wait()
	var ids = map[any]bool{}
	for _, r := range results {
		switch r.Status {
		case http.StatusCreated:
			ids[r.object(t)["id"]] = true
		case http.StatusConflict:
		default:
			t.Fatalf("concurrent retry: %d %s", r.Status, r.Body)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("concurrent retries answered %d different leads", len(ids))
	}
	if got := s.listLeads(s.key, "").Total; got != 2 {
		t.Fatalf("%d leads, want 2", got)
	}
	s.assertReplayEqual()
}

// TestPermanentDeletePurgesStoredResponses is the erasure finding:
// a lead created with an Idempotency-Key, deleted, then the create retried
// with the key answered 201 with the deleted lead's name and email,
// replayed from the stored response. The delete now purges every stored
// response and command key made from the lead (the create, a call log, a
// comment, an update); the delete's own key still replays; and the create
// retried with its purged key is a new request.
func TestPermanentDeletePurgesStoredResponses(t *testing.T) {
	s := newStack(t)
	pii := []string{"priya", "erasable", "91234", "56789", "wants a call"}
	body := map[string]any{"name": "Priya Erasable", "email": "priya.erasable@example.com", "phone": "+91 91234 56789"}
	key := func(k string) http.Header { return http.Header{"Idempotency-Key": {k}} }
	created := s.doWith(s.key, "POST", "/api/v1/leads", body, key("erase-create"))
	if created.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", created.Status, created.Body)
	}
	id := created.object(t)["id"].(string)
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/call-logs", map[string]any{"lead_id": id, "call_type": "Inbound", "duration_seconds": 5, "notes": "Priya wants a call"}},
		{"POST", "/leads/comments/1", map[string]any{"content": "Priya wants a call"}},
		{"PATCH", "/api/crm/lead/" + opIDOf(id), map[string]any{"company_name": "Erasable Ltd"}},
	} {
		if res := s.doWith(s.key, r.method, r.path, r.body, key("erase-"+r.method+r.path)); res.Status >= 300 {
			t.Fatalf("%s %s: %d %s", r.method, r.path, res.Status, res.Body)
		}
	}
	if n := s.storedMentioning(pii); n == 0 {
		t.Fatal("the stored responses do not quote the lead: the test checks nothing")
	}
	deleted := s.doWith(s.key, "DELETE", "/api/v1/leads/"+id, nil, key("erase-delete"))
	if deleted.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", deleted.Status, deleted.Body)
	}
	if n := s.storedMentioning(pii); n != 0 {
		t.Fatalf("%d stored responses or command keys still quote the deleted lead", n)
	}
	// Only the delete's own keys still name the lead (by id, nothing personal).
	if n, own := s.storedMentioning([]string{id}), s.storedMentioning([]string{"erase-delete"}); n != own {
		t.Fatalf("%d stored rows name the deleted lead, %d of them the delete's own", n, own)
	}
	again := s.doWith(s.key, "DELETE", "/api/v1/leads/"+id, nil, key("erase-delete"))
	if again.Status != http.StatusOK || again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(deleted.Body) {
		t.Fatalf("the delete's retry: %d %v %s", again.Status, again.Header, again.Body)
	}
	retried := s.doWith(s.key, "POST", "/api/v1/leads", body, key("erase-create"))
	if retried.Status != http.StatusCreated || retried.Header.Get("Idempotent-Replayed") != "" || retried.object(t)["id"] == id {
		t.Fatalf("the create retried with its purged key: %d %v %s", retried.Status, retried.Header, retried.Body)
	}
	s.assertReplayEqual()
}

// storedMentioning counts the rows of http_idempotency and idempotency of
// the stack's tenant that mention any of words (case-insensitive): in a
// key, a stored body or a command result.
func (s *stack) storedMentioning(words []string) int {
	s.t.Helper()
	rows, err := s.core.Pool.Query(s.ctx, `
		select key || ' ' || coalesce(convert_from(body, 'UTF8'), '') from http_idempotency where tenant_id = $1
		union all
		select key || ' ' || result::text from idempotency where tenant_id = $1`, s.tenantID)
	if err != nil {
		s.t.Fatal(err)
	}
	texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for _, text := range texts {
		for _, w := range words {
			if strings.Contains(strings.ToLower(text), strings.ToLower(w)) {
				n++
				break
			}
		}
	}
	return n
}
