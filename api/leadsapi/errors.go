package leadsapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
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
	c.JSON(status, errorBody{StatusCode: status, Message: message, Error: http.StatusText(status), Field: field})
}

func unauthorized(c *gin.Context, status int) {
	if status == http.StatusUnauthorized {
		reply(c, status, "Missing or invalid API key", "")
		return
	}
	reply(c, status, "Service temporarily unavailable", "")
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

// fail renders err in the Leads API error shape: bad input and domain errors
// as 4xx naming the field; anything else as 500 (logged, not shown) or 503.
func (h *handlers) fail(c *gin.Context, err error) {
	var bad *api.BadInput
	var invalid domain.ValidationError
	var dup *commands.DuplicateError
	var limit domain.LimitError
	switch {
	case errors.As(err, &bad):
		reply(c, bad.Status, message(bad), bad.Field)
	case errors.As(err, &limit):
		reply(c, http.StatusUnprocessableEntity, limit.Error(), fieldOf(limit.Field))
	case errors.As(err, &invalid):
		field := fieldOf(invalid.Field)
		reply(c, http.StatusBadRequest, field+" "+invalid.Reason, field)
	case errors.As(err, &dup):
		if dup.Field == "phone" {
			reply(c, http.StatusBadRequest, "Phone number already exists", "phoneNumber")
			return
		}
		reply(c, http.StatusBadRequest, "Email already exists", "email")
	case errors.Is(err, domain.ErrLeadNotFound):
		reply(c, http.StatusNotFound, "Lead not found", "id")
	case errors.Is(err, domain.ErrCommentNotFound):
		reply(c, http.StatusNotFound, "Comment not found", "id")
	case errors.Is(err, domain.ErrStatusNotFound):
		reply(c, http.StatusBadRequest, "Lead status not found", "id")
	case errors.Is(err, domain.ErrStatusExists):
		reply(c, http.StatusBadRequest, "Lead status already exists", "name")
	case errors.Is(err, domain.ErrStatusInUse):
		reply(c, http.StatusBadRequest, "Cannot delete status: leads still have it, or it is the last one", "id")
	case errors.Is(err, api.ErrRateLimited):
		reply(c, http.StatusTooManyRequests, "Too many requests; retry after Retry-After", "")
	case errors.Is(err, commands.ErrKeyReused):
		reply(c, http.StatusUnprocessableEntity, "Idempotency-Key was already used for another request (method, path or body)", "Idempotency-Key")
	case errors.Is(err, commands.ErrBusy):
		c.Header("Retry-After", "1")
		reply(c, http.StatusConflict, "The lead is being changed by other requests; retry", "")
	default:
		if api.Unavailable(err) {
			c.Header("Retry-After", "1")
			reply(c, http.StatusServiceUnavailable, "Service temporarily unavailable", "")
			return
		}
		h.d.Logger.Error("leads api request failed", "route", c.FullPath(), "err", err, "request_id", c.GetString(api.HeaderRequestID))
		reply(c, http.StatusInternalServerError, "Internal server error", "")
	}
}
