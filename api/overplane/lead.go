package overplane

import (
	"encoding/hex"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
)

// idPrefix starts every lead id Overplane shows: "lead_" and the lead's UUID
// as 32 lower-case hex digits.
const idPrefix = "lead_"

// leadID is the Overplane id of a lead.
func leadID(id uuid.UUID) string {
	return idPrefix + hex.EncodeToString(id[:])
}

// parseLeadID reads an id leadID made; anything else names no lead.
func parseLeadID(s string) (uuid.UUID, bool) {
	h, ok := strings.CutPrefix(s, idPrefix)
	if !ok || len(h) != 32 || strings.ToLower(h) != h {
		return uuid.Nil, false
	}
	var id uuid.UUID
	if _, err := hex.Decode(id[:], []byte(h)); err != nil {
		return uuid.Nil, false
	}
	return id, true
}

// overplaneDefaultStatus is Overplane's default status: the core's first
// default status, "New". The other statuses show by their pipeline names.
const overplaneDefaultStatus = "Lead"

// showStatus renders a core status key with the tenant's pipeline names.
func showStatus(key string, book domain.StatusBook) string {
	if domain.Status(key) == domain.DefaultStatus {
		return overplaneDefaultStatus
	}
	return book.Name(domain.Status(key))
}

// defaultOwner is what lead_owner shows when the lead has none.
const defaultOwner = "__user"

