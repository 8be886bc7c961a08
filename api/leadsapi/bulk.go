package leadsapi

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
)

// maxBulk bounds the ids of one bulk request: they are one commit.
const maxBulk = 1000

// done is the answer of a bulk change or a delete.
type done struct {
	Message     string `json:"message"`
	Description string `json:"description"`
}

// errLeadsMissing is the answer of a bulk request naming a lead the tenant
// does not have: nothing is changed.
var errLeadsMissing = badRequest("ids", "One or more leads not found")

// decodeBulk decodes a bulk body, an object of the allowed fields ("ids"
// among them), and the lead ids it holds (decodeIDs).
func decodeBulk(r io.Reader, allowed ...string) (api.Object, []int64, *api.BadInput) {
	body, bad := api.DecodeObject(r, allowed...)
	if bad != nil {
		return api.Object{}, nil, bad
	}
	numbers, bad := decodeIDs(body)
	return body, numbers, bad
}

// decodeIDs reads the lead ids of a bulk body, without repeats, in order.
func decodeIDs(body api.Object) ([]int64, *api.BadInput) {
	ids, ok, bad := api.Field[[]int64](body, "ids", "an array of integers")
	if bad != nil {
		return nil, bad
	}
	if !ok || len(ids) == 0 {
		return nil, badRequest("ids", "ids must be a non-empty array of lead ids")
	}
	if len(ids) > maxBulk {
		return nil, badRequest("ids", "ids must hold at most 1000 lead ids")
	}
	seen := map[int64]bool{}
	var out []int64
	for _, id := range ids {
		if id < 1 {
			return nil, badRequest("ids", "ids must hold positive integers")
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// resolve maps lead numbers to lead ids, in order; ok is false when one of
// them names no lead of the tenant.
func (h *handlers) resolve(ctx context.Context, tenantID uuid.UUID, numbers []int64) ([]uuid.UUID, bool, error) {
	found, err := h.d.Leads.LeadIDsByNumber(ctx, tenantID, numbers)
	if err != nil {
		return nil, false, err
	}
	out := make([]uuid.UUID, len(numbers))
	for i, n := range numbers {
		id, ok := found[n]
		if !ok {
			return nil, false, nil
		}
		out[i] = id
	}
	return out, true, nil
}

// bulk runs one all-or-nothing command on the leads of a {"ids": [...]} body.
func (h *handlers) bulk(c *gin.Context, answer done, run func(context.Context, commands.Context, []uuid.UUID) (commands.Result, error)) {
	ctx, tenant := c.Request.Context(), api.Principal(c).TenantID
	_, numbers, bad := decodeBulk(c.Request.Body, "ids")
	if bad != nil {
		h.fail(c, bad)
		return
	}
	ids, ok, err := h.resolve(ctx, tenant, numbers)
	if err == nil && !ok {
		err = errLeadsMissing
	}
	if err == nil {
		var res commands.Result
		if res, err = run(ctx, api.CommandContext(c, Name), ids); err == nil {
			h.d.AwaitReadModels(c, res.Position, readModels...)
			c.JSON(http.StatusOK, answer)
			return
		}
	}
	var missing *commands.LeadsNotFoundError
	if errors.As(err, &missing) {
		err = errLeadsMissing
	}
	h.fail(c, err)
}

func (h *handlers) archiveLeads(c *gin.Context) {
	h.bulk(c, done{"Leads archived successfully", "The leads have been archived successfully."}, h.d.Commands.ArchiveLeads)
}

func (h *handlers) restoreLeads(c *gin.Context) {
	h.bulk(c, done{"Leads restored successfully", "The leads have been restored successfully."}, h.d.Commands.RestoreLeads)
}

func (h *handlers) deleteLeads(c *gin.Context) {
	h.bulk(c, done{"Leads deleted successfully", "The leads have been deleted successfully."}, h.d.Commands.DeleteLeads)
}

// changed is one lead of a bulk status change, with its new status's name.
type changed struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
}

func (h *handlers) changeStatuses(c *gin.Context) {
	ctx, tenant := c.Request.Context(), api.Principal(c).TenantID
	body, numbers, bad := decodeBulk(c.Request.Body, "ids", "statusId")
	if bad != nil {
		h.fail(c, bad)
		return
	}
	statusID, ok, bad := api.Field[int64](body, "statusId", "an integer")
	if bad != nil {
		h.fail(c, bad)
		return
	}
	if !ok || statusID < 1 {
		h.fail(c, badRequest("statusId", "statusId must be a positive integer"))
		return
	}
	status, err := h.d.Commands.StatusByID(ctx, tenant, statusID)
	if errors.Is(err, domain.ErrStatusNotFound) {
		h.fail(c, badRequest("statusId", "Invalid status ID"))
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	ids, ok, err := h.resolve(ctx, tenant, numbers)
	if err == nil && !ok {
		err = notFound("ids", "Lead not found")
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	res, err := h.d.Commands.ChangeStatuses(ctx, api.CommandContext(c, Name), ids, status.Key)
	var missing *commands.LeadsNotFoundError
	if errors.As(err, &missing) {
		// A lead deleted since the ids were resolved: nothing was changed.
		err = notFound("ids", "Lead not found")
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.d.AwaitReadModels(c, res.Position, readModels...)
	out := make([]changed, len(numbers))
	for i, n := range numbers {
		out[i] = changed{ID: n, Status: status.Name}
	}
	c.JSON(http.StatusOK, out)
}
