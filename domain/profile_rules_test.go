package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	with := func(edit func(*LeadProfile)) LeadProfile {
		p := asha()
		edit(&p)
		return p
	}
	tags := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("t%d", i)
		}
		return out
	}
	tests := []struct {
		name  string
		p     LeadProfile
		field string // "" when valid
	}{
		{name: "minimal", p: asha()},
		{name: "prospect data", p: with(func(p *LeadProfile) {
			p.ProspectType, p.Rating, p.AccountType, p.EstimatedCloseDate = 3, 5, "sme", "2026-04-15"
			p.EcommerceTypeID, p.WeightID, p.ContentID, p.PartnerTypeID, p.PartnerOriginID = 2, 1, 4, 2, 1
		})},
		{name: "rating 6", p: with(func(p *LeadProfile) { p.Rating = 6 }), field: "rating"},
		{name: "prospect type 4", p: with(func(p *LeadProfile) { p.ProspectType = 4 }), field: "prospect_type"},
		{name: "account type", p: with(func(p *LeadProfile) { p.AccountType = "huge" }), field: "account_type"},
		{name: "close date", p: with(func(p *LeadProfile) { p.EstimatedCloseDate = "15/04/2026" }), field: "estimated_close_date"},
		{name: "negative id", p: with(func(p *LeadProfile) { p.WeightID = -1 }), field: "weight_id"},
		{name: "phone only", p: LeadProfile{Name: "A", Phones: []string{"+919876543210"}}},
		{name: "score bounds", p: with(func(p *LeadProfile) { p.Score = ptr(0) })},
		{name: "score 100", p: with(func(p *LeadProfile) { p.Score = ptr(100) })},
		{name: "zero amounts", p: with(func(p *LeadProfile) { p.DealValue, p.AnnualRevenue = ptr(0.0), ptr(0.0) })},
		{name: "long notes", p: with(func(p *LeadProfile) { p.Notes = strings.Repeat("n", 10000) })},
		{name: "50 tags of 64", p: with(func(p *LeadProfile) { p.Tags = append(tags(49), strings.Repeat("t", 64)) })},
		{name: "every priority", p: with(func(p *LeadProfile) { p.Priority = PriorityMedium })},
		{name: "custom object", p: with(func(p *LeadProfile) { p.CustomFields = json.RawMessage(` {"a":[1]} `) })},
		{name: "limits count characters, not bytes", p: with(func(p *LeadProfile) { p.Company = strings.Repeat("é", 1000) })},

		{name: "no name", p: with(func(p *LeadProfile) { p.Name = "  " }), field: "name"},
		{name: "no contact", p: with(func(p *LeadProfile) { p.Emails, p.Phones = nil, nil }), field: "emails"},
		{name: "upper-case email", p: with(func(p *LeadProfile) { p.Emails = []string{"Asha@example.com"} }), field: "emails"},
		{name: "blank email", p: with(func(p *LeadProfile) { p.Emails = []string{""} }), field: "emails"},
		{name: "repeated email", p: with(func(p *LeadProfile) { p.Emails = []string{"a@b.com", "a@b.com"} }), field: "emails"},
		{name: "national phone", p: with(func(p *LeadProfile) { p.Phones = []string{"9876543210"} }), field: "phones"},
		{name: "repeated phone", p: with(func(p *LeadProfile) { p.Phones = []string{"+919876543210", "+919876543210"} }), field: "phones"},
		{name: "negative score", p: with(func(p *LeadProfile) { p.Score = ptr(-1) }), field: "score"},
		{name: "score over 100", p: with(func(p *LeadProfile) { p.Score = ptr(101) }), field: "score"},
		{name: "negative deal value", p: with(func(p *LeadProfile) { p.DealValue = ptr(-0.01) }), field: "deal_value"},
		{name: "NaN deal value", p: with(func(p *LeadProfile) { p.DealValue = ptr(math.NaN()) }), field: "deal_value"},
		{name: "negative revenue", p: with(func(p *LeadProfile) { p.AnnualRevenue = ptr(-1.0) }), field: "annual_revenue"},
		{name: "infinite revenue", p: with(func(p *LeadProfile) { p.AnnualRevenue = ptr(math.Inf(1)) }), field: "annual_revenue"},
		{name: "long company", p: with(func(p *LeadProfile) { p.Company = strings.Repeat("c", 1001) }), field: "company"},
		{name: "long name", p: with(func(p *LeadProfile) { p.Name = strings.Repeat("n", 1001) }), field: "name"},
		{name: "long notes", p: with(func(p *LeadProfile) { p.Notes = strings.Repeat("n", 10001) }), field: "notes"},
		{name: "long description", p: with(func(p *LeadProfile) { p.Description = strings.Repeat("d", 10001) }), field: "description"},
		{name: "51 tags", p: with(func(p *LeadProfile) { p.Tags = tags(51) }), field: "tags"},
		{name: "empty tag", p: with(func(p *LeadProfile) { p.Tags = []string{"a", " "} }), field: "tags"},
		{name: "long tag", p: with(func(p *LeadProfile) { p.Tags = []string{strings.Repeat("t", 65)} }), field: "tags"},
		{name: "repeated tag", p: with(func(p *LeadProfile) { p.Tags = []string{"a", "a"} }), field: "tags"},
		{name: "lower-case priority", p: with(func(p *LeadProfile) { p.Priority = "high" }), field: "priority"},
		{name: "empty social key", p: with(func(p *LeadProfile) { p.Social = map[string]string{"": "x"} }), field: "social"},
		{name: "long social value", p: with(func(p *LeadProfile) { p.Social = map[string]string{"x": strings.Repeat("s", 1001)} }), field: "social"},
		{name: "custom array", p: with(func(p *LeadProfile) { p.CustomFields = json.RawMessage(`[1]`) }), field: "custom_fields"},
		{name: "custom not JSON", p: with(func(p *LeadProfile) { p.CustomFields = json.RawMessage(`{a:1}`) }), field: "custom_fields"},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		t.Run(tt.name, func(t *testing.T) { wantField(t, err, tt.field) })
	}
}

