package prospects

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
)

// clientBody is the answer of a client write: the client as the command
// left it, in the detail's shape (its notes, contacts and locations are
// not repeated).
type clientBody struct {
	Company    clientCore `json:"company"`
	FollowData followData `json:"follow_data"`
}

type clientCore struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	CompanyName *string `json:"company_name"`
	Balance     float64 `json:"balance"` // no ledger yet: always 0
	FollowUpID  *int64  `json:"follow_up_id"`
	FollowName  string  `json:"follow_name"`
}

// followOf is a client's follow-up data as a lead profile holds it, so one
// decoder (decodeData) edits prospects and clients alike.
func followOf(p domain.CustomerProfile) domain.LeadProfile {
	return domain.LeadProfile{Name: p.Name, Source: p.Source, DealValue: p.DealValue, Locale: p.Locale,
		MonthlyShipments: p.MonthlyShipments, EcommerceTypeID: p.EcommerceTypeID, WeightID: p.WeightID,
		ContentID: p.ContentID, AccountType: p.AccountType, EstimatedCloseDate: p.EstimatedCloseDate, Notes: p.Notes}
}

// withFollow is p with the follow-up data of f.
func withFollow(p domain.CustomerProfile, f domain.LeadProfile) domain.CustomerProfile {
	p.Name, p.Source, p.DealValue, p.Locale, p.MonthlyShipments = f.Name, f.Source, f.DealValue, f.Locale, f.MonthlyShipments
	p.EcommerceTypeID, p.WeightID, p.ContentID, p.AccountType = f.EcommerceTypeID, f.WeightID, f.ContentID, f.AccountType
	p.EstimatedCloseDate, p.Notes = f.EstimatedCloseDate, f.Notes
	return p
}

// updateClientData is PATCH /clients/{id}/data: the prospect's follow-up
// data fields, on the customer.
func (h *handlers) updateClientData(c *gin.Context) {
	owner, _, ok := h.ownerOf(c, clientOwner)
	if !ok {
		return
	}
	o, bad := api.DecodeObject(c.Request.Body, dataFields...)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	e, bad := decodeData(o)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	res, err := h.d.Commands.UpdateCustomer(c.Request.Context(), api.CommandContext(c, Name), owner.ID,
		func(cur domain.CustomerProfile) (domain.CustomerProfile, error) {
			f, err := e.apply(followOf(cur))
			return withFollow(cur, f), err
		})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.d.AwaitReadModels(c, res.Position, readModels...)
	body, err := h.renderClient(c, res)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, body)
}

// renderClient is the client body of a customer command's result.
func (h *handlers) renderClient(c *gin.Context, res commands.CustomerResult) (clientBody, error) {
	statuses, err := h.d.Commands.PipelineStatuses(c.Request.Context(), api.Principal(c).TenantID)
	if err != nil {
		return clientBody{}, err
	}
	p := res.Profile
	core := clientCore{ID: res.Number, Name: p.Name, CompanyName: optional(p.Company)}
	core.FollowUpID, core.FollowName = followStatus(statuses, res.Follow)
	return clientBody{Company: core, FollowData: followDataOf(followOf(p))}, nil
}
