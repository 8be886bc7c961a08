package leadsapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
)

// errorBody is the Leads API error shape, NestJS style:
// {"statusCode": 400, "message": "Email already exists", "error": "Bad Request", "field": "email"}.
type errorBody struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Error      string `json:"error"`
	Field      string `json:"field,omitempty"`
}

func reply(c *gin.Context, status int, message, field string) {
	c.JSON(status, body(status, message, field))
}

func body(status int, message, field string) errorBody {
	return errorBody{StatusCode: status, Message: message, Error: http.StatusText(status), Field: field}
}

// ownMessage marks a BadInput whose Reason is the whole message to show.
const ownMessage = "leads_api"

// badRequest is a 400 with its whole message.
func badRequest(field, message string) *api.BadInput {
	return &api.BadInput{Status: http.StatusBadRequest, Code: ownMessage, Field: field, Reason: message}
}

// notFound is a 404 with its whole message.
func notFound(field, message string) *api.BadInput {
	return &api.BadInput{Status: http.StatusNotFound, Code: ownMessage, Field: field, Reason: message}
}

// message words a bad input: the shared decoder's reasons complete a
// sentence that starts with the field, as NestJS's validation messages do.
func message(bad *api.BadInput) string {
	switch {
	case bad.Code == ownMessage || bad.Field == "":
		return bad.Reason
	case bad.Code == "unknown_field":
		return "property " + bad.Field + " should not exist"
	}
	return bad.Field + " " + bad.Reason
}

// fieldOf maps a domain profile field to the Leads API field it came from.
func fieldOf(f string) string {
	switch f {
	case "emails", "email":
		return "email"
	case "phones", "phone":
		return "phoneNumber"
	case "name", "first_name":
		return "firstName"
	case "last_name":
		return "lastName"
	case "job_title":
		return "position"
	case "business_ids":
		return "business"
	case "social":
		return "socialMedia"
	case "status":
		return "statusId"
	}
	return f
}

// answer is a fixed answer of one code.
func answer(status int, message, field string) api.Answer {
	return func(*gin.Context, error) (int, any) { return status, body(status, message, field) }
}

// worded are the domain errors the Leads API words its own way, as the
// NestJS service does; a missing status is a 400 there, not a 404.
var worded = []struct {
	err            error
	status         int
	message, field string
}{
	{domain.ErrLeadNotFound, http.StatusNotFound, "Lead not found", "id"},
	{domain.ErrCommentNotFound, http.StatusNotFound, "Comment not found", "id"},
	{domain.ErrStatusNotFound, http.StatusBadRequest, "Lead status not found", "id"},
	{domain.ErrStatusExists, http.StatusBadRequest, "Lead status already exists", "name"},
	{domain.ErrStatusInUse, http.StatusBadRequest, "Cannot delete status: leads still have it, or it is the last one", "id"},
}

// inWords answers err in its own words when worded has them, else with
// status and the error's own text.
func inWords(status int) api.Answer {
	return func(_ *gin.Context, err error) (int, any) {
		for _, w := range worded {
			if errors.Is(err, w.err) {
				return w.status, body(w.status, w.message, w.field)
			}
		}
		return status, body(status, crmerr.Message(err), "")
	}
}

// shape is the Leads API answer to each error code.
var shape = &api.ErrorShape{
	Name:     "leads api",
	BadInput: func(bad *api.BadInput) any { return body(bad.Status, message(bad), bad.Field) },
	Codes: map[string]api.Answer{
		crmerr.Invalid: func(c *gin.Context, err error) (int, any) {
			var invalid domain.ValidationError
			if !errors.As(err, &invalid) {
				return inWords(http.StatusBadRequest)(c, err)
			}
			field := fieldOf(invalid.Field)
			return http.StatusBadRequest, body(http.StatusBadRequest, field+" "+invalid.Reason, field)
		},
		crmerr.Limit: func(c *gin.Context, err error) (int, any) {
			var limit domain.LimitError
			if !errors.As(err, &limit) {
				return inWords(http.StatusUnprocessableEntity)(c, err)
			}
			return http.StatusUnprocessableEntity, body(http.StatusUnprocessableEntity, limit.Error(), fieldOf(limit.Field))
		},
		crmerr.Duplicate: func(c *gin.Context, err error) (int, any) {
			var dup *commands.DuplicateError
			switch {
			case !errors.As(err, &dup):
				return inWords(http.StatusBadRequest)(c, err)
			case dup.Field == "phone":
				return http.StatusBadRequest, body(http.StatusBadRequest, "Phone number already exists", "phoneNumber")
			}
			return http.StatusBadRequest, body(http.StatusBadRequest, "Email already exists", "email")
		},
		crmerr.NotFound:     inWords(http.StatusNotFound),
		crmerr.Conflict:     inWords(http.StatusConflict),
		crmerr.Busy:         answer(http.StatusConflict, "The lead is being changed by other requests; retry", ""),
		crmerr.KeyReused:    answer(http.StatusUnprocessableEntity, "Idempotency-Key was already used for another request (method, path or body)", "Idempotency-Key"),
		crmerr.TooLarge:     answer(http.StatusRequestEntityTooLarge, "request body is too large", ""),
		crmerr.RateLimited:  answer(http.StatusTooManyRequests, "Too many requests; retry after Retry-After", ""),
		crmerr.Unauthorized: answer(http.StatusUnauthorized, "Missing or invalid API key", ""),
		crmerr.Unavailable:  answer(http.StatusServiceUnavailable, "Service temporarily unavailable", ""),
		crmerr.Internal:     answer(http.StatusInternalServerError, "Internal server error", ""),
	},
}

// fail renders err in the Leads API error shape (see api.Deps.Fail).
func (h *handlers) fail(c *gin.Context, err error) { h.d.Fail(c, err, shape) }
