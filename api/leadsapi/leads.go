package leadsapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/leads"
)

// leadList is the answer of GET /leads.
type leadList struct {
	Count int64  `json:"count"`
	Leads []lead `json:"leads"`
}

func (h *handlers) listLeads(c *gin.Context) {
	ctx, tenant := c.Request.Context(), api.Principal(c).TenantID
	f := leads.Filter{TenantID: tenant}
	var bad *api.BadInput
	if f.Limit, f.Offset, bad = page(c, defaultLimit, maxLimit); bad != nil {
		h.fail(c, bad)
		return
	}
	switch c.Query("state") {
	case "", stateActive:
	case stateArchived:
		f.OnlyArchived = true
	case "All":
		f.IncludeArchived = true
	default:
		h.fail(c, badRequest("state", "state must be one of Active, Archived, All"))
		return
	}
	pl, err := h.pipeline(ctx, tenant)
	if err != nil {
		h.fail(c, err)
		return
	}
	if s, ok := c.GetQuery("statusId"); ok {
		id, valid := positiveInt(s)
		key := ""
		for _, st := range pl.statuses {
			if valid && st.ID == id {
				key = string(st.Key)
			}
		}
		if key == "" {
			h.fail(c, badRequest("statusId", "Invalid status ID"))
			return
		}
		f.Status = key
	}
	rows, total, err := h.d.Leads.ListLeads(ctx, f)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, leadList{Count: total, Leads: pl.leads(rows)})
}

func (h *handlers) searchLeads(c *gin.Context) {
	ctx, tenant := c.Request.Context(), api.Principal(c).TenantID
	q := strings.TrimSpace(c.Query("q"))
	if q == "" {
		h.fail(c, badRequest("q", "q must not be empty"))
		return
	}
	if len(q) > 200 {
		h.fail(c, badRequest("q", "q must be at most 200 characters"))
		return
	}
	limit, offset, bad := page(c, defaultLimit, maxLimit)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	rows, _, err := h.d.Leads.SearchLeads(ctx, tenant, q, limit, offset)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.respondLeads(c, rows)
}

func (h *handlers) recentLeads(c *gin.Context) {
	limit, bad := intQuery(c, "limit", recentLimit, 1, maxRecent)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	rows, _, err := h.d.Leads.ListLeads(c.Request.Context(), leads.Filter{TenantID: api.Principal(c).TenantID, Limit: limit})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.respondLeads(c, rows)
}

func (h *handlers) respondLeads(c *gin.Context, rows []leads.Lead) {
	pl, err := h.pipeline(c.Request.Context(), api.Principal(c).TenantID)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, pl.leads(rows))
}

// leadByNumber finds the tenant's lead by the id this API shows.
func (h *handlers) leadByNumber(ctx context.Context, tenantID uuid.UUID, n int64) (leads.Lead, error) {
	row, err := h.d.Leads.GetLeadByNumber(ctx, tenantID, n)
	if errors.Is(err, projections.ErrNotFound) {
		return row, notFound("id", "Lead not found")
	}
	return row, err
}

// pathLead is the lead the path's id numbers; a bad id or a lead not found
// is the error to fail the request with.
func (h *handlers) pathLead(c *gin.Context) (leads.Lead, error) {
	n, bad := leadID(c)
	if bad != nil {
		return leads.Lead{}, bad
	}
	return h.leadByNumber(c.Request.Context(), api.Principal(c).TenantID, n)
}

func (h *handlers) getLead(c *gin.Context) {
	row, err := h.pathLead(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	pl, err := h.pipeline(c.Request.Context(), api.Principal(c).TenantID)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, pl.lead(row))
}

// respondLead answers with lead id once the read models show pos; if they
// are late, with fallback, the state the command returned.
func (h *handlers) respondLead(c *gin.Context, code int, id uuid.UUID, pos eventstore.Position, fallback leads.Lead) {
	ctx, tenant := c.Request.Context(), api.Principal(c).TenantID
	row := fallback
	if h.d.AwaitReadModels(c, pos, readModels...) {
		got, err := h.d.Leads.GetLead(ctx, tenant, id)
		if err != nil && !errors.Is(err, projections.ErrNotFound) {
			h.fail(c, err)
			return
		}
		if err == nil {
			row = got
		}
	}
	pl, err := h.pipeline(ctx, tenant)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(code, pl.lead(row))
}

