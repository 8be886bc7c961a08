package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

var (
	leadID   = uuid.MustParse("01956c1e-7a00-7000-8000-000000000001")
	callA    = uuid.MustParse("01956c1e-7a00-7000-8000-0000000000a1")
	callB    = uuid.MustParse("01956c1e-7a00-7000-8000-0000000000b2")
	calledAt = time.Date(2025, 3, 1, 10, 30, 0, 0, time.UTC)
)

// asha is a complete, normalized profile every scenario starts from.
func asha() LeadProfile {
	return LeadProfile{Name: "Asha Rao", Emails: []string{"asha@example.com"}, Phones: []string{"+919876543210"}}
}

// Event builders, so scenarios read as the events they expect.
func created(p LeadProfile) Event {
	return Event{Type: LeadCreated, Data: LeadCreatedData{LeadID: leadID, Number: 7, Profile: p, Status: DefaultStatus}}
}

func updated(changes ...FieldChange) Event {
	return Event{Type: LeadUpdated, Data: LeadUpdatedData{LeadID: leadID, Changes: changes}}
}

func merged(changes ...FieldChange) Event {
	return Event{Type: LeadMerged, Data: LeadUpdatedData{LeadID: leadID, Changes: changes}}
}

func change(field, oldJSON, newJSON string) FieldChange {
	return FieldChange{Field: field, Old: json.RawMessage(oldJSON), New: json.RawMessage(newJSON)}
}

func statusChanged(from, to Status) Event {
	return Event{Type: LeadStatusChanged, Data: LeadStatusChangedData{LeadID: leadID, From: from, To: to}}
}

func lifecycle(eventType string, calls ...uuid.UUID) Event {
	return Event{Type: eventType, Data: LeadLifecycleData{LeadID: leadID, CallLogIDs: calls}}
}

func callLogged(id uuid.UUID) Event {
	return Event{Type: CallLogged, Data: CallLoggedData{
		LeadID: leadID, CallLogID: id, CallType: CallOutbound, DurationSeconds: 95,
		Outcome: "Interested", CalledAt: calledAt,
	}}
}

func callDeleted(id uuid.UUID) Event {
	return Event{Type: CallLogDeleted, Data: CallLogDeletedData{LeadID: leadID, CallLogID: id}}
}

func call(id uuid.UUID) CallLog {
	return CallLog{ID: id, Type: CallOutbound, DurationSeconds: 95, Outcome: "Interested", CalledAt: calledAt}
}

// scenario is one Given events / When command / Then events (or error) case.
type scenario struct {
	name  string
	given []Event
	when  func(l *Lead) ([]Event, error)
	then  []Event
	err   error                   // matched with errors.Is
	field string                  // ValidationError field, when the command is invalid
	check func(*testing.T, *Lead) // state after the Then events are applied
}

func runScenarios(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			l := NewLeadFromHistory(sc.given)
			got, err := sc.when(l)
			if !reflect.DeepEqual(l, NewLeadFromHistory(sc.given)) {
				t.Fatal("the decision changed the lead; only Apply may")
			}
			switch {
			case sc.field != "":
				wantField(t, err, sc.field)
			case sc.err != nil:
				if !errors.Is(err, sc.err) {
					t.Fatalf("err = %v, want %v", err, sc.err)
				}
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, sc.then) {
				t.Fatalf("events:\n got %s\nwant %s", dump(got), dump(sc.then))
			}
			for _, e := range got {
				roundTrip(t, e)
				l.Apply(e)
			}
			if l.Version() != len(sc.given)+len(got) {
				t.Errorf("Version() = %d, want %d", l.Version(), len(sc.given)+len(got))
			}
			if sc.check != nil {
				sc.check(t, l)
			}
		})
	}
}

// roundTrip checks e survives being stored and read back unchanged.
func roundTrip(t *testing.T, e Event) {
	t.Helper()
	data, err := e.MarshalData()
	if err != nil {
		t.Fatalf("MarshalData(%s): %v", e.Type, err)
	}
	back, err := DecodeLeadEvent(e.Type, SchemaVersion, data)
	if err != nil {
		t.Fatalf("DecodeLeadEvent(%s): %v", e.Type, err)
	}
	if !reflect.DeepEqual(back, e) {
		t.Fatalf("round trip of %s:\n got %s\nwant %s", e.Type, dump([]Event{back}), dump([]Event{e}))
	}
}

func dump(events []Event) string {
	b, _ := json.Marshal(events)
	return string(b)
}