func TestNormalizeProfile(t *testing.T) {
	in := LeadProfile{
		FirstName:    "  Asha ",
		LastName:     "Rao",
		Company:      " Acme\t",
		Priority:     " High ",
		Emails:       []string{" Asha@Example.com", "", "asha@example.COM", "asha@work.com"},
		Phones:       []string{"98765 43210", "+91 98765 43210", " ", "+1 650 253 0000"},
		Tags:         []string{" vip", "vip ", "", "hot"},
		Social:       map[string]string{" linkedin ": " in/asha ", "twitter": " "},
		CustomFields: json.RawMessage(` {"b": 1, "a": {"d": 2, "c": 12345678901234567890}} `),
	}
	got, err := NormalizeProfile(in, "IN")
	if err != nil {
		t.Fatal(err)
	}
	want := LeadProfile{
		Name:         "Asha Rao",
		FirstName:    "Asha",
		LastName:     "Rao",
		Company:      "Acme",
		Priority:     PriorityHigh,
		Emails:       []string{"asha@example.com", "asha@work.com"},
		Phones:       []string{"+919876543210", "+16502530000"},
		Tags:         []string{"vip", "hot"},
		Social:       map[string]string{"linkedin": "in/asha"},
		CustomFields: json.RawMessage(`{"a":{"c":12345678901234567890,"d":2},"b":1}`),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("NormalizeProfile:\n got %+v\nwant %+v", got, want)
	}
	if in.Emails[0] != " Asha@Example.com" || in.Social["twitter"] != " " {
		t.Error("NormalizeProfile changed its input")
	}
	if err := got.Validate(); err != nil {
		t.Errorf("normalized profile does not validate: %v", err)
	}

	errs := []struct {
		p     LeadProfile
		field string
	}{
		{LeadProfile{Emails: []string{"Asha <asha@example.com>"}}, "emails"},
		{LeadProfile{Phones: []string{"12345"}}, "phones"},
		{LeadProfile{CustomFields: json.RawMessage(`[1]`)}, "custom_fields"},
		{LeadProfile{CustomFields: json.RawMessage(`{"a":1} {}`)}, "custom_fields"},
	}
	for _, tt := range errs {
		_, err := NormalizeProfile(tt.p, "IN")
		wantField(t, err, tt.field)
		if !strings.Contains(fmt.Sprint(err), "entry") && tt.field != "custom_fields" {
			t.Errorf("error %q does not name the bad entry", err)
		}
	}
	if got, err := NormalizeProfile(LeadProfile{CustomFields: json.RawMessage(`null`)}, "IN"); err != nil || got.CustomFields != nil {
		t.Errorf("null custom fields: %s, %v", got.CustomFields, err)
	}
}

