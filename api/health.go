package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// healthInterval is how long /healthz reuses its last check: however often
// it is called, it costs the database at most one ping per interval.
const healthInterval = time.Second

// healthTimeout bounds a check, so /healthz answers within it even when the
// database does not.
const healthTimeout = time.Second

// healthCheck answers /healthz from the last result of ready, asking again
// once it is healthInterval old; concurrent callers share one check.
type healthCheck struct {
	ready func(ctx context.Context) error
	now   func() time.Time

	mu      sync.Mutex
	checked time.Time
	err     error
}

func health(ready func(context.Context) error, now func() time.Time) *healthCheck {
	return &healthCheck{ready: ready, now: now}
}

// check returns ready's latest answer, asking it when that is stale.
func (h *healthCheck) check(ctx context.Context) error {
	if h.ready == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := h.now(); h.checked.IsZero() || now.Sub(h.checked) >= healthInterval {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthTimeout)
		defer cancel()
		h.err = h.ready(ctx)
		h.checked = h.now()
	}
	return h.err
}

func (h *healthCheck) handle(c *gin.Context) {
	if err := h.check(c.Request.Context()); err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}
