package domain

import (
	"encoding/json"
	"time"
)

// LeadProfile is everything a lead says about the person and the deal: the
// union of the lead fields of the five APIs crm serves (Cratio, Leads,
// Overplane, Prospects, devcrm). Each API shows its own subset; all of them
// read and write this one model, so a lead created through one API reads right
// through every other. Empty means unset. Status and lifecycle (archived,
// deleted) are not profile fields: they change through their own commands.
//
// The JSON names are stored in events: never rename one.
type LeadProfile struct {
	// Who.
	Name       string `json:"name,omitempty"` // full name; derived from the parts when only they are given
	Salutation string `json:"salutation,omitempty"`
	FirstName  string `json:"first_name,omitempty"`
	MiddleName string `json:"middle_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	Gender     string `json:"gender,omitempty"`
	JobTitle   string `json:"job_title,omitempty"` // Leads API "position", Overplane "job_title"
	Title      string `json:"title,omitempty"`
	Language   string `json:"language,omitempty"`
	Photo      string `json:"photo,omitempty"` // stored file name (Leads "photo", Overplane "image")

	// How to reach them. Emails and Phones are normalized (lower-case, E.164),
	// unique per tenant, primary first; MobileNo is in E.164 too.
	Emails     []string          `json:"emails,omitempty"`
	Phones     []string          `json:"phones,omitempty"`
	MobileNo   string            `json:"mobile_no,omitempty"`
	WhatsappNo string            `json:"whatsapp_no,omitempty"`
	Fax        string            `json:"fax,omitempty"`
	PhoneExt   string            `json:"phone_ext,omitempty"`
	Website    string            `json:"website,omitempty"`
	Social     map[string]string `json:"social,omitempty"` // Leads API socialMedia

	// Where.
	Location string `json:"location,omitempty"` // free text (Leads API)
	City     string `json:"city,omitempty"`
	State    string `json:"state,omitempty"` // region; not the lead's lifecycle state
	Country  string `json:"country,omitempty"`
	Locale   int    `json:"locale,omitempty"` // Prospects locale/country id

	// Their organization.
	Company       string   `json:"company,omitempty"`        // the lead's organization
	OwnerCompany  string   `json:"owner_company,omitempty"`  // Overplane "company": our own company record
	Industry      string   `json:"industry,omitempty"`       // Overplane industry
	MarketSegment string   `json:"market_segment,omitempty"` // Overplane market_segment
	Territory     string   `json:"territory,omitempty"`
	Employees     string   `json:"no_of_employees,omitempty"`
	AnnualRevenue *float64 `json:"annual_revenue,omitempty"`
	BusinessIDs   []int64  `json:"business_ids,omitempty"` // Leads API business[]
	Customer      string   `json:"customer,omitempty"`     // Overplane customer link
	CustomerType  string   `json:"customer_type,omitempty"`
	RequestType   string   `json:"request_type,omitempty"`
	ProspectType  int      `json:"prospect_type,omitempty"` // Prospects: 1 prospect, 2 client, 3 partner

	// The deal.
	Source             string          `json:"source,omitempty"`
	Priority           Priority        `json:"priority,omitempty"`
	DealValue          *float64        `json:"deal_value,omitempty"`
	Score              *int            `json:"score,omitempty"` // 0..100
	Tags               []string        `json:"tags,omitempty"`
	Notes              string          `json:"notes,omitempty"`
	Description        string          `json:"description,omitempty"`
	AssignedTo         string          `json:"assigned_to,omitempty"` // the user's email or UUID, lower-cased like Emails
	LeadOwner          string          `json:"lead_owner,omitempty"`
	CampaignID         string          `json:"campaign_id,omitempty"`
	LastContact        *time.Time      `json:"last_contact,omitempty"`
	MonthlyShipments   string          `json:"monthly_shipments,omitempty"`
	QualifiedBy        string          `json:"qualified_by,omitempty"`
	QualifiedOn        string          `json:"qualified_on,omitempty"`
	QualificationState string          `json:"qualification_status,omitempty"`
	Unsubscribed       bool            `json:"unsubscribed,omitempty"`
	BlogSubscriber     bool            `json:"blog_subscriber,omitempty"`
	Disabled           bool            `json:"disabled,omitempty"`
	UTMSource          string          `json:"utm_source,omitempty"`
	UTMMedium          string          `json:"utm_medium,omitempty"`
	UTMCampaign        string          `json:"utm_campaign,omitempty"`
	UTMContent         string          `json:"utm_content,omitempty"`
	CustomFields       json.RawMessage `json:"custom_fields,omitempty"`

	// The prospects API's follow-up data (its follow-up status is the
	// lead's pipeline status, not a field) and a partner's data (type 3).
	EcommerceTypeID    int         `json:"ecommerce_type_id,omitempty"`
	WeightID           int         `json:"weight_id,omitempty"`
	ContentID          int         `json:"content_id,omitempty"`
	AccountType        AccountType `json:"account_type,omitempty"`
	EstimatedCloseDate string      `json:"estimated_close_date,omitempty"` // YYYY-MM-DD
	PartnerTypeID      int         `json:"partner_type_id,omitempty"`
	PartnerOriginID    int         `json:"partner_origin_id,omitempty"`
	Rating             int         `json:"rating,omitempty"` // 1..5
}

// AccountType is the size of a prospect's business, as the prospects API names it.
type AccountType string

// AccountTypes lists the account types.
var AccountTypes = []AccountType{"individual", "startup", "sme", "enterprise", "corporate"}

func (t AccountType) valid() bool {
	for _, v := range AccountTypes {
		if t == v {
			return true
		}
	}
	return false
}