func TestProfileReservations(t *testing.T) {
	p := asha()
	emails, phones := ProfileReservations(p)
	if !reflect.DeepEqual(emails, p.Emails) || !reflect.DeepEqual(phones, p.Phones) {
		t.Fatalf("got %v %v", emails, phones)
	}
	emails[0] = "x@y.z"
	if p.Emails[0] != "asha@example.com" {
		t.Error("ProfileReservations shares the profile's slice")
	}
}

// filled returns a profile with every field set, found by reflection, so the
// tests below cover a field the day it is added to LeadProfile.
func filled(t *testing.T, seed string) LeadProfile {
	var p LeadProfile
	v := reflect.ValueOf(&p).Elem()
	for _, f := range profileFields {
		fv := v.Field(f.index)
		switch {
		case fv.Type() == reflect.TypeFor[json.RawMessage]():
			fv.SetBytes([]byte(`{"k":"` + seed + `"}`))
		case fv.Type() == reflect.TypeFor[*time.Time]():
			fv.Set(reflect.ValueOf(ptr(time.Date(2025, 1, len(seed), 0, 0, 0, 0, time.UTC))))
		default:
			setFilled(t, f.name, fv, seed)
		}
	}
	return p
}

func setFilled(t *testing.T, name string, v reflect.Value, seed string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(seed)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(len(seed)))
	case reflect.Float64:
		v.SetFloat(float64(len(seed)) + 0.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		setFilled(t, name, v.Elem(), seed)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		setFilled(t, name, v.Index(0), seed)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(reflect.ValueOf("k"), reflect.ValueOf(seed))
	default:
		t.Fatalf("field %s: teach filled() about %s", name, v.Type())
	}
}

func TestCloneIsDeep(t *testing.T) {
	orig := filled(t, "a")
	c := orig.clone()
	// Overwrite everything the clone could share with orig, in place.
	cv := reflect.ValueOf(&c).Elem()
	for _, f := range profileFields {
		fv := cv.Field(f.index)
		switch fv.Kind() {
		case reflect.Pointer:
			if fv.Type() == reflect.TypeFor[*time.Time]() {
				fv.Elem().Set(reflect.ValueOf(time.Time{}))
			} else {
				setFilled(t, f.name, fv.Elem(), "changed")
			}
		case reflect.Slice: // also json.RawMessage
			fv.Index(0).Set(reflect.Zero(fv.Type().Elem()))
		case reflect.Map:
			fv.SetMapIndex(reflect.ValueOf("k"), reflect.ValueOf("changed"))
		}
	}
	if !reflect.DeepEqual(orig, filled(t, "a")) {
		t.Fatalf("clone shares memory with its original: %+v", orig)
	}
}

func TestDiffThenApplyRebuildsTheTarget(t *testing.T) {
	profiles := map[string]LeadProfile{
		"empty": {}, "asha": asha(), "known": known(), "filled a": filled(t, "a"), "filled bb": filled(t, "bb"),
	}
	for fromName, from := range profiles {
		for toName, to := range profiles {
			changes, err := diffProfiles(from, to)
			if err != nil {
				t.Fatal(err)
			}
			if got := applyChanges(from, changes); !reflect.DeepEqual(got, to) {
				t.Errorf("%s -> %s:\n got %+v\nwant %+v", fromName, toName, got, to)
			}
			if (fromName == toName) != (len(changes) == 0) {
				t.Errorf("%s -> %s: %d changes", fromName, toName, len(changes))
			}
		}
	}
	if n := len(profileFields); n != reflect.TypeFor[LeadProfile]().NumField() {
		t.Errorf("%d profile fields carry a JSON name out of %d", n, reflect.TypeFor[LeadProfile]().NumField())
	}
}

// The read models keep a profile as its JSON and change it with WithChanges:
// from a profile read back from its JSON, the diff leads to the JSON of the
// target, and the profile it started from is left as it was.
func TestWithChangesOnAStoredProfile(t *testing.T) {
	profiles := map[string]LeadProfile{
		"empty": {}, "asha": asha(), "known": known(), "filled a": filled(t, "a"), "filled bb": filled(t, "bb"),
	}
	roundTrip := func(p LeadProfile) (LeadProfile, []byte) {
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back LeadProfile
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		return back, raw
	}
	for fromName, from := range profiles {
		for toName, to := range profiles {
			changes, err := diffProfiles(from, to)
			if err != nil {
				t.Fatal(err)
			}
			stored, before := roundTrip(from)
			got, err := json.Marshal(stored.WithChanges(changes))
			if err != nil {
				t.Fatal(err)
			}
			if _, want := roundTrip(to); string(got) != string(want) {
				t.Errorf("%s -> %s:\n got %s\nwant %s", fromName, toName, got, want)
			}
			if _, after := roundTrip(stored); string(after) != string(before) {
				t.Errorf("%s -> %s: WithChanges changed its receiver", fromName, toName)
			}
		}
	}
}

