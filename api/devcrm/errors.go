package devcrm

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
)

// errorBody is the API's error shape, {"message"} as its document gives
// it; field names the offending field or parameter (message starts with
// it too), and customer_id the customer a lead already became (a second
// conversion). Both are additions the document leaves room for.
type errorBody struct {
	Message    string     `json:"message"`
	Field      string     `json:"field,omitempty"`
	CustomerID *uuid.UUID `json:"customer_id,omitempty"`
}

// bodyOf is the body of a refusal naming field ("" for none).
func bodyOf(field, reason string) errorBody {
	if field == "" {
		return errorBody{Message: reason}
	}
	return errorBody{Message: field + ": " + reason, Field: field}
}

// answer is a fixed answer of one code.
func answer(status int, message string) api.Answer {
	return func(*gin.Context, error) (int, any) { return status, errorBody{Message: message} }
}

// fieldOf is the API's name of a domain field a validation error names.
func fieldOf(f string) string {
	switch f {
	case "emails":
		return "email"
	case "phones":
		return "phone"
	case "kind":
		return "type"
	case "next_action_at":
		return "next_action_date"
	case "occurred_at":
		return "date"
	}
	return f
}

// notFoundWords names what a missing-thing error was about.
var notFoundWords = []struct {
	err  error
	what string
}{
	{domain.ErrLeadNotFound, "lead not found"},
	{domain.ErrCustomerNotFound, "customer not found"},
	{domain.ErrRecordNotFound, "interaction not found"},
	{domain.ErrOrderNotFound, "order not found"},
	{domain.ErrFeedbackNotFound, "feedback not found"},
}

// invalid answers a domain refusal of a value: 400 naming the field.
func invalid(_ *gin.Context, err error) (int, any) {
	var v domain.ValidationError
	if !errors.As(err, &v) {
		return http.StatusBadRequest, errorBody{Message: crmerr.Message(err)}
	}
	return http.StatusBadRequest, bodyOf(fieldOf(v.Field), v.Reason)
}

// shape is this API's answer to each error code.
var shape = &api.ErrorShape{
	Name:     Name,
	BadInput: func(bad *api.BadInput) any { return bodyOf(bad.Field, bad.Reason) },
	Codes: map[string]api.Answer{
		crmerr.Invalid: invalid,
		crmerr.Limit: func(_ *gin.Context, err error) (int, any) {
			return http.StatusUnprocessableEntity, errorBody{Message: crmerr.Message(err)}
		},
		crmerr.Duplicate: func(_ *gin.Context, err error) (int, any) {
			var dup *commands.DuplicateError
			if !errors.As(err, &dup) {
				return http.StatusConflict, errorBody{Message: "Resource already exists"}
			}
			holder := "another lead"
			if dup.CustomerID != uuid.Nil {
				holder = "another customer"
			}
			return http.StatusConflict, bodyOf(fieldOf(dup.Field), "already belongs to "+holder)
		},
		crmerr.NotFound: func(_ *gin.Context, err error) (int, any) {
			var ref *commands.UnknownReferenceError
			if errors.As(err, &ref) {
				return http.StatusNotFound, bodyOf(ref.Field, "names no "+strings.TrimSuffix(ref.Field, "_id"))
			}
			for _, w := range notFoundWords {
				if errors.Is(err, w.err) {
					return http.StatusNotFound, errorBody{Message: w.what}
				}
			}
			return http.StatusNotFound, errorBody{Message: "Resource not found"}
		},
		crmerr.Conflict: func(_ *gin.Context, err error) (int, any) {
			var done domain.AlreadyConvertedError
			if errors.As(err, &done) {
				id := done.CustomerID
				return http.StatusConflict, errorBody{Message: "lead already converted to customer " + id.String(), CustomerID: &id}
			}
			var move domain.OrderTransitionError
			if errors.As(err, &move) {
				return http.StatusConflict, bodyOf("status", fmt.Sprintf("cannot move from %s to %s", move.From, move.To))
			}
			return http.StatusConflict, errorBody{Message: crmerr.Message(err)}
		},
		crmerr.Busy: answer(http.StatusConflict, "the record is being changed by other requests; retry after Retry-After seconds"),
		crmerr.KeyReused: func(*gin.Context, error) (int, any) {
			return http.StatusUnprocessableEntity, bodyOf("Idempotency-Key", "was already used for another request (method, path or body)")
		},
		crmerr.TooLarge:     answer(http.StatusRequestEntityTooLarge, "request body is too large"),
		crmerr.RateLimited:  answer(http.StatusTooManyRequests, "Too many requests; retry after Retry-After"),
		crmerr.Unauthorized: answer(http.StatusUnauthorized, "Invalid or missing API key"),
		crmerr.Unavailable:  answer(http.StatusServiceUnavailable, "Service temporarily unavailable"),
		crmerr.Internal:     answer(http.StatusInternalServerError, "Internal server error"),
	},
}

// fail renders err in the API's shape (see api.Deps.Fail).
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

// missing is the 400 of a required field not sent.
func missing(field string) *api.BadInput {
	return &api.BadInput{Status: http.StatusBadRequest, Code: "missing_field", Field: field, Reason: "is required"}
}
