package devcrm

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/customers"
)

// The customer enums, as the API document gives them.
var (
	customerTypes    = []string{string(domain.CustomerIndividual), string(domain.CustomerBusiness)}
	customerStatuses = []string{string(domain.CustomerActive), string(domain.CustomerInactive), string(domain.CustomerBlocked)}
)

// customer is a customer as the API shows it; unset fields are null.
type customer struct {
	ID              uuid.UUID       `json:"id"`
	LeadID          *uuid.UUID      `json:"lead_id"`
	Name            string          `json:"name"`
	Email           *string         `json:"email"`
	Phone           *string         `json:"phone"`
	Company         *string         `json:"company"`
	Type            string          `json:"type"`
	Status          string          `json:"status"`
	BillingAddress  *string         `json:"billing_address"`
	ShippingAddress *string         `json:"shipping_address"`
	PaymentTerms    *string         `json:"payment_terms"`
	CreditLimit     *float64        `json:"credit_limit"`
	TaxID           *string         `json:"tax_id"`
	Notes           *string         `json:"notes"`
	CustomFields    json.RawMessage `json:"custom_fields"`
	AssignedTo      *string         `json:"assigned_to"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
}

func customerOf(r customers.Customer) customer {
	p := r.Profile
	out := customer{ID: r.ID, Name: p.Name, Email: first(p.Emails), Phone: first(p.Phones), Company: optional(p.Company),
		Type: string(p.Type), Status: string(p.Status), BillingAddress: optional(p.BillingAddress),
		ShippingAddress: optional(p.ShippingAddress), PaymentTerms: optional(p.PaymentTerms), CreditLimit: p.CreditLimit,
		TaxID: optional(p.TaxID), Notes: optional(p.Notes), CustomFields: p.CustomFields, AssignedTo: optional(p.AssignedTo),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.LeadID != uuid.Nil {
		id := r.LeadID
		out.LeadID = &id
	}
	return out
}

func (h *handlers) listCustomers(c *gin.Context) {
	f := customers.Filter{TenantID: api.Principal(c).TenantID}
	var bad *api.BadInput
	f.Limit, f.Offset, bad = page(c)
	if bad == nil {
		f.Status, f.Type, f.Search, bad = readCustomerQuery(c)
	}
	if bad != nil {
		h.fail(c, bad)
		return
	}
	rows, total, err := h.d.Customers.List(c.Request.Context(), f)
	if err != nil {
		h.fail(c, err)
		return
	}
	shown := make([]customer, len(rows))
	for i, r := range rows {
		shown[i] = customerOf(r)
	}
	c.JSON(http.StatusOK, list[customer]{Data: shown, Total: total, Limit: f.Limit, Offset: f.Offset})
}

// showCustomer answers status with row. A deleted lead's customers show
// lead_id null (decision 19): the customers read model clears it.
func (h *handlers) showCustomer(c *gin.Context, status int, row customers.Customer) {
	c.JSON(status, customerOf(row))
}

// customerIn resolves the path's customer id inside the caller's tenant
// (a 404 answered otherwise).
func (h *handlers) customerIn(c *gin.Context) (customers.Customer, bool) {
	return found(h, c, "customerId", "customer", h.d.Customers.Get)
}

func (h *handlers) getCustomer(c *gin.Context) {
	if row, ok := h.customerIn(c); ok {
		h.showCustomer(c, http.StatusOK, row)
	}
}

// answerCustomer answers a customer write: the customer as the read model
// shows it once it caught up, else as the command left it.
func (h *handlers) answerCustomer(c *gin.Context, status int, res commands.CustomerResult) {
	if h.d.AwaitReadModels(c, res.Position, readModels...) {
		row, err := h.d.Customers.Get(c.Request.Context(), api.Principal(c).TenantID, res.CustomerID)
		if err == nil {
			h.showCustomer(c, status, row)
			return
		}
		if !errors.Is(err, projections.ErrNotFound) {
			h.fail(c, err)
			return
		}
	}
	now := time.Now()
	c.JSON(status, customerOf(customers.Customer{ID: res.CustomerID, Number: res.Number, LeadID: res.LeadID,
		Follow: string(res.Follow), Profile: res.Profile, CreatedAt: now, UpdatedAt: now}))
}

// customerFields are a customer body's fields: the document's create
// fields and notes (its update example sends notes).
var customerFields = []string{"name", "email", "lead_id", "phone", "company", "type", "status", "billing_address",
	"shipping_address", "payment_terms", "credit_limit", "tax_id", "custom_fields", "assigned_to", "notes"}

// customerEdit is a decoded customer body.
type customerEdit struct {
	edits[domain.CustomerProfile]
	leadID uuid.UUID // create only
}

// decodeCustomer reads a customer body as decodeLead reads a lead's: on
// create name and email are required; on update absent keeps, null
// clears (not name, email, type or status). lead_id is taken on create only.
func decodeCustomer(o api.Object, create bool, region string) (customerEdit, *api.BadInput) {
	var e customerEdit
	type P = domain.CustomerProfile
	str := func(f func(*P, string)) func(string, bool, *api.BadInput) *api.BadInput { return take(&e.edits, f) }
	lead, _, leadBad := sentUUID(o, "lead_id")
	if leadBad == nil && o.Sent("lead_id") && !create {
		leadBad = badField("lead_id", "cannot change: it is set on create or by converting the lead")
	}
	if lead != "" {
		e.leadID = uuid.MustParse(lead)
	}
	bad := api.FirstBad(
		str(func(p *P, v string) { p.Name = v })(sentText(o, "name", create || o.Sent("name"))),
		str(func(p *P, v string) { p.Emails = primary(p.Emails, v) })(sentEmail(o, create || o.Sent("email"))),
		leadBad,
		str(func(p *P, v string) { p.Phones = primary(p.Phones, v) })(sentPhone(o, region)),
		str(func(p *P, v string) { p.Company = v })(sentText(o, "company", false)),
		str(func(p *P, v string) { p.Type = domain.CustomerType(v) })(sentEnum(o, "type", customerTypes, create)),
		str(func(p *P, v string) { p.Status = domain.CustomerStatus(v) })(sentEnum(o, "status", customerStatuses, create)),
		str(func(p *P, v string) { p.BillingAddress = v })(sentText(o, "billing_address", false)),
		str(func(p *P, v string) { p.ShippingAddress = v })(sentText(o, "shipping_address", false)),
		str(func(p *P, v string) { p.PaymentTerms = v })(sentText(o, "payment_terms", false)),
		take(&e.edits, func(p *P, v *float64) { p.CreditLimit = v })(sentNumber(o, "credit_limit", "a number of at least 0", false, math.MaxFloat64)),
		str(func(p *P, v string) { p.TaxID = v })(sentText(o, "tax_id", false)),
		take(&e.edits, func(p *P, v json.RawMessage) { p.CustomFields = v })(sentObject(o, "custom_fields")),
		str(func(p *P, v string) { p.AssignedTo = v })(sentUUID(o, "assigned_to")),
		str(func(p *P, v string) { p.Notes = v })(sentText(o, "notes", false)),
	)
	if bad != nil {
		return customerEdit{}, bad
	}
	return e, nil
}

func (h *handlers) createCustomer(c *gin.Context) {
	e, ok := readBody(h, c, customerFields, func(o api.Object) (customerEdit, *api.BadInput) {
		return decodeCustomer(o, true, h.d.Commands.Region())
	})
	if !ok {
		return
	}
	if e.leadID != uuid.Nil {
		_, err := h.d.Leads.GetLead(c.Request.Context(), api.Principal(c).TenantID, e.leadID)
		if errors.Is(err, projections.ErrNotFound) {
			h.fail(c, badField("lead_id", "names no lead"))
			return
		}
		if err != nil {
			h.fail(c, err)
			return
		}
	}
	res, err := h.d.Commands.CreateCustomer(c.Request.Context(), api.CommandContext(c, Name),
		commands.CreateCustomer{Profile: e.apply(domain.CustomerProfile{}), LeadID: e.leadID})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answerCustomer(c, http.StatusCreated, res)
}

func (h *handlers) updateCustomer(c *gin.Context) {
	row, ok := h.customerIn(c)
	if !ok {
		return
	}
	e, ok := readBody(h, c, customerFields, func(o api.Object) (customerEdit, *api.BadInput) {
		return decodeCustomer(o, false, h.d.Commands.Region())
	})
	if !ok {
		return
	}
	res, err := h.d.Commands.UpdateCustomer(c.Request.Context(), api.CommandContext(c, Name), row.ID,
		func(cur domain.CustomerProfile) (domain.CustomerProfile, error) { return e.apply(cur), nil })
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answerCustomer(c, http.StatusOK, res)
}

// deleteBy is DELETE of the owner in path parameter param: del deletes
// it permanently (a lead: its events redacted, its email and phone
// released, its interactions with it; a customer likewise, a lead
// converted into it staying), answered 204 once models (none given:
// readModels) show it.
func (h *handlers) deleteBy(param, what string, del func(*commands.Handler, context.Context, commands.Context, uuid.UUID) (commands.Result, error), models ...string) gin.HandlerFunc {
	if len(models) == 0 {
		models = readModels
	}
	return func(c *gin.Context) {
		id, bad := pathID(c, param, what)
		if bad != nil {
			h.fail(c, bad)
			return
		}
		res, err := del(h.d.Commands, c.Request.Context(), api.CommandContext(c, Name), id)
		if err != nil {
			h.fail(c, err)
			return
		}
		h.d.AwaitReadModels(c, res.Position, models...)
		c.Status(http.StatusNoContent)
	}
}