func TestCreateLead(t *testing.T) {
	score := 101
	tests := []struct {
		name   string
		id     uuid.UUID
		number int64
		p      LeadProfile
		status Status
		want   LeadCreatedData
		field  string
	}{
		{name: "empty status is the default", id: leadID, number: 7, p: asha(),
			want: LeadCreatedData{LeadID: leadID, Number: 7, Profile: asha(), Status: "New"}},
		{name: "status is trimmed", id: leadID, number: 7, p: asha(), status: " Qualified ",
			want: LeadCreatedData{LeadID: leadID, Number: 7, Profile: asha(), Status: "Qualified"}},
		{name: "name derived from its parts", id: leadID, number: 1,
			p: LeadProfile{FirstName: "Asha", MiddleName: " ", LastName: "Rao", Phones: []string{"+919876543210"}},
			want: LeadCreatedData{LeadID: leadID, Number: 1, Status: "New", Profile: LeadProfile{
				Name: "Asha Rao", FirstName: "Asha", MiddleName: " ", LastName: "Rao", Phones: []string{"+919876543210"}}}},
		{name: "an email alone is enough", id: leadID, number: 2,
			p:    LeadProfile{Name: "Asha", Emails: []string{"asha@example.com"}},
			want: LeadCreatedData{LeadID: leadID, Number: 2, Status: "New", Profile: LeadProfile{Name: "Asha", Emails: []string{"asha@example.com"}}}},
		{name: "custom fields are compacted", id: leadID, number: 3,
			p:    LeadProfile{Name: "A", Phones: []string{"+919876543210"}, CustomFields: json.RawMessage(`{ "a": 1 }`)},
			want: LeadCreatedData{LeadID: leadID, Number: 3, Status: "New", Profile: LeadProfile{Name: "A", Phones: []string{"+919876543210"}, CustomFields: json.RawMessage(`{"a":1}`)}}},
		{name: "no name", id: leadID, number: 7, p: LeadProfile{Emails: []string{"a@b.com"}}, field: "name"},
		{name: "no email or phone", id: leadID, number: 7, p: LeadProfile{Name: "Asha"}, field: "emails"},
		{name: "email not normalized", id: leadID, number: 7, p: LeadProfile{Name: "Asha", Emails: []string{"Asha@Example.com"}}, field: "emails"},
		{name: "phone not normalized", id: leadID, number: 7, p: LeadProfile{Name: "Asha", Phones: []string{"98765 43210"}}, field: "phones"},
		{name: "score out of range", id: leadID, number: 7, p: func() LeadProfile { p := asha(); p.Score = &score; return p }(), field: "score"},
		{name: "no id", number: 7, p: asha(), field: "lead_id"},
		{name: "no number", id: leadID, p: asha(), field: "number"},
		{name: "blank status", id: leadID, number: 7, p: asha(), status: "  ", field: "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CreateLead(tt.id, tt.number, tt.p, tt.status)
			if tt.field != "" {
				wantField(t, err, tt.field)
				if got != nil {
					t.Fatalf("events %s on error", dump(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []Event{{Type: LeadCreated, Data: tt.want}}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("events:\n got %s\nwant %s", dump(got), dump(want))
			}
			roundTrip(t, got[0])
			l := NewLeadFromHistory(got)
			if !l.Exists() || l.Deleted() || l.ID() != tt.id || l.Number() != tt.number || l.Status() != tt.want.Status {
				t.Errorf("state after creation: %+v", l)
			}
			if !reflect.DeepEqual(l.Profile(), tt.want.Profile) {
				t.Errorf("Profile() = %+v, want %+v", l.Profile(), tt.want.Profile)
			}
		})
	}
}

func TestCreateLeadDoesNotAliasInput(t *testing.T) {
	p := asha()
	events, err := CreateLead(leadID, 7, p, "")
	if err != nil {
		t.Fatal(err)
	}
	p.Emails[0] = "changed@example.com"
	if got := events[0].Data.(LeadCreatedData).Profile.Emails[0]; got != "asha@example.com" {
		t.Fatalf("event shares the caller's slice: %q", got)
	}
}

func TestChangeStatus(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "moves to a new status", given: []Event{created(asha())},
			when: func(l *Lead) ([]Event, error) { return l.ChangeStatus("Qualified") },
			then: []Event{statusChanged("New", "Qualified")},
			check: func(t *testing.T, l *Lead) {
				if l.Status() != "Qualified" {
					t.Errorf("Status() = %q", l.Status())
				}
			}},
		{name: "trims the status", given: []Event{created(asha()), statusChanged("New", "Qualified")},
			when: func(l *Lead) ([]Event, error) { return l.ChangeStatus(" Won ") },
			then: []Event{statusChanged("Qualified", "Won")}},
		{name: "same status is a no-op", given: []Event{created(asha())},
			when: func(l *Lead) ([]Event, error) { return l.ChangeStatus(" New") }},
		{name: "empty status", given: []Event{created(asha())},
			when:  func(l *Lead) ([]Event, error) { return l.ChangeStatus("") },
			field: "status"},
		{name: "lead never created",
			when: func(l *Lead) ([]Event, error) { return l.ChangeStatus("Won") },
			err:  ErrLeadNotFound},
	})
}

