package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// This file treats profiles (LeadProfile, CustomerProfile) field by field,
// by JSON name: the names are what events store, so diffs, merges and
// replays all speak in them. Reflection keeps a field added to a profile
// covered everywhere without a second list.

// profileField is one field of a profile struct: its JSON name and struct index.
type profileField struct {
	name  string
	index int
}

var (
	// leadFields are LeadProfile's fields (fieldSet, below), in struct order, so
	// change lists are deterministic and read in the order the struct
	// documents them.
	leadFields = fieldsOf[LeadProfile]()
	// profileFields lists them.
	profileFields = leadFields.fields
)

// jsonNull is how a FieldChange says "unset".
var jsonNull = json.RawMessage("null")

// fieldJSON returns a field's JSON value, or null when it is unset. Unset is
// what omitempty omits, so "unset" means the same here as in stored profiles.
func fieldJSON(v reflect.Value) (json.RawMessage, error) {
	if isEmptyValue(v) {
		return jsonNull, nil
	}
	return json.Marshal(v.Interface())
}

// isEmptyValue mirrors encoding/json's omitempty rule.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// diffProfiles lists the fields whose JSON differs between from and to.
func diffProfiles(from, to LeadProfile) ([]FieldChange, error) {
	return leadFields.diff(from, to)
}

// WithChanges returns p with changes applied, as the lead's own fold
// applies them: read models use it so a profile change means the same
// everywhere.
func (p LeadProfile) WithChanges(changes []FieldChange) LeadProfile { return applyChanges(p, changes) }

// applyChanges returns p with each change's new value set. A field name this
// code no longer knows, or a value that no longer decodes, is skipped: stored
// events are trusted, and reshaping old ones is the upcasters' job.
func applyChanges(p LeadProfile, changes []FieldChange) LeadProfile {
	out := p.clone()
	leadFields.apply(&out, changes)
	return out
}

// mergeProfiles applies Cratio's merge rule: every non-empty field of p wins,
// the list fields grow as unions (existing first) and Social merges by key, so
// a second sign-up adds to what is known about a lead and never erases it.
func mergeProfiles(cur, p LeadProfile) LeadProfile {
	out := cur.clone()
	incoming := p.clone()
	ov, pv := reflect.ValueOf(&out).Elem(), reflect.ValueOf(incoming)
	for _, f := range profileFields {
		if v := pv.Field(f.index); !isEmptyValue(v) {
			ov.Field(f.index).Set(v)
		}
	}
	out.Emails = union(cur.Emails, p.Emails)
	out.Phones = union(cur.Phones, p.Phones)
	out.Tags = union(cur.Tags, p.Tags)
	out.BusinessIDs = union(cur.BusinessIDs, p.BusinessIDs)
	out.Social = maps.Clone(cur.Social)
	for k, v := range p.Social {
		if v == "" {
			continue
		}
		if out.Social == nil {
			out.Social = map[string]string{}
		}
		out.Social[k] = v
	}
	// The name follows its parts when only parts came in, so "Ann" + a new
	// last name does not leave the old full name behind.
	if p.Name == "" && (p.FirstName != "" || p.MiddleName != "" || p.LastName != "") {
		out.Name = FullName(out.FirstName, out.MiddleName, out.LastName)
	}
	return out
}

// union returns a then the elements of b not yet seen, without duplicates.
func union[T comparable](a, b []T) []T {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	seen := make(map[T]bool, len(a)+len(b))
	out := make([]T, 0, len(a)+len(b))
	for _, v := range slices.Concat(a, b) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// FullName joins the non-empty name parts with single spaces: the name a
// lead is given from its parts, by NormalizeProfile and by the APIs that
// take the parts.
func FullName(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

// clone deep-copies p, so a Lead never shares slices, maps or pointers with
// its callers or with the events it was built from.
func (p LeadProfile) clone() LeadProfile {
	out := p
	out.Emails = slices.Clone(p.Emails)
	out.Phones = slices.Clone(p.Phones)
	out.Tags = slices.Clone(p.Tags)
	out.BusinessIDs = slices.Clone(p.BusinessIDs)
	out.Social = maps.Clone(p.Social)
	out.CustomFields = bytes.Clone(p.CustomFields)
	out.AnnualRevenue = clonePtr(p.AnnualRevenue)
	out.DealValue = clonePtr(p.DealValue)
	out.Score = clonePtr(p.Score)
	out.LastContact = clonePtr(p.LastContact)
	return out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// fieldSet is the JSON fields of a profile struct (LeadProfile,
// CustomerProfile) by name, in struct order: what events store, so diffs,
// merges and replays of every aggregate's profile speak in them. Reflection
// keeps a field added to a profile covered everywhere without a second list.
type fieldSet struct {
	fields []profileField
	index  map[string]int
}

// fieldsOf lists T's JSON fields.
func fieldsOf[T any]() fieldSet {
	t := reflect.TypeFor[T]()
	s := fieldSet{index: map[string]int{}}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		s.fields = append(s.fields, profileField{name: name, index: i})
		s.index[name] = i
	}
	return s
}

// diff lists the fields whose JSON differs between from and to (values of
// the struct the set was made from).
func (s fieldSet) diff(from, to any) ([]FieldChange, error) {
	fv, tv := reflect.ValueOf(from), reflect.ValueOf(to)
	var changes []FieldChange
	for _, f := range s.fields {
		oldJSON, err := fieldJSON(fv.Field(f.index))
		if err != nil {
			return nil, invalid(f.name, "cannot be encoded as JSON")
		}
		newJSON, err := fieldJSON(tv.Field(f.index))
		if err != nil {
			return nil, invalid(f.name, "cannot be encoded as JSON")
		}
		if !bytes.Equal(oldJSON, newJSON) {
			changes = append(changes, FieldChange{Field: f.name, Old: oldJSON, New: newJSON})
		}
	}
	return changes, nil
}

// apply sets each change's new value on the struct p points to. A field
// name this code no longer knows, or a value that no longer decodes, is
// skipped: stored events are trusted, and reshaping old ones is the
// upcasters' job.
func (s fieldSet) apply(p any, changes []FieldChange) {
	ov := reflect.ValueOf(p).Elem()
	for _, c := range changes {
		i, ok := s.index[c.Field]
		if !ok {
			continue
		}
		field := ov.Field(i)
		raw := bytes.TrimSpace(c.New)
		if len(raw) == 0 || bytes.Equal(raw, jsonNull) {
			field.SetZero()
			continue
		}
		v := reflect.New(field.Type())
		if err := json.Unmarshal(raw, v.Interface()); err != nil {
			continue
		}
		field.Set(v.Elem())
	}
}

// checkTextLengths bounds every string field of p (a value of the struct
// the set was made from), found by reflection so a new field is bounded the
// day it is added.
func (s fieldSet) checkTextLengths(p any) error {
	v := reflect.ValueOf(p)
	for _, f := range s.fields {
		fv := v.Field(f.index)
		if fv.Kind() != reflect.String {
			continue
		}
		limit := maxTextLen
		if longTextFields[f.name] {
			limit = maxLongTextLen
		}
		if utf8.RuneCountInString(fv.String()) > limit {
			return invalid(f.name, fmt.Sprintf("must be at most %d characters", limit))
		}
	}
	return nil
}
