package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/eventstore"
)

// Requests keeps the first response of each idempotent request.
type Requests interface {
	ClaimRequest(ctx context.Context, tenantID uuid.UUID, key string, fingerprint []byte) (*eventstore.StoredResponse, error)
	CompleteRequest(ctx context.Context, tenantID uuid.UUID, key string, res eventstore.StoredResponse) error
	ReleaseRequest(ctx context.Context, tenantID uuid.UUID, key string) error
}

// HeaderReplayed marks a response replayed for a retried request.
const HeaderReplayed = "Idempotent-Replayed"

// replayedHeaders are the response headers a replay repeats.
var replayedHeaders = []string{"Content-Type", HeaderPosition, HeaderConsistency, "Location"}

// Idempotent applies Stripe's rules to POSTs carrying an Idempotency-Key:
// the first response (any status but a 5xx, which stays retryable) is
// replayed for 24 hours to a retry with the same key and the same request;
// the same key with another request is refused (commands.ErrKeyReused); a
// retry while the first is still running gets commands.ErrBusy. fail
// renders those in the dialect's shape. Runs after RequireKey.
func Idempotent(reqs Requests, fail func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader("Idempotency-Key")
		if c.Request.Method != http.MethodPost || key == "" || reqs == nil {
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
		sum := sha256.New()
		io.WriteString(sum, c.Request.Method+" "+c.Request.URL.Path+"\n")
		sum.Write(body)
		tenant := Principal(c).TenantID

		stored, err := reqs.ClaimRequest(c.Request.Context(), tenant, key, sum.Sum(nil))
		switch {
		case errors.Is(err, eventstore.ErrRequestMismatch):
			fail(c, commands.ErrKeyReused)
			c.Abort()
			return
		case errors.Is(err, eventstore.ErrRequestInProgress):
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
		defer func() {
			if !done { // a panic: keep the key retryable
				reqs.ReleaseRequest(ctx, tenant, key)
			}
		}()
		c.Next()
		done = true
		if c.Writer.Status() >= 500 {
			reqs.ReleaseRequest(ctx, tenant, key)
			return
		}
		header := map[string]string{}
		for _, h := range replayedHeaders {
			if v := c.Writer.Header().Get(h); v != "" {
				header[h] = v
			}
		}
		reqs.CompleteRequest(ctx, tenant, key, eventstore.StoredResponse{Status: c.Writer.Status(), Header: header, Body: rec.body.Bytes()})
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
