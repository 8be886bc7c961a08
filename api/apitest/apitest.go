// Package apitest serves an API dialect to tests that need no database,
// such as the dialects' fuzz targets: the real engine, middleware and
// handlers over an event store that cannot be reached. A request the
// decoding refuses gets the dialect's own answer; one it lets through goes
// on until it reaches the store, and ends there as a 503. So a 503 says
// "decoded", and a 500 or a panic is a bug of the decoding.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/imports"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/tenants"
)

const (
	// Key is the one API key the server accepts.
	Key = "apitest-key"
	// Region is the default phone region of the server's commands.
	Region = "IN"
	// SmallBody is the body cap of Server.Small: low enough for a fuzzer
	// to reach.
	SmallBody = 64
)

// fixedKey accepts Key, for one tenant.
type fixedKey struct{ tenant uuid.UUID }

func (k fixedKey) Authenticate(_ context.Context, key string) (tenants.Principal, error) {
	if key != Key {
		return tenants.Principal{}, tenants.ErrUnauthorized
	}
	return tenants.Principal{TenantID: k.tenant, KeyID: uuid.New(), TenantName: "apitest"}, nil
}

// Server is one dialect served twice over the unreachable store: with the
// server's default body cap and with SmallBody.
type Server struct {
	Engine, Small http.Handler
	// Deps are Engine's dependencies, for building the dialect's handlers
	// directly; SmallDeps are Small's.
	Deps, SmallDeps *api.Deps
	// ErrorSchema is the Error schema of the dialect's OpenAPI document.
	ErrorSchema *openapi3.Schema
}

// New serves the dialect dialect(small) returns; openAPI is its document.
func New(tb testing.TB, openAPI []byte, dialect func(small bool) api.Dialect) *Server {
	tb.Helper()
	// Every connection to the store fails at once, as when Postgres is
	// down: no socket, so nothing can answer in its place.
	cfg, err := pgxpool.ParseConfig("postgres://apitest@127.0.0.1:1/apitest?sslmode=disable")
	if err != nil {
		tb.Fatal(err)
	}
	cfg.ConnConfig.DialFunc = func(context.Context, string, string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("the store is down")}
	}
	pool, err := pgxpool.NewWithConfig(tb.Context(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	store := eventstore.New(pool)
	logger := slog.New(slog.DiscardHandler)
	tenant := uuid.New()
	deps := func(maxBody int64) *api.Deps {
		return &api.Deps{Commands: commands.New(store, Region), Readers: api.NewReaders(pool),
			Waiter: projections.NewWaiter(store, eventstore.NewListener(pool, logger), logger),
			Auth:   fixedKey{tenant: tenant}, Logger: logger, MaxBodyBytes: maxBody, WaitTimeout: time.Second,
			Importer: imports.New(store, imports.Options{Region: Region})}
	}
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		tb.Fatal(err)
	}
	schema := doc.Components.Schemas["Error"]
	if schema == nil || schema.Value == nil {
		tb.Fatal("the OpenAPI document has no Error schema")
	}
	s := &Server{Deps: deps(0), SmallDeps: deps(SmallBody), ErrorSchema: schema.Value}
	s.Engine = api.NewServer(s.Deps, dialect(false))
	s.Small = api.NewServer(s.SmallDeps, dialect(true))
	return s
}

// Serve sends a request with the key through Engine (or Small). The path
// is taken as decoded, so any string is one; the body is JSON unless
// contentType says otherwise.
func (s *Server) Serve(method, path, rawQuery string, body []byte, contentType string, small bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/", bytes.NewReader(body))
	req.URL.Path, req.URL.RawQuery = path, rawQuery
	req.Header.Set("Authorization", "Bearer "+Key)
	if contentType == "" {
		contentType = "application/json"
	}
	req.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	if small {
		s.Small.ServeHTTP(w, req)
	} else {
		s.Engine.ServeHTTP(w, req)
	}
	return w
}

// CheckErrorSchema fails unless the answer is JSON matching the dialect's
// Error schema.
func (s *Server) CheckErrorSchema(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var v any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("%d answer is not JSON: %q", w.Code, w.Body.Bytes())
	}
	if err := s.ErrorSchema.VisitJSON(v); err != nil {
		t.Fatalf("%d answer %s does not match the Error schema: %v", w.Code, w.Body.Bytes(), err)
	}
}

// Capped is a POST carrying body behind the body cap the server puts on it
// (limit; SmallBody if small, the default 1 MiB if not and limit is 0).
func Capped(body []byte, small bool, limit int64) *http.Request {
	switch {
	case small:
		limit = SmallBody
	case limit == 0:
		limit = 1 << 20
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, limit)
	return r
}

