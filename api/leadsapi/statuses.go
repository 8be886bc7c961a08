package leadsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
)

// statusList is the answer of GET /leads/statuses.
type statusList struct {
	Statuses []statusView `json:"statuses"`
	Colors   []string     `json:"colors"`
}

func (h *handlers) listStatuses(c *gin.Context) {
	statuses, err := h.d.Pipelines.Statuses(c.Request.Context(), api.Principal(c).TenantID)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, statusList{Statuses: views(statuses), Colors: domain.Palette})
}

// decodeStatus reads {"name", "primaryColor"}; null or absent is "".
func decodeStatus(c *gin.Context) (name, color string, bad *api.BadInput) {
	body, bad := api.DecodeObject(c.Request.Body, "name", "primaryColor")
	if bad != nil {
		return "", "", bad
	}
	if name, _, bad = api.Field[string](body, "name", "a string"); bad != nil {
		return "", "", bad
	}
	color, _, bad = api.Field[string](body, "primaryColor", "a string")
	return name, color, bad
}

// failStatus is fail for the status endpoints, whose fields (name,
// primaryColor, statusOrder) are not a lead's.
func (h *handlers) failStatus(c *gin.Context, err error) {
	var invalid domain.ValidationError
	if errors.As(err, &invalid) {
		reply(c, http.StatusBadRequest, invalid.Field+" "+invalid.Reason, invalid.Field)
		return
	}
	h.fail(c, err)
}

// respondStatus answers with the status a pipeline command created or changed.
func (h *handlers) respondStatus(c *gin.Context, code int, res commands.PipelineResult) {
	h.d.AwaitReadModels(c, res.Position, readModels...)
	c.JSON(code, viewOf(res.Statuses, res.Status.ID))
}

func (h *handlers) createStatus(c *gin.Context) {
	name, color, bad := decodeStatus(c)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	res, err := h.d.Commands.CreateStatus(c.Request.Context(), api.CommandContext(c, Name), name, color)
	if err != nil {
		h.failStatus(c, err)
		return
	}
	h.respondStatus(c, http.StatusCreated, res)
}

func (h *handlers) changeStatus(c *gin.Context) {
	id, bad := pathID(c, "status")
	if bad != nil {
		h.fail(c, bad)
		return
	}
	name, color, bad := decodeStatus(c)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	res, err := h.d.Commands.ChangeStatusDefinition(c.Request.Context(), api.CommandContext(c, Name), id, name, color)
	if err != nil {
		h.failStatus(c, err)
		return
	}
	h.respondStatus(c, http.StatusOK, res)
}

func (h *handlers) deleteStatus(c *gin.Context) {
	id, bad := pathID(c, "status")
	if bad != nil {
		h.fail(c, bad)
		return
	}
	ctx, tenant := c.Request.Context(), api.Principal(c).TenantID
	inUse := func(key domain.Status) (bool, error) { return h.d.Leads.StatusInUse(ctx, tenant, string(key)) }
	res, err := h.d.Commands.DeleteStatus(ctx, api.CommandContext(c, Name), id, inUse)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.d.AwaitReadModels(c, res.Position, readModels...)
	c.JSON(http.StatusOK, done{"Lead status deleted successfully", "The lead status has been deleted successfully."})
}

// place is one status's place in the pipeline, counted from 1.
type place struct {
	ID          int64 `json:"id"`
	StatusOrder int   `json:"statusOrder"`
}

// decodePlaces reads an array of {"id", "statusOrder"} or one such object.
func decodePlaces(r io.Reader) (map[int64]int, *api.BadInput) {
	raw, err := io.ReadAll(r)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, &api.BadInput{Status: http.StatusRequestEntityTooLarge, Code: ownMessage, Reason: "Request body is too large"}
	}
	if err != nil {
		return nil, badRequest("", "Could not read the request body")
	}
	items := []json.RawMessage{raw}
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, badRequest("", "Request body must be a JSON array of {id, statusOrder} objects")
		}
	}
	if len(items) == 0 {
		return nil, badRequest("", "Request body must hold at least one {id, statusOrder}")
	}
	places, taken := map[int64]int{}, map[int]bool{}
	for _, item := range items {
		obj, bad := api.DecodeObject(bytes.NewReader(item), "id", "statusOrder")
		if bad != nil {
			return nil, bad
		}
		id, ok, bad := api.Field[int64](obj, "id", "an integer")
		if bad != nil {
			return nil, bad
		}
		if !ok || id < 1 {
			return nil, badRequest("id", "id must be a positive integer")
		}
		order, ok, bad := api.Field[int](obj, "statusOrder", "an integer")
		if bad != nil {
			return nil, bad
		}
		if !ok || order < 1 {
			return nil, badRequest("statusOrder", "statusOrder must be a positive integer")
		}
		if _, dup := places[id]; dup {
			return nil, badRequest("id", "each status may appear once")
		}
		if taken[order] {
			return nil, badRequest("statusOrder", "each statusOrder may appear once")
		}
		places[id], taken[order] = order, true
	}
	return places, nil
}

// fullOrder turns the requested moves into a place for every status, so
// each moved status lands exactly at its statusOrder (past the end: last)
// and the others keep their order around them.
func fullOrder(current []domain.PipelineStatus, moves map[int64]int) (map[int64]int, error) {
	var order, moved []int64
	for _, s := range current {
		if _, ok := moves[s.ID]; ok {
			moved = append(moved, s.ID)
		} else {
			order = append(order, s.ID)
		}
	}
	if len(moved) != len(moves) {
		return nil, domain.ErrStatusNotFound
	}
	sort.Slice(moved, func(i, j int) bool { return moves[moved[i]] < moves[moved[j]] })
	for _, id := range moved {
		at := min(moves[id]-1, len(order))
		order = slices.Insert(order, at, id)
	}
	places := make(map[int64]int, len(order))
	for i, id := range order {
		places[id] = i + 1
	}
	return places, nil
}

func (h *handlers) reorderStatuses(c *gin.Context) {
	ctx := c.Request.Context()
	moves, bad := decodePlaces(c.Request.Body)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	current, err := h.d.Commands.PipelineStatuses(ctx, api.Principal(c).TenantID)
	if err != nil {
		h.fail(c, err)
		return
	}
	places, err := fullOrder(current, moves)
	if err != nil {
		h.fail(c, err)
		return
	}
	res, err := h.d.Commands.ReorderStatuses(ctx, api.CommandContext(c, Name), places)
	if err != nil {
		h.failStatus(c, err)
		return
	}
	h.d.AwaitReadModels(c, res.Position, readModels...)
	out := make([]place, len(res.Statuses))
	for i, s := range res.Statuses {
		out[i] = place{ID: s.ID, StatusOrder: i + 1}
	}
	c.JSON(http.StatusOK, out)
}
