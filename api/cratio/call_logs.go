package cratio

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/calllogs"
)

var callTypes = []string{"Inbound", "Outbound"}

// callLog is the Cratio call log object; duration_seconds 0 is a missed call.
type callLog struct {
	ID              uuid.UUID `json:"id"`
	LeadID          uuid.UUID `json:"lead_id"`
	CallType        string    `json:"call_type"`
	DurationSeconds int       `json:"duration_seconds"`
	Outcome         *string   `json:"outcome"`
	Notes           *string   `json:"notes"`
	CalledAt        time.Time `json:"called_at"`
	CreatedAt       time.Time `json:"created_at"`
}

func toCallLog(r calllogs.CallLog) callLog {
	return callLog{ID: r.ID, LeadID: r.LeadID, CallType: r.CallType, DurationSeconds: r.DurationSeconds,
		Outcome: optional(r.Outcome), Notes: optional(r.Notes), CalledAt: r.CalledAt.UTC(), CreatedAt: r.CreatedAt.UTC()}
}

func (h *handlers) listCallLogs(c *gin.Context) {
	f := calllogs.Filter{TenantID: api.Principal(c).TenantID}
	var bad *api.BadInput
	if f.Limit, f.Offset, bad = page(c); bad != nil {
		h.fail(c, bad)
		return
	}
	if f.CalledFrom, f.CalledTo, bad = dateRange(c, time.Now()); bad != nil {
		h.fail(c, bad)
		return
	}
	if f.CallType, bad = oneOf(c, "call_type", callTypes...); bad != nil {
		h.fail(c, bad)
		return
	}
	if s := c.Query("lead_id"); s != "" {
		if f.LeadID, bad = uuidParam("lead_id", s); bad != nil {
			h.fail(c, bad)
			return
		}
	}
	rows, total, err := h.d.CallLogs.ListCallLogs(c.Request.Context(), f)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := listBody[callLog]{Data: make([]callLog, len(rows)), Total: total, Limit: f.Limit, Offset: f.Offset,
		HasMore: int64(f.Offset+len(rows)) < total}
	for i, r := range rows {
		out.Data[i] = toCallLog(r)
	}
	c.JSON(http.StatusOK, out)
}

var callLogFields = []string{"lead_id", "call_type", "duration_seconds", "outcome", "notes", "called_at"}

// decodeCallLog reads a create-call-log body. called_at defaults to now.
func decodeCallLog(c *gin.Context, now time.Time) (uuid.UUID, domain.CallLog, *api.BadInput) {
	var call domain.CallLog
	body, bad := api.DecodeObject(c.Request.Body, callLogFields...)
	if bad != nil {
		return uuid.Nil, call, bad
	}
	leadS, ok, bad := api.Field[string](body, "lead_id", "a string")
	if bad != nil {
		return uuid.Nil, call, bad
	}
	if !ok {
		return uuid.Nil, call, api.Invalid("lead_id", "is required")
	}
	leadID, err := uuid.Parse(leadS)
	if err != nil || len(leadS) != 36 {
		return uuid.Nil, call, api.Invalid("lead_id", "must be a UUID")
	}
	typ, ok, bad := api.Field[string](body, "call_type", "a string")
	if bad != nil {
		return uuid.Nil, call, bad
	}
	if !ok {
		return uuid.Nil, call, api.Invalid("call_type", "is required")
	}
	if !contains(callTypes, typ) {
		return uuid.Nil, call, api.Invalid("call_type", "must be one of "+joinOr(callTypes))
	}
	call.Type = domain.CallType(typ)
	dur, ok, bad := api.Field[int](body, "duration_seconds", "an integer")
	if bad != nil {
		return uuid.Nil, call, bad
	}
	if !ok {
		return uuid.Nil, call, api.Invalid("duration_seconds", "is required (0 for a missed call)")
	}
	if dur < 0 {
		return uuid.Nil, call, api.Invalid("duration_seconds", "must not be negative")
	}
	call.DurationSeconds = dur
	if call.Outcome, _, bad = api.Field[string](body, "outcome", "a string"); bad != nil {
		return uuid.Nil, call, bad
	}
	if call.Notes, _, bad = api.Field[string](body, "notes", "a string"); bad != nil {
		return uuid.Nil, call, bad
	}
	call.Outcome, call.Notes = strings.TrimSpace(call.Outcome), strings.TrimSpace(call.Notes)
	at, ok, bad := api.Field[string](body, "called_at", "a string")
	if bad != nil {
		return uuid.Nil, call, bad
	}
	call.CalledAt = now.UTC().Truncate(time.Millisecond)
	if ok {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return uuid.Nil, call, api.Invalid("called_at", "must be an RFC 3339 date-time, e.g. 2026-04-22T10:30:00Z")
		}
		call.CalledAt = t.UTC()
	}
	return leadID, call, nil
}

func (h *handlers) createCallLog(c *gin.Context) {
	leadID, call, bad := decodeCallLog(c, time.Now())
	if bad != nil {
		h.fail(c, bad)
		return
	}
	res, err := h.d.Commands.LogCall(c.Request.Context(), api.CommandContext(c, Name), leadID, call)
	if errors.Is(err, domain.ErrLeadNotFound) {
		h.fail(c, &api.BadInput{Status: http.StatusNotFound, Code: "not_found", Field: "lead_id", Reason: "lead not found"})
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	if h.d.AwaitReadModels(c, res.Position, readModels...) {
		row, err := h.d.CallLogs.GetCallLog(c.Request.Context(), api.Principal(c).TenantID, res.CallLogID)
		if err == nil {
			c.JSON(http.StatusCreated, toCallLog(row))
			return
		}
		if !errors.Is(err, projections.ErrNotFound) {
			h.fail(c, err)
			return
		}
	}
	c.JSON(http.StatusCreated, toCallLog(calllogs.CallLog{ID: res.CallLogID, LeadID: leadID,
		CallType: string(call.Type), DurationSeconds: call.DurationSeconds, Outcome: call.Outcome,
		Notes: call.Notes, CalledAt: call.CalledAt, CreatedAt: time.Now()}))
}

func (h *handlers) deleteCallLog(c *gin.Context) {
	id, bad := uuidParam("id", c.Param("id"))
	if bad != nil {
		h.fail(c, bad)
		return
	}
	res, err := h.d.Commands.DeleteCallLog(c.Request.Context(), api.CommandContext(c, Name), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.d.AwaitReadModels(c, res.Position, readModels...)
	c.JSON(http.StatusOK, deleted{ID: id, Deleted: true})
}