// lead is the Overplane Lead object. Unset text fields are null.
type lead struct {
	ID                  string    `json:"id"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
	LeadName            string    `json:"lead_name"`
	CompanyName         *string   `json:"company_name"`
	EmailID             *string   `json:"email_id"`
	LeadOwner           string    `json:"lead_owner"`
	Status              string    `json:"status"`
	Salutation          *string   `json:"salutation"`
	Gender              *string   `json:"gender"`
	Customer            *string   `json:"customer"`
	Image               *string   `json:"image"`
	Phone               *string   `json:"phone"`
	MobileNo            *string   `json:"mobile_no"`
	Fax                 *string   `json:"fax"`
	Type                *string   `json:"type"`
	MarketSegment       *string   `json:"market_segment"`
	Industry            *string   `json:"industry"`
	RequestType         *string   `json:"request_type"`
	Company             *string   `json:"company"`
	Website             *string   `json:"website"`
	Territory           *string   `json:"territory"`
	Unsubscribed        bool      `json:"unsubscribed"`
	BlogSubscriber      bool      `json:"blog_subscriber"`
	Title               *string   `json:"title"`
	Language            *string   `json:"language"`
	FirstName           *string   `json:"first_name"`
	MiddleName          *string   `json:"middle_name"`
	LastName            *string   `json:"last_name"`
	NoOfEmployees       *string   `json:"no_of_employees"`
	WhatsappNo          *string   `json:"whatsapp_no"`
	PhoneExt            *string   `json:"phone_ext"`
	QualifiedBy         *string   `json:"qualified_by"`
	QualifiedOn         *string   `json:"qualified_on"`
	QualificationStatus *string   `json:"qualification_status"`
	JobTitle            *string   `json:"job_title"`
	AnnualRevenue       *float64  `json:"annual_revenue"`
	Disabled            bool      `json:"disabled"`
	City                *string   `json:"city"`
	State               *string   `json:"state"`
	Country             *string   `json:"country"`
	UTMContent          *string   `json:"utm_content"`
	UTMSource           *string   `json:"utm_source"`
	UTMMedium           *string   `json:"utm_medium"`
	UTMCampaign         *string   `json:"utm_campaign"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func first(s []string) *string {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

func toLead(id uuid.UUID, p domain.LeadProfile, status string, book domain.StatusBook, created, updated time.Time) lead {
	owner := p.LeadOwner
	if owner == "" {
		owner = defaultOwner
	}
	var revenue *float64
	if p.AnnualRevenue != nil {
		v := *p.AnnualRevenue
		revenue = &v
	}
	return lead{
		ID: leadID(id), CreatedAt: created.UTC(), UpdatedAt: updated.UTC(),
		LeadName: p.Name, CompanyName: optional(p.Company), EmailID: first(p.Emails), LeadOwner: owner,
		Status: showStatus(status, book), Salutation: optional(p.Salutation), Gender: optional(p.Gender),
		Customer: optional(p.Customer), Image: optional(p.Photo), Phone: first(p.Phones),
		MobileNo: optional(p.MobileNo), Fax: optional(p.Fax), Type: optional(p.CustomerType),
		MarketSegment: optional(p.MarketSegment), Industry: optional(p.Industry),
		RequestType: optional(p.RequestType), Company: optional(p.OwnerCompany), Website: optional(p.Website),
		Territory: optional(p.Territory), Unsubscribed: p.Unsubscribed, BlogSubscriber: p.BlogSubscriber,
		Title: optional(p.Title), Language: optional(p.Language), FirstName: optional(p.FirstName),
		MiddleName: optional(p.MiddleName), LastName: optional(p.LastName), NoOfEmployees: optional(p.Employees),
		WhatsappNo: optional(p.WhatsappNo), PhoneExt: optional(p.PhoneExt), QualifiedBy: optional(p.QualifiedBy),
		QualifiedOn: optional(p.QualifiedOn), QualificationStatus: optional(p.QualificationState),
		JobTitle: optional(p.JobTitle), AnnualRevenue: revenue, Disabled: p.Disabled,
		City: optional(p.City), State: optional(p.State), Country: optional(p.Country),
		UTMContent: optional(p.UTMContent), UTMSource: optional(p.UTMSource), UTMMedium: optional(p.UTMMedium),
		UTMCampaign: optional(p.UTMCampaign),
	}
}

// textField is a free-text body param and the profile field it sets.
type textField struct {
	param   string // Overplane name
	profile string // domain.LeadProfile JSON name, which validation errors use
	field   func(*domain.LeadProfile) *string
}

// textFields are the params stored as sent (trimmed; blank or null unsets).
var textFields = []textField{
	{"lead_name", "name", func(p *domain.LeadProfile) *string { return &p.Name }},
	{"company_name", "company", func(p *domain.LeadProfile) *string { return &p.Company }},
	{"salutation", "salutation", func(p *domain.LeadProfile) *string { return &p.Salutation }},
	{"gender", "gender", func(p *domain.LeadProfile) *string { return &p.Gender }},
	{"customer", "customer", func(p *domain.LeadProfile) *string { return &p.Customer }},
	{"image", "photo", func(p *domain.LeadProfile) *string { return &p.Photo }},
	{"fax", "fax", func(p *domain.LeadProfile) *string { return &p.Fax }},
	{"type", "customer_type", func(p *domain.LeadProfile) *string { return &p.CustomerType }},
	{"market_segment", "market_segment", func(p *domain.LeadProfile) *string { return &p.MarketSegment }},
	{"industry", "industry", func(p *domain.LeadProfile) *string { return &p.Industry }},
	{"request_type", "request_type", func(p *domain.LeadProfile) *string { return &p.RequestType }},
	{"company", "owner_company", func(p *domain.LeadProfile) *string { return &p.OwnerCompany }},
	{"website", "website", func(p *domain.LeadProfile) *string { return &p.Website }},
	{"territory", "territory", func(p *domain.LeadProfile) *string { return &p.Territory }},
	{"title", "title", func(p *domain.LeadProfile) *string { return &p.Title }},
	{"language", "language", func(p *domain.LeadProfile) *string { return &p.Language }},
	{"first_name", "first_name", func(p *domain.LeadProfile) *string { return &p.FirstName }},
	{"middle_name", "middle_name", func(p *domain.LeadProfile) *string { return &p.MiddleName }},
	{"last_name", "last_name", func(p *domain.LeadProfile) *string { return &p.LastName }},
	{"no_of_employees", "no_of_employees", func(p *domain.LeadProfile) *string { return &p.Employees }},
	{"whatsapp_no", "whatsapp_no", func(p *domain.LeadProfile) *string { return &p.WhatsappNo }},
	{"phone_ext", "phone_ext", func(p *domain.LeadProfile) *string { return &p.PhoneExt }},
	{"qualified_by", "qualified_by", func(p *domain.LeadProfile) *string { return &p.QualifiedBy }},
	{"qualified_on", "qualified_on", func(p *domain.LeadProfile) *string { return &p.QualifiedOn }},
	{"qualification_status", "qualification_status", func(p *domain.LeadProfile) *string { return &p.QualificationState }},
	{"job_title", "job_title", func(p *domain.LeadProfile) *string { return &p.JobTitle }},
	{"city", "city", func(p *domain.LeadProfile) *string { return &p.City }},
	{"state", "state", func(p *domain.LeadProfile) *string { return &p.State }},
	{"country", "country", func(p *domain.LeadProfile) *string { return &p.Country }},
	{"utm_content", "utm_content", func(p *domain.LeadProfile) *string { return &p.UTMContent }},
	{"utm_source", "utm_source", func(p *domain.LeadProfile) *string { return &p.UTMSource }},
	{"utm_medium", "utm_medium", func(p *domain.LeadProfile) *string { return &p.UTMMedium }},
	{"utm_campaign", "utm_campaign", func(p *domain.LeadProfile) *string { return &p.UTMCampaign }},
}

// flagFields are the boolean params; null unsets (false).
var flagFields = []struct {
	param string
	field func(*domain.LeadProfile) *bool
}{
	{"unsubscribed", func(p *domain.LeadProfile) *bool { return &p.Unsubscribed }},
	{"blog_subscriber", func(p *domain.LeadProfile) *bool { return &p.BlogSubscriber }},
	{"disabled", func(p *domain.LeadProfile) *bool { return &p.Disabled }},
}

// params maps a profile field (or a command field) to the Overplane param
// it comes from, so a domain error names what the client sent.
var params = func() map[string]string {
	m := map[string]string{
		"emails": "email_id", "email": "email_id", "phones": "phone", "phone": "phone",
		"mobile_no": "mobile_no", "lead_owner": "lead_owner", "annual_revenue": "annual_revenue",
		"status": "status", "unsubscribed": "unsubscribed", "blog_subscriber": "blog_subscriber",
		"disabled": "disabled",
	}
	for _, f := range textFields {
		m[f.profile] = f.param
	}
	return m
}()

// paramOf is the Overplane param for a profile field name.
func paramOf(field string) string {
	if p, ok := params[field]; ok {
		return p
	}
	return field
}

// bodyParams lists every param a create or update body may hold.
var bodyParams = func() []string {
	out := []string{"email_id", "phone", "mobile_no", "lead_owner", "status", "annual_revenue"}
	for _, f := range textFields {
		out = append(out, f.param)
	}
	for _, f := range flagFields {
		out = append(out, f.param)
	}
	return out
}()
