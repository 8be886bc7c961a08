package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// CustomerType is whether a customer is a person or an organization.
type CustomerType string

// Customer types.
const (
	CustomerIndividual CustomerType = "individual"
	CustomerBusiness   CustomerType = "business"
)

func (t CustomerType) valid() bool { return t == CustomerIndividual || t == CustomerBusiness }

// CustomerStatus is a customer's standing: whether crm's users may sell to it.
type CustomerStatus string

// Customer statuses.
const (
	CustomerActive   CustomerStatus = "active"
	CustomerInactive CustomerStatus = "inactive"
	CustomerBlocked  CustomerStatus = "blocked"
)

func (s CustomerStatus) valid() bool {
	return s == CustomerActive || s == CustomerInactive || s == CustomerBlocked
}

// CustomerProfile is everything a customer says about the buyer: the union
// of the customer fields of the APIs that show customers (/dev/crm
// customers, the prospects & clients API's clients). Empty means unset; the
// JSON names are stored in events: never rename one.
type CustomerProfile struct {
	Name            string          `json:"name,omitempty"`
	Emails          []string        `json:"emails,omitempty"` // normalized, primary first; the primary is unique per tenant
	Phones          []string        `json:"phones,omitempty"` // E.164, primary first
	Company         string          `json:"company,omitempty"`
	Type            CustomerType    `json:"type,omitempty"`
	Status          CustomerStatus  `json:"status,omitempty"`
	BillingAddress  string          `json:"billing_address,omitempty"`
	ShippingAddress string          `json:"shipping_address,omitempty"`
	PaymentTerms    string          `json:"payment_terms,omitempty"`
	CreditLimit     *float64        `json:"credit_limit,omitempty"`
	TaxID           string          `json:"tax_id,omitempty"`
	AssignedTo      string          `json:"assigned_to,omitempty"`
	Notes           string          `json:"notes,omitempty"`
	CustomFields    json.RawMessage `json:"custom_fields,omitempty"`

	// The prospects & clients API's follow-up data of a client, named as
	// on LeadProfile (source is its channel, deal_value its account value).
	Source             string      `json:"source,omitempty"`
	DealValue          *float64    `json:"deal_value,omitempty"`
	Locale             int         `json:"locale,omitempty"`
	MonthlyShipments   string      `json:"monthly_shipments,omitempty"`
	EcommerceTypeID    int         `json:"ecommerce_type_id,omitempty"`
	WeightID           int         `json:"weight_id,omitempty"`
	ContentID          int         `json:"content_id,omitempty"`
	AccountType        AccountType `json:"account_type,omitempty"`
	EstimatedCloseDate string      `json:"estimated_close_date,omitempty"` // YYYY-MM-DD
}

// customerFields are CustomerProfile's fields by JSON name.
var customerFields = fieldsOf[CustomerProfile]()

// Validate checks p can be a customer's whole profile: a name, normalized
// emails and phones, known type and status, every field in range. It names
// the first bad field.
func (p CustomerProfile) Validate() error {
	if strings.TrimSpace(p.Name) == "" {
		return invalid("name", "must not be empty")
	}
	if len(p.Emails) > maxEmails {
		return invalid("emails", fmt.Sprintf("must hold at most %d entries", maxEmails))
	}
	if len(p.Phones) > maxPhones {
		return invalid("phones", fmt.Sprintf("must hold at most %d entries", maxPhones))
	}
	if err := checkNormalized("emails", p.Emails, func(s string) (string, error) { return NormalizeEmail(s) }); err != nil {
		return err
	}
	if err := checkNormalized("phones", p.Phones, func(s string) (string, error) { return NormalizePhone(s, "") }); err != nil {
		return err
	}
	if !p.Type.valid() {
		return invalid("type", "must be one of individual, business")
	}
	if !p.Status.valid() {
		return invalid("status", "must be one of active, inactive, blocked")
	}
	if err := checkAmount("credit_limit", p.CreditLimit); err != nil {
		return err
	}
	if err := checkAmount("deal_value", p.DealValue); err != nil {
		return err
	}
	if err := nonNegative([]idField{{"locale", p.Locale}, {"ecommerce_type_id", p.EcommerceTypeID},
		{"weight_id", p.WeightID}, {"content_id", p.ContentID}}); err != nil {
		return err
	}
	if err := checkDeal(p.AccountType, p.EstimatedCloseDate); err != nil {
		return err
	}
	return customerFields.checkTextLengths(p)
}

