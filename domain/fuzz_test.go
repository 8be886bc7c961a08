package domain_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
)

// The fuzz targets here hold the domain's command validation to the
// issue's rule: on any strings and numbers, normalization, validation and
// decisions never panic and refuse only with a ValidationError naming the
// field (or one of the documented sentinel errors); what they accept is
// storable, and normalized values stay normalized.

// checkInvalid fails unless err is nil or a ValidationError naming a field.
func checkInvalid(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ve domain.ValidationError
	if !errors.As(err, &ve) || ve.Field == "" || ve.Reason == "" || !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("%s: %T %v, want a ValidationError naming a field", what, err, err)
	}
}

// checkRefusal fails unless err is nil, a ValidationError, or one of known.
func checkRefusal(t *testing.T, what string, err error, known ...error) {
	t.Helper()
	for _, k := range known {
		if errors.Is(err, k) {
			return
		}
	}
	checkInvalid(t, what, err)
}

// checkStorable holds decided events to what the store needs: data that
// encodes and decodes back to an event Apply takes. (NUL text, which
// Postgres cannot store, is the APIs' to refuse, and their fuzz targets
// check it: the domain takes any string.)
func checkStorable(t *testing.T, events []domain.Event) []domain.Event {
	t.Helper()
	out := make([]domain.Event, len(events))
	for i, e := range events {
		data, err := e.MarshalData()
		if err != nil {
			t.Fatalf("decided %s cannot be encoded: %v", e.Type, err)
		}
		if out[i], err = domain.DecodeEvent(e.Type, domain.SchemaVersion, data); err != nil {
			t.Fatalf("decided %s does not decode back: %v", e.Type, err)
		}
	}
	return out
}

// FuzzNormalizeEmail: NormalizeEmail never panics, refuses with a
// ValidationError, and what it returns is lower-case and normalized already.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"rahul@techcorp.in", " John.Doe@Example.COM ", "Ann <ann@x.com>", "<ann@x.com>", "a@b (c)",
		`"q u"@x.com`, "a@b", "a@[127.0.0.1]", "a@", "@b.co", "a..b@c.co", "ünï@cödé.in", "ÀB@X.CO", "ȺȺ@x.co", "İ@x.co",
		"a@b.co\x00", "\xff@x.co", strings.Repeat("a", 243) + "@example.co", strings.Repeat("Ⱥ", 120) + "@x.co", strings.Repeat("Ⱥ", 83) + "@x.co", strings.Repeat("\u212a", 100) + "@x.co", "", " ", "=?utf-8?q?a?=@x.co"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := domain.NormalizeEmail(s)
		if err != nil {
			checkInvalid(t, "NormalizeEmail", err)
			return
		}
		if out != strings.ToLower(out) || strings.TrimSpace(out) != out || out == "" || len(out) > 254 {
			t.Fatalf("NormalizeEmail(%q) = %q", s, out)
		}
		if again, err := domain.NormalizeEmail(out); err != nil || again != out {
			t.Fatalf("NormalizeEmail(%q) = %q, which normalizes again to %q, %v", s, out, again, err)
		}
	})
}

// FuzzNormalizePhone: NormalizePhone never panics, refuses with a
// ValidationError, and what it returns is E.164 that normalizes to itself
// with any region (Validate reads stored phones with none).
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []struct{ raw, region string }{
		{"+91 98765 43210", "IN"}, {"09812345678", "IN"}, {"98765 43210", "in"}, {"(202) 555-0143", "US"}, {"+1 202 555 0143", ""},
		{"+44 20 7946 0958", "GB"}, {"0044 20 7946 0958", "DE"}, {"tel:+91-98765-43210", "IN"}, {"+91 98765 43210 ext. 12", "IN"},
		{"12", "IN"}, {"+999", ""}, {"not a phone", "IN"}, {"", "IN"}, {"+", ""}, {"++91", "IN"}, {"+91 ９８７６５ ４３２１０", "IN"},
		{"٠٩٨١٢٣٤٥٦٧٨", "IN"}, {"+800 1234 5678", "ZZ"}, {"1-800-FLOWERS", "US"}, {"+91" + strings.Repeat("9", 250), "IN"},
		{"\x00+919876543210", "IN"}, {"+919876543210", "\xff"}, {"*100#", "IN"}, {"+882 3456 7890", "001"},
	} {
		f.Add(s.raw, s.region)
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		out, err := domain.NormalizePhone(raw, region)
		if err != nil {
			checkInvalid(t, "NormalizePhone", err)
			return
		}
		if len(out) < 2 || out[0] != '+' || strings.Trim(out[1:], "0123456789") != "" {
			t.Fatalf("NormalizePhone(%q, %q) = %q, not E.164", raw, region, out)
		}
		for _, r := range []string{"", region, "IN", "US"} {
			if again, err := domain.NormalizePhone(out, r); err != nil || again != out {
				t.Fatalf("NormalizePhone(%q, %q) = %q, which normalizes in %q to %q, %v", raw, region, out, r, again, err)
			}
		}
	})
}

