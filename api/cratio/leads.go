package cratio

import (
	"context"
	"errors"
	"net/http"
	"slices"
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

var (
	statuses   = []string{"New", "Contacted", "Qualified", "Proposal", "Won", "Lost"}
	priorities = []string{"Low", "Medium", "High"}
	// What a create answers to a status or priority outside them, made once.
	mustBeStatus   = "must be one of " + joinOr(statuses)
	mustBePriority = "must be one of " + joinOr(priorities)
)

// lead is the Cratio lead object. Unset optional fields are null.
type lead struct {
	ID         uuid.UUID `json:"id"`
	Name       string    `json:"name"`
	Phone      *string   `json:"phone"`
	Email      *string   `json:"email"`
	Phones     []string  `json:"phones"`
	Emails     []string  `json:"emails"`
	Company    *string   `json:"company"`
	City       *string   `json:"city"`
	Source     *string   `json:"source"`
	Status     string    `json:"status"`
	Priority   *string   `json:"priority"`
	DealValue  *float64  `json:"deal_value"`
	Tags       []string  `json:"tags"`
	Notes      *string   `json:"notes"`
	AssignedTo *string   `json:"assigned_to"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func first(s []string) *string {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

func toLead(id uuid.UUID, p domain.LeadProfile, status string, created, updated time.Time) lead {
	return lead{
		ID: id, Name: p.Name, Phone: first(p.Phones), Email: first(p.Emails),
		Phones: list(p.Phones), Emails: list(p.Emails), Company: optional(p.Company), City: optional(p.City),
		Source: optional(p.Source), Status: status, Priority: optional(string(p.Priority)),
		DealValue: p.DealValue, Tags: list(p.Tags), Notes: optional(p.Notes),
		AssignedTo: optional(p.AssignedTo), CreatedAt: created.UTC(), UpdatedAt: updated.UTC(),
	}
}

// listBody is the Cratio list envelope.
type listBody[T any] struct {
	Data    []T   `json:"data"`
	Total   int64 `json:"total"`
	Limit   int   `json:"limit"`
	Offset  int   `json:"offset"`
	HasMore bool  `json:"has_more"`
}

func (h *handlers) listLeads(c *gin.Context) {
	f := leads.Filter{TenantID: api.Principal(c).TenantID}
	var bad *api.BadInput
	if f.Limit, f.Offset, bad = page(c); bad != nil {
		h.fail(c, bad)
		return
	}
	if f.CreatedFrom, f.CreatedTo, bad = dateRange(c, time.Now()); bad != nil {
		h.fail(c, bad)
		return
	}
	if f.Status, bad = oneOf(c, "status", statuses...); bad != nil {
		h.fail(c, bad)
		return
	}
	if f.Priority, bad = oneOf(c, "priority", priorities...); bad != nil {
		h.fail(c, bad)
		return
	}
	f.Source = strings.TrimSpace(c.Query("source"))
	// The filter matches the stored form, so it is normalized as a lead's assigned_to is.
	assigned, err := domain.NormalizeProfile(domain.LeadProfile{AssignedTo: c.Query("assigned_to")}, "")
	if err != nil {
		h.fail(c, api.BadParam("assigned_to", "must be an email address"))
		return
	}
	f.AssignedTo = assigned.AssignedTo
	rows, total, err := h.d.Leads.ListLeads(c.Request.Context(), f)
	if err != nil {
		h.fail(c, err)
		return
	}
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = r.Status
	}
	name, err := h.statusNamer(c.Request.Context(), f.TenantID, keys...)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := listBody[lead]{Data: make([]lead, len(rows)), Total: total, Limit: f.Limit, Offset: f.Offset,
		HasMore: int64(f.Offset+len(rows)) < total}
	for i, r := range rows {
		out.Data[i] = toLead(r.ID, r.Profile, name(r.Status), r.CreatedAt, r.UpdatedAt)
	}
	c.JSON(http.StatusOK, out)
}

var leadFields = []string{"name", "phone", "email", "company", "city", "source", "status", "priority",
	"deal_value", "tags", "notes", "assigned_to"}

// refused is Cratio's answer to the contact values the domain cannot
// normalize.
var refused = api.Refusals{
	"phones":      func(domain.EntryError) *api.BadInput { return api.Invalid("phone", "is not a valid phone number") },
	"emails":      func(domain.EntryError) *api.BadInput { return api.Invalid("email", "is not a valid email address") },
	"assigned_to": func(domain.EntryError) *api.BadInput { return api.Invalid("assigned_to", "must be an email address") },
	"":            func(e domain.EntryError) *api.BadInput { return api.Invalid(cratioField(e.Field), e.Reason) },
}

// decodeLead reads a create-lead body into a normalized profile
// (domain.NormalizeProfile, national phone numbers read in region) and a
// status, answering the first fault in the order Cratio always has: the
// name and the other text fields, the name's presence, phone, email, a
// phone or an email, the phone's and the email's values, then status,
// priority, deal_value, tags and assigned_to, each its type then its value.
func decodeLead(c *gin.Context, region string) (domain.LeadProfile, domain.Status, *api.BadInput) {
	var raw domain.LeadProfile
	body, bad := api.DecodeObject(c.Request.Body, leadFields...)
	if bad != nil {
		return raw, "", bad
	}
	str := func(name string, dst *string) *api.BadInput {
		v, _, bad := api.Field[string](body, name, "a string")
		*dst = v
		return bad
	}
	var phone, email, status, priority string
	texts := api.FirstBad(str("name", &raw.Name), str("company", &raw.Company), str("city", &raw.City),
		str("source", &raw.Source), str("notes", &raw.Notes))
	phoneType, emailType, statusType, priorityType := str("phone", &phone), str("email", &email), str("status", &status), str("priority", &priority)
	assignedType := str("assigned_to", &raw.AssignedTo)
	deal, dealSent, dealType := api.Field[float64](body, "deal_value", "a number")
	if dealSent && dealType == nil {
		raw.DealValue = &deal
	}
	var tagsType *api.BadInput
	raw.Tags, _, tagsType = api.Field[[]string](body, "tags", "an array of strings")
	raw.Phones, raw.Emails, raw.Priority = api.ListOf(phone), api.ListOf(email), domain.Priority(priority)
	p, err := domain.NormalizeProfile(raw, region)
	status, priority = strings.TrimSpace(status), strings.TrimSpace(priority)
	bad = api.FirstBad(texts,
		api.When(strings.TrimSpace(raw.Name) == "", api.Invalid("name", "is required")),
		phoneType, emailType,
		api.When(len(raw.Phones) == 0 && len(raw.Emails) == 0, api.Invalid("phone", "phone or email is required")),
		refused.For(err, "phones"), refused.For(err, "emails"),
		statusType, api.When(status != "" && !contains(statuses, status), api.Invalid("status", mustBeStatus)),
		priorityType, api.When(priority != "" && !contains(priorities, priority), api.Invalid("priority", mustBePriority)),
		dealType, api.When(dealSent && deal < 0, api.Invalid("deal_value", "must not be negative")),
		tagsType, api.When(slices.ContainsFunc(raw.Tags, func(t string) bool { return strings.TrimSpace(t) == "" }),
			api.Invalid("tags", "must not contain empty tags")),
		assignedType, refused.For(err, "assigned_to"),
		refused.First(err))
	if bad != nil {
		return raw, "", bad
	}
	return p, domain.Status(status), nil
}

func contains(set []string, v string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

func (h *handlers) createLead(c *gin.Context) {
	p, status, bad := decodeLead(c, h.d.Commands.Region())
	if bad != nil {
		h.fail(c, bad)
		return
	}
	res, err := h.d.Commands.CreateLead(c.Request.Context(), api.CommandContext(c, Name),
		commands.CreateLead{Profile: p, Normalized: true, Status: status, OnDuplicate: commands.MergeDuplicates})
	if err != nil {
		h.fail(c, err)
		return
	}
	code := http.StatusCreated
	if res.Merged {
		code = http.StatusOK
	}
	name, err := h.statusNamer(c.Request.Context(), api.Principal(c).TenantID, string(res.Status))
	if err != nil {
		h.fail(c, err)
		return
	}
	if h.d.AwaitReadModels(c, res.Position, readModels...) {
		row, err := h.d.Leads.GetLead(c.Request.Context(), api.Principal(c).TenantID, res.LeadID)
		if err == nil {
			c.JSON(code, toLead(row.ID, row.Profile, name(row.Status), row.CreatedAt, row.UpdatedAt))
			return
		}
		if !errors.Is(err, projections.ErrNotFound) {
			h.fail(c, err)
			return
		}
	}
	now := time.Now()
	c.JSON(code, toLead(res.LeadID, res.Profile, name(string(res.Status)), now, now))
}

// statusNamer shows lead statuses: Cratio's own names for the default
// pipeline's statuses (whatever a tenant renamed them to elsewhere), and the
// tenant's name for a status it added through another API. The pipeline is
// read only when one of keys needs it.
func (h *handlers) statusNamer(ctx context.Context, tenantID uuid.UUID, keys ...string) (func(string) string, error) {
	custom := false
	for _, k := range keys {
		custom = custom || !domain.IsDefaultStatus(domain.Status(k))
	}
	if !custom {
		return func(k string) string { return k }, nil
	}
	statuses, err := h.d.Pipelines.Statuses(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	book := domain.StatusBook(statuses)
	return func(k string) string {
		if domain.IsDefaultStatus(domain.Status(k)) {
			return k
		}
		return book.Name(domain.Status(k))
	}, nil
}

// deleted is the answer to a permanent delete.
type deleted struct {
	ID      uuid.UUID `json:"id"`
	Deleted bool      `json:"deleted"`
}

func (h *handlers) deleteLead(c *gin.Context) {
	id, bad := uuidParam("id", c.Param("id"))
	if bad != nil {
		h.fail(c, bad)
		return
	}
	res, err := h.d.Commands.DeleteLead(c.Request.Context(), api.CommandContext(c, Name), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.d.AwaitReadModels(c, res.Position, readModels...)
	c.JSON(http.StatusOK, deleted{ID: id, Deleted: true})
}
