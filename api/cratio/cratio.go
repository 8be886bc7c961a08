// Package cratio serves the Cratio API v1 (leads and call logs) at /api/v1.
// Choices where the Postman collection is silent are written down in
// openapi.json, served at /openapi/cratio.json.
package cratio

import (
	_ "embed"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
)

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// Name identifies the dialect in the audit trail.
const Name = "cratio"

// readModels are the projections this API reads: a write answers once they
// show it.
var readModels = []string{projections.Leads{}.Name(), projections.CallLogs{}.Name()}

// Dialect mounts the Cratio API.
type Dialect struct{}

// Mount implements api.Dialect.
func (Dialect) Mount(r *gin.Engine, d *api.Deps) {
	r.GET("/openapi/cratio.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", OpenAPI) })
	h := &handlers{d: d}
	limit := d.RateLimit(h.fail)
	g := r.Group("/api/v1", d.RequireKey(unauthorized, h.fail), limit, api.CheckParams(h.fail),
		d.Idempotent(h.fail))
	g.GET("/leads", h.listLeads)
	g.POST("/leads", h.createLead)
	g.DELETE("/leads/:id", h.deleteLead)
	g.GET("/call-logs", h.listCallLogs)
	g.POST("/call-logs", h.createCallLog)
	g.DELETE("/call-logs/:id", h.deleteCallLog)
}

type handlers struct {
	d *api.Deps
}

// errorBody is the Cratio error shape: {"error": {"code", "message", "field"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func unauthorized(c *gin.Context, status int) {
	if status == http.StatusUnauthorized {
		c.JSON(status, errorBody{errorDetail{Code: "unauthorized", Message: "missing or invalid API key"}})
		return
	}
	c.JSON(status, errorBody{errorDetail{Code: "unavailable", Message: "service temporarily unavailable"}})
}

// fail renders err in the Cratio error shape: bad input and domain errors
// as 4xx naming the field; anything else as 500 (logged, not shown) or 503.
func (h *handlers) fail(c *gin.Context, err error) {
	var bad *api.BadInput
	var invalid domain.ValidationError
	var dup *commands.DuplicateError
	switch {
	case errors.As(err, &bad):
		c.JSON(bad.Status, errorBody{errorDetail{Code: bad.Code, Message: bad.Error(), Field: bad.Field}})
	case errors.As(err, &invalid):
		field := cratioField(invalid.Field)
		c.JSON(http.StatusUnprocessableEntity, errorBody{errorDetail{Code: "invalid_field", Message: field + ": " + invalid.Reason, Field: field}})
	case errors.As(err, &dup):
		c.JSON(http.StatusConflict, errorBody{errorDetail{Code: "duplicate", Message: dup.Field + " already exists", Field: dup.Field}})
	case errors.Is(err, domain.ErrCallLogNotFound):
		c.JSON(http.StatusNotFound, errorBody{errorDetail{Code: "not_found", Message: "call log not found", Field: "id"}})
	case errors.Is(err, domain.ErrLeadNotFound):
		c.JSON(http.StatusNotFound, errorBody{errorDetail{Code: "not_found", Message: "lead not found", Field: "id"}})
	case errors.Is(err, api.ErrRateLimited):
		c.JSON(http.StatusTooManyRequests, errorBody{errorDetail{Code: "rate_limited", Message: "rate limit exceeded; retry after Retry-After"}})
	case errors.Is(err, commands.ErrKeyReused):
		c.JSON(http.StatusUnprocessableEntity, errorBody{errorDetail{Code: "invalid_field", Message: "Idempotency-Key: was used for another request (method, path or body)", Field: "Idempotency-Key"}})
	case errors.Is(err, commands.ErrBusy):
		c.Header("Retry-After", "1")
		c.JSON(http.StatusConflict, errorBody{errorDetail{Code: "conflict", Message: err.Error()}})
	default:
		if api.Unavailable(err) {
			c.Header("Retry-After", "1")
			c.JSON(http.StatusServiceUnavailable, errorBody{errorDetail{Code: "unavailable", Message: "service temporarily unavailable"}})
			return
		}
		h.d.Logger.Error("cratio request failed", "route", c.FullPath(), "err", err, "request_id", c.GetString(api.HeaderRequestID))
		c.JSON(http.StatusInternalServerError, errorBody{errorDetail{Code: "internal", Message: "internal error"}})
	}
}

// cratioField maps a domain profile field to the Cratio field it came from.
func cratioField(f string) string {
	switch f {
	case "emails":
		return "email"
	case "phones":
		return "phone"
	}
	return f
}
