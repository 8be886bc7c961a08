package e2e

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsHoldNoSecretsOrPersonalData runs writes, reads, bad input and
// auth failures with crm logging at DEBUG: no key, email, phone, name or
// note appears in the logs.
func TestLogsHoldNoSecretsOrPersonalData(t *testing.T) {
	var logs syncBuffer
	s := newStack(t, withLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	lead := s.createLead(s.key, rahul)
	s.logCall(s.key, map[string]any{"lead_id": lead.ID, "call_type": "Outbound", "duration_seconds": 60, "notes": "secret pricing notes"})
	s.do(s.key, "GET", "/api/v1/leads?assigned_to=sales@company.com&source=IVR", nil)
	s.do(s.key, "POST", "/api/v1/leads", map[string]any{"name": "Rahul Sharma", "email": "not-an-email"})
	s.do(s.key+"tampered", "GET", "/api/v1/leads", nil)
	s.do(s.key, "POST", "/api/crm/lead", map[string]any{"lead_name": "Rahul Sharma", "email_id": "rahul@techcorp.in"}) // 409
	if r := s.do(s.key, "DELETE", "/api/v1/leads/"+lead.ID, nil); r.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	s.caughtUp()
	out := logs.String()
	if !strings.Contains(out, "route=") {
		t.Fatalf("no request was logged at DEBUG; the test checks nothing:\n%s", out)
	}
	for _, secret := range []string{s.key, strings.TrimPrefix(s.key, "le_live_"), "rahul", "Rahul", "techcorp", "98765", "9876543210",
		"sales@company.com", "secret pricing", "Interested in Pro plan", "not-an-email", "Mumbai"} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs hold %q", secret)
		}
	}
}

// TestRevokedKeyIsRefused: `crm keys revoke` takes effect on the next request.
func TestRevokedKeyIsRefused(t *testing.T) {
	s := newStack(t)
	key, keyID, err := s.core.Tenants.CreateAPIKey(s.ctx, s.tenantID, "le_live_")
	if err != nil {
		t.Fatal(err)
	}
	if r := s.do(key, "GET", "/api/v1/leads", nil); r.Status != http.StatusOK {
		t.Fatalf("new key: %d %s", r.Status, r.Body)
	}
	if err := s.core.Tenants.RevokeAPIKey(s.ctx, keyID); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/leads", "/leads", "/api/crm/lead"} {
		if r := s.do(key, "GET", path, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("revoked key on %s: %d %s", path, r.Status, r.Body)
		}
	}
	if r := s.do(s.key, "GET", "/api/v1/leads", nil); r.Status != http.StatusOK {
		t.Fatalf("the tenant's other key: %d %s", r.Status, r.Body)
	}
}