// TestNormalizeProfileTable: raw input to the profile stored, or to the
// entries refused, each by field and index, so a dialect can blame its own
// field.
func TestNormalizeProfileTable(t *testing.T) {
	type entry struct {
		field string
		index int
	}
	tests := []struct {
		name string
		in   LeadProfile
		want LeadProfile
		bad  []entry // in this order
	}{
		{name: "mobile and assignee normalized",
			in:   LeadProfile{Name: " A ", MobileNo: " 098123 45678 ", AssignedTo: " Sales@Company.COM "},
			want: LeadProfile{Name: "A", MobileNo: "+919812345678", AssignedTo: "sales@company.com"}},
		{name: "blank mobile and assignee stay blank",
			in:   LeadProfile{Name: "A", MobileNo: "  ", AssignedTo: "\t"},
			want: LeadProfile{Name: "A"}},
		{name: "business ids deduplicated in order",
			in:   LeadProfile{Name: "A", BusinessIDs: []int64{3, 1, 3, 2, 1}},
			want: LeadProfile{Name: "A", BusinessIDs: []int64{3, 1, 2}}},
		{name: "blank entries keep the index of the rest",
			in:  LeadProfile{Phones: []string{" ", "+91 98765 43210", "12"}},
			bad: []entry{{"phones", 2}}},
		{name: "every bad entry, in field order",
			in: LeadProfile{Emails: []string{"a@b.co", "Ann <ann@x.com>"}, Phones: []string{"nope"}, MobileNo: "12",
				AssignedTo: "nobody", CustomFields: json.RawMessage(`[1]`)},
			bad: []entry{{"emails", 1}, {"phones", 0}, {"mobile_no", 0}, {"assigned_to", 0}, {"custom_fields", 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeProfile(tt.in, "IN")
			if tt.bad == nil {
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			var ne *NormalizeError
			if !errors.As(err, &ne) {
				t.Fatalf("err = %v, want a *NormalizeError", err)
			}
			var entries []entry
			for _, e := range ne.Entries {
				entries = append(entries, entry{e.Field, e.Index})
				if e.Reason == "" || e.Value == "" {
					t.Errorf("entry %+v has no reason or value", e)
				}
			}
			if !reflect.DeepEqual(entries, tt.bad) {
				t.Fatalf("refused %v, want %v", entries, tt.bad)
			}
			var first EntryError
			if !errors.As(err, &first) || first != ne.Entries[0] {
				t.Errorf("errors.As gives %+v, want the first entry", first)
			}
			wantField(t, err, tt.bad[0].field)
			if code := ne.ErrorCode(); code != "invalid" {
				t.Errorf("code %q", code)
			}
		})
	}
}

func TestEntryErrorReads(t *testing.T) {
	for _, tt := range []struct {
		err  EntryError
		want string
	}{
		{EntryError{Field: "phones", Index: 1, Value: "12", Reason: "is not a valid phone number"}, `phones entry "12" is not a valid phone number`},
		{EntryError{Field: "mobile_no", Value: "12", Reason: "is not a valid phone number"}, "mobile_no is not a valid phone number"},
	} {
		var ve ValidationError
		if tt.err.Error() != tt.want || !errors.As(error(tt.err), &ve) || ve.Error() != tt.want {
			t.Errorf("%+v reads %q / %q, want %q", tt.err, tt.err.Error(), ve.Error(), tt.want)
		}
	}
	ne := &NormalizeError{Entries: []EntryError{{Field: "emails", Value: "x", Reason: "r"}, {Field: "phones", Index: 2, Value: "y", Reason: "s"}}}
	if e, ok := ne.Entry("phones"); !ok || e.Index != 2 {
		t.Errorf("Entry(phones) = %+v, %v", e, ok)
	}
	if _, ok := ne.Entry("mobile_no"); ok {
		t.Error("Entry(mobile_no) found one")
	}
}
