package domain

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"
)

var customerID = uuid.MustParse("01956c1e-7a00-7000-8000-0000000000c1")

// allEventTypes is every event type of every stream a test must cover.
func allEventTypes() []string { return append(LeadEventTypes(), CustomerEventTypes()...) }

// ashaCustomer is the complete profile the customer scenarios start from.
func ashaCustomer() CustomerProfile {
	return CustomerProfile{Name: "Asha Rao", Emails: []string{"asha@example.com"}, Phones: []string{"+919876543210"},
		Type: CustomerIndividual, Status: CustomerActive}
}

func customerCreated(lead uuid.UUID, p CustomerProfile) Event {
	return Event{Type: CustomerCreated, Data: CustomerCreatedData{CustomerID: customerID, Number: 3, LeadID: lead, Profile: p, Follow: "Won"}}
}

func converted() Event {
	return Event{Type: LeadConverted, Data: LeadConvertedData{LeadID: leadID, CustomerID: customerID, CustomerNumber: 3}}
}

func TestCreateCustomer(t *testing.T) {
	// When: a customer is created with no type, status or follow-up status.
	got, err := CreateCustomer(customerID, 3, uuid.Nil, CustomerProfile{Name: "Asha Rao", Company: "Rao Traders",
		Emails: []string{"asha@example.com"}, CustomFields: json.RawMessage(`{ "tier" : "gold" }`)}, "")
	if err != nil {
		t.Fatal(err)
	}
	// Then: a business (it has a company), active, at Won, custom fields compact.
	want := []Event{{Type: CustomerCreated, Data: CustomerCreatedData{CustomerID: customerID, Number: 3, Follow: "Won",
		Profile: CustomerProfile{Name: "Asha Rao", Company: "Rao Traders", Emails: []string{"asha@example.com"},
			Type: CustomerBusiness, Status: CustomerActive, CustomFields: json.RawMessage(`{"tier":"gold"}`)}}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for _, e := range got {
		roundTrip(t, e)
	}
}

func TestCreateCustomerRefusesBadInput(t *testing.T) {
	ok := ashaCustomer()
	for field, p := range map[string]CustomerProfile{
		"name":          {Emails: ok.Emails},
		"type":          {Name: "A", Type: "person"},
		"status":        {Name: "A", Status: "gone"},
		"credit_limit":  {Name: "A", CreditLimit: ptr(-1.0)},
		"emails":        {Name: "A", Emails: []string{"Asha@Example.com"}},
		"phones":        {Name: "A", Phones: []string{"98765 43210"}},
		"custom_fields": {Name: "A", CustomFields: json.RawMessage(`[1]`)},
		"notes":         {Name: "A", Notes: string(make([]byte, maxLongTextLen+1))},
		"tax_id":        {Name: "A", TaxID: string(make([]byte, maxTextLen+1))},
		// The prospects & clients API's follow-up data, checked as a lead's.
		"deal_value":           {Name: "A", DealValue: ptr(-1.0)},
		"locale":               {Name: "A", Locale: -1},
		"weight_id":            {Name: "A", WeightID: -2},
		"account_type":         {Name: "A", AccountType: "huge"},
		"estimated_close_date": {Name: "A", EstimatedCloseDate: "2026-13-01"},
		"monthly_shipments":    {Name: "A", MonthlyShipments: string(make([]byte, maxTextLen+1))},
	} {
		_, err := CreateCustomer(customerID, 3, uuid.Nil, p, "")
		var ve ValidationError
		if !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("%s: got %v, want a ValidationError naming it", field, err)
		}
	}
	if _, err := CreateCustomer(uuid.Nil, 3, uuid.Nil, ok, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil id: %v", err)
	}
	if _, err := CreateCustomer(customerID, 0, uuid.Nil, ok, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("number 0: %v", err)
	}
}

func TestCustomerUpdate(t *testing.T) {
	// Given a customer.
	c := NewCustomerFromHistory([]Event{customerCreated(uuid.Nil, ashaCustomer())})
	// When its status and credit limit change.
	next := c.Profile()
	next.Status, next.CreditLimit = CustomerBlocked, ptr(5000.0)
	got, err := c.Update(next)
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{{Type: CustomerUpdated, Data: CustomerUpdatedData{CustomerID: customerID, Changes: []FieldChange{
		change("status", `"active"`, `"blocked"`), change("credit_limit", `null`, `5000`)}}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// Then: applying them gives the profile asked for, and the same update again is nothing.
	c.Apply(got[0])
	if !reflect.DeepEqual(c.Profile(), next) || c.Version() != 2 {
		t.Fatalf("after apply: %+v v%d", c.Profile(), c.Version())
	}
	if again, err := c.Update(next); err != nil || again != nil {
		t.Fatalf("same update again: %v %v", again, err)
	}
	// A bad profile is refused naming the field.
	bad := next
	bad.Type = "robot"
	if _, err := c.Update(bad); err == nil {
		t.Fatal("bad type accepted")
	}
}

func TestCustomerDelete(t *testing.T) {
	c := NewCustomerFromHistory([]Event{customerCreated(uuid.Nil, ashaCustomer())})
	got, err := c.Delete()
	if err != nil || !reflect.DeepEqual(got, []Event{{Type: CustomerDeleted, Data: CustomerDeletedData{CustomerID: customerID}}}) {
		t.Fatalf("delete: %+v %v", got, err)
	}
	c.Apply(got[0])
	for name, decide := range map[string]func() ([]Event, error){
		"delete": c.Delete,
		"update": func() ([]Event, error) { return c.Update(ashaCustomer()) },
	} {
		if _, err := decide(); !errors.Is(err, ErrCustomerNotFound) {
			t.Errorf("%s a deleted customer: %v", name, err)
		}
	}
	// A customer never created is not found either.
	if _, err := NewCustomerFromHistory(nil).Delete(); !errors.Is(err, ErrCustomerNotFound) {
		t.Errorf("delete never created: %v", err)
	}
	// A redacted stream (customer.created emptied) still replays to deleted.
	r := NewCustomerFromHistory([]Event{{Type: CustomerCreated, Data: CustomerCreatedData{}}, got[0]})
	if !r.Deleted() || r.ID() != customerID {
		t.Errorf("redacted replay: deleted %v id %s", r.Deleted(), r.ID())
	}
}

func TestConvertLead(t *testing.T) {
	// Given a lead with a company and an owner.
	p := asha()
	p.Company, p.AssignedTo = "Rao Traders", "sales@example.com"
	l := NewLeadFromHistory([]Event{created(p)})
	// When it is converted to customer 3 at status Converted.
	lead, customer, err := l.Convert(customerID, 3, "Converted")
	if err != nil {
		t.Fatal(err)
	}
	// Then: lead.converted and the status change in the lead's stream, and a
	// business customer from the lead's profile pointing back at it.
	wantLead := []Event{converted(), statusChanged(DefaultStatus, "Converted")}
	wantCustomer := []Event{{Type: CustomerCreated, Data: CustomerCreatedData{CustomerID: customerID, Number: 3, LeadID: leadID,
		Follow: "Converted", Profile: CustomerProfile{Name: "Asha Rao", Emails: p.Emails, Phones: p.Phones, Company: "Rao Traders",
			AssignedTo: "sales@example.com", Type: CustomerBusiness, Status: CustomerActive}}}}
	if !reflect.DeepEqual(lead, wantLead) || !reflect.DeepEqual(customer, wantCustomer) {
		t.Fatalf("got lead %+v customer %+v\nwant lead %+v customer %+v", lead, customer, wantLead, wantCustomer)
	}
	// Converting again names the customer it became, also from a snapshot.
	for _, e := range lead {
		l.Apply(e)
	}
	restored, err := UnmarshalLeadFromSnapshot(l.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	for name, again := range map[string]*Lead{"state": l, "snapshot": restored} {
		var ac AlreadyConvertedError
		if _, _, err := again.Convert(uuid.New(), 4, "Converted"); !errors.As(err, &ac) || ac.CustomerID != customerID {
			t.Errorf("convert twice (%s): %v", name, err)
		}
	}
}

func TestConvertLeadAtItsStatusAndGone(t *testing.T) {
	// Given a lead already at the target status: no status change.
	l := NewLeadFromHistory([]Event{created(asha()), statusChanged(DefaultStatus, "Converted")})
	lead, _, err := l.Convert(customerID, 3, "Converted")
	if err != nil || !reflect.DeepEqual(lead, []Event{converted()}) {
		t.Fatalf("got %+v %v", lead, err)
	}
	// Given a deleted lead: it is gone.
	gone := NewLeadFromHistory([]Event{created(asha()), lifecycle(LeadDeleted)})
	if _, _, err := gone.Convert(customerID, 3, "Converted"); !errors.Is(err, ErrLeadDeleted) {
		t.Fatalf("convert deleted: %v", err)
	}
}

func TestLinkLeadToCustomer(t *testing.T) {
	// Given a customer and a lead with its email.
	c := NewCustomerFromHistory([]Event{customerCreated(uuid.Nil, ashaCustomer())})
	l := NewLeadFromHistory([]Event{created(asha())})
	// When the lead is linked to it: lead.converted naming it, then the status.
	got, err := l.LinkTo(c, "Converted")
	if err != nil || !reflect.DeepEqual(got, []Event{converted(), statusChanged(DefaultStatus, "Converted")}) {
		t.Fatalf("link: %+v %v", got, err)
	}
	for _, e := range got {
		l.Apply(e)
	}
	var ac AlreadyConvertedError
	if _, err := l.LinkTo(c, "Converted"); !errors.As(err, &ac) || ac.CustomerID != customerID {
		t.Fatalf("link twice: %v", err)
	}
	// A deleted customer cannot be linked to.
	gone := NewCustomerFromHistory([]Event{customerCreated(uuid.Nil, ashaCustomer()), {Type: CustomerDeleted, Data: CustomerDeletedData{CustomerID: customerID}}})
	if _, err := NewLeadFromHistory([]Event{created(asha())}).LinkTo(gone, "Converted"); !errors.Is(err, ErrCustomerNotFound) {
		t.Fatalf("link to a deleted customer: %v", err)
	}
}

func TestNormalizeCustomerProfile(t *testing.T) {
	got, err := NormalizeCustomerProfile(CustomerProfile{Name: " Asha ", Emails: []string{"Asha@Example.com", "asha@example.com", " "},
		Phones: []string{"98765 43210"}, CustomFields: json.RawMessage(`{ "b":1, "a":2 }`)}, "IN")
	want := CustomerProfile{Name: "Asha", Emails: []string{"asha@example.com"}, Phones: []string{"+919876543210"},
		CustomFields: json.RawMessage(`{"a":2,"b":1}`)}
	if err != nil || !reflect.DeepEqual(got, want) || got.PrimaryEmail() != "asha@example.com" {
		t.Fatalf("got %+v %v", got, err)
	}
	if _, err := NormalizeCustomerProfile(CustomerProfile{Emails: []string{"not an email"}}, "IN"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad email: %v", err)
	}
}

// A customer restored from its snapshot (through JSON, as stored) equals
// the customer folded from its history, records included.
func TestCustomerSnapshotRestoresTheFoldedCustomer(t *testing.T) {
	lead := uuid.MustParse("01956c1e-7a00-7000-8000-0000000000a1")
	p := ashaCustomer()
	p.CreditLimit = ptr(100.0)
	history := []Event{customerCreated(lead, p),
		{Type: CustomerContactAdded, Data: ContactData{OwnerID: customerID, Number: 5, Contact: jane()}},
		{Type: CustomerLocationAdded, Data: LocationData{OwnerID: customerID, Number: 9, Location: office()}},
		{Type: CustomerLocationRemoved, Data: RecordRemovedData{OwnerID: customerID, Number: 9}}}
	folded := NewCustomerFromHistory(history)
	raw, err := json.Marshal(folded.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var snap CustomerSnapshot
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	restored, err := UnmarshalCustomerFromSnapshot(snap)
	if err != nil || !reflect.DeepEqual(restored, folded) {
		t.Fatalf("restored %+v %v\nwant     %+v", restored, err, folded)
	}
	snap.SchemaVersion++
	if _, err := UnmarshalCustomerFromSnapshot(snap); !errors.Is(err, ErrStaleSnapshot) {
		t.Fatalf("another version: %v", err)
	}
}