// fuzzLead is a lead with a call log and comment 1, as commands find it.
func fuzzLead(t *testing.T) (*domain.Lead, uuid.UUID) {
	t.Helper()
	events, err := domain.CreateLead(uuid.New(), 1, domain.LeadProfile{Name: "Asha Rao", Emails: []string{"asha@example.com"},
		Phones: []string{"+919876543210"}, Tags: []string{"vip"}, Social: map[string]string{"twitter": "@asha"}}, domain.DefaultStatus)
	if err != nil {
		t.Fatal(err)
	}
	lead := domain.NewLeadFromHistory(events)
	call := uuid.New()
	more, err := lead.LogCall(domain.CallLog{ID: call, Type: domain.CallInbound, CalledAt: time.Date(2026, 4, 22, 10, 30, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	comment, err := lead.AddComment(1, "hello", "api_key:x")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range append(more, comment...) {
		lead.Apply(e)
	}
	return lead, call
}

// FuzzLeadProfile: NormalizeProfile, Validate and CreateLead, and the
// lead's decisions (update, merge, status, calls, comments), on any strings
// and numbers.
func FuzzLeadProfile(f *testing.F) {
	type seed struct {
		name, first, last, email, phone, region, tag, social, custom, status string
		deal                                                                 float64
		score                                                                int
	}
	for _, s := range []seed{
		{"Rahul Sharma", "Rahul", "Sharma", "rahul@techcorp.in", "+91 98765 43210", "IN", "hot-lead", "twitter", `{"plan":"pro"}`, "New", 150000, 80},
		{"", "Ann", "Lee", "ANN@EXAMPLE.COM", "", "US", "", "", "", "", 0, 0},
		{" ", "", "", "", "09812345678", "IN", " ", " ", "null", "Won", -1, -1},
		{"x", "", "", "Ann <ann@x.com>", "12", "IN", "a", "k", `[1]`, " ", math.NaN(), 101},
		{"x", "", "", "a@b.co", "", "", strings.Repeat("t", 65), strings.Repeat("k", 65), `{"a":1} {}`, strings.Repeat("s", 65), math.Inf(1), 50},
		{strings.Repeat("n", 1001), "", "", "a@b.co", "", "", "", "", `{"n":1e999}`, "status:7", 1e308, math.MaxInt},
		{"x\x00", "\xff", "", "a@b.co", "+1 202 555 0143", "ZZ", "\x00", "\x00", `{"\u0000":1}`, "\x00", 0, math.MinInt},
	} {
		f.Add(s.name, s.first, s.last, s.email, s.phone, s.region, s.tag, s.social, s.custom, s.status, s.deal, s.score)
	}
	calledAt := time.Date(2026, 4, 22, 10, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, name, first, last, email, phone, region, tag, social, custom, status string, deal float64, score int) {
		p := domain.LeadProfile{Name: name, FirstName: first, LastName: last, Emails: []string{email, strings.ToUpper(email)},
			Phones: []string{phone}, Tags: []string{tag, tag}, Social: map[string]string{social: name}, DealValue: &deal,
			AnnualRevenue: &deal, Score: &score, Notes: last, Priority: domain.Priority(tag)}
		if custom != "" {
			p.CustomFields = json.RawMessage(custom)
		}
		checkInvalid(t, "Validate", p.Validate())
		norm, err := domain.NormalizeProfile(p, region)
		if err != nil {
			checkInvalid(t, "NormalizeProfile", err)
			return
		}
		if err := norm.Validate(); err != nil {
			checkInvalid(t, "Validate", err)
			var ve domain.ValidationError
			if errors.As(err, &ve) && (ve.Field == "emails" || ve.Field == "phones") && len(norm.Emails)+len(norm.Phones) > 0 {
				t.Fatalf("NormalizeProfile made %v %v, which Validate refuses: %v", norm.Emails, norm.Phones, err)
			}
		}
		events, err := domain.CreateLead(uuid.New(), 1, norm, domain.Status(status))
		checkInvalid(t, "CreateLead", err)
		if err == nil {
			created := domain.NewLeadFromHistory(checkStorable(t, events))
			if !created.Exists() || created.Status() == "" {
				t.Fatalf("CreateLead decided %+v", events)
			}
		}
		lead, call := fuzzLead(t)
		// The comments' contents, as a caller reads them from the stream.
		contents := map[int64]string{1: "hello"}
		decisions := []struct {
			what   string
			decide func() ([]domain.Event, error)
		}{
			{"Update", func() ([]domain.Event, error) { return lead.Update(norm) }},
			{"Merge", func() ([]domain.Event, error) { return lead.Merge(norm) }},
			{"ChangeStatus", func() ([]domain.Event, error) { return lead.ChangeStatus(domain.Status(status)) }},
			{"LogCall", func() ([]domain.Event, error) {
				return lead.LogCall(domain.CallLog{ID: uuid.New(), Type: domain.CallType(tag), DurationSeconds: score,
					Outcome: first, Notes: last, CalledAt: calledAt.Add(time.Duration(score))})
			}},
			{"LogCall again", func() ([]domain.Event, error) {
				return lead.LogCall(domain.CallLog{ID: call, Type: domain.CallOutbound, CalledAt: calledAt})
			}},
			{"AddComment", func() ([]domain.Event, error) { return lead.AddComment(int64(score), name, email) }},
			{"EditComment", func() ([]domain.Event, error) {
				return lead.EditComment(int64(score%3), name, contents[int64(score%3)])
			}},
			{"DeleteCallLog", func() ([]domain.Event, error) { return lead.DeleteCallLog(call) }},
			{"Archive", lead.Archive},
			{"Restore", lead.Restore},
			{"Delete", lead.Delete},
		}
		for _, d := range decisions {
			events, err := d.decide()
			checkRefusal(t, d.what, err, domain.ErrCallLogExists, domain.ErrCommentNotFound, domain.ErrCallLogNotFound, domain.ErrLeadNotFound)
			for _, e := range checkStorable(t, events) {
				lead.Apply(e)
				switch d := e.Data.(type) {
				case domain.CommentAddedData:
					contents[d.CommentID] = d.Content
				case domain.CommentEditedData:
					contents[d.CommentID] = d.New
				}
			}
		}
	})
}

// FuzzPipeline: the pipeline's decisions on any names, colours, ids and
// places.
func FuzzPipeline(f *testing.F) {
	for _, s := range []struct {
		name, color, rename string
		id                  int64
		place               int
	}{
		{"Negotiation", "pink", "Talks", 7, 1}, {"new", "blue", "", 1, 6}, {"", "purple", " ", 0, 0}, {" x ", "", "Won", 2, -1},
		{strings.Repeat("n", 65), "seagreen", strings.Repeat("é", 40), -1, math.MaxInt}, {"\x00", "\xff", "\x00", math.MaxInt64, math.MinInt},
	} {
		f.Add(s.name, s.color, s.rename, s.id, s.place)
	}
	f.Fuzz(func(t *testing.T, name, color, rename string, id int64, place int) {
		known := []error{domain.ErrStatusExists, domain.ErrStatusNotFound, domain.ErrStatusInUse}
		p := domain.NewPipelineFromHistory(nil)
		apply := func(what string, events []domain.Event, err error) {
			t.Helper()
			checkRefusal(t, what, err, known...)
			n := len(p.Statuses())
			for _, e := range checkStorable(t, events) {
				p.Apply(e)
			}
			if what == "Reorder" && len(p.Statuses()) != n {
				t.Fatalf("Reorder(%d→%d) left %d statuses of %d", id, place, len(p.Statuses()), n)
			}
		}
		events, _, err := p.CreateStatus(name, color)
		apply("CreateStatus", events, err)
		events, _, err = p.ChangeStatus(id, rename, color)
		apply("ChangeStatus", events, err)
		events, err = p.Reorder(map[int64]int{id: place, 1: 2})
		apply("Reorder", events, err)
		events, err = p.DeleteStatus(id, place%2 == 0)
		apply("DeleteStatus", events, err)
		seen := map[int64]bool{}
		for _, s := range p.Statuses() {
			if seen[s.ID] || s.Key == "" || s.Name == "" {
				t.Fatalf("pipeline holds %+v", p.Statuses())
			}
			seen[s.ID] = true
		}
	})
}
