package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/requestlog"
)

// Requests keeps the first response of each idempotent request.
type Requests interface {
	ClaimRequest(ctx context.Context, tenantID uuid.UUID, key string, fingerprint []byte, lease time.Duration) (uuid.UUID, *requestlog.StoredResponse, error)
	CompleteRequest(ctx context.Context, tenantID uuid.UUID, key string, token uuid.UUID, res requestlog.StoredResponse, streams []uuid.UUID) error
	ReleaseRequest(ctx context.Context, tenantID uuid.UUID, key string, token uuid.UUID) error
}

// HeaderReplayed marks a response replayed for a retried request.
const HeaderReplayed = "Idempotent-Replayed"

// replayedHeaders are the response headers a replay repeats.
var replayedHeaders = []string{"Content-Type", HeaderPosition, HeaderConsistency, "Location"}

// Where Idempotent leaves a request's fingerprint and its touched streams
// for CommandContext.
const (
	fingerprintKey = "crm.idempotency.fingerprint"
	touchedKey     = "crm.idempotency.touched"
)

// mutating reports whether method changes something, and so honours an
// Idempotency-Key.
func mutating(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// fingerprint identifies a request for its Idempotency-Key: method,
// concrete path, query (sorted by name, so its order does not matter) and
// body, byte for byte.
func fingerprint(r *http.Request, body []byte) []byte {
	sum := sha256.New()
	io.WriteString(sum, r.Method+" "+r.URL.Path+"?"+r.URL.Query().Encode()+"\n")
	sum.Write(body)
	return sum.Sum(nil)
}

// Idempotent applies Stripe's rules to every POST, PUT, PATCH and DELETE
// carrying an Idempotency-Key: the first response (any status but a 5xx,
// which stays retryable) is replayed for requestlog.TTL (24 hours) to a retry
// with the same key and the same request (fingerprint); the same key with
// another method, path, query or body is refused (commands.ErrKeyReused);
// a retry while the first is still running gets commands.ErrBusy, until
// the first's lease (d.IdempotencyLease) runs out: then the retry takes
// the key over, so a process killed mid-request holds no key for long.
// fail renders those in the dialect's shape. Runs after RequireKey.
func (d *Deps) Idempotent(fail func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader("Idempotency-Key")
		if !mutating(c.Request.Method) || key == "" {
			c.Next()
			return
		}
		if len(key) > 255 {
			fail(c, BadParam("Idempotency-Key", "must be at most 255 characters"))
			c.Abort()
			return
		}
		body, err := io.ReadAll(c.Request.Body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(c, &BadInput{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
				Reason: "request body is too large"})
			c.Abort()
			return
		}
		if err != nil {
			fail(c, &BadInput{Status: http.StatusBadRequest, Code: "invalid_body", Reason: "could not read the request body"})
			c.Abort()
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		fp := fingerprint(c.Request, body)
		touched := &commands.Touched{}
		c.Set(fingerprintKey, hex.EncodeToString(fp))
		c.Set(touchedKey, touched)
		if d.Requests == nil {
			c.Next()
			return
		}
		tenant := Principal(c).TenantID
		token, stored, err := d.Requests.ClaimRequest(c.Request.Context(), tenant, key, fp, d.IdempotencyLease)
		switch {
		case errors.Is(err, requestlog.ErrRequestMismatch):
			fail(c, commands.ErrKeyReused)
			c.Abort()
			return
		case errors.Is(err, requestlog.ErrRequestInProgress):
			fail(c, commands.ErrBusy)
			c.Abort()
			return
		case err != nil:
			fail(c, err)
			c.Abort()
			return
		case stored != nil:
			for k, v := range stored.Header {
				c.Header(k, v)
			}
			c.Header(HeaderReplayed, "true")
			c.Writer.WriteHeader(stored.Status)
			c.Writer.Write(stored.Body)
			c.Abort()
			return
		}

		rec := &recorder{ResponseWriter: c.Writer}
		c.Writer = rec
		done := false
		ctx := context.WithoutCancel(c.Request.Context())
		release := func() {
			if err := d.Requests.ReleaseRequest(ctx, tenant, key, token); err != nil {
				d.Logger.Warn("idempotency key not released", "err", err, "request_id", c.GetString(HeaderRequestID))
			}
		}
		defer func() {
			if !done { // a panic: keep the key retryable
				release()
			}
		}()
		c.Next()
		done = true
		if c.Writer.Status() >= 500 {
			release()
			return
		}
		header := map[string]string{}
		for _, h := range replayedHeaders {
			if v := c.Writer.Header().Get(h); v != "" {
				header[h] = v
			}
		}
		// The response has gone out: a failure to store it must not turn it
		// into an error. A lost Complete is safe: the claim's lease runs
		// out, a retry takes the key over and runs again, and its commands
		// find their own idempotency key (eventstore.Commit), committed with
		// the first attempt's events, and replay that result: no second
		// effect. ErrRequestRedacted is the purge of a response quoting a
		// lead deleted meanwhile, working as meant.
		err = d.Requests.CompleteRequest(ctx, tenant, key, token,
			requestlog.StoredResponse{Status: c.Writer.Status(), Header: header, Body: rec.body.Bytes()}, touched.Streams())
		switch {
		case errors.Is(err, requestlog.ErrRequestRedacted):
			d.Logger.Debug("idempotent response not kept: it quotes a deleted lead", "request_id", c.GetString(HeaderRequestID))
		case err != nil:
			d.Logger.Warn("idempotent response not stored", "err", err, "request_id", c.GetString(HeaderRequestID))
		}
	}
}

// recorder keeps a copy of the response body.
type recorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) WriteString(s string) (int, error) {
	r.body.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}
