package cratio

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
)

// errorBody is the Cratio error shape: {"error": {"code", "message", "field"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// answer is a fixed answer of one code.
func answer(status int, code, message, field string) api.Answer {
	return func(*gin.Context, error) (int, any) {
		return status, errorBody{errorDetail{Code: code, Message: message, Field: field}}
	}
}

// invalid names the field a domain validation rejected; a full collection
// (domain.LimitError) reads as one too.
func invalid(_ *gin.Context, err error) (int, any) {
	var v domain.ValidationError
	if !errors.As(err, &v) {
		return http.StatusUnprocessableEntity, errorBody{errorDetail{Code: "invalid_field", Message: crmerr.Message(err)}}
	}
	field := cratioField(v.Field)
	return http.StatusUnprocessableEntity, errorBody{errorDetail{Code: "invalid_field", Message: field + ": " + v.Reason, Field: field}}
}

func conflict(_ *gin.Context, err error) (int, any) {
	return http.StatusConflict, errorBody{errorDetail{Code: "conflict", Message: crmerr.Message(err)}}
}

// shape is the Cratio answer to each error code.
var shape = &api.ErrorShape{
	Name: "cratio",
	BadInput: func(bad *api.BadInput) any {
		return errorBody{errorDetail{Code: bad.Code, Message: bad.Error(), Field: bad.Field}}
	},
	Codes: map[string]api.Answer{
		crmerr.Invalid: invalid,
		crmerr.Limit:   invalid,
		crmerr.NotFound: func(_ *gin.Context, err error) (int, any) {
			return http.StatusNotFound, errorBody{errorDetail{Code: "not_found", Message: crmerr.Message(err), Field: "id"}}
		},
		// Cratio merges a lead's duplicates (commands.MergeDuplicates), so
		// what is left is a call log or status that exists already.
		crmerr.Duplicate: conflict,
		crmerr.Conflict:  conflict,
		crmerr.Busy: func(_ *gin.Context, err error) (int, any) {
			return http.StatusConflict, errorBody{errorDetail{Code: "conflict", Message: err.Error()}}
		},
		crmerr.KeyReused: answer(http.StatusUnprocessableEntity, "invalid_field",
			"Idempotency-Key: was used for another request (method, path or body)", "Idempotency-Key"),
		crmerr.TooLarge:     answer(http.StatusRequestEntityTooLarge, "body_too_large", "request body is too large", ""),
		crmerr.RateLimited:  answer(http.StatusTooManyRequests, "rate_limited", "rate limit exceeded; retry after Retry-After", ""),
		crmerr.Unauthorized: answer(http.StatusUnauthorized, "unauthorized", "missing or invalid API key", ""),
		crmerr.Unavailable:  answer(http.StatusServiceUnavailable, "unavailable", "service temporarily unavailable", ""),
		crmerr.Internal:     answer(http.StatusInternalServerError, "internal", "internal error", ""),
	},
}

// fail renders err in the Cratio error shape (see api.Deps.Fail).
func (h *handlers) fail(c *gin.Context, err error) { h.d.Fail(c, err, shape) }

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
