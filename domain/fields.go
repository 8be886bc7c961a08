package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

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
