package overplane

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
)

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

// codes renders the shared decoder's codes in Overplane's vocabulary.
var codes = map[string]string{
	"unknown_field":     "parameter_unknown",
	"invalid_type":      "parameter_invalid_type",
	"invalid_parameter": "parameter_invalid",
	"invalid_field":     "parameter_invalid",
}

// answer is a fixed answer of one code.
func answer(status int, typ, code, message string) api.Answer {
	return func(*gin.Context, error) (int, any) {
		return status, errorBody{errorDetail{Type: typ, Code: code, Message: message}}
	}
}

// invalid names the param a domain validation rejected; a full collection
// (domain.LimitError) reads as one too.
func invalid(_ *gin.Context, err error) (int, any) {
	var v domain.ValidationError
	if !errors.As(err, &v) {
		return http.StatusBadRequest, errorBody{errorDetail{Type: invalidRequest, Code: "parameter_invalid", Message: crmerr.Message(err)}}
	}
	param := paramOf(v.Field)
	return http.StatusBadRequest, errorBody{errorDetail{Type: invalidRequest, Code: "parameter_invalid",
		Message: "Invalid " + param + ": " + v.Reason, Param: param}}
}

// badInput is the body for the API layer's own refusals and the
// dialect's, in Stripe's words.
func badInput(bad *api.BadInput) any {
	code := bad.Code
	if mapped, ok := codes[code]; ok {
		code = mapped
	}
	return errorBody{errorDetail{Type: invalidRequest, Code: code, Message: message(bad), Param: bad.Field}}
}

// shape is the Overplane answer to each error code.
var shape = &api.ErrorShape{
	Name:     "overplane",
	BadInput: badInput,
	Codes: map[string]api.Answer{
		crmerr.Invalid: invalid,
		crmerr.Limit:   invalid,
		crmerr.Duplicate: func(_ *gin.Context, err error) (int, any) {
			var dup *commands.DuplicateError
			if !errors.As(err, &dup) {
				return http.StatusConflict, errorBody{errorDetail{Type: invalidRequest, Code: "resource_already_exists", Message: crmerr.Message(err)}}
			}
			bad := duplicate(dup, paramOf(dup.Field))
			return bad.Status, badInput(bad)
		},
		crmerr.NotFound: func(c *gin.Context, _ error) (int, any) { return http.StatusNotFound, notFoundBody(c.Param("id")) },
		crmerr.Conflict: func(_ *gin.Context, err error) (int, any) {
			return http.StatusConflict, errorBody{errorDetail{Type: invalidRequest, Code: "lock_timeout", Message: crmerr.Message(err)}}
		},
		crmerr.Busy: answer(http.StatusConflict, apiError, "lock_timeout",
			"The lead is being changed by other requests right now; retry after Retry-After seconds"),
		crmerr.KeyReused: func(*gin.Context, error) (int, any) {
			return http.StatusUnprocessableEntity, errorBody{errorDetail{Type: invalidRequest, Code: "idempotency_key_reused",
				Message: "Keys for idempotent requests can only be used with the same parameters they were first used with: the Idempotency-Key was used for another request (method, path or body)",
				Param:   "Idempotency-Key"}}
		},
		crmerr.TooLarge: answer(http.StatusRequestEntityTooLarge, invalidRequest, "body_too_large", "request body is too large"),
		crmerr.RateLimited: answer(http.StatusTooManyRequests, invalidRequest, "rate_limit",
			"Too many requests hit the API too quickly; retry after Retry-After"),
		crmerr.Unauthorized: answer(http.StatusUnauthorized, authentication, "invalid_api_key",
			"Invalid API key provided: send Authorization: Bearer <API key>"),
		crmerr.Unavailable: answer(http.StatusServiceUnavailable, apiError, "service_unavailable", "service temporarily unavailable"),
		crmerr.Internal:    answer(http.StatusInternalServerError, apiError, "internal_error", "internal error"),
	},
}

// fail renders err in the Overplane error shape (see api.Deps.Fail).
func (h *handlers) fail(c *gin.Context, err error) { h.d.Fail(c, err, shape) }

// notFound is Stripe's answer for any id string that names no lead of the
// tenant: malformed, unknown, deleted or another tenant's alike.
func (h *handlers) notFound(c *gin.Context, id string) {
	c.JSON(http.StatusNotFound, notFoundBody(id))
}

func notFoundBody(id string) errorBody {
	return errorBody{errorDetail{Type: invalidRequest, Code: "resource_missing", Message: "No such lead: '" + id + "'", Param: "id"}}
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
