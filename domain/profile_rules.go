package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits on profile fields. They bound what one request can store, so a
// read model row and an audit entry stay a sane size.
const (
	maxTextLen     = 1000  // any string field not listed below
	maxLongTextLen = 10000 // notes, description
	maxTagLen      = 64
	maxTags        = 50
	maxSocialKey   = 64
)

// longTextFields are the free-text fields allowed maxLongTextLen.
var longTextFields = map[string]bool{"notes": true, "description": true}

// Validate checks p can be a lead's whole profile: it has a name and a way to
// reach the person, its emails and phones are normalized (uniqueness is
// decided on that form) and every field is in range. It names the first bad
// field by its JSON name in a ValidationError. Partial input (a merge) is
// validated after it is combined with the lead it merges into.
func (p LeadProfile) Validate() error {
	if strings.TrimSpace(p.Name) == "" {
		return invalid("name", "must not be empty")
	}
	if len(p.Emails) == 0 && len(p.Phones) == 0 {
		return invalid("emails", "must hold at least one email when there is no phone")
	}
	if err := checkCounts(p); err != nil {
		return err
	}
	if err := checkNormalized("emails", p.Emails, func(s string) (string, error) { return NormalizeEmail(s) }); err != nil {
		return err
	}
	// An E.164 number carries its country, so no default region is needed.
	if err := checkNormalized("phones", p.Phones, func(s string) (string, error) { return NormalizePhone(s, "") }); err != nil {
		return err
	}
	if err := leadFields.checkTextLengths(p); err != nil {
		return err
	}
	if p.Score != nil && (*p.Score < 0 || *p.Score > 100) {
		return invalid("score", "must be between 0 and 100")
	}
	if err := checkAmount("deal_value", p.DealValue); err != nil {
		return err
	}
	if err := checkAmount("annual_revenue", p.AnnualRevenue); err != nil {
		return err
	}
	if p.Priority != "" && !p.Priority.valid() {
		return invalid("priority", "must be one of Low, Medium, High")
	}
	if err := p.checkProspect(); err != nil {
		return err
	}
	if err := checkTags(p.Tags); err != nil {
		return err
	}
	for k, v := range p.Social {
		if k == "" || utf8.RuneCountInString(k) > maxSocialKey {
			return invalid("social", "keys must be 1 to 64 characters")
		}
		if utf8.RuneCountInString(v) > maxTextLen {
			return invalid("social", fmt.Sprintf("value of %q must be at most %d characters", k, maxTextLen))
		}
	}
	if len(p.CustomFields) > 0 && !isJSONObject(p.CustomFields) {
		return invalid("custom_fields", "must be a JSON object")
	}
	return nil
}

// Bounds on the list fields a merge unions (Cratio's create into an
// existing lead adds its emails, phones, business ids and social keys): a
// lead's profile is in every command's load, so it must not grow with
// every merge.
const (
	maxEmails      = 100
	maxPhones      = 100
	maxBusinessIDs = 1000
	maxSocial      = 100
)

// checkCounts bounds the number of entries of the list fields.
func checkCounts(p LeadProfile) error {
	for _, c := range []struct {
		field  string
		n, max int
	}{
		{"emails", len(p.Emails), maxEmails}, {"phones", len(p.Phones), maxPhones},
		{"business_ids", len(p.BusinessIDs), maxBusinessIDs}, {"social", len(p.Social), maxSocial},
	} {
		if c.n > c.max {
			return invalid(c.field, fmt.Sprintf("must hold at most %d entries", c.max))
		}
	}
	return nil
}

// checkNormalized rejects entries that are not in normalized form, or repeat.
func checkNormalized(field string, values []string, normalize func(string) (string, error)) error {
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		n, err := normalize(v)
		if err != nil || n != v {
			return invalid(field, fmt.Sprintf("entry %q is not normalized", v))
		}
		if seen[v] {
			return invalid(field, fmt.Sprintf("entry %q is repeated", v))
		}
		seen[v] = true
	}
	return nil
}

