package prospects

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/leads"
	"github.com/crmcore/crm/projections/records"
)

// The read routes answer from the read models, never from events: the
// Kanban, list and KPIs from rm_leads and rm_prospect_counts, the calendar
// from rm_interactions, details from rm_leads, rm_customers and the
// records. Statuses (categories) come from the pipeline read model: every
// status is a category, in pipeline order, empty ones included.

// kanbanRecord is a prospect on the Kanban.
type kanbanRecord struct {
	ID               int64      `json:"id"`
	CompanyName      *string    `json:"company_name"`
	Name             string     `json:"name"`
	Email            *string    `json:"email"`
	FollowUpID       *int64     `json:"follow_up_id"`
	FollowName       string     `json:"follow_name"`
	Balance          float64    `json:"balance"`
	AccountValue     float64    `json:"account_value"`
	LastContact      *time.Time `json:"last_contact"`
	SalesmanName     *string    `json:"salesman_name"`
	Verified         bool       `json:"verified"`
	Tier             *string    `json:"tier"`
	MonthlyShipments *int64     `json:"monthly_shipments"`
	Services         []int      `json:"services"`
}

type kanbanCategory struct {
	ID      int64          `json:"id"`
	Name    string         `json:"name"`
	Records []kanbanRecord `json:"records"`
	Count   int64          `json:"count"`
}

// listRow is a prospect in the data table.
type listRow struct {
	ID                   int64   `json:"id"`
	CompanyName          *string `json:"company_name"`
	FollowName           string  `json:"follow_name"`
	SalesmanName         *string `json:"salesman_name"`
	Balance              float64 `json:"balance"`
	AccountValue         float64 `json:"account_value"`
	FirstContact         *string `json:"first_contact"`
	LastContact          *string `json:"last_contact"`
	DaysUC               int64   `json:"days_uc"`
	DaysWithoutContact   *int64  `json:"days_without_contact"`
	NextContact          *string `json:"next_contact"`
	MonthlyShipmentsDesc *string `json:"monthly_shipments_desc"`
	Campaign             *string `json:"campaign"`
	LeadStatus           *string `json:"lead_status"`
	EstimatedCloseDate   *string `json:"estimated_close_date"`
}

type kpi struct {
	CategoryID   int64   `json:"category_id"`
	CategoryName string  `json:"category_name"`
	TotalValue   float64 `json:"total_value"`
	Count        int64   `json:"count"`
}

type activity struct {
	ID            int64      `json:"id"`
	EntityName    string     `json:"entity_name"`
	EntityType    string     `json:"entity_type"`
	EntityID      int64      `json:"entity_id"`
	Action        string     `json:"action"`
	Comment       string     `json:"comment"`
	ScheduledDate *time.Time `json:"scheduled_date"`
	CreatedByName string     `json:"created_by_name"`
	FollowName    string     `json:"follow_name"`
}

// prospectQueryOf parses route's query, resolves its status ids in the
// tenant's pipeline and checks permAll; false when it answered.
func (h *handlers) prospectQueryOf(c *gin.Context, route string) (prospectQuery, []domain.PipelineStatus, bool) {
	q, bad := parseRoute(c.Request.URL.Query(), route)
	if bad != nil {
		h.fail(c, bad)
		return q, nil, false
	}
	if !h.mayFilterAll(c, q.needsAll) {
		return q, nil, false
	}
	tenant := api.Principal(c).TenantID
	statuses, err := h.d.Pipelines.Statuses(c.Request.Context(), tenant)
	if err != nil {
		h.fail(c, err)
		return q, nil, false
	}
	q.filter.TenantID = tenant
	if q.category > 0 {
		keys, bad := statusKeys(statuses, "category", q.category)
		if bad != nil {
			h.fail(c, bad)
			return q, nil, false
		}
		q.filter.Category = keys[0]
	}
	if q.filter.Follow, bad = statusKeys(statuses, "follow", q.follow...); bad != nil {
		h.fail(c, bad)
		return q, nil, false
	}
	return q, statuses, true
}