// checkPhoto refuses a photo name that is not a stored photo of the tenant;
// keep is the lead's current photo, accepted as is.
func (h *handlers) checkPhoto(ctx context.Context, tenantID uuid.UUID, name, keep string) error {
	if name == "" || name == keep {
		return nil
	}
	ok, err := h.photos.Exists(ctx, tenantID, name)
	if err != nil {
		return err
	}
	if !ok {
		return badRequest("photo", "photo must be the name of a photo uploaded with POST /leads/upload-photo")
	}
	return nil
}

// statusKey is the key of status id, for a lead to hold; an unknown id is
// a 404 "No lead status found".
func (h *handlers) statusKey(ctx context.Context, tenantID uuid.UUID, id int64) (domain.Status, error) {
	s, err := h.d.Commands.StatusByID(ctx, tenantID, id)
	if errors.Is(err, domain.ErrStatusNotFound) {
		return "", notFound("statusId", "No lead status found")
	}
	return s.Key, err
}

func (h *handlers) createLead(c *gin.Context) {
	ctx, tenant := c.Request.Context(), api.Principal(c).TenantID
	in, bad := decodeLead(c.Request.Body, h.d.Commands.Region())
	if bad != nil {
		h.fail(c, bad)
		return
	}
	if in.first == "" {
		h.fail(c, badRequest("firstName", "firstName must not be empty"))
		return
	}
	var status domain.Status
	if in.statusID != 0 {
		var err error
		if status, err = h.statusKey(ctx, tenant, in.statusID); err != nil {
			h.fail(c, err)
			return
		}
	} else {
		// A lead starts in the first status of the tenant's pipeline.
		statuses, err := h.d.Commands.PipelineStatuses(ctx, tenant)
		if err != nil {
			h.fail(c, err)
			return
		}
		status = statuses[0].Key
	}
	if err := h.checkPhoto(ctx, tenant, in.photo, ""); err != nil {
		h.fail(c, err)
		return
	}
	cc := api.CommandContext(c, Name)
	res, err := h.d.Commands.CreateLead(ctx, cc, commands.CreateLead{
		Profile: in.apply(domain.LeadProfile{}), Normalized: true, Status: status, OnDuplicate: commands.RejectDuplicates,
		Archived: in.state == stateArchived,
	})
	if err != nil {
		h.fail(c, err)
		return
	}
	now := time.Now()
	h.respondLead(c, http.StatusCreated, res.LeadID, res.Position, leads.Lead{ID: res.LeadID, Number: res.Number,
		Status: string(res.Status), Archived: in.state == stateArchived, Profile: res.Profile, CreatedAt: now, UpdatedAt: now})
}

func (h *handlers) updateLead(c *gin.Context) {
	ctx, tenant := c.Request.Context(), api.Principal(c).TenantID
	row, err := h.pathLead(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	in, bad := decodeLead(c.Request.Body, h.d.Commands.Region())
	if bad != nil {
		h.fail(c, bad)
		return
	}
	var status domain.Status
	if in.statusID != 0 {
		if status, err = h.statusKey(ctx, tenant, in.statusID); err != nil {
			h.fail(c, err)
			return
		}
	}
	if err := h.checkPhoto(ctx, tenant, in.photo, row.Profile.Photo); err != nil {
		h.fail(c, err)
		return
	}
	update := commands.UpdateLead{
		Edit:       func(cur domain.LeadProfile) (domain.LeadProfile, error) { return in.apply(cur), nil },
		Normalized: true, // in is normalized, and so is the lead it applies to
		Status:     status,
	}
	archived := row.Archived
	if in.state != "" {
		archived = in.state == stateArchived
		update.Archived = &archived
	}
	res, err := h.d.Commands.UpdateLead(ctx, api.CommandContext(c, Name), row.ID, update)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.respondLead(c, http.StatusOK, row.ID, res.Position, leads.Lead{ID: row.ID, Number: row.Number, Status: string(res.Status),
		Archived: archived, Profile: res.Profile, CreatedAt: row.CreatedAt, UpdatedAt: time.Now()})
}
