package prospects

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/customers"
)

// Onboarding is derived (mapping c.12): no endpoint writes it. A client's
// checklist is a contact, a location, a billing address, a tax id and a
// first order; crm has no orders yet, so first_order is never done and a
// client is at most in_progress.

// onboardingStatuses are the onboarding filter's and answer's statuses.
var onboardingStatuses = []string{"pending", "in_progress", "completed"}

// onboardingLabels are translate=true's labels.
var onboardingLabels = map[string]string{
	"contact": "Contact added", "location": "Location added", "billing_address": "Billing address",
	"tax_id": "Tax id", "first_order": "First order",
	"pending": "Pending", "in_progress": "In progress", "completed": "Completed",
}

type onboardingStep struct {
	Key   string `json:"key"`
	Done  bool   `json:"done"`
	Label string `json:"label,omitempty"`
}

type onboardingData struct {
	Status      string           `json:"status"`
	StatusLabel string           `json:"status_label,omitempty"`
	Completed   int              `json:"completed"`
	Total       int              `json:"total"`
	Steps       []onboardingStep `json:"steps"`
}

// onboardingOf is a client's checklist; translate adds labels.
func onboardingOf(p domain.CustomerProfile, contacts, locations int, translate bool) onboardingData {
	steps := []onboardingStep{{Key: "contact", Done: contacts > 0}, {Key: "location", Done: locations > 0},
		{Key: "billing_address", Done: p.BillingAddress != ""}, {Key: "tax_id", Done: p.TaxID != ""},
		{Key: "first_order"}}
	out := onboardingData{Total: len(steps), Steps: steps}
	for i := range steps {
		if steps[i].Done {
			out.Completed++
		}
		if translate {
			steps[i].Label = onboardingLabels[steps[i].Key]
		}
	}
	switch out.Status = "in_progress"; out.Completed {
	case 0:
		out.Status = "pending"
	case out.Total:
		out.Status = "completed"
	}
	if translate {
		out.StatusLabel = onboardingLabels[out.Status]
	}
	return out
}

// clientDetail is GET /clients/{id}'s answer.
type clientDetail struct {
	Company      clientCore     `json:"company"`
	FollowData   followData     `json:"follow_data"`
	Notes        []note         `json:"notes"`
	Contacts     []contact      `json:"contacts"`
	Locations    []location     `json:"locations"`
	Integrations []any          `json:"integrations"`
	Onboarding   onboardingData `json:"onboarding"`
}

// clientOf resolves the path's client number in the caller's tenant.
func (h *handlers) clientOf(c *gin.Context) (customers.Customer, bool) {
	n, ok := pathNumber(c, "id")
	if !ok {
		h.fail(c, notFound("Client"))
		return customers.Customer{}, false
	}
	cust, err := h.d.Customers.GetByNumber(c.Request.Context(), api.Principal(c).TenantID, n)
	if errors.Is(err, projections.ErrNotFound) {
		h.fail(c, notFound("Client"))
		return cust, false
	}
	if err != nil {
		h.fail(c, err)
		return cust, false
	}
	return cust, true
}

// clientRecords are the notes, contacts and locations of a client: its
// own and its source lead's (mapping c.11).
func (h *handlers) clientRecords(c *gin.Context, cust customers.Customer) ([]note, []contact, []location, error) {
	tenant := api.Principal(c).TenantID
	owners := []ownedBy{{id: cust.ID, kind: clientOwner, number: cust.Number}}
	if cust.LeadID != uuid.Nil {
		lead, err := h.d.Leads.GetLead(c.Request.Context(), tenant, cust.LeadID)
		switch {
		case err == nil:
			owners = append(owners, ownedBy{id: lead.ID, kind: prospectOwner, number: lead.Number})
		case !errors.Is(err, projections.ErrNotFound):
			return nil, nil, nil, err
		}
	}
	return h.recordsOf(c, tenant, owners)
}

// client is GET /clients/{id}.
func (h *handlers) client(c *gin.Context) {
	if _, bad := paramsOf(c.Request.URL.Query(), nil); bad != nil {
		h.fail(c, bad)
		return
	}
	cust, ok := h.clientOf(c)
	if !ok {
		return
	}
	statuses, err := h.d.Pipelines.Statuses(c.Request.Context(), api.Principal(c).TenantID)
	if err != nil {
		h.fail(c, err)
		return
	}
	notes, contacts, locations, err := h.clientRecords(c, cust)
	if err != nil {
		h.fail(c, err)
		return
	}
	core := clientCore{ID: cust.Number, Name: cust.Profile.Name, CompanyName: optional(cust.Profile.Company)}
	core.FollowUpID, core.FollowName = followStatus(statuses, domain.Status(cust.Follow))
	c.JSON(http.StatusOK, clientDetail{Company: core, FollowData: followDataOf(followOf(cust.Profile)), Notes: notes,
		Contacts: contacts, Locations: locations, Integrations: []any{},
		Onboarding: onboardingOf(cust.Profile, len(contacts), len(locations), false)})
}

// onboarding is GET /clients/{id}/onboarding.
func (h *handlers) onboarding(c *gin.Context) {
	p, bad := paramsOf(c.Request.URL.Query(), []string{"translate"})
	var translate bool
	if bad == nil {
		translate, bad = p.boolean("translate")
	}
	if bad != nil {
		h.fail(c, bad)
		return
	}
	cust, ok := h.clientOf(c)
	if !ok {
		return
	}
	_, contacts, locations, err := h.clientRecords(c, cust)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, onboardingOf(cust.Profile, len(contacts), len(locations), translate))
}
