package devcrm

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/leads"
)

// statuses are the API's lead statuses; each maps onto a pipeline status:
// the default ones by key, negotiation and converted by name (tenant
// statuses created on first use).
var statuses = []string{"new", "contacted", "qualified", "proposal", "negotiation", "converted", "lost", "won"}

// statusNames are the tenant statuses negotiation and converted stand for.
var statusNames = map[string]string{"negotiation": "Negotiation", "converted": commands.ConvertedStatus}

// sources are the API's lead sources (input; a lead written through
// another API may show another).
var sources = []string{"campaign", "website", "referral", "direct", "social", "email", "other"}

// statusOf maps an API status to a default status key or a status name
// (one of the two is set).
func statusOf(s string) (domain.Status, string) {
	if name, ok := statusNames[s]; ok {
		return "", name
	}
	for _, d := range domain.DefaultPipeline() {
		if strings.EqualFold(string(d.Key), s) {
			return d.Key, ""
		}
	}
	return "", ""
}

// shownStatus is how the API shows status key: a default status by its
// key in lower case, any other by its name in snake_lower case
// (negotiation, converted, or a status added through another API).
func shownStatus(key string, book domain.StatusBook) string {
	if domain.IsDefaultStatus(domain.Status(key)) {
		return strings.ToLower(key)
	}
	return strings.Join(strings.Fields(strings.ToLower(book.Name(domain.Status(key)))), "_")
}