// checkAmount rejects negative money and what JSON cannot store (NaN, ±Inf).
func checkAmount(field string, v *float64) error {
	if v == nil {
		return nil
	}
	if math.IsNaN(*v) || math.IsInf(*v, 0) {
		return invalid(field, "must be a finite number")
	}
	if *v < 0 {
		return invalid(field, "must not be negative")
	}
	return nil
}

func checkTags(tags []string) error {
	if len(tags) > maxTags {
		return invalid("tags", fmt.Sprintf("must be at most %d tags", maxTags))
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		switch {
		case strings.TrimSpace(t) == "":
			return invalid("tags", "must not hold an empty tag")
		case utf8.RuneCountInString(t) > maxTagLen:
			return invalid("tags", fmt.Sprintf("entry %q must be at most %d characters", t, maxTagLen))
		case seen[t]:
			return invalid("tags", fmt.Sprintf("entry %q is repeated", t))
		}
		seen[t] = true
	}
	return nil
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// NormalizeProfile brings client input into the form the domain stores:
// strings trimmed, emails and assigned_to lower-cased bare addresses, phones
// and mobile_no in E.164 (national numbers read in defaultRegion), list
// entries deduplicated with empty ones dropped, the name derived from its
// parts when missing, custom fields canonical JSON. It is the one place
// client input is normalized: the API dialects call it while decoding and
// answer its refusals in their own words. It rejects only what cannot be
// normalized, with a *NormalizeError naming every bad entry by field and
// index; Validate judges the result.
func NormalizeProfile(p LeadProfile, defaultRegion string) (LeadProfile, error) {
	out := p.clone()
	ov := reflect.ValueOf(&out).Elem()
	for _, f := range profileFields {
		if fv := ov.Field(f.index); fv.Kind() == reflect.String {
			fv.SetString(strings.TrimSpace(fv.String()))
		}
	}
	var bad []EntryError
	phone := func(s string) (string, error) { return NormalizePhone(s, defaultRegion) }
	out.Emails, out.Phones = normalizeReach(p.Emails, p.Phones, defaultRegion, &bad)
	out.MobileNo = normalizeOne("mobile_no", out.MobileNo, phone, &bad)
	out.AssignedTo = normalizeOne("assigned_to", out.AssignedTo, normalizeAssignee, &bad)
	trim := func(s string) (string, error) { return strings.TrimSpace(s), nil }
	out.Tags = normalizeList("tags", p.Tags, trim, &bad)
	out.BusinessIDs = nil
	for _, id := range p.BusinessIDs {
		if !slices.Contains(out.BusinessIDs, id) {
			out.BusinessIDs = append(out.BusinessIDs, id)
		}
	}
	out.Social = nil
	for k, v := range p.Social {
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" || v == "" {
			continue
		}
		if out.Social == nil {
			out.Social = map[string]string{}
		}
		out.Social[k] = v
	}
	var ok bool
	if out.CustomFields, ok = canonicalObject(p.CustomFields); !ok {
		bad = append(bad, EntryError{Field: "custom_fields", Value: string(p.CustomFields), Reason: "must be a JSON object"})
	}
	if len(bad) > 0 {
		return LeadProfile{}, &NormalizeError{Entries: bad}
	}
	if out.Name == "" {
		out.Name = FullName(out.FirstName, out.MiddleName, out.LastName)
	}
	return out, nil
}

// normalizeAssignee is an assignee in the form stored: a user's email
// (Cratio, the Leads API) or a user's UUID (the /dev/crm API), lower-cased
// either way, so one lead shows its assignee in every API.
func normalizeAssignee(s string) (string, error) {
	if id, err := uuid.Parse(s); err == nil && len(s) == 36 {
		return id.String(), nil
	}
	return NormalizeEmail(s)
}