// complete fills the defaults (a business when there is a company, else an
// individual; active), validates, and puts custom fields in the compact form
// JSON reads back, so the profile stored in an event equals the one replayed
// from it and an unchanged value diffs equal.
func (p CustomerProfile) complete() (CustomerProfile, error) {
	p = p.clone()
	if p.Type == "" {
		p.Type = CustomerIndividual
		if strings.TrimSpace(p.Company) != "" {
			p.Type = CustomerBusiness
		}
	}
	if p.Status == "" {
		p.Status = CustomerActive
	}
	if err := p.Validate(); err != nil {
		return CustomerProfile{}, err
	}
	if len(p.CustomFields) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, p.CustomFields); err != nil || !bytes.HasPrefix(buf.Bytes(), []byte("{")) {
			return CustomerProfile{}, invalid("custom_fields", "must be a JSON object")
		}
		p.CustomFields = buf.Bytes()
	}
	return p, nil
}

// clone deep-copies p, so a Customer never shares slices or pointers with
// its callers or with the events it was built from.
func (p CustomerProfile) clone() CustomerProfile {
	out := p
	out.Emails = slices.Clone(p.Emails)
	out.Phones = slices.Clone(p.Phones)
	out.CreditLimit = clonePtr(p.CreditLimit)
	out.DealValue = clonePtr(p.DealValue)
	out.CustomFields = bytes.Clone(p.CustomFields)
	return out
}

// WithChanges returns p with each change's new value set: what
// customer.updated does to a profile, for the aggregate and read models alike.
func (p CustomerProfile) WithChanges(changes []FieldChange) CustomerProfile {
	out := p.clone()
	customerFields.apply(&out, changes)
	return out
}

// customerFromLead is the profile a converted lead's customer starts with:
// who the lead is, how to reach them, who owns them.
func customerFromLead(l LeadProfile) CustomerProfile {
	p := CustomerProfile{Name: l.Name, Emails: slices.Clone(l.Emails), Phones: slices.Clone(l.Phones),
		Company: l.Company, AssignedTo: l.AssignedTo, CustomFields: bytes.Clone(l.CustomFields)}
	if p.Name == "" {
		p.Name = FullName(l.FirstName, l.MiddleName, l.LastName)
	}
	if p.Name == "" {
		p.Name = p.Company
	}
	if p.Name == "" && len(p.Emails) > 0 {
		p.Name = p.Emails[0] // a lead may be known by its email only
	}
	return p
}

// NormalizeCustomerProfile brings client input into the form the domain
// stores, as NormalizeProfile does for a lead: strings trimmed, emails
// lower-cased, phones in E.164 (national numbers read in defaultRegion),
// repeats and blanks dropped with the primary kept first, custom fields
// canonical JSON. It rejects only what cannot be normalized, with a
// *NormalizeError naming every bad entry; Validate judges the result.
func NormalizeCustomerProfile(p CustomerProfile, defaultRegion string) (CustomerProfile, error) {
	out := p.clone()
	ov := reflect.ValueOf(&out).Elem()
	for _, f := range customerFields.fields {
		if fv := ov.Field(f.index); fv.Kind() == reflect.String {
			fv.SetString(strings.TrimSpace(fv.String()))
		}
	}
	var bad []EntryError
	out.Emails, out.Phones = normalizeReach(p.Emails, p.Phones, defaultRegion, &bad)
	var ok bool
	if out.CustomFields, ok = canonicalObject(p.CustomFields); !ok {
		bad = append(bad, EntryError{Field: "custom_fields", Value: string(p.CustomFields), Reason: "must be a JSON object"})
	}
	if len(bad) > 0 {
		return CustomerProfile{}, &NormalizeError{Entries: bad}
	}
	return out, nil
}

// PrimaryEmail is the first email, the one unique among a tenant's
// customers ("" when there is none).
func (p CustomerProfile) PrimaryEmail() string {
	if len(p.Emails) == 0 {
		return ""
	}
	return p.Emails[0]
}
