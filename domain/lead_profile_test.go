package domain

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

// known is a lead with something in every kind of field a merge treats specially.
func known() LeadProfile {
	p := asha()
	p.Company = "Old Co"
	p.Tags = []string{"vip"}
	p.Social = map[string]string{"linkedin": "in/asha"}
	p.BusinessIDs = []int64{1}
	p.Score = ptr(50)
	return p
}

func TestMerge(t *testing.T) {
	merge := func(p LeadProfile) func(l *Lead) ([]Event, error) {
		return func(l *Lead) ([]Event, error) { return l.Merge(p) }
	}
	manyTags := make([]string, 50)
	for i := range manyTags {
		manyTags[i] = fmt.Sprintf("t%d", i)
	}
	runScenarios(t, []scenario{
		{name: "lists grow as unions, non-empty fields win, social merges by key",
			given: []Event{created(known())},
			when: merge(LeadProfile{
				Emails:      []string{"asha@work.com", "asha@example.com"},
				Phones:      []string{"+16502530000"},
				Tags:        []string{"vip", "hot"},
				Company:     "New Co",
				Social:      map[string]string{"twitter": "@asha", "linkedin": ""},
				BusinessIDs: []int64{1, 2},
				Source:      "Website",
			}),
			then: []Event{merged(
				change("emails", `["asha@example.com"]`, `["asha@example.com","asha@work.com"]`),
				change("phones", `["+919876543210"]`, `["+919876543210","+16502530000"]`),
				change("social", `{"linkedin":"in/asha"}`, `{"linkedin":"in/asha","twitter":"@asha"}`),
				change("company", `"Old Co"`, `"New Co"`),
				change("business_ids", `[1]`, `[1,2]`),
				change("source", `null`, `"Website"`),
				change("tags", `["vip"]`, `["vip","hot"]`),
			)},
			check: func(t *testing.T, l *Lead) {
				want := known()
				want.Emails = []string{"asha@example.com", "asha@work.com"}
				want.Phones = []string{"+919876543210", "+16502530000"}
				want.Tags = []string{"vip", "hot"}
				want.Company, want.Source = "New Co", "Website"
				want.Social = map[string]string{"linkedin": "in/asha", "twitter": "@asha"}
				want.BusinessIDs = []int64{1, 2}
				if got := l.Profile(); !reflect.DeepEqual(got, want) {
					t.Errorf("Profile() = %+v\nwant %+v", got, want)
				}
			}},
		{name: "the same contact again changes nothing", given: []Event{created(known())},
			when: merge(LeadProfile{Name: "Asha Rao", Emails: []string{"asha@example.com"}, Tags: []string{"vip"}})},
		{name: "an empty merge changes nothing", given: []Event{created(known())}, when: merge(LeadProfile{})},
		{name: "a set zero score is a value and wins", given: []Event{created(known())},
			when: merge(LeadProfile{Score: ptr(0)}),
			then: []Event{merged(change("score", `50`, `0`))}},
		{name: "name follows new name parts", given: []Event{created(known())},
			when: merge(LeadProfile{FirstName: "Asha", LastName: "Iyer"}),
			then: []Event{merged(
				change("name", `"Asha Rao"`, `"Asha Iyer"`),
				change("first_name", `null`, `"Asha"`),
				change("last_name", `null`, `"Iyer"`),
			)}},
		{name: "an explicit name wins over its parts", given: []Event{created(known())},
			when: merge(LeadProfile{Name: "Dr. Asha Rao", FirstName: "Asha"}),
			then: []Event{merged(
				change("name", `"Asha Rao"`, `"Dr. Asha Rao"`),
				change("first_name", `null`, `"Asha"`),
			)}},
		{name: "merges into the state updates left", given: []Event{created(known()), updated(change("company", `"Old Co"`, `"Acme"`))},
			when: merge(LeadProfile{Company: "Acme"})},
		{name: "the union may not pass 50 tags", given: []Event{created(known())},
			when: merge(LeadProfile{Tags: manyTags}), field: "tags"},
		{name: "incoming emails must be normalized", given: []Event{created(known())},
			when: merge(LeadProfile{Emails: []string{"ASHA@work.com"}}), field: "emails"},
		{name: "incoming fields are validated", given: []Event{created(known())},
			when: merge(LeadProfile{DealValue: ptr(-1.0)}), field: "deal_value"},
		{name: "lead never created", when: merge(asha()), err: ErrLeadNotFound},
	})
}

