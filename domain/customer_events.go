package domain

import (
	"slices"

	"github.com/google/uuid"
)

// CustomerStream is the stream type of a customer: a buyer, whether a
// converted lead or created directly.
const CustomerStream = "customer"

// ReserveCustomerEmail is the reservation of a customer's primary email:
// unique among a tenant's customers (not against leads: a converted lead
// keeps its email).
const ReserveCustomerEmail = "customer.email"

// ReserveCustomerNumber is the reservation of a customer's per-tenant
// number, owned by its stream: the prospects & clients API names a client
// by it (as record numbers name their owner).
const ReserveCustomerNumber = "customer.number"

// Event types of the customer stream. These strings are stored: never rename one.
const (
	CustomerCreated = "customer.created"
	CustomerUpdated = "customer.updated"
	CustomerDeleted = "customer.deleted"
)

// CustomerCreatedData is the data of customer.created. LeadID is the lead
// it was converted from (nil for a customer created directly); Follow is its
// follow-up status, a pipeline status key like a lead's.
type CustomerCreatedData struct {
	CustomerID uuid.UUID       `json:"customer_id"`
	Number     int64           `json:"number"` // per-tenant integer id some APIs show
	LeadID     uuid.UUID       `json:"lead_id,omitempty"`
	Profile    CustomerProfile `json:"profile"`
	Follow     Status          `json:"follow"`
}

// CustomerUpdatedData is the data of customer.updated: the changed profile
// fields with their previous values.
type CustomerUpdatedData struct {
	CustomerID uuid.UUID     `json:"customer_id"`
	Changes    []FieldChange `json:"changes"`
}

// CustomerDeletedData is the data of customer.deleted.
type CustomerDeletedData struct {
	CustomerID uuid.UUID `json:"customer_id"`
}

// LeadConvertedData is the data of lead.converted: the customer the lead
// became, created in the same commit.
type LeadConvertedData struct {
	LeadID         uuid.UUID `json:"lead_id"`
	CustomerID     uuid.UUID `json:"customer_id"`
	CustomerNumber int64     `json:"customer_number"`
}

// LeadConverted is the lead event saying the lead became a customer.
const LeadConverted = "lead.converted"

// customerEvents are the customer stream's own event types, and the
// lead's lead.converted.
var customerEvents = registerEvents(
	eventOf[CustomerCreatedData](CustomerCreated),
	eventOf[CustomerUpdatedData](CustomerUpdated),
	eventOf[CustomerDeletedData](CustomerDeleted),
	eventOf[LeadConvertedData](LeadConverted),
)

// CustomerEventTypes returns every customer event type.
func CustomerEventTypes() []string {
	return slices.Concat(customerEvents[:3], RecordEventTypes(CustomerStream))
}
