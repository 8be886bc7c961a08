package requestlog_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/requestlog"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// newLog returns a store on a fresh, migrated database, wired as stack does
// (Purge among its erasers), and the request log over it.
func newLog(t *testing.T) (*eventstore.Store, *requestlog.Log) {
	t.Helper()
	s := eventstore.New(storetest.MigratedPool(t), requestlog.Purge)
	return s, requestlog.New(s)
}

// appendTo is a commit of one event of typ to a lead stream of tenant.
func appendTo(tenant, stream uuid.UUID, expected int, typ string) eventstore.Commit {
	return eventstore.Commit{TenantID: tenant, Streams: []eventstore.StreamAppend{{StreamType: "lead", StreamID: stream,
		ExpectedVersion: expected, Events: []eventstore.NewEvent{{Type: typ, SchemaVersion: 1, Data: []byte(`{}`)}}}}}
}

// claim claims key for fingerprint fp and wants to own it.
func claim(t *testing.T, log *requestlog.Log, tenant uuid.UUID, key, fp string, lease time.Duration) uuid.UUID {
	t.Helper()
	token, stored, err := log.ClaimRequest(t.Context(), tenant, key, []byte(fp), lease)
	if err != nil || stored != nil || token == uuid.Nil {
		t.Fatalf("claim %s: token %v, stored %v, err %v", key, token, stored, err)
	}
	return token
}

// TestRequestLeaseTakeoverAndTokens: a claim in progress refuses retries
// while its lease runs, is taken over by the same request after it, never
// by another request; only the token holding the claim may complete or
// release it.
func TestRequestLeaseTakeoverAndTokens(t *testing.T) {
	_, log := newLog(t)
	ctx, tenant := t.Context(), uuid.New()
	first := claim(t, log, tenant, "k", "fp", time.Hour)
	if _, _, err := log.ClaimRequest(ctx, tenant, "k", []byte("fp"), time.Hour); !errors.Is(err, requestlog.ErrRequestInProgress) {
		t.Fatalf("retry within the lease: %v", err)
	}
	if _, _, err := log.ClaimRequest(ctx, tenant, "k", []byte("other"), time.Nanosecond); !errors.Is(err, requestlog.ErrRequestMismatch) {
		t.Fatalf("another request after the lease: %v", err)
	}
	// The first holder is gone (killed): the lease is past for a retry.
	second := claim(t, log, tenant, "k", "fp", time.Nanosecond)
	if second == first {
		t.Fatal("takeover kept the dead holder's token")
	}
	res := requestlog.StoredResponse{Status: 201, Header: map[string]string{"Content-Type": "application/json"}, Body: []byte(`{"id":1}`)}
	if err := log.CompleteRequest(ctx, tenant, "k", first, res, nil); !errors.Is(err, requestlog.ErrClaimLost) {
		t.Fatalf("complete with the lost token: %v", err)
	}
	if err := log.ReleaseRequest(ctx, tenant, "k", first); !errors.Is(err, requestlog.ErrClaimLost) {
		t.Fatalf("release with the lost token: %v", err)
	}
	if err := log.CompleteRequest(ctx, tenant, "k", second, res, nil); err != nil {
		t.Fatal(err)
	}
	token, stored, err := log.ClaimRequest(ctx, tenant, "k", []byte("fp"), time.Nanosecond)
	if err != nil || token != uuid.Nil || stored == nil || stored.Status != 201 || string(stored.Body) != `{"id":1}` {
		t.Fatalf("retry after completion: %v %+v %v", token, stored, err)
	}
	if err := log.ReleaseRequest(ctx, tenant, "k", second); !errors.Is(err, requestlog.ErrClaimLost) {
		t.Fatalf("release of a completed request: %v", err)
	}
	// Release frees the key for the next attempt.
	third := claim(t, log, tenant, "k2", "fp", time.Hour)
	if err := log.ReleaseRequest(ctx, tenant, "k2", third); err != nil {
		t.Fatal(err)
	}
	claim(t, log, tenant, "k2", "fp", time.Hour)
}

