package domain

import (
	"errors"
	"strings"
	"testing"
)

// wantField fails t unless err is a ValidationError naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var ve ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a ValidationError on %q", err, field)
	}
	if ve.Field != field {
		t.Fatalf("err field = %q (%v), want %q", ve.Field, err, field)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("errors.Is(%v, ErrInvalid) = false", err)
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		in      string
		want    Status
		wantErr bool
	}{
		{in: "New", want: "New"},
		{in: "  Qualified \t", want: "Qualified"},
		{in: "Won – closed", want: "Won – closed"},
		{in: strings.Repeat("é", 64), want: Status(strings.Repeat("é", 64))},
		{in: "", wantErr: true},
		{in: "   ", wantErr: true},
		{in: strings.Repeat("x", 65), wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseStatus(tt.in)
		if tt.wantErr {
			wantField(t, err, "status")
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseStatus(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if DefaultStatus.String() != "New" {
		t.Errorf("DefaultStatus = %q", DefaultStatus)
	}
}

func TestParsePriority(t *testing.T) {
	tests := []struct {
		in      string
		want    Priority
		wantErr bool
	}{
		{in: "Low", want: PriorityLow},
		{in: "Medium", want: PriorityMedium},
		{in: "High", want: PriorityHigh},
		{in: "high", wantErr: true}, // Cratio documents the values case-sensitively
		{in: " High", wantErr: true},
		{in: "Urgent", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParsePriority(tt.in)
		if tt.wantErr {
			wantField(t, err, "priority")
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePriority(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseCallType(t *testing.T) {
	tests := []struct {
		in      string
		want    CallType
		wantErr bool
	}{
		{in: "Inbound", want: CallInbound},
		{in: "Outbound", want: CallOutbound},
		{in: "inbound", wantErr: true},
		{in: "Missed", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseCallType(tt.in)
		if tt.wantErr {
			wantField(t, err, "call_type")
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseCallType(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "asha@example.com", want: "asha@example.com"},
		{in: "  Asha.Rao@Example.COM ", want: "asha.rao@example.com"},
		{in: "first+tag@sub.example.co.in", want: "first+tag@sub.example.co.in"},
		{in: "root@localhost", want: "root@localhost"}, // a dot in the domain is not required
		{in: "", wantErr: true},
		{in: "not-an-email", wantErr: true},
		{in: "@example.com", wantErr: true},
		{in: "asha@", wantErr: true},
		{in: "Asha <asha@example.com>", wantErr: true}, // display names are rejected, not stripped
		{in: "<asha@example.com>", wantErr: true},
		{in: "asha@example.com (work)", wantErr: true},
		{in: "a@b.com, c@d.com", wantErr: true},
		{in: strings.Repeat("a", 250) + "@x.com", wantErr: true},
		{in: strings.Repeat("A", 248) + "@x.com", want: strings.Repeat("a", 248) + "@x.com"}, // 254 bytes, the limit
		// The limit holds for the address lower-cased: "Ⱥ" (2 bytes) becomes
		// "ⱥ" (3 bytes), and the Kelvin sign (3 bytes) becomes "k".
		{in: strings.Repeat("Ⱥ", 100) + "@x.co", wantErr: true},
		{in: strings.Repeat("\u212a", 100) + "@x.co", want: strings.Repeat("k", 100) + "@x.co"},
		{in: strings.Repeat("\u212a", 255) + "@x.co", wantErr: true},
	}
	for _, tt := range tests {
		got, err := NormalizeEmail(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("NormalizeEmail(%q) = %q, want an error", tt.in, got)
				continue
			}
			wantField(t, err, "email")
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		raw, region string
		want        string
		wantErr     bool
	}{
		{raw: "+91 98765 43210", region: "IN", want: "+919876543210"},
		{raw: "98765 43210", region: "IN", want: "+919876543210"},
		{raw: "098765-43210", region: "IN", want: "+919876543210"}, // national trunk prefix
		{raw: "98765 43210", region: "in", want: "+919876543210"},  // region is case-insensitive
		{raw: "+919876543210", region: "", want: "+919876543210"},  // E.164 needs no region
		{raw: "+1 (650) 253-0000", region: "IN", want: "+16502530000"},
		{raw: "(650) 253-0000", region: "US", want: "+16502530000"},
		{raw: "", region: "IN", wantErr: true},
		{raw: "not a phone", region: "IN", wantErr: true},
		{raw: "12345", region: "IN", wantErr: true},
		{raw: "98765 43210", region: "", wantErr: true},       // national number, no region to read it in
		{raw: "+91 55555 55555", region: "IN", wantErr: true}, // parses, but no such number range
		{raw: "+1 555 555 5555", region: "IN", wantErr: true},
	}
	for _, tt := range tests {
		got, err := NormalizePhone(tt.raw, tt.region)
		if tt.wantErr {
			if err == nil {
				t.Errorf("NormalizePhone(%q, %q) = %q, want an error", tt.raw, tt.region, got)
				continue
			}
			wantField(t, err, "phone")
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizePhone(%q, %q) = %q, %v; want %q", tt.raw, tt.region, got, err, tt.want)
		}
	}
}

// TestNormalizePhoneCacheKeys checks the two shortcuts NormalizePhone's
// cache takes: a number written with a leading + reads the same whatever the
// default region, and an E.164 result reads as itself.
func TestNormalizePhoneCacheKeys(t *testing.T) {
	for _, raw := range []string{"+91 98765 43210", "+1 (650) 253-0000", "+44 20 7946 0958", "+1 555 555 5555", "+999", "+", "+800 1234 5678"} {
		want := parsePhone(phoneKey{raw: raw})
		for _, region := range []string{"IN", "US", "GB", "ZZ", "XX"} {
			if got := parsePhone(phoneKey{raw: raw, region: region}); got.e164 != want.e164 || (got.err == nil) != (want.err == nil) {
				t.Errorf("parsePhone(%q) in %q = %+v; with no region %+v", raw, region, got, want)
			}
		}
		if want.err != nil {
			continue
		}
		if again := parsePhone(phoneKey{raw: want.e164}); again.e164 != want.e164 || again.err != nil {
			t.Errorf("parsePhone(%q) = %q, which reads as %+v", raw, want.e164, again)
		}
	}
}

func TestErrors(t *testing.T) {
	if !errors.Is(ErrLeadDeleted, ErrLeadNotFound) {
		t.Error("ErrLeadDeleted must match ErrLeadNotFound: a deleted lead does not exist for callers")
	}
	if errors.Is(ErrLeadNotFound, ErrLeadDeleted) {
		t.Error("ErrLeadNotFound must not match ErrLeadDeleted")
	}
	err := invalid("score", "must be between 0 and 100")
	if err.Error() != "score must be between 0 and 100" {
		t.Errorf("Error() = %q", err.Error())
	}
	if errors.Is(ErrLeadNotFound, ErrInvalid) {
		t.Error("a sentinel must not match ErrInvalid")
	}
}