func TestArchiveRestore(t *testing.T) {
	archive := func(l *Lead) ([]Event, error) { return l.Archive() }
	restore := func(l *Lead) ([]Event, error) { return l.Restore() }
	runScenarios(t, []scenario{
		{name: "archives an active lead", given: []Event{created(asha())}, when: archive,
			then: []Event{lifecycle(LeadArchived)},
			check: func(t *testing.T, l *Lead) {
				if !l.Archived() || !l.Exists() || l.Deleted() {
					t.Errorf("archived=%v exists=%v deleted=%v", l.Archived(), l.Exists(), l.Deleted())
				}
			}},
		{name: "archiving twice is a no-op", given: []Event{created(asha()), lifecycle(LeadArchived)}, when: archive},
		{name: "restores an archived lead", given: []Event{created(asha()), lifecycle(LeadArchived)}, when: restore,
			then: []Event{lifecycle(LeadRestored)},
			check: func(t *testing.T, l *Lead) {
				if l.Archived() {
					t.Error("still archived")
				}
			}},
		{name: "restoring an active lead is a no-op", given: []Event{created(asha())}, when: restore},
		{name: "archive a lead never created", when: archive, err: ErrLeadNotFound},
		{name: "restore a lead never created", when: restore, err: ErrLeadNotFound},
	})
}

func TestDelete(t *testing.T) {
	del := func(l *Lead) ([]Event, error) { return l.Delete() }
	runScenarios(t, []scenario{
		{name: "deletes a lead without calls", given: []Event{created(asha())}, when: del,
			then: []Event{lifecycle(LeadDeleted)},
			check: func(t *testing.T, l *Lead) {
				if !l.Deleted() || !l.Exists() {
					t.Errorf("deleted=%v exists=%v", l.Deleted(), l.Exists())
				}
			}},
		{name: "takes the live call logs with it",
			given: []Event{created(asha()), callLogged(callA), callLogged(callB), callDeleted(callA)},
			when:  del,
			then:  []Event{lifecycle(LeadDeleted, callB)},
			check: func(t *testing.T, l *Lead) {
				if l.CallLogIDs() != nil || l.HasCallLog(callB) {
					t.Errorf("call logs survive deletion: %v", l.CallLogIDs())
				}
			}},
		{name: "deletes an archived lead", given: []Event{created(asha()), lifecycle(LeadArchived)}, when: del,
			then: []Event{lifecycle(LeadDeleted)}},
		{name: "deleting twice", given: []Event{created(asha()), lifecycle(LeadDeleted)}, when: del, err: ErrLeadDeleted},
		{name: "lead never created", when: del, err: ErrLeadNotFound},
	})
}

func TestDeletedLeadAcceptsNoCommand(t *testing.T) {
	given := []Event{created(asha()), callLogged(callA), lifecycle(LeadDeleted, callA)}
	commands := map[string]func(l *Lead) ([]Event, error){
		"merge":           func(l *Lead) ([]Event, error) { return l.Merge(LeadProfile{Company: "Acme"}) },
		"update":          func(l *Lead) ([]Event, error) { return l.Update(asha()) },
		"change status":   func(l *Lead) ([]Event, error) { return l.ChangeStatus("Won") },
		"archive":         func(l *Lead) ([]Event, error) { return l.Archive() },
		"restore":         func(l *Lead) ([]Event, error) { return l.Restore() },
		"delete":          func(l *Lead) ([]Event, error) { return l.Delete() },
		"log call":        func(l *Lead) ([]Event, error) { return l.LogCall(call(callB)) },
		"delete call log": func(l *Lead) ([]Event, error) { return l.DeleteCallLog(callA) },
	}
	var scenarios []scenario
	for name, when := range commands {
		// ErrLeadDeleted is also ErrLeadNotFound; runScenarios checks the
		// narrower one and the loop below the wider one.
		scenarios = append(scenarios, scenario{name: name, given: given, when: when, err: ErrLeadDeleted})
	}
	runScenarios(t, scenarios)
	for name, when := range commands {
		if _, err := when(NewLeadFromHistory(given)); !errors.Is(err, ErrLeadNotFound) {
			t.Errorf("%s: err = %v, want ErrLeadNotFound", name, err)
		}
	}
}