// SameAnswer fails unless the engine answered what the direct path rendered.
func SameAnswer(t *testing.T, route string, got, want *httptest.ResponseRecorder) {
	t.Helper()
	if got.Code != want.Code || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		t.Fatalf("%s answered %d %s; the decoder's refusal renders %d %s", route, got.Code, got.Body.Bytes(), want.Code, want.Body.Bytes())
	}
}

// ReachedStore fails unless the engine let a request through to the store,
// the only place it can fail once decoded: a 503 matching the Error schema.
func (s *Server) ReachedStore(t *testing.T, route string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("%s: the decoder accepted the request; the engine answered %d %s, want 503 from the unreachable store", route, w.Code, w.Body.Bytes())
	}
	s.CheckErrorSchema(t, w)
}

// SentParams is the set of the parameter names rawQuery sends, each as an
// answer shows it: as api.FieldName names it and JSON shows it ("" as `""`,
// invalid UTF-8 replaced).
func SentParams(rawQuery string) map[string]bool {
	values, _ := url.ParseQuery(rawQuery)
	sent := map[string]bool{}
	for k := range values {
		sent[JSONText(api.FieldName(k))] = true
	}
	return sent
}

// QueryRefusal sends GET route?rawQuery through Engine and holds the answer
// to the two the decoding allows: a 503 from the store, checked here (nil
// is returned), or a 4xx, returned for the dialect to check its shape.
func (s *Server) QueryRefusal(t *testing.T, route, rawQuery string) *httptest.ResponseRecorder {
	t.Helper()
	w := s.Serve(http.MethodGet, route, rawQuery, nil, "", false)
	if w.Code == http.StatusServiceUnavailable {
		s.ReachedStore(t, "GET "+route, w)
		return nil
	}
	if w.Code < 400 || w.Code > 499 {
		t.Fatalf("GET %s?%s: %d %s", route, rawQuery, w.Code, w.Body.Bytes())
	}
	return w
}

// Decoded holds the engine's answer to a request to what the decoder made
// of the same request: the very answer of its refusal (refusal checks bad
// to the dialect's contract and renders it), or, if it accepted, a 503
// from the store. It reports whether the decoder accepted.
func (s *Server) Decoded(t *testing.T, route string, engine *httptest.ResponseRecorder, bad *api.BadInput,
	refusal func(*testing.T, *api.BadInput) *httptest.ResponseRecorder) bool {
	t.Helper()
	if bad != nil {
		SameAnswer(t, route, engine, refusal(t, bad))
		return false
	}
	s.ReachedStore(t, route, engine)
	return true
}

// JSONText is s as a JSON answer shows it: invalid UTF-8 replaced.
func JSONText(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// CheckStorable fails unless decided events are what the store takes: data
// that encodes as JSON without NUL text (Postgres stores none) and decodes
// back.
func CheckStorable(t *testing.T, events []domain.Event) {
	t.Helper()
	for _, e := range events {
		data, err := e.MarshalData()
		if err != nil {
			t.Fatalf("decided %s cannot be encoded: %v", e.Type, err)
		}
		if bytes.Contains(data, []byte(`\u0000`)) {
			t.Fatalf("decided %s holds NUL text, which Postgres cannot store: %s", e.Type, data)
		}
		if _, err := domain.DecodeLeadEvent(e.Type, domain.SchemaVersion, data); err != nil {
			t.Fatalf("decided %s does not decode back: %v", e.Type, err)
		}
	}
}

// CheckErrorShape fails unless shape has a row for every crmerr code and
// each row answers a bare error of its code (no detail to show) with JSON
// matching the Error schema, 500 only for internal: a code added to crmerr
// and missed in a dialect fails that dialect's tests.
func (s *Server) CheckErrorShape(t *testing.T, shape *api.ErrorShape) {
	t.Helper()
	for _, code := range crmerr.Codes {
		answer, ok := shape.Codes[code]
		if !ok {
			t.Errorf("%s: no answer for error code %q", shape.Name, code)
			continue
		}
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
		status, body := answer(c, crmerr.New(code, "the "+code+" error"))
		if (status == http.StatusInternalServerError) != (code == crmerr.Internal) || status < 400 {
			t.Errorf("%s: code %q answered with status %d", shape.Name, code, status)
		}
		c.JSON(status, body)
		s.CheckErrorSchema(t, w)
	}
}

// Normalized is domain.NormalizeProfile's answer to p, a profile a dialect
// hands a command as normalized already (commands.CreateLead.Normalized),
// and holds that normalizing it again changes nothing that is stored: the
// command does not normalize it a second time.
func Normalized(t *testing.T, p domain.LeadProfile) (domain.LeadProfile, error) {
	t.Helper()
	norm, err := domain.NormalizeProfile(p, Region)
	if err != nil {
		return norm, err
	}
	was, _ := json.Marshal(p)
	now, _ := json.Marshal(norm)
	if !bytes.Equal(was, now) {
		t.Fatalf("the dialect's profile is not normalized:\n got %s\nwant %s", was, now)
	}
	return norm, nil
}