// TestIdempotencyKeysExpire: after TTL a stored response and a
// commit's key are free again, for any request.
func TestIdempotencyKeysExpire(t *testing.T) {
	s, log := newLog(t)
	ctx, tenant, stream := t.Context(), uuid.New(), uuid.New()
	token := claim(t, log, tenant, "k", "fp", time.Hour)
	if err := log.CompleteRequest(ctx, tenant, "k", token, requestlog.StoredResponse{Status: 200}, nil); err != nil {
		t.Fatal(err)
	}
	c := appendTo(tenant, stream, eventstore.NoStream, "lead.created")
	c.IdempotencyKey = "cmd"
	first := storetest.MustCommit(t, s, c)
	if _, err := s.Commit(ctx, c); !errors.As(err, new(*eventstore.DuplicateCommitError)) {
		t.Fatalf("second commit with the key: %v", err)
	}
	age(t, s, tenant)
	claim(t, log, tenant, "k", "another request", time.Hour)
	if _, ok, err := s.IdempotentResult(ctx, tenant, "cmd"); err != nil || ok {
		t.Fatalf("expired command key still answers: %v %v", ok, err)
	}
	c.Streams[0].ExpectedVersion = 1
	again := storetest.MustCommit(t, s, c)
	if !first.Position.Less(again.Position) {
		t.Fatalf("the expired key replayed %v", again)
	}
	if _, err := s.Commit(ctx, c); !errors.As(err, new(*eventstore.DuplicateCommitError)) {
		t.Fatalf("the key taken again does not hold: %v", err)
	}

	// The sweep deletes what is past its 24 hours, and nothing else.
	age(t, s, tenant)
	fresh := claim(t, log, tenant, "fresh", "fp", time.Hour)
	if err := log.CompleteRequest(ctx, tenant, "fresh", fresh, requestlog.StoredResponse{Status: 200}, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := log.ExpireRequests(ctx); err != nil || n != 2 {
		t.Fatalf("swept %d expired keys (%v), want the response and the command key", n, err)
	}
	if _, stored, err := log.ClaimRequest(ctx, tenant, "fresh", []byte("fp"), time.Hour); err != nil || stored == nil {
		t.Fatalf("a live response was swept: %v %v", stored, err)
	}
}

// age makes every idempotency key of tenant 25 hours old.
func age(t *testing.T, s *eventstore.Store, tenant uuid.UUID) {
	t.Helper()
	for _, table := range []string{"http_idempotency", "idempotency"} {
		if _, err := s.Pool().Exec(t.Context(), `update `+table+` set created_at = now() - interval '25 hours' where tenant_id = $1`, tenant); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRedactionPurgesStoredResponses: a permanent delete removes every
// stored response and command result made from the stream, in its own
// transaction, except the deleting commit's key; a response completed after
// the delete is not stored.
func TestRedactionPurgesStoredResponses(t *testing.T) {
	s, log := newLog(t)
	ctx, tenant, lead, other := t.Context(), uuid.New(), uuid.New(), uuid.New()
	create := claim(t, log, tenant, "create", "fp", time.Hour)
	c := appendTo(tenant, lead, eventstore.NoStream, "lead.created")
	c.IdempotencyKey = "cmd-create"
	storetest.MustCommit(t, s, c)
	if err := log.CompleteRequest(ctx, tenant, "create", create, requestlog.StoredResponse{Status: 201, Body: []byte(`{"name":"Priya"}`)},
		[]uuid.UUID{lead}); err != nil {
		t.Fatal(err)
	}
	keep := claim(t, log, tenant, "other", "fp", time.Hour)
	storetest.MustCommit(t, s, appendTo(tenant, other, eventstore.NoStream, "lead.created"))
	if err := log.CompleteRequest(ctx, tenant, "other", keep, requestlog.StoredResponse{Status: 201}, []uuid.UUID{other}); err != nil {
		t.Fatal(err)
	}
	// A request that read the lead and is still running.
	late := claim(t, log, tenant, "late", "fp", time.Hour)

	del := appendTo(tenant, lead, 1, "lead.deleted")
	del.IdempotencyKey = "cmd-delete"
	del.Streams[0].Redact, del.Streams[0].ReleaseAll = true, true
	storetest.MustCommit(t, s, del)

	keys := func(table string) map[string]bool {
		rows, err := s.Pool().Query(ctx, `select key from `+table+` where tenant_id = $1`, tenant)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			out[k] = true
		}
		return out
	}
	if got := keys("http_idempotency"); got["create"] || !got["other"] || !got["late"] {
		t.Fatalf("stored responses after the delete: %v", got)
	}
	if got := keys("idempotency"); got["cmd-create"] || !got["cmd-delete"] {
		t.Fatalf("command keys after the delete: %v", got)
	}
	err := log.CompleteRequest(ctx, tenant, "late", late, requestlog.StoredResponse{Status: 200, Body: []byte(`{"name":"Priya"}`)}, []uuid.UUID{lead})
	if !errors.Is(err, requestlog.ErrRequestRedacted) {
		t.Fatalf("completing a response made from the deleted lead: %v", err)
	}
	if got := keys("http_idempotency"); got["late"] {
		t.Fatal("the late response was kept")
	}
	// The purged key is a new request now.
	claim(t, log, tenant, "create", "fp", time.Hour)
}

// TestCompleteWaitsForADeleteInFlight: a response completed while a delete
// of its lead is committing waits for it, then sees the redaction and is
// not stored (the purge inside the delete could not see it yet).
func TestCompleteWaitsForADeleteInFlight(t *testing.T) {
	s, log := newLog(t)
	ctx, tenant, lead := t.Context(), uuid.New(), uuid.New()
	storetest.MustCommit(t, s, appendTo(tenant, lead, eventstore.NoStream, "lead.created"))
	token := claim(t, log, tenant, "create", "fp", time.Hour)

	// The delete's transaction, holding the stream's row as a commit does.
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `update streams set version = version + 1 where stream_id = $1`, lead); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `update events set data = '{"redacted": true}', redacted_at = now() where stream_id = $1`, lead); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- log.CompleteRequest(ctx, tenant, "create", token, requestlog.StoredResponse{Status: 201, Body: []byte(`{"name":"Priya"}`)},
			[]uuid.UUID{lead})
	}()
	storetest.WaitFor(t, 10*time.Second, func() (bool, error) {
		var waiting bool
		err := s.Pool().QueryRow(ctx, `select exists (select 1 from pg_stat_activity
			where datname = current_database() and wait_event_type = 'Lock' and query like '%for share%')`).Scan(&waiting)
		return waiting, err
	})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, requestlog.ErrRequestRedacted) {
		t.Fatalf("complete after the delete committed: %v", err)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, `select count(*) from http_idempotency where tenant_id = $1`, tenant).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d stored responses (%v)", n, err)
	}
}