func TestLogCall(t *testing.T) {
	with := func(edit func(*CallLog)) func(l *Lead) ([]Event, error) {
		return func(l *Lead) ([]Event, error) {
			c := call(callA)
			edit(&c)
			return l.LogCall(c)
		}
	}
	long := func(n int) string { return string(make([]byte, n)) }
	runScenarios(t, []scenario{
		{name: "logs a call", given: []Event{created(asha())}, when: with(func(*CallLog) {}),
			then: []Event{callLogged(callA)},
			check: func(t *testing.T, l *Lead) {
				if !l.HasCallLog(callA) || !reflect.DeepEqual(l.CallLogIDs(), []uuid.UUID{callA}) {
					t.Errorf("CallLogIDs() = %v", l.CallLogIDs())
				}
			}},
		{name: "keeps logging order", given: []Event{created(asha()), callLogged(callB)}, when: with(func(*CallLog) {}),
			then: []Event{callLogged(callA)},
			check: func(t *testing.T, l *Lead) {
				if !reflect.DeepEqual(l.CallLogIDs(), []uuid.UUID{callB, callA}) {
					t.Errorf("CallLogIDs() = %v", l.CallLogIDs())
				}
			}},
		{name: "an archived lead still takes calls", given: []Event{created(asha()), lifecycle(LeadArchived)},
			when: with(func(*CallLog) {}), then: []Event{callLogged(callA)}},
		{name: "a missed call lasts zero seconds", given: []Event{created(asha())},
			when: with(func(c *CallLog) { c.DurationSeconds, c.Type, c.Outcome = 0, CallInbound, "" }),
			then: []Event{{Type: CallLogged, Data: CallLoggedData{LeadID: leadID, CallLogID: callA, CallType: CallInbound, CalledAt: calledAt}}}},
		{name: "no id", given: []Event{created(asha())}, when: with(func(c *CallLog) { c.ID = uuid.Nil }), field: "call_log_id"},
		{name: "unknown type", given: []Event{created(asha())}, when: with(func(c *CallLog) { c.Type = "Missed" }), field: "call_type"},
		{name: "negative duration", given: []Event{created(asha())}, when: with(func(c *CallLog) { c.DurationSeconds = -1 }), field: "duration_seconds"},
		{name: "no time", given: []Event{created(asha())}, when: with(func(c *CallLog) { c.CalledAt = time.Time{} }), field: "called_at"},
		{name: "outcome too long", given: []Event{created(asha())}, when: with(func(c *CallLog) { c.Outcome = long(101) }), field: "outcome"},
		{name: "notes too long", given: []Event{created(asha())}, when: with(func(c *CallLog) { c.Notes = long(10001) }), field: "notes"},
		{name: "id of a live call log", given: []Event{created(asha()), callLogged(callA)},
			when: with(func(*CallLog) {}), err: ErrCallLogExists},
		{name: "id of a deleted call log", given: []Event{created(asha()), callLogged(callA), callDeleted(callA)},
			when: with(func(*CallLog) {}), err: ErrCallLogExists},
		{name: "id of a deleted call log whose content was redacted",
			given: []Event{created(asha()), redactedCallLogged(t, callA), callDeleted(callA)},
			when:  with(func(*CallLog) {}), err: ErrCallLogExists},
		{name: "lead never created", when: with(func(*CallLog) {}), err: ErrLeadNotFound},
	})
}

// redactedCallLogged is lead.call_logged of call log id as a permanent
// delete of the call log leaves it in the store: the ids, nothing else.
func redactedCallLogged(t *testing.T, id uuid.UUID) Event {
	t.Helper()
	data := fmt.Sprintf(`{"redacted": true, "lead_id": %q, "call_log_id": %q}`, leadID, id)
	e, err := DecodeLeadEvent(CallLogged, SchemaVersion, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if d := e.Data.(CallLoggedData); !d.Redacted || d.CallLogID != id || d.Notes != "" {
		t.Fatalf("redacted call_logged decodes as %+v", d)
	}
	return e
}

func TestLogCallTimeSurvivesStorage(t *testing.T) {
	// time.Now carries a monotonic reading and a zone JSON cannot store; the
	// decided event must still equal the one read back.
	c := call(callA)
	c.CalledAt = time.Now().In(time.FixedZone("IST", 5*3600+1800))
	events, err := NewLeadFromHistory([]Event{created(asha())}).LogCall(c)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, events[0])
}
