package prospects

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
)

// boom is hapi's Boom error shape, the one the API document gives every
// error: {"statusCode", "error", "message"}; field names the offending
// field or parameter when there is one (an addition the document allows:
// Boom's payload is open).
type boom struct {
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	Field      string `json:"field,omitempty"`
}

func boomOf(status int, message, field string) boom {
	return boom{StatusCode: status, Error: http.StatusText(status), Message: message, Field: field}
}

// answer is a fixed answer of one code.
func answer(status int, message string) api.Answer {
	return func(*gin.Context, error) (int, any) { return status, boomOf(status, message, "") }
}

// message words a refusal as Joi does: the field quoted, then its fault.
func message(bad *api.BadInput) string {
	switch {
	case bad.Field == "":
		return bad.Reason
	case bad.Code == "unknown_field":
		return `"` + bad.Field + `" is not allowed`
	}
	return `"` + bad.Field + `" ` + bad.Reason
}

// fieldOf is the API's name of a domain field a validation error names.
func fieldOf(f string) string {
	switch f {
	case "emails":
		return "email"
	case "phones":
		return "phone"
	case "company":
		return "company_name"
	case "notes":
		return "note"
	case "next_action_at":
		return "scheduled_date"
	case "kind":
		return "action"
	case "source":
		return "channel"
	case "deal_value":
		return "account_value"
	case "website":
		return "url"
	}
	return f
}

// notFoundWords names what a missing-thing error was about.
var notFoundWords = []struct {
	err  error
	what string
}{
	{domain.ErrLeadNotFound, "Prospect not found"},
	{domain.ErrCustomerNotFound, "Client not found"},
	{domain.ErrRecordNotFound, "Record not found"},
	{domain.ErrStatusNotFound, "Follow-up status not found"},
}

// shape is this API's answer to each error code.
var shape = &api.ErrorShape{
	Name:     "prospects",
	BadInput: func(bad *api.BadInput) any { return boomOf(bad.Status, message(bad), bad.Field) },
	Codes: map[string]api.Answer{
		crmerr.Invalid: func(_ *gin.Context, err error) (int, any) {
			var v domain.ValidationError
			if !errors.As(err, &v) {
				return http.StatusBadRequest, boomOf(http.StatusBadRequest, crmerr.Message(err), "")
			}
			f := fieldOf(v.Field)
			return http.StatusBadRequest, boomOf(http.StatusBadRequest, `"`+f+`" `+v.Reason, f)
		},
		crmerr.Limit: func(_ *gin.Context, err error) (int, any) {
			return http.StatusUnprocessableEntity, boomOf(http.StatusUnprocessableEntity, crmerr.Message(err), "")
		},
		crmerr.Duplicate: func(_ *gin.Context, err error) (int, any) {
			var dup *commands.DuplicateError
			field := ""
			if errors.As(err, &dup) {
				field = fieldOf(dup.Field)
			}
			msg := "already exists"
			if field != "" {
				msg = `"` + field + `" already belongs to another record`
			}
			return http.StatusConflict, boomOf(http.StatusConflict, msg, field)
		},
		crmerr.NotFound: func(_ *gin.Context, err error) (int, any) {
			for _, w := range notFoundWords {
				if errors.Is(err, w.err) {
					return http.StatusNotFound, boomOf(http.StatusNotFound, w.what, "")
				}
			}
			return http.StatusNotFound, boomOf(http.StatusNotFound, "Not found", "")
		},
		crmerr.Conflict: func(_ *gin.Context, err error) (int, any) {
			return http.StatusConflict, boomOf(http.StatusConflict, crmerr.Message(err), "")
		},
		crmerr.Busy: answer(http.StatusConflict, "The record is being changed by other requests; retry after Retry-After seconds"),
		crmerr.KeyReused: func(*gin.Context, error) (int, any) {
			return http.StatusUnprocessableEntity, boomOf(http.StatusUnprocessableEntity,
				"Idempotency-Key was already used for another request (method, path or body)", "Idempotency-Key")
		},
		crmerr.TooLarge:    answer(http.StatusRequestEntityTooLarge, "request body is too large"),
		crmerr.RateLimited: answer(http.StatusTooManyRequests, "Too many requests; retry after Retry-After"),
		crmerr.Unauthorized: func(_ *gin.Context, err error) (int, any) {
			// "token expired" helps a client renew; the other reasons
			// stay in the server.
			msg := crmerr.Message(err)
			if !strings.Contains(msg, "expired") && !strings.Contains(msg, "missing") {
				msg = "invalid token"
			}
			return http.StatusUnauthorized, boomOf(http.StatusUnauthorized, msg, "")
		},
		crmerr.Unavailable: answer(http.StatusServiceUnavailable, "Service temporarily unavailable"),
		crmerr.Internal:    answer(http.StatusInternalServerError, "An internal server error occurred"),
	},
}

// fail renders err in the Boom shape (see api.Deps.Fail).
func (h *handlers) fail(c *gin.Context, err error) { h.d.Fail(c, err, shape) }

// notFound is the 404 of an id that names nothing of the tenant's:
// malformed, unknown, deleted or another tenant's alike.
func notFound(what string) *api.BadInput {
	return &api.BadInput{Status: http.StatusNotFound, Code: "not_found", Reason: what + " not found"}
}

// badField is a 400 naming a field whose value the API does not accept.
func badField(field, reason string) *api.BadInput {
	return &api.BadInput{Status: http.StatusBadRequest, Code: "invalid_field", Field: field, Reason: reason}
}