func TestUpdate(t *testing.T) {
	update := func(p LeadProfile) func(l *Lead) ([]Event, error) {
		return func(l *Lead) ([]Event, error) { return l.Update(p) }
	}
	next := asha()
	next.JobTitle = "CTO"
	next.Score = ptr(40)
	ist := time.FixedZone("IST", 5*3600+1800)
	contacted := asha()
	contacted.LastContact = ptr(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	runScenarios(t, []scenario{
		{name: "replaces the whole profile, clearing what is left out",
			given: []Event{created(known())},
			when:  update(next),
			then: []Event{updated(
				change("job_title", `null`, `"CTO"`),
				change("social", `{"linkedin":"in/asha"}`, `null`),
				change("company", `"Old Co"`, `null`),
				change("business_ids", `[1]`, `null`),
				change("score", `50`, `40`),
				change("tags", `["vip"]`, `null`),
			)},
			check: func(t *testing.T, l *Lead) {
				if got := l.Profile(); !reflect.DeepEqual(got, next) {
					t.Errorf("Profile() = %+v\nwant %+v", got, next)
				}
			}},
		{name: "the same profile changes nothing", given: []Event{created(known())}, when: update(known())},
		{name: "the same instant in another zone changes nothing", given: []Event{created(contacted)},
			when: update(func() LeadProfile {
				p := asha()
				p.LastContact = ptr(contacted.LastContact.In(ist))
				return p
			}())},
		{name: "derives the name from its parts", given: []Event{created(asha())},
			when: update(LeadProfile{FirstName: "Asha", LastName: "Iyer", Emails: []string{"asha@example.com"}}),
			then: []Event{updated(
				change("name", `"Asha Rao"`, `"Asha Iyer"`),
				change("first_name", `null`, `"Asha"`),
				change("last_name", `null`, `"Iyer"`),
				change("phones", `["+919876543210"]`, `null`),
			)}},
		{name: "a profile without contact", given: []Event{created(asha())},
			when: update(LeadProfile{Name: "Asha"}), field: "emails"},
		{name: "a priority outside the set", given: []Event{created(asha())},
			when: update(func() LeadProfile { p := asha(); p.Priority = "Urgent"; return p }()), field: "priority"},
		{name: "lead never created", when: update(asha()), err: ErrLeadNotFound},
	})
}

func TestProfileIsACopy(t *testing.T) {
	l := NewLeadFromHistory([]Event{created(known())})
	p := l.Profile()
	p.Emails[0], p.Tags[0], p.Social["linkedin"], p.BusinessIDs[0] = "x@y.z", "x", "x", 9
	*p.Score = 99
	if !reflect.DeepEqual(l.Profile(), known()) {
		t.Fatalf("changing Profile()'s result changed the lead: %+v", l.Profile())
	}
	ids := NewLeadFromHistory([]Event{created(asha()), callLogged(callA)}).CallLogIDs()
	ids[0] = callB
	if l := NewLeadFromHistory([]Event{created(asha()), callLogged(callA)}); !l.HasCallLog(callA) {
		t.Fatal("CallLogIDs shares state")
	}
}

func TestApplyToleratesStoredEvents(t *testing.T) {
	l := NewLeadFromHistory([]Event{
		created(asha()),
		// A field this code no longer knows, and one that no longer decodes.
		updated(change("fax_number", `null`, `"1"`), change("score", `null`, `"high"`), change("city", `null`, `"Pune"`)),
		// Pointers are accepted as well as values.
		{Type: LeadArchived, Data: &LeadLifecycleData{LeadID: leadID}},
		callLogged(callA), callLogged(callA), // a duplicate is tracked once
	})
	if got := l.Profile(); got.City != "Pune" || got.Score != nil {
		t.Errorf("Profile() = %+v", got)
	}
	if !l.Archived() || l.Version() != 5 || len(l.CallLogIDs()) != 1 {
		t.Errorf("archived=%v version=%d calls=%v", l.Archived(), l.Version(), l.CallLogIDs())
	}
	defer func() {
		if recover() == nil {
			t.Error("Apply of data of the wrong type must panic: it is a programming error")
		}
	}()
	l.Apply(Event{Type: LeadArchived, Data: LeadCreatedData{}})
}
