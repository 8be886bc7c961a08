package imports

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// The columns of a customer import and export, in export order: the
// /dev/crm customer's JSON fields.
const (
	CustomerID = iota // export only: a new customer gets a new id
	// CustomerLeadID is export only: the lead a customer was converted
	// from is made by converting it, never by an import.
	CustomerLeadID
	CustomerName
	CustomerEmail
	CustomerPhone
	CustomerCompany
	CustomerType
	CustomerStatus
	CustomerBillingAddress
	CustomerShippingAddress
	CustomerPaymentTerms
	CustomerCreditLimit
	CustomerTaxID
	CustomerNotes
	CustomerCustomFields
	CustomerAssignedTo
)

// customerColumns are a customer file's columns; name and email are
// required, as on a /dev/crm create.
var customerColumns = &columns{
	names: []string{"id", "lead_id", "name", "email", "phone", "company", "type", "status", "billing_address",
		"shipping_address", "payment_terms", "credit_limit", "tax_id", "notes", "custom_fields", "assigned_to"},
	required: []int{CustomerName, CustomerEmail},
	skipped:  []int{CustomerID, CustomerLeadID},
}

// customerKind is the customer import: each good row a customer.created
// reserving its email among the tenant's customers (a lead may have it)
// and its number, as CreateCustomer does.
func (im *Importer) customerKind() *kind {
	return &kind{name: KindCustomers, cols: customerColumns, stream: domain.CustomerStream, counter: "customer", noun: "customer",
		decode: func(rec Record, _ func(string) (domain.Status, error)) (row, []RowError) {
			p, bad := decodeCustomer(rec, im.opts.Region)
			if len(bad) > 0 {
				return row{}, bad
			}
			reserve := []eventstore.Reservation{{Kind: domain.ReserveCustomerEmail, Value: p.PrimaryEmail()}}
			return row{reserve: reserve, create: func(id uuid.UUID, number int64) ([]domain.Event, []eventstore.Reservation, error) {
				decided, err := domain.CreateCustomer(id, number, uuid.Nil, p, "")
				return decided, []eventstore.Reservation{{Kind: domain.ReserveCustomerNumber, Value: strconv.FormatInt(number, 10)}}, err
			}}, nil
		}}
}

// decodeCustomer reads rec into a normalized customer profile the way the
// /dev/crm create reads one (enums in any case), then the customer's own
// rules (domain.CreateCustomer). A row refused says each field it fails on.
func decodeCustomer(rec Record, region string) (domain.CustomerProfile, []RowError) {
	var bad []RowError
	fail := func(f, msg string) {
		bad = append(bad, RowError{Row: rec.Row, Line: rec.Line, Field: f, Message: msg})
	}
	if rec.Width != "" {
		fail("", "the row "+rec.Width)
		return domain.CustomerProfile{}, bad
	}
	v := func(f int) string { return strings.TrimSpace(rec.Values[f]) }
	p := domain.CustomerProfile{Name: v(CustomerName), Company: v(CustomerCompany),
		BillingAddress: v(CustomerBillingAddress), ShippingAddress: v(CustomerShippingAddress),
		PaymentTerms: v(CustomerPaymentTerms), TaxID: v(CustomerTaxID), Notes: rec.Values[CustomerNotes],
		AssignedTo: v(CustomerAssignedTo)}
	if p.Name == "" {
		fail("name", "is required")
	}
	if e := v(CustomerEmail); e != "" {
		p.Emails = []string{e}
	} else {
		fail("email", "is required")
	}
	if ph := v(CustomerPhone); ph != "" {
		p.Phones = []string{ph}
	}
	if s := strings.ToLower(v(CustomerType)); s != "" {
		if t := domain.CustomerType(s); t == domain.CustomerIndividual || t == domain.CustomerBusiness {
			p.Type = t
		} else {
			fail("type", fmt.Sprintf("%q must be one of individual, business", v(CustomerType)))
		}
	}
	if s := strings.ToLower(v(CustomerStatus)); s != "" {
		switch st := domain.CustomerStatus(s); st {
		case domain.CustomerActive, domain.CustomerInactive, domain.CustomerBlocked:
			p.Status = st
		default:
			fail("status", fmt.Sprintf("%q must be one of active, inactive, blocked", v(CustomerStatus)))
		}
	}
	if s := v(CustomerCreditLimit); s != "" {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || n < 0 {
			fail("credit_limit", fmt.Sprintf("%q must be a number of at least 0", s))
		} else {
			p.CreditLimit = &n
		}
	}
	if s := v(CustomerCustomFields); s != "" {
		if !json.Valid([]byte(s)) || !strings.HasPrefix(s, "{") {
			fail("custom_fields", "must be a JSON object")
		} else {
			p.CustomFields = json.RawMessage(s)
		}
	}
	n, err := domain.NormalizeCustomerProfile(p, region)
	if err != nil {
		bad = append(bad, fieldErrors(rec, err)...)
	}
	if len(bad) > 0 {
		return domain.CustomerProfile{}, bad
	}
	decided, err := domain.CreateCustomer(placeholderID, 1, uuid.Nil, n, "")
	if err != nil {
		return domain.CustomerProfile{}, fieldErrors(rec, err)
	}
	// The profile as the event holds it (defaults filled), so the store's
	// reservation is the event's email.
	return decided[0].Data.(domain.CustomerCreatedData).Profile, nil
}