// grouped is GET /prospects/grouped: the Kanban.
func (h *handlers) grouped(c *gin.Context) {
	q, statuses, ok := h.prospectQueryOf(c, "grouped")
	if !ok {
		return
	}
	cats, err := h.d.Leads.Kanban(c.Request.Context(), q.filter, q.start, q.length, q.sort)
	if err != nil {
		h.fail(c, err)
		return
	}
	byKey := map[string]leads.KanbanCategory{}
	for _, k := range cats {
		byKey[k.Status] = k
	}
	out := make([]kanbanCategory, 0, len(statuses))
	for _, s := range statuses {
		k := byKey[string(s.Key)]
		cat := kanbanCategory{ID: s.ID, Name: snake(s.Name), Count: k.Count, Records: make([]kanbanRecord, 0, len(k.Records))}
		for _, p := range k.Records {
			id := s.ID
			cat.Records = append(cat.Records, kanbanRecord{ID: p.Number, CompanyName: optional(p.Company),
				Name: p.Name, Email: optional(p.Email), FollowUpID: &id, FollowName: cat.Name,
				AccountValue: p.DealValue, LastContact: p.LastContact, SalesmanName: optional(p.AssignedTo),
				MonthlyShipments: p.MonthlyShipments, Services: []int{}})
		}
		out = append(out, cat)
	}
	c.JSON(http.StatusOK, gin.H{"categories": out})
}

// dateText is t's UTC date, as the list shows dates.
func dateText(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.DateOnly)
	return &s
}

// daysSince is the whole days from t to now.
func daysSince(t, now time.Time) int64 { return int64(now.Sub(t) / (24 * time.Hour)) }

// list is GET /prospects/list: the data table.
func (h *handlers) list(c *gin.Context) {
	q, statuses, ok := h.prospectQueryOf(c, "list")
	if !ok {
		return
	}
	total, filtered, rows, err := h.d.Leads.ProspectList(c.Request.Context(), q.filter, q.start, q.length, q.sort)
	if err != nil {
		h.fail(c, err)
		return
	}
	now := time.Now()
	data := make([]listRow, 0, len(rows))
	for _, p := range rows {
		_, follow := followStatus(statuses, domain.Status(p.Status))
		row := listRow{ID: p.Number, CompanyName: optional(p.Profile.Company), FollowName: follow,
			SalesmanName: optional(p.Profile.AssignedTo), AccountValue: p.DealValue, FirstContact: dateText(p.FirstContact),
			LastContact: dateText(p.LastContact), DaysUC: daysSince(p.StatusChangedAt, now), NextContact: dateText(p.NextContact),
			MonthlyShipmentsDesc: optional(p.Profile.MonthlyShipments), Campaign: optional(p.Profile.CampaignID),
			LeadStatus: optional(p.Profile.QualificationState), EstimatedCloseDate: optional(p.EstimatedCloseDate)}
		if p.LastContact != nil {
			d := daysSince(*p.LastContact, now)
			row.DaysWithoutContact = &d
		}
		data = append(data, row)
	}
	c.JSON(http.StatusOK, gin.H{"recordsTotal": total, "recordsFiltered": filtered, "data": data})
}

// kpis is GET /prospects/kpis: count and total account value per status.
func (h *handlers) kpis(c *gin.Context) {
	q, statuses, ok := h.prospectQueryOf(c, "kpis")
	if !ok {
		return
	}
	got, err := h.d.Leads.KPIs(c.Request.Context(), q.filter)
	if err != nil {
		h.fail(c, err)
		return
	}
	byKey := map[string]leads.ProspectKPI{}
	for _, k := range got {
		byKey[k.Status] = k
	}
	out := make([]kpi, 0, len(statuses))
	for _, s := range statuses {
		k := byKey[string(s.Key)]
		out = append(out, kpi{CategoryID: s.ID, CategoryName: snake(s.Name), TotalValue: k.Value, Count: k.Count})
	}
	c.JSON(http.StatusOK, out)
}

// activities is GET /prospects/activities: the calendar of follow-ups.
func (h *handlers) activities(c *gin.Context) {
	a, bad := parseActivities(c.Request.URL.Query())
	if bad != nil {
		h.fail(c, bad)
		return
	}
	if a.salesman != "" && !h.mayFilterAll(c, "salesman") {
		return
	}
	tenant := api.Principal(c).TenantID
	statuses, err := h.d.Pipelines.Statuses(c.Request.Context(), tenant)
	if err != nil {
		h.fail(c, err)
		return
	}
	follow, bad := statusKeys(statuses, "follow", a.follow...)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	found, err := h.d.Records.Activities(c.Request.Context(), records.ActivityFilter{TenantID: tenant, From: a.from, To: a.to,
		Search: a.search, Statuses: follow, Types: a.types, Campaign: a.campaign, Salesman: a.salesman,
		Ecommerce: a.ecommerce, ByRole: a.nothing, Limit: maxActivities})
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]activity, 0, len(found))
	for _, f := range found {
		n := noteOf(f.Interaction.Interaction, prospectOwner, f.LeadNumber, nil)
		name := f.LeadCompany
		if name == "" {
			name = f.LeadName
		}
		_, follow := followStatus(statuses, domain.Status(f.LeadStatus))
		out = append(out, activity{ID: n.ID, EntityName: name, EntityType: n.EntityType, EntityID: n.EntityID,
			Action: n.Action, Comment: n.Comment, ScheduledDate: n.ScheduledDate, CreatedByName: n.CreatedBy, FollowName: follow})
	}
	c.JSON(http.StatusOK, out)
}

