package customers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// customerRowEvents are the customer events that change a row of
// rm_customers (an order placed or removed changes its count of orders);
// the customer's records are the records read model's.
var customerRowEvents = []string{domain.CustomerCreated, domain.CustomerUpdated, domain.CustomerDeleted,
	domain.CustomerOrderPlaced, domain.CustomerOrderRemoved}

// leadCustomerEvents are the lead events that change rm_lead_customers.
var leadCustomerEvents = []string{domain.LeadConverted, domain.LeadDeleted}

// customerCopyColumns are the columns of rm_customers, in the order of
// customerRow.values.
var customerCopyColumns = []string{"tenant_id", "id", "number", "lead_id", "name", "email", "phone", "company",
	"type", "status", "follow", "assigned_to", "profile", "created_at", "updated_at", "orders"}

// leadCustomerCopyColumns are the columns of rm_lead_customers, in the
// order of leadCustomer.values.
var leadCustomerCopyColumns = []string{"tenant_id", "lead_id", "customer_id", "customer_number"}

// customerRow is a customer's row of rm_customers, folded from the
// customer's own events: the one statement of what a customer event means
// to the customer list, used by the bulk rebuild and, row by row, by Apply.
type customerRow struct {
	present   bool // created (not redacted) and not deleted
	tenantID  uuid.UUID
	id        uuid.UUID
	number    int64
	leadID    uuid.UUID
	profile   domain.CustomerProfile
	follow    string
	createdAt time.Time
	updatedAt time.Time
	// orders counts the customer's live orders (placed less removed); an
	// order changes neither the profile nor updated_at.
	orders int
}

// Fold folds one event of the customer's stream into the row: an event for
// a row that does not exist (redacted history, or after a delete) changes
// nothing.
func (r *customerRow) Fold(e eventstore.Event) error {
	switch e.Type { // their data may be redacted: the type is all they say here
	case domain.CustomerOrderPlaced:
		r.orders++
		return nil
	case domain.CustomerOrderRemoved:
		r.orders--
		return nil
	}
	ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return err
	}
	switch d := ev.Data.(type) {
	case domain.CustomerCreatedData:
		if d.CustomerID == uuid.Nil {
			return nil // redacted: the customer was permanently deleted later
		}
		if r.present {
			return fmt.Errorf("customer %s created twice", e.StreamID)
		}
		*r = customerRow{present: true, tenantID: e.TenantID, id: e.StreamID, number: d.Number, leadID: d.LeadID,
			profile: d.Profile, follow: string(d.Follow), createdAt: e.RecordedAt, updatedAt: e.RecordedAt}
	case domain.CustomerUpdatedData:
		if r.present {
			r.profile, r.updatedAt = r.profile.WithChanges(d.Changes), e.RecordedAt
		}
	case domain.CustomerDeletedData:
		r.present = false
	}
	return nil
}

// values is the row in customerCopyColumns order, for COPY and for Apply's
// insert and update alike.
func (r *customerRow) values() ([]any, error) {
	p := r.profile
	profile, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var lead any // null: created directly, not converted from a lead
	if r.leadID != uuid.Nil {
		lead = projections.CopyUUID(r.leadID)
	}
	return []any{projections.CopyUUID(r.tenantID), projections.CopyUUID(r.id), r.number, lead, p.Name,
		first(p.Emails), first(p.Phones), p.Company, string(p.Type), string(p.Status), r.follow, p.AssignedTo,
		profile, r.createdAt, r.updatedAt, r.orders}, nil
}

// End emits the customer's row if it exists.
func (r *customerRow) End(emit func([]any) error) error {
	done := *r
	*r = customerRow{}
	if !done.present {
		return nil
	}
	v, err := done.values()
	if err != nil {
		return fmt.Errorf("customer %s: %w", done.id, err)
	}
	return emit(v)
}

// leadCustomer is a lead's row of rm_lead_customers, folded from the lead's
// stream: the customer lead.converted names, gone with the lead. It is the
// link whichever way the conversion went (a new customer, or one that
// already had the lead's email); the queries check that the customer lives.
type leadCustomer struct {
	present        bool
	tenantID       uuid.UUID
	leadID         uuid.UUID
	customerID     uuid.UUID
	customerNumber int64
}

// Fold folds one event of the lead's stream into the link.
func (l *leadCustomer) Fold(e eventstore.Event) error {
	switch e.Type {
	case domain.LeadConverted:
		ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
		if err != nil {
			return err
		}
		d := ev.Data.(domain.LeadConvertedData)
		if d.CustomerID == uuid.Nil {
			return nil // redacted: the lead was permanently deleted later
		}
		*l = leadCustomer{present: true, tenantID: e.TenantID, leadID: e.StreamID, customerID: d.CustomerID, customerNumber: d.CustomerNumber}
	case domain.LeadDeleted:
		l.present = false
	}
	return nil
}

// values is the row in leadCustomerCopyColumns order.
func (l *leadCustomer) values() []any {
	return []any{projections.CopyUUID(l.tenantID), projections.CopyUUID(l.leadID), projections.CopyUUID(l.customerID), l.customerNumber}
}

// End emits the lead's link if it has one.
func (l *leadCustomer) End(emit func([]any) error) error {
	done := *l
	*l = leadCustomer{}
	if !done.present {
		return nil
	}
	return emit(done.values())
}

// Rebuild implements projections.Rebuilder: it folds each customer's stream
// into its final row, and each converted lead's stream into its link, and
// copies them into rm_customers (lead_id null where the lead is deleted)
// and rm_lead_customers, and counts the customers.
func (Projection) Rebuild(ctx context.Context, b *projections.BulkBuild) error {
	err := b.CopyStreams(ctx, "rm_customers", customerCopyColumns,
		eventstore.ScanFilter{StreamTypes: []string{domain.CustomerStream}, EventTypes: customerRowEvents, NoMetadata: true},
		func() projections.StreamFold { return &customerRow{} })
	if err != nil {
		return err
	}
	if err := b.Exec(ctx, `update rm_customers c set lead_id = null where c.lead_id is not null and `+
		leadGone("c.tenant_id", "c.lead_id")); err != nil {
		return fmt.Errorf("customers of deleted leads: %w", err)
	}
	if err := countAll(ctx, b); err != nil {
		return err
	}
	return b.CopyStreams(ctx, "rm_lead_customers", leadCustomerCopyColumns,
		eventstore.ScanFilter{StreamTypes: []string{domain.LeadStream}, EventTypes: leadCustomerEvents, NoMetadata: true},
		func() projections.StreamFold { return &leadCustomer{} })
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
