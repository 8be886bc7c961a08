// Package api is crm's HTTP edge: the Gin engine, the middleware every
// dialect shares (request id, recovery, logging, body limit, bearer keys,
// read-your-writes) and the mounting of each dialect package.
package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/imports"
	"github.com/crmcore/crm/jwtauth"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/calllogs"
	"github.com/crmcore/crm/projections/customers"
	"github.com/crmcore/crm/projections/feedback"
	"github.com/crmcore/crm/projections/leads"
	"github.com/crmcore/crm/projections/orders"
	"github.com/crmcore/crm/projections/pipelines"
	"github.com/crmcore/crm/projections/records"
	"github.com/crmcore/crm/projections/volume"
	"github.com/crmcore/crm/requestlog"
	"github.com/crmcore/crm/tenants"
	"github.com/crmcore/crm/timers"
)

// Authenticator resolves a bearer API key to its tenant.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (tenants.Principal, error)
}

// Deps is what the dialects need from the rest of crm.
type Deps struct {
	Commands *commands.Handler
	Readers
	Waiter *projections.Waiter
	Auth   Authenticator
	// JWT verifies the bearer tokens of the dialects that take JWTs
	// instead of API keys (RequireToken); nil: none is configured, and
	// those routes answer 503.
	JWT *jwtauth.Verifier
	// Requests keeps idempotent writes' first responses (nil: no replay).
	Requests Requests
	// IdempotencyLease is how long a request holds its Idempotency-Key in
	// progress before a retry may take it over (default 30 s).
	IdempotencyLease time.Duration
	// RateLimits bound the requests of each API key and tenant.
	RateLimits RateLimits
	// Importer runs the /dev/crm API's CSV imports and exports.
	Importer *imports.Importer

	limiterOnce sync.Once
	limiter     *rateLimiter
	Logger      *slog.Logger
	// WaitTimeout bounds how long a command's response waits for the read
	// models to show it (default 2s).
	WaitTimeout time.Duration
	// MaxBodyBytes caps request bodies (default 1 MiB).
	MaxBodyBytes int64
	// Ready reports whether the process can serve: /healthz asks it at
	// most once a second (see health).
	Ready func(ctx context.Context) error
	// TrustedProxies are the addresses (IPs or CIDRs) whose
	// X-Forwarded-For / X-Real-IP name the client, for the per-IP limit;
	// none by default, so a client cannot pick its own IP.
	TrustedProxies []string
	// Timers fires a tenant's due timers on request ("run due work now":
	// POST /dev/crm/feedback/process-reminders); nil: those routes answer 503.
	Timers *timers.Scheduler
	// Clock is the time writes schedule timers from and "run due work now"
	// fires up to: the system's (nil too). Tests move it instead of sleeping.
	Clock timers.Clock
}

// Now is d.Clock's time.
func (d *Deps) Now() time.Time {
	if d.Clock == nil {
		return time.Now()
	}
	return d.Clock.Now()
}

// Readers are the read models' queries, one field per read model.
type Readers struct {
	Leads     *leads.Reader
	CallLogs  *calllogs.Reader
	Volume    *volume.Reader
	Pipelines *pipelines.Reader
	Customers *customers.Reader
	Records   *records.Reader
	Orders    *orders.Reader
	Feedback  *feedback.Reader
}

// NewReaders returns the queries of every read model over pool.
func NewReaders(pool *pgxpool.Pool) Readers {
	return Readers{Leads: leads.NewReader(pool), CallLogs: calllogs.NewReader(pool),
		Volume: volume.NewReader(pool), Pipelines: pipelines.NewReader(pool),
		Customers: customers.NewReader(pool), Records: records.NewReader(pool),
		Orders: orders.NewReader(pool), Feedback: feedback.NewReader(pool)}
}

// Dialect mounts one of the APIs crm serves.
type Dialect interface {
	Mount(r *gin.Engine, d *Deps)
}

// NewServer builds the HTTP handler with every dialect mounted.
func NewServer(d *Deps, dialects ...Dialect) http.Handler {
	if d.WaitTimeout <= 0 {
		d.WaitTimeout = 2 * time.Second
	}
	if d.IdempotencyLease <= 0 {
		d.IdempotencyLease = requestlog.DefaultRequestLease
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 1 << 20
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.ContextWithFallback = true
	r.HandleMethodNotAllowed = false
	// Gin trusts every proxy unless told otherwise; ParseTrustedProxies
	// has checked the list, so this cannot fail but on a programming error.
	if err := r.SetTrustedProxies(d.TrustedProxies); err != nil {
		panic(fmt.Sprintf("api: trusted proxies %q: %v", d.TrustedProxies, err))
	}
	r.Use(requestID(), recovery(d.Logger), accessLog(d.Logger), limitBody(d.MaxBodyBytes))
	// Metrics are not served here: the process serves them on a listener of
	// their own (CRM_METRICS_ADDR), off the public port.
	r.GET("/healthz", health(d.Ready, time.Now).handle)
	for _, dialect := range dialects {
		dialect.Mount(r, d)
	}
	return r
}

// HeaderRequestID carries the request id, taken from the client or made here.
const HeaderRequestID = "X-Request-Id"

func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if id == "" || len(id) > 128 {
			id = uuid.NewString()
		}
		c.Set(HeaderRequestID, id)
		c.Header(HeaderRequestID, id)
		c.Next()
	}
}

// recovery turns a panic into a bare 500: internals are logged, never shown.
func recovery(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p) // a handler cut a started answer short (and logged why): net/http aborts the connection
				}
				logger.Error("panic serving request", "panic", p, "path", c.FullPath(), "request_id", c.GetString(HeaderRequestID))
				c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": gin.H{"code": "internal", "message": "internal error"}})
			}
		}()
		c.Next()
	}
}

// accessLog logs method, route template and status: never query strings,
// bodies or headers, which carry keys and personal data.
func accessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		level := slog.LevelDebug
		if c.Writer.Status() >= 500 {
			level = slog.LevelError
		}
		logger.Log(c.Request.Context(), level, "request", "method", c.Request.Method, "route", c.FullPath(),
			"status", c.Writer.Status(), "duration", time.Since(start), "request_id", c.GetString(HeaderRequestID))
	}
}

const rawBodyKey = "crm.raw_body"

// limitBody caps every request body; BodyLimit lifts the cap for one route.
func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Body != nil {
			c.Set(rawBodyKey, c.Request.Body)
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		}
		c.Next()
	}
}

// BodyLimit replaces the server-wide body cap with n for the routes it is
// given to (uploads); it must run before anything reads the body.
func BodyLimit(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if raw, ok := c.Get(rawBodyKey); ok {
			c.Request.Body = http.MaxBytesReader(c.Writer, raw.(io.ReadCloser), n)
		}
		c.Next()
	}
}
