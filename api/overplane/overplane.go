// Package overplane serves the Overplane Lead API at /api/crm/lead: the
// ERPNext-style Lead object with Stripe-style ids, lists and errors. Choices
// where the API document is vague are written down in openapi.json, served
// at /openapi/overplane.json.
package overplane

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
const Name = "overplane"

// readModel is the projection this API reads: a write answers once it shows it.
var readModel = projections.Leads{}.Name()

// Dialect mounts the Overplane Lead API.
type Dialect struct{}

// Mount implements api.Dialect.
func (Dialect) Mount(r *gin.Engine, d *api.Deps) {
	r.GET("/openapi/overplane.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", OpenAPI) })
	h := &handlers{d: d}
	limit := d.RateLimit(h.fail)
	g := r.Group("/api/crm/lead", d.RequireKey(unauthorized, h.fail), limit, api.CheckParams(h.fail),
		d.Idempotent(h.fail))
	g.GET("", h.listLeads)
	g.POST("", h.createLead)
	g.GET("/:id", h.getLead)
	g.PATCH("/:id", h.updateLead)
	g.DELETE("/:id", h.deleteLead)
}

type handlers struct {
	d *api.Deps
}

// The error types of the Stripe-style error shape.
const (
	invalidRequest = "invalid_request_error"
	authentication = "authentication_error"
	apiError       = "api_error"
)

// errorBody is the Overplane error shape:
// {"error": {"type", "code", "message", "param"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

func unauthorized(c *gin.Context, status int) {
	if status == http.StatusUnauthorized {
		c.JSON(status, errorBody{errorDetail{Type: authentication, Code: "invalid_api_key",
			Message: "Invalid API key provided: send Authorization: Bearer <API key>"}})
		return
	}
	c.JSON(status, errorBody{errorDetail{Type: apiError, Code: "service_unavailable", Message: "service temporarily unavailable"}})
}

// codes renders the shared decoder's codes in Overplane's vocabulary.
var codes = map[string]string{
	"unknown_field":     "parameter_unknown",
	"invalid_type":      "parameter_invalid_type",
	"invalid_parameter": "parameter_invalid",
	"invalid_field":     "parameter_invalid",
}

// fail renders err in the Overplane error shape: bad input and domain errors
// as 4xx naming the param; anything else as 500 (logged, not shown) or 503.
func (h *handlers) fail(c *gin.Context, err error) {
	var bad *api.BadInput
	var invalid domain.ValidationError
	var dup *commands.DuplicateError
	switch {
	case errors.As(err, &bad):
		code := bad.Code
		if mapped, ok := codes[code]; ok {
			code = mapped
		}
		c.JSON(bad.Status, errorBody{errorDetail{Type: invalidRequest, Code: code, Message: message(bad), Param: bad.Field}})
	case errors.As(err, &invalid):
		param := paramOf(invalid.Field)
		c.JSON(http.StatusBadRequest, errorBody{errorDetail{Type: invalidRequest, Code: "parameter_invalid",
			Message: "Invalid " + param + ": " + invalid.Reason, Param: param}})
	case errors.As(err, &dup):
		h.fail(c, duplicate(dup, paramOf(dup.Field)))
	case errors.Is(err, domain.ErrLeadNotFound):
		h.notFound(c, c.Param("id"))
	case errors.Is(err, api.ErrRateLimited):
		c.JSON(http.StatusTooManyRequests, errorBody{errorDetail{Type: invalidRequest, Code: "rate_limit",
			Message: "Too many requests hit the API too quickly; retry after Retry-After"}})
	case errors.Is(err, commands.ErrKeyReused):
		c.JSON(http.StatusUnprocessableEntity, errorBody{errorDetail{Type: invalidRequest, Code: "idempotency_key_reused",
			Message: "Keys for idempotent requests can only be used with the same parameters they were first used with: the Idempotency-Key was used for another request (method, path or body)",
			Param:   "Idempotency-Key"}})
	case errors.Is(err, commands.ErrBusy):
		c.Header("Retry-After", "1")
		c.JSON(http.StatusConflict, errorBody{errorDetail{Type: apiError, Code: "lock_timeout",
			Message: "The lead is being changed by other requests right now; retry after Retry-After seconds"}})
	default:
		if api.Unavailable(err) {
			c.Header("Retry-After", "1")
			c.JSON(http.StatusServiceUnavailable, errorBody{errorDetail{Type: apiError, Code: "service_unavailable",
				Message: "service temporarily unavailable"}})
			return
		}
		h.d.Logger.Error("overplane request failed", "route", c.FullPath(), "err", err, "request_id", c.GetString(api.HeaderRequestID))
		c.JSON(http.StatusInternalServerError, errorBody{errorDetail{Type: apiError, Code: "internal_error", Message: "internal error"}})
	}
}

// notFound is Stripe's answer for any id string that names no lead of the
// tenant: malformed, unknown, deleted or another tenant's alike.
func (h *handlers) notFound(c *gin.Context, id string) {
	c.JSON(http.StatusNotFound, errorBody{errorDetail{Type: invalidRequest, Code: "resource_missing",
		Message: "No such lead: '" + id + "'", Param: "id"}})
}

// message words a bad input the way Stripe does, naming the param.
func message(bad *api.BadInput) string {
	switch bad.Code {
	case "unknown_field":
		return "Received unknown parameter: " + bad.Field
	case "parameter_missing":
		return "Missing required param " + bad.Field + ": " + bad.Reason
	case "resource_already_exists":
		return "The " + bad.Field + " " + bad.Reason
	}
	if bad.Field == "" {
		return bad.Reason
	}
	return "Invalid " + bad.Field + ": " + bad.Reason
}

// duplicate is the 409 for a value of param that another lead owns:
// Overplane never merges leads.
func duplicate(dup *commands.DuplicateError, param string) *api.BadInput {
	return &api.BadInput{Status: http.StatusConflict, Code: "resource_already_exists", Field: param,
		Reason: "already belongs to another lead (" + leadID(dup.LeadID) + ")"}
}