// lead is a lead as the API shows it; unset fields are null.
type lead struct {
	ID           uuid.UUID       `json:"id"`
	Name         string          `json:"name"`
	Email        *string         `json:"email"`
	Phone        *string         `json:"phone"`
	Company      *string         `json:"company"`
	Source       *string         `json:"source"`
	CampaignID   *string         `json:"campaign_id"`
	Status       string          `json:"status"`
	Score        *int            `json:"score"`
	Notes        *string         `json:"notes"`
	LastContact  *time.Time      `json:"last_contact"`
	CustomFields json.RawMessage `json:"custom_fields"`
	AssignedTo   *string         `json:"assigned_to"`
	CustomerID   *uuid.UUID      `json:"customer_id"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

func leadOf(r leads.Lead, book domain.StatusBook, customer uuid.UUID) lead {
	p := r.Profile
	out := lead{ID: r.ID, Name: p.Name, Email: first(p.Emails), Phone: first(p.Phones), Company: optional(p.Company),
		Source: optional(p.Source), CampaignID: optional(p.CampaignID), Status: shownStatus(r.Status, book), Score: p.Score,
		Notes: optional(p.Notes), LastContact: p.LastContact, CustomFields: p.CustomFields, AssignedTo: optional(p.AssignedTo),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if out.LastContact != nil {
		t := out.LastContact.UTC()
		out.LastContact = &t
	}
	if customer != uuid.Nil {
		out.CustomerID = &customer
	}
	return out
}

// book is the tenant's pipeline, read only when a key is not a default one.
func (h *handlers) book(ctx context.Context, tenantID uuid.UUID, keys ...string) (domain.StatusBook, error) {
	for _, k := range keys {
		if !domain.IsDefaultStatus(domain.Status(k)) {
			s, err := h.d.Pipelines.Statuses(ctx, tenantID)
			return domain.StatusBook(s), err
		}
	}
	return nil, nil
}

// renderLeads shows rows of the lead list, each with its customer.
func (h *handlers) renderLeads(ctx context.Context, tenantID uuid.UUID, rows []leads.Lead) ([]lead, error) {
	keys, ids := make([]string, len(rows)), make([]uuid.UUID, len(rows))
	for i, r := range rows {
		keys[i], ids[i] = r.Status, r.ID
	}
	book, err := h.book(ctx, tenantID, keys...)
	if err != nil {
		return nil, err
	}
	customers, err := h.d.Customers.CustomersOfLeads(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]lead, len(rows))
	for i, r := range rows {
		out[i] = leadOf(r, book, customers[r.ID].CustomerID)
	}
	return out, nil
}

func (h *handlers) listLeads(c *gin.Context) {
	ctx, tenantID := c.Request.Context(), api.Principal(c).TenantID
	f := leads.Filter{TenantID: tenantID}
	var q leadQuery
	var bad *api.BadInput
	f.Limit, f.Offset, bad = page(c)
	if bad == nil {
		q, bad = readLeadQuery(c)
	}
	if bad != nil {
		h.fail(c, bad)
		return
	}
	f.Source, f.Search, f.AssignedTo = q.source, q.search, q.assignedTo
	key, ok, err := h.statusKey(ctx, tenantID, q.status)
	if err != nil {
		h.fail(c, err)
		return
	}
	if !ok { // the tenant has no such status yet: no lead holds it
		c.JSON(http.StatusOK, list[lead]{Data: []lead{}, Limit: f.Limit, Offset: f.Offset})
		return
	}
	f.Status = key
	rows, total, err := h.d.Leads.ListLeads(ctx, f)
	if err != nil {
		h.fail(c, err)
		return
	}
	data, err := h.renderLeads(ctx, tenantID, rows)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, list[lead]{Data: data, Total: total, Limit: f.Limit, Offset: f.Offset})
}

// leadIn resolves the path's lead id inside the caller's tenant (a 404
// answered otherwise).
func (h *handlers) leadIn(c *gin.Context) (leads.Lead, bool) {
	return found(h, c, "leadId", "lead", h.d.Leads.GetLead)
}

func (h *handlers) getLead(c *gin.Context) {
	row, ok := h.leadIn(c)
	if ok {
		h.answerLead(c, http.StatusOK, row)
	}
}

// answerLead shows one lead row.
func (h *handlers) answerLead(c *gin.Context, status int, row leads.Lead) {
	out, err := h.renderLeads(c.Request.Context(), api.Principal(c).TenantID, []leads.Lead{row})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(status, out[0])
}

// answerWritten answers a lead write: the lead as the read model shows it
// once it caught up, else as the command left it.
func (h *handlers) answerWritten(c *gin.Context, status int, res commands.LeadResult) {
	ctx, tenantID := c.Request.Context(), api.Principal(c).TenantID
	if h.d.AwaitReadModels(c, res.Position, readModels...) {
		row, err := h.d.Leads.GetLead(ctx, tenantID, res.LeadID)
		if err == nil {
			h.answerLead(c, status, row)
			return
		}
		if !errors.Is(err, projections.ErrNotFound) {
			h.fail(c, err)
			return
		}
	}
	now := time.Now()
	h.answerLead(c, status, leads.Lead{ID: res.LeadID, Number: res.Number, Status: string(res.Status), Profile: res.Profile,
		CreatedAt: now, UpdatedAt: now})
}

// leadFields are a lead body's fields.
var leadFields = []string{"name", "email", "phone", "company", "source", "campaign_id", "status", "score", "notes",
	"last_contact", "custom_fields", "assigned_to"}

// leadEdit is a decoded lead body: the profile edits of the fields sent
// and the status asked for ("" for none).
type leadEdit struct {
	edits[domain.LeadProfile]
	status string
}

// decodeLead reads a lead body: on create (create true) name and email
// are required; on update every field is optional, absent keeps the
// value and null clears it (name and email cannot be cleared). Values
// are judged here, the first fault in the order of leadFields answered: a
// valid email, a phone libphonenumber accepts (national numbers read in
// region), enums, UUIDs, a whole score from 0 to 100, a date, an object.
func decodeLead(o api.Object, create bool, region string) (leadEdit, *api.BadInput) {
	var e leadEdit
	type P = domain.LeadProfile
	str := func(f func(*P, string)) func(string, bool, *api.BadInput) *api.BadInput { return take(&e.edits, f) }
	var statusBad *api.BadInput
	e.status, _, statusBad = sentEnum(o, "status", statuses, true)
	bad := api.FirstBad(
		str(func(p *P, v string) { p.Name = v })(sentText(o, "name", create || o.Sent("name"))),
		str(func(p *P, v string) { p.Emails = primary(p.Emails, v) })(sentEmail(o, create || o.Sent("email"))),
		str(func(p *P, v string) { p.Phones = primary(p.Phones, v) })(sentPhone(o, region)),
		str(func(p *P, v string) { p.Company = v })(sentText(o, "company", false)),
		str(func(p *P, v string) { p.Source = v })(sentEnum(o, "source", sources, true)),
		str(func(p *P, v string) { p.CampaignID = v })(sentUUID(o, "campaign_id")),
		statusBad,
		take(&e.edits, func(p *P, v *float64) {
			p.Score = nil
			if v != nil {
				n := int(*v)
				p.Score = &n
			}
		})(sentNumber(o, "score", "an integer from 0 to 100", true, 100)),
		str(func(p *P, v string) { p.Notes = v })(sentText(o, "notes", false)),
		take(&e.edits, func(p *P, v *time.Time) { p.LastContact = v })(sentDate(o, "last_contact")),
		take(&e.edits, func(p *P, v json.RawMessage) { p.CustomFields = v })(sentObject(o, "custom_fields")),
		str(func(p *P, v string) { p.AssignedTo = v })(sentUUID(o, "assigned_to")),
	)
	if bad != nil {
		return leadEdit{}, bad
	}
	return e, nil
}

func (h *handlers) createLead(c *gin.Context) {
	e, ok := readBody(h, c, leadFields, func(o api.Object) (leadEdit, *api.BadInput) {
		return decodeLead(o, true, h.d.Commands.Region())
	})
	if !ok {
		return
	}
	cmd := commands.CreateLead{Profile: e.apply(domain.LeadProfile{}), OnDuplicate: commands.RejectDuplicates}
	cmd.Status, cmd.StatusName = statusOf(e.status)
	res, err := h.d.Commands.CreateLead(c.Request.Context(), api.CommandContext(c, Name), cmd)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answerWritten(c, http.StatusCreated, res)
}

func (h *handlers) updateLead(c *gin.Context) {
	row, ok := h.leadIn(c)
	if !ok {
		return
	}
	e, ok := readBody(h, c, leadFields, func(o api.Object) (leadEdit, *api.BadInput) {
		return decodeLead(o, false, h.d.Commands.Region())
	})
	if !ok {
		return
	}
	cmd := commands.UpdateLead{Edit: func(cur domain.LeadProfile) (domain.LeadProfile, error) { return e.apply(cur), nil }}
	cmd.Status, cmd.StatusName = statusOf(e.status)
	res, err := h.d.Commands.UpdateLead(c.Request.Context(), api.CommandContext(c, Name), row.ID, cmd)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answerWritten(c, http.StatusOK, res)
}

// convertLead makes the lead a customer (or links it to the customer
// holding its email) and answers the customer.
func (h *handlers) convertLead(c *gin.Context) {
	id, bad := pathID(c, "leadId", "lead")
	if bad != nil {
		h.fail(c, bad)
		return
	}
	res, err := h.d.Commands.ConvertLead(c.Request.Context(), api.CommandContext(c, Name), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answerCustomer(c, http.StatusOK, res)
}
