package leadsapi

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections/leads"
)

// The lead states: archived leads are hidden from lists and search.
const (
	stateActive   = "Active"
	stateArchived = "Archived"
)

// socialNetworks are the socialMedia keys this API reads and writes; other
// keys a lead has (from other APIs) are kept and not shown.
var socialNetworks = []string{"youtube", "facebook", "instagram", "twitter"}

// lead is the Leads API lead object. Unset optional fields are null.
type lead struct {
	ID          int64       `json:"id"`
	FirstName   *string     `json:"firstName"`
	LastName    *string     `json:"lastName"`
	Email       *string     `json:"email"`
	PhoneNumber []string    `json:"phoneNumber"`
	Status      string      `json:"status"`
	StatusID    *int64      `json:"statusId"`
	State       string      `json:"state"`
	Business    []business  `json:"business"`
	Photo       *string     `json:"photo"`
	Source      *string     `json:"source"`
	Description *string     `json:"description"`
	Location    *string     `json:"location"`
	SocialMedia socialMedia `json:"socialMedia"`
	Position    *string     `json:"position"`
	Company     *string     `json:"company"`
	CreatedAt   time.Time   `json:"createdAt"`
	UpdatedAt   time.Time   `json:"updatedAt"`
}

// business is a business a lead belongs to. crm keeps only the ids, so the
// name is always null.
type business struct {
	ID   int64   `json:"id"`
	Name *string `json:"name"`
}

type socialMedia struct {
	Youtube   *string `json:"youtube"`
	Facebook  *string `json:"facebook"`
	Instagram *string `json:"instagram"`
	Twitter   *string `json:"twitter"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// names returns the first and last name; a lead named only as a whole
// (through another API) is split at its first space.
func names(p domain.LeadProfile) (first, last string) {
	if p.FirstName != "" || p.LastName != "" {
		return p.FirstName, p.LastName
	}
	first, last, _ = strings.Cut(strings.TrimSpace(p.Name), " ")
	return first, strings.TrimSpace(last)
}

// pipeline is the tenant's statuses, to show a lead's status key by the
// status's current name and id.
type pipeline struct {
	statuses []domain.PipelineStatus
}

func (h *handlers) pipeline(ctx context.Context, tenantID uuid.UUID) (pipeline, error) {
	s, err := h.d.Pipelines.Statuses(ctx, tenantID)
	return pipeline{statuses: s}, err
}

// status returns the name and id of the status a lead holds; a key no
// status has (set through another API) shows as is, without an id.
func (p pipeline) status(key string) (string, *int64) {
	for _, s := range p.statuses {
		if string(s.Key) == key {
			id := s.ID
			return s.Name, &id
		}
	}
	return key, nil
}

func (p pipeline) lead(r leads.Lead) lead {
	pr := r.Profile
	first, last := names(pr)
	status, statusID := p.status(r.Status)
	state := stateActive
	if r.Archived {
		state = stateArchived
	}
	var email *string
	if len(pr.Emails) > 0 {
		email = &pr.Emails[0]
	}
	out := lead{
		ID: r.Number, FirstName: optional(first), LastName: optional(last), Email: email,
		PhoneNumber: append([]string{}, pr.Phones...), Status: status, StatusID: statusID, State: state,
		Business: make([]business, len(pr.BusinessIDs)), Photo: optional(pr.Photo), Source: optional(pr.Source),
		Description: optional(pr.Description), Location: optional(pr.Location), Position: optional(pr.JobTitle),
		Company: optional(pr.Company), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		SocialMedia: socialMedia{
			Youtube: optional(pr.Social["youtube"]), Facebook: optional(pr.Social["facebook"]),
			Instagram: optional(pr.Social["instagram"]), Twitter: optional(pr.Social["twitter"]),
		},
	}
	for i, id := range pr.BusinessIDs {
		out.Business[i] = business{ID: id}
	}
	return out
}

func (p pipeline) leads(rows []leads.Lead) []lead {
	out := make([]lead, len(rows))
	for i, r := range rows {
		out[i] = p.lead(r)
	}
	return out
}

// statusView is a pipeline status as this API shows it.
type statusView struct {
	ID             int64  `json:"id"`
	Name           string `json:"name"`
	PrimaryColor   string `json:"primaryColor"`
	SecondaryColor string `json:"secondaryColor"`
	StatusOrder    int    `json:"statusOrder"`
}

// views shows the statuses in pipeline order, places from 1.
func views(statuses []domain.PipelineStatus) []statusView {
	out := make([]statusView, len(statuses))
	for i, s := range statuses {
		out[i] = statusView{ID: s.ID, Name: s.Name, PrimaryColor: s.Color, SecondaryColor: domain.SecondaryColor(s.Color), StatusOrder: i + 1}
	}
	return out
}

// viewOf shows status id of the pipeline after a command.
func viewOf(statuses []domain.PipelineStatus, id int64) statusView {
	for _, v := range views(statuses) {
		if v.ID == id {
			return v
		}
	}
	return statusView{}
}
