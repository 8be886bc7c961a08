package domain

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var (
	interactionID = uuid.MustParse("01956c1e-7a00-7000-8000-0000000000d1")
	nextCall      = time.Date(2026, 3, 20, 9, 0, 0, 0, time.UTC)
)

func pricingCall() Interaction {
	return Interaction{ID: interactionID, Number: 11, Kind: KindCall, Notes: "Discussed pricing",
		NextAction: "send offer", NextActionAt: &nextCall, OccurredAt: calledAt, Author: "sub:7"}
}

func jane() Contact {
	return Contact{Number: 5, Name: "Jane Smith", Email: "jane@acme.com", Phone: "+525559876543", Position: "CTO"}
}

func office() Location {
	return Location{Number: 9, Name: "Main Office", Link: "https://maps.example.com/?q=1", Type: "headquarters"}
}

// recordSamples are one event of each record type, for the event tests.
func recordSamples() map[string]Event {
	changed := pricingCall()
	changed.NextActionAt = nil
	out := map[string]Event{}
	for stream, owner := range map[string]uuid.UUID{LeadStream: leadID, CustomerStream: customerID} {
		kinds := recordKindsOf(stream)
		out[kinds[0].added] = Event{Type: kinds[0].added, Data: InteractionData{OwnerID: owner, Interaction: pricingCall()}}
		out[kinds[0].changed] = Event{Type: kinds[0].changed, Data: InteractionData{OwnerID: owner, Interaction: changed,
			Changes: []FieldChange{change("next_action_at", `"2026-03-20T09:00:00Z"`, `null`)}}}
		out[kinds[1].added] = Event{Type: kinds[1].added, Data: ContactData{OwnerID: owner, Contact: jane()}}
		out[kinds[1].changed] = Event{Type: kinds[1].changed, Data: ContactData{OwnerID: owner, Contact: jane()}}
		out[kinds[2].added] = Event{Type: kinds[2].added, Data: LocationData{OwnerID: owner, Location: office()}}
		out[kinds[2].changed] = Event{Type: kinds[2].changed, Data: LocationData{OwnerID: owner, Location: office()}}
		for _, k := range kinds {
			out[k.removed] = Event{Type: k.removed, Data: RecordRemovedData{OwnerID: owner, Number: 5}}
		}
	}
	return out
}

