package imports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
)

// RowError is why one row of a file was not imported: the field (a column
// name; "" for the row as a whole) and the reason.
type RowError struct {
	Row     int64  `json:"row"`
	Line    int64  `json:"line"`
	Field   string `json:"field"`
	Message string `json:"message"`
	// leadID is the lead a duplicate row repeats (uuid.Nil for none).
	leadID uuid.UUID
}

// StatusFunc reads a status cell of the tenant's file into a pipeline
// status key (the /dev/crm dialect maps its vocabulary onto the tenant's
// pipeline, creating a status it names on first use); "" means the
// default. A run asks it once per distinct cell.
type StatusFunc func(ctx context.Context, tenant uuid.UUID, cell string) (domain.Status, error)

// decode reads rec into a normalized profile and status, the way every API
// reads a create: domain.NormalizeProfile in region, then the lead's own
// validation (domain.CreateLead). A row refused says each field it fails on.
func decode(rec Record, region string, status func(string) (domain.Status, error), sources []string) (domain.LeadProfile, domain.Status, []RowError) {
	var bad []RowError
	fail := func(f, msg string) {
		bad = append(bad, RowError{Row: rec.Row, Line: rec.Line, Field: f, Message: msg})
	}
	if rec.Width != "" {
		fail("", "the row "+rec.Width)
		return domain.LeadProfile{}, "", bad
	}
	v := func(f Field) string { return strings.TrimSpace(rec.Values[f]) }
	p := domain.LeadProfile{
		Name: v(FieldName), Company: v(FieldCompany), Source: v(FieldSource), Notes: rec.Values[FieldNotes],
		CampaignID: v(FieldCampaignID), AssignedTo: v(FieldAssignedTo),
	}
	if p.Name == "" {
		fail("name", "is required")
	}
	if p.Source != "" && len(sources) > 0 {
		i := slices.IndexFunc(sources, func(s string) bool { return strings.EqualFold(s, p.Source) })
		if i < 0 {
			fail("source", fmt.Sprintf("%q must be one of %s", p.Source, strings.Join(sources, ", ")))
		} else {
			p.Source = sources[i]
		}
	}
	if e := v(FieldEmail); e != "" {
		p.Emails = []string{e}
	} else {
		fail("email", "is required")
	}
	if ph := v(FieldPhone); ph != "" {
		p.Phones = []string{ph}
	}
	if s := v(FieldScore); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 100 {
			fail("score", fmt.Sprintf("%q must be a whole number from 0 to 100", s))
		} else {
			p.Score = &n
		}
	}
	if s := v(FieldLastContact); s != "" {
		t, err := parseDate(s)
		if err != nil {
			fail("last_contact", fmt.Sprintf("%q must be a date (YYYY-MM-DD) or an RFC 3339 time", s))
		} else {
			p.LastContact = &t
		}
	}
	if s := v(FieldCustomFields); s != "" {
		if !json.Valid([]byte(s)) || !strings.HasPrefix(s, "{") {
			fail("custom_fields", "must be a JSON object")
		} else {
			p.CustomFields = json.RawMessage(s)
		}
	}
	st, err := status(v(FieldStatus))
	if err != nil {
		fail("status", reason(err))
	}
	// The normalization's errors too, so a row is reported whole.
	n, err := domain.NormalizeProfile(p, region)
	if err != nil {
		bad = append(bad, fieldErrors(rec, err)...)
	}
	if len(bad) > 0 {
		return domain.LeadProfile{}, "", bad
	}
	// The lead's own rules, as the create will apply them (the number is a
	// placeholder: the real one is taken when the row is written).
	if _, err := domain.CreateLead(placeholderID, 1, n, st); err != nil {
		return domain.LeadProfile{}, "", fieldErrors(rec, err)
	}
	return n, st, nil
}

// parseDate reads a date as every API does (mapping c.17): RFC 3339, or a
// calendar date at 00:00 UTC.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Parse(time.DateOnly, s)
}

// fieldErrors names the fields of a domain error, in the file's column
// names (the domain says "emails" for the file's "email").
func fieldErrors(rec Record, err error) []RowError {
	var ne *domain.NormalizeError
	if errors.As(err, &ne) {
		out := make([]RowError, 0, len(ne.Entries))
		for _, e := range ne.Entries {
			out = append(out, RowError{Row: rec.Row, Line: rec.Line, Field: columnOf(e.Field), Message: fmt.Sprintf("%q %s", e.Value, e.Reason)})
		}
		return out
	}
	var ve domain.ValidationError
	if errors.As(err, &ve) {
		return []RowError{{Row: rec.Row, Line: rec.Line, Field: columnOf(ve.Field), Message: ve.Reason}}
	}
	return []RowError{{Row: rec.Row, Line: rec.Line, Message: err.Error()}}
}

// reason is a validation error's reason without its field.
func reason(err error) string {
	var ve domain.ValidationError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return err.Error()
}

// columnOf is the column a domain field is read from.
func columnOf(field string) string {
	switch field {
	case "emails":
		return "email"
	case "phones":
		return "phone"
	}
	return field
}
