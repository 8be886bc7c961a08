package overplane

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/leads"
)

const (
	defaultLimit = 20
	maxLimit     = 100
)

// listBody is the Overplane list envelope.
type listBody struct {
	Data    []lead `json:"data"`
	HasMore bool   `json:"has_more"`
	Total   int64  `json:"total"`
}

// page reads limit (1..100, default 20) and offset (0..api.MaxOffset,
// default 0).
func page(c *gin.Context) (limit, offset int, bad *api.BadInput) {
	limit = defaultLimit
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return 0, 0, invalidParam("limit", "must be an integer between 1 and 100")
		}
		limit = n
	}
	if s, ok := c.GetQuery("offset"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > api.MaxOffset {
			return 0, 0, invalidParam("offset", "must be an integer from 0 to "+strconv.Itoa(api.MaxOffset))
		}
		offset = n
	}
	return limit, offset, nil
}

func (h *handlers) listLeads(c *gin.Context) {
	f := leads.Filter{TenantID: api.Principal(c).TenantID}
	var bad *api.BadInput
	if f.Limit, f.Offset, bad = page(c); bad != nil {
		h.fail(c, bad)
		return
	}
	rows, total, err := h.d.Leads.ListLeads(c.Request.Context(), f)
	if err != nil {
		h.fail(c, err)
		return
	}
	book, err := h.book(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := listBody{Data: make([]lead, len(rows)), Total: total, HasMore: int64(f.Offset+len(rows)) < total}
	for i, r := range rows {
		out.Data[i] = toLead(r.ID, r.Profile, r.Status, book, r.CreatedAt, r.UpdatedAt)
	}
	c.JSON(http.StatusOK, out)
}

func (h *handlers) getLead(c *gin.Context) {
	id, ok := parseLeadID(c.Param("id"))
	if !ok {
		h.notFound(c, c.Param("id"))
		return
	}
	row, err := h.d.Leads.GetLead(c.Request.Context(), api.Principal(c).TenantID, id)
	if errors.Is(err, projections.ErrNotFound) {
		h.notFound(c, c.Param("id"))
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	book, err := h.book(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toLead(row.ID, row.Profile, row.Status, book, row.CreatedAt, row.UpdatedAt))
}

// book is the tenant's pipeline, to name statuses and find them by name.
func (h *handlers) book(c *gin.Context) (domain.StatusBook, error) {
	statuses, err := h.d.Pipelines.Statuses(c.Request.Context(), api.Principal(c).TenantID)
	return domain.StatusBook(statuses), err
}

// decode reads a create or PATCH body, with its status resolved through
// the tenant's pipeline.
func (h *handlers) decode(c *gin.Context) (patch, domain.StatusBook, bool) {
	pt, bad := decodePatch(c.Request.Body, h.d.Commands.Region())
	if bad != nil {
		h.fail(c, bad)
		return pt, nil, false
	}
	book, err := h.book(c)
	if err != nil {
		h.fail(c, err)
		return pt, nil, false
	}
	if bad := pt.resolveStatus(book); bad != nil {
		h.fail(c, bad)
		return pt, nil, false
	}
	return pt, book, true
}

func (h *handlers) createLead(c *gin.Context) {
	pt, book, ok := h.decode(c)
	if !ok {
		return
	}
	p, err := pt.apply(domain.LeadProfile{})
	if err != nil {
		h.fail(c, err)
		return
	}
	res, err := h.d.Commands.CreateLead(c.Request.Context(), api.CommandContext(c, Name),
		commands.CreateLead{Profile: p, Normalized: true, Status: pt.status, OnDuplicate: commands.RejectDuplicates})
	if err != nil {
		h.fail(c, pt.blame(err))
		return
	}
	h.answer(c, http.StatusCreated, res, book)
}

func (h *handlers) updateLead(c *gin.Context) {
	id, ok := parseLeadID(c.Param("id"))
	if !ok {
		h.notFound(c, c.Param("id"))
		return
	}
	pt, book, ok := h.decode(c)
	if !ok {
		return
	}
	res, err := h.d.Commands.UpdateLead(c.Request.Context(), api.CommandContext(c, Name), id,
		commands.UpdateLead{Edit: pt.apply, Normalized: true, Status: pt.status})
	if err != nil {
		h.fail(c, pt.blame(err))
		return
	}
	h.answer(c, http.StatusOK, res, book)
}

// answer sends the lead a write left, read back from the read model once
// it shows the write; if it does not in time, from the command's result.
func (h *handlers) answer(c *gin.Context, code int, res commands.LeadResult, book domain.StatusBook) {
	shown := h.d.AwaitReadModels(c, res.Position, readModel)
	row, err := h.d.Leads.GetLead(c.Request.Context(), api.Principal(c).TenantID, res.LeadID)
	if err != nil && !errors.Is(err, projections.ErrNotFound) {
		h.fail(c, err)
		return
	}
	if shown && err == nil {
		c.JSON(code, toLead(row.ID, row.Profile, row.Status, book, row.CreatedAt, row.UpdatedAt))
		return
	}
	now := time.Now()
	created := now
	if err == nil {
		created = row.CreatedAt
	}
	c.JSON(code, toLead(res.LeadID, res.Profile, string(res.Status), book, created, now))
}

// deleted is the answer to a permanent delete.
type deleted struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

func (h *handlers) deleteLead(c *gin.Context) {
	id, ok := parseLeadID(c.Param("id"))
	if !ok {
		h.notFound(c, c.Param("id"))
		return
	}
	res, err := h.d.Commands.DeleteLead(c.Request.Context(), api.CommandContext(c, Name), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.d.AwaitReadModels(c, res.Position, readModel)
	c.JSON(http.StatusOK, deleted{ID: leadID(id), Deleted: true})
}