// maxActivities bounds one calendar answer: a month of follow-ups of a
// busy team, not a whole history.
const maxActivities = 5000

// prospectDetail is GET /prospects/{id}'s answer.
type prospectDetail struct {
	Prospect   detailCore `json:"prospect"`
	FollowData followData `json:"follow_data"`
	Notes      []note     `json:"notes"`
	Contacts   []contact  `json:"contacts"`
	Locations  []location `json:"locations"`
}

type detailCore struct {
	prospectCore
	Status    int       `json:"status"` // 1 active, 0 archived
	CreatedAt time.Time `json:"created_at"`
}

// detail is GET /prospects/{id}.
func (h *handlers) detail(c *gin.Context) {
	p, bad := paramsOf(c.Request.URL.Query(), []string{"source"})
	if bad == nil {
		_, bad = p.oneOf("source", string(leads.SourceCompany), string(leads.SourcePartner))
	}
	if bad != nil {
		h.fail(c, bad)
		return
	}
	n, ok := pathNumber(c, "id")
	if !ok {
		h.fail(c, notFound("Prospect"))
		return
	}
	ctx, tenant := c.Request.Context(), api.Principal(c).TenantID
	lead, err := h.d.Leads.GetLeadByNumber(ctx, tenant, n)
	if errors.Is(err, projections.ErrNotFound) || (err == nil && p.get("source") == string(leads.SourcePartner) &&
		lead.Profile.ProspectType != partnerType) {
		h.fail(c, notFound("Prospect"))
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	statuses, err := h.d.Pipelines.Statuses(ctx, tenant)
	if err != nil {
		h.fail(c, err)
		return
	}
	pf := lead.Profile
	core := coreOf(lead.Number, pf, domain.Status(lead.Status), statuses)
	if cust, err := h.d.Customers.CustomerOfLead(ctx, tenant, lead.ID); err == nil {
		core.CompanyID = &cust.CustomerNumber
	} else if !errors.Is(err, projections.ErrNotFound) {
		h.fail(c, err)
		return
	}
	status := 1
	if lead.Archived {
		status = 0
	}
	body := prospectDetail{Prospect: detailCore{prospectCore: core, Status: status, CreatedAt: lead.CreatedAt},
		FollowData: followDataOf(pf)}
	own := []ownedBy{{id: lead.ID, kind: prospectOwner, number: lead.Number}}
	if body.Notes, body.Contacts, body.Locations, err = h.recordsOf(c, tenant, own); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, body)
}

// ownedBy is an owner whose records a detail shows.
type ownedBy struct {
	id     uuid.UUID
	kind   ownerKind
	number int64
}

// recordsOf are the notes, contacts and locations of owners.
func (h *handlers) recordsOf(c *gin.Context, tenant uuid.UUID, owners []ownedBy) ([]note, []contact, []location, error) {
	ctx := c.Request.Context()
	ids := make([]uuid.UUID, len(owners))
	for i, o := range owners {
		ids[i] = o.id
	}
	inters, err := h.d.Records.Interactions(ctx, tenant, ids...)
	if err != nil {
		return nil, nil, nil, err
	}
	notes := make([]note, 0, len(inters))
	for _, i := range inters {
		for _, o := range owners {
			if o.id == i.Owner.ID {
				notes = append(notes, noteOf(i.Interaction, o.kind, o.number, nil))
			}
		}
	}
	cts, err := h.d.Records.Contacts(ctx, tenant, ids...)
	if err != nil {
		return nil, nil, nil, err
	}
	contacts := make([]contact, 0, len(cts))
	for _, ct := range cts {
		contacts = append(contacts, contactOf(ct.Contact))
	}
	locs, err := h.d.Records.Locations(ctx, tenant, ids...)
	if err != nil {
		return nil, nil, nil, err
	}
	locations := make([]location, 0, len(locs))
	for _, l := range locs {
		locations = append(locations, locationOf(l.Location))
	}
	return notes, contacts, locations, nil
}