// normalizeReach normalizes a profile's emails and phones (national
// numbers read in defaultRegion), as normalizeList does, adding what it
// refuses to bad.
func normalizeReach(emails, phones []string, defaultRegion string, bad *[]EntryError) ([]string, []string) {
	phone := func(s string) (string, error) { return NormalizePhone(s, defaultRegion) }
	return normalizeList("emails", emails, NormalizeEmail, bad), normalizeList("phones", phones, phone, bad)
}

// normalizeList normalizes each non-blank entry and drops repeats, keeping the
// first occurrence so the primary (first) entry stays first. An entry that
// cannot be normalized is added to bad under its index in values.
func normalizeList(field string, values []string, normalize func(string) (string, error), bad *[]EntryError) []string {
	var out []string
	for i, raw := range values {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		n, err := normalize(raw)
		if err != nil {
			*bad = append(*bad, EntryError{Field: field, Index: i, Value: raw, Reason: reasonOf(err)})
			continue
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// normalizeOne normalizes a field of one value; blank stays blank.
func normalizeOne(field, value string, normalize func(string) (string, error), bad *[]EntryError) string {
	if value == "" {
		return ""
	}
	n, err := normalize(value)
	if err != nil {
		*bad = append(*bad, EntryError{Field: field, Value: value, Reason: reasonOf(err)})
	}
	return n
}

// reasonOf is why a value normalizer refused its input, without the field
// name it wrote (the caller knows the field).
func reasonOf(err error) string {
	var ve ValidationError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return "is invalid"
}

// canonicalObject re-encodes a JSON object with sorted keys and no spaces, so
// the same custom fields sent twice compare equal and record no change.
// Numbers go through json.Number to keep their exact digits.
// It reports false for what is not one JSON object.
func canonicalObject(raw json.RawMessage) (json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, jsonNull) {
		return nil, true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
		return nil, false
	}
	b, err := json.Marshal(obj)
	return b, err == nil
}

// ProfileReservations returns the values a lead with profile p reserves for
// per-tenant uniqueness: its normalized emails (ReserveEmail) and phones
// (ReservePhone). The slices are copies.
func ProfileReservations(p LeadProfile) (emails, phones []string) {
	return slices.Clone(p.Emails), slices.Clone(p.Phones)
}

// checkProspect checks the prospects API's fields: ids are positive or
// unset, the closed sets hold, the close date is a calendar date.
func (p LeadProfile) checkProspect() error {
	if err := nonNegative([]idField{
		{"locale", p.Locale}, {"ecommerce_type_id", p.EcommerceTypeID}, {"weight_id", p.WeightID},
		{"content_id", p.ContentID}, {"partner_type_id", p.PartnerTypeID}, {"partner_origin_id", p.PartnerOriginID},
	}); err != nil {
		return err
	}
	switch {
	case p.ProspectType < 0 || p.ProspectType > 3:
		return invalid("prospect_type", "must be 1 (prospect), 2 (client) or 3 (partner)")
	case p.Rating < 0 || p.Rating > 5:
		return invalid("rating", "must be between 1 and 5")
	}
	return checkDeal(p.AccountType, p.EstimatedCloseDate)
}

// idField is a catalogue id of a profile (locale, ecommerce type, …).
type idField struct {
	field string
	v     int
}

// nonNegative checks catalogue ids are positive or unset.
func nonNegative(ids []idField) error {
	for _, f := range ids {
		if f.v < 0 {
			return invalid(f.field, "must not be negative")
		}
	}
	return nil
}

// checkDeal checks the follow-up data's closed set and date: the account
// type is known, the close date a calendar date (each or unset).
func checkDeal(account AccountType, closeDate string) error {
	if account != "" && !account.valid() {
		return invalid("account_type", "must be one of individual, startup, sme, enterprise, corporate")
	}
	if closeDate != "" {
		if _, err := time.Parse(time.DateOnly, closeDate); err != nil {
			return invalid("estimated_close_date", "must be a date (YYYY-MM-DD)")
		}
	}
	return nil
}