func TestRecordsOfALead(t *testing.T) {
	// Given a lead.
	l := NewLeadFromHistory([]Event{created(asha())})
	// When an interaction is logged: its event carries the canonical form.
	in := pricingCall()
	in.Notes = "  Discussed pricing \n"
	got, err := AddRecord(l, in)
	want := []Event{{Type: LeadInteractionLogged, Data: InteractionData{OwnerID: leadID, Number: 11, Interaction: pricingCall()}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("log: %+v %v", got, err)
	}
	l.Apply(got[0])
	if !HasRecord[Interaction](l, 11) || HasRecord[Contact](l, 11) {
		t.Fatal("the interaction is not held as one")
	}
	// The number is used: logging it again is a duplicate.
	if _, err := AddRecord(l, pricingCall()); !errors.Is(err, ErrRecordExists) {
		t.Fatalf("log twice: %v", err)
	}
	// When it is rescheduled from the form read back: the change and the new form.
	current, live := RecordOf[Interaction](got, 11)
	if !live || !reflect.DeepEqual(current, pricingCall()) {
		t.Fatalf("RecordOf: %+v %v", current, live)
	}
	next := current
	later := nextCall.Add(24 * time.Hour)
	next.NextActionAt = &later
	changed, err := ChangeRecord(l, current, next)
	if err != nil || len(changed) != 1 || changed[0].Type != LeadInteractionChanged {
		t.Fatalf("change: %+v %v", changed, err)
	}
	d := changed[0].Data.(InteractionData)
	if !reflect.DeepEqual(d.Changes, []FieldChange{change("next_action_at", `"2026-03-20T09:00:00Z"`, `"2026-03-21T09:00:00Z"`)}) ||
		!reflect.DeepEqual(d.Interaction, next) {
		t.Fatalf("change data: %+v", d)
	}
	// A change from a stale form is refused; the same form is no change.
	if _, err := ChangeRecord(l, next, current); !errors.Is(err, ErrRecordChanged) {
		t.Fatalf("stale current: %v", err)
	}
	if none, err := ChangeRecord(l, current, current); err != nil || none != nil {
		t.Fatalf("no change: %v %v", none, err)
	}
	l.Apply(changed[0])
	if _, err := ChangeRecord(l, next, current); err != nil {
		t.Fatalf("change from the new form: %v", err)
	}
	// When it is deleted: gone, and its number stays used.
	removed, err := RemoveRecord[Interaction](l, 11)
	if err != nil || !reflect.DeepEqual(removed, []Event{{Type: LeadInteractionDeleted, Data: RecordRemovedData{OwnerID: leadID, Number: 11}}}) {
		t.Fatalf("delete: %+v %v", removed, err)
	}
	l.Apply(removed[0])
	if HasRecord[Interaction](l, 11) {
		t.Fatal("deleted interaction still held")
	}
	if _, live := RecordOf[Interaction](append(append(got, changed...), removed...), 11); live {
		t.Fatal("RecordOf after delete")
	}
	for name, decide := range map[string]func() ([]Event, error){
		"delete again": func() ([]Event, error) { return RemoveRecord[Interaction](l, 11) },
		"change":       func() ([]Event, error) { return ChangeRecord(l, next, current) },
	} {
		if _, err := decide(); !errors.Is(err, ErrRecordNotFound) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := AddRecord(l, pricingCall()); !errors.Is(err, ErrRecordExists) {
		t.Errorf("log a deleted number again: %v", err)
	}
}

func TestRecordsOfACustomerAndSnapshots(t *testing.T) {
	c := NewCustomerFromHistory([]Event{customerCreated(uuid.Nil, ashaCustomer())})
	for _, decide := range []func() ([]Event, error){
		func() ([]Event, error) { return AddRecord(c, jane()) },
		func() ([]Event, error) { return AddRecord(c, office()) },
	} {
		events, err := decide()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(events[0].Type, "customer.") {
			t.Fatalf("a customer's record event is %s", events[0].Type)
		}
		c.Apply(events[0])
	}
	if !HasRecord[Contact](c, 5) || !HasRecord[Location](c, 9) || HasRecord[Location](c, 5) {
		t.Fatal("records not held by kind")
	}
	// A lead's records survive its snapshot.
	l := NewLeadFromHistory([]Event{created(asha()), {Type: LeadContactAdded, Data: ContactData{OwnerID: leadID, Contact: jane()}}})
	s, err := UnmarshalLeadFromSnapshot(l.Snapshot())
	if err != nil || !HasRecord[Contact](s, 5) {
		t.Fatalf("snapshot lost the contact: %v", err)
	}
	if _, err := AddRecord(s, jane()); !errors.Is(err, ErrRecordExists) {
		t.Fatalf("snapshot lost the used number: %v", err)
	}
	// Records of a deleted owner are gone with it.
	l.Apply(lifecycle(LeadDeleted))
	if _, err := AddRecord(l, office()); !errors.Is(err, ErrLeadDeleted) {
		t.Fatalf("record on a deleted lead: %v", err)
	}
}

func TestRecordsRefuseBadInput(t *testing.T) {
	l := NewLeadFromHistory([]Event{created(asha())})
	long := strings.Repeat("x", 51)
	cases := map[string]func() ([]Event, error){
		"kind":           func() ([]Event, error) { i := pricingCall(); i.Kind = "fax"; return AddRecord(l, i) },
		"occurred_at":    func() ([]Event, error) { i := pricingCall(); i.OccurredAt = time.Time{}; return AddRecord(l, i) },
		"interaction_id": func() ([]Event, error) { i := pricingCall(); i.ID = uuid.Nil; return AddRecord(l, i) },
		"notes": func() ([]Event, error) {
			i := pricingCall()
			i.Notes = strings.Repeat("x", maxLongTextLen+1)
			return AddRecord(l, i)
		},
		"name":   func() ([]Event, error) { c := jane(); c.Name = " "; return AddRecord(l, c) },
		"email":  func() ([]Event, error) { c := jane(); c.Email = "Jane@Acme.com"; return AddRecord(l, c) },
		"phone":  func() ([]Event, error) { c := jane(); c.Phone = "5559876543"; return AddRecord(l, c) },
		"type":   func() ([]Event, error) { o := office(); o.Type = "garage"; return AddRecord(l, o) },
		"link":   func() ([]Event, error) { o := office(); o.Link = ""; return AddRecord(l, o) },
		"number": func() ([]Event, error) { o := office(); o.Number = 0; return AddRecord(l, o) },
	}
	cases["name "] = func() ([]Event, error) { o := office(); o.Name = long; return AddRecord(l, o) }
	for field, decide := range cases {
		_, err := decide()
		var ve ValidationError
		if !errors.As(err, &ve) || ve.Field != strings.TrimSpace(field) {
			t.Errorf("%s: %v, want a ValidationError naming it", field, err)
		}
	}
}

func TestRemovedRecordStaysUsedWhenRedacted(t *testing.T) {
	// A contact whose contact_added was redacted on removal keeps only its
	// owner and number: the owner still refuses the number.
	redacted := Event{Type: LeadContactAdded, Data: ContactData{OwnerID: leadID, Number: 5}}
	removed := Event{Type: LeadContactRemoved, Data: RecordRemovedData{OwnerID: leadID, Number: 5}}
	l := NewLeadFromHistory([]Event{created(asha()), redacted, removed})
	if HasRecord[Contact](l, 5) {
		t.Fatal("a removed contact is live")
	}
	if _, err := AddRecord(l, jane()); !errors.Is(err, ErrRecordExists) {
		t.Fatalf("the redacted contact's number again: %v", err)
	}
	if got := RecordTypes[Contact](CustomerStream); !reflect.DeepEqual(got, []string{CustomerContactAdded, CustomerContactChanged, CustomerContactRemoved}) {
		t.Fatalf("RecordTypes: %v", got)
	}
}

func TestInteractionIDCannotChange(t *testing.T) {
	l := NewLeadFromHistory([]Event{created(asha())})
	added, err := AddRecord(l, pricingCall())
	if err != nil {
		t.Fatal(err)
	}
	l.Apply(added[0])
	next := pricingCall()
	next.ID = uuid.New()
	var ve ValidationError
	if _, err := ChangeRecord(l, pricingCall(), next); !errors.As(err, &ve) || ve.Field != "interaction_id" {
		t.Fatalf("change the id: %v", err)
	}
}
