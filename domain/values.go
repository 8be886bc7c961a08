package domain

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/nyaruka/phonenumbers"
)

// Status is the name of a lead's pipeline stage. Pipelines are configured per
// tenant, so statuses are an open set of names, not a closed enum.
type Status string

// DefaultStatus is the status of a lead created without one.
const DefaultStatus Status = "New"

// maxStatusLen bounds a status name so it fits a Kanban column header and an index.
const maxStatusLen = 64

// ParseStatus trims s and checks it is a usable status name.
func ParseStatus(s string) (Status, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", invalid("status", "must not be empty")
	case utf8.RuneCountInString(s) > maxStatusLen:
		return "", invalid("status", "must be at most 64 characters")
	}
	return Status(s), nil
}

// String returns the status name.
func (s Status) String() string { return string(s) }

// Priority is a lead's priority; the closed set the Cratio API documents.
type Priority string

// The priorities a lead can have.
const (
	PriorityLow    Priority = "Low"
	PriorityMedium Priority = "Medium"
	PriorityHigh   Priority = "High"
)

// ParsePriority accepts exactly "Low", "Medium" or "High": Cratio documents
// the values case-sensitively, so "high" is an error rather than a guess.
func ParsePriority(s string) (Priority, error) {
	p := Priority(s)
	if !p.valid() {
		return "", invalid("priority", "must be one of Low, Medium, High")
	}
	return p, nil
}

// String returns the priority's name.
func (p Priority) String() string { return string(p) }

func (p Priority) valid() bool {
	switch p {
	case PriorityLow, PriorityMedium, PriorityHigh:
		return true
	}
	return false
}

// CallType says who placed a logged call.
type CallType string

// The directions a call can have.
const (
	CallInbound  CallType = "Inbound"
	CallOutbound CallType = "Outbound"
)

// ParseCallType accepts exactly "Inbound" or "Outbound", as Cratio documents.
func ParseCallType(s string) (CallType, error) {
	c := CallType(s)
	if !c.valid() {
		return "", invalid("call_type", "must be Inbound or Outbound")
	}
	return c, nil
}

// String returns the call type's name.
func (c CallType) String() string { return string(c) }

func (c CallType) valid() bool {
	return c == CallInbound || c == CallOutbound
}

// maxEmailLen is the longest address SMTP can carry (RFC 5321 path limit).
const maxEmailLen = 254

// NormalizeEmail returns the lower-cased bare address in s. Addresses are
// compared lower-cased everywhere because uniqueness per tenant is decided on
// this form; a display name ("Ann <ann@x.com>") is rejected, not stripped, so
// a client never has its input silently rewritten into something else.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("email", "must not be empty")
	}
	// Lower-casing keeps at least a third of the bytes (U+212A KELVIN SIGN,
	// 3 bytes, becomes "k"): longer input cannot fit, and is not parsed.
	if len(s) > 3*maxEmailLen {
		return "", invalid("email", "must be at most 254 characters")
	}
	addr, err := mail.ParseAddress(s)
	if err != nil {
		return "", invalid("email", "is not a valid email address")
	}
	// ParseAddress also accepts "<a@b>", "a@b (comment)" and quoted local
	// parts; only an address that reads back unchanged is a bare address.
	if addr.Name != "" || addr.Address != s {
		return "", invalid("email", "must be a bare address without a display name")
	}
	// The limit holds for the form stored, so it is checked after
	// lower-casing, which can change the length in bytes: "Ⱥ" is 2 bytes,
	// "ⱥ" 3. Checked before, an address could be accepted once and refused
	// when normalized again.
	email := strings.ToLower(addr.Address)
	if len(email) > maxEmailLen {
		return "", invalid("email", "must be at most 254 characters")
	}
	return email, nil
}

// NormalizePhone parses raw as a phone number, national numbers being read in
// defaultRegion (ISO 3166 code such as "IN"), and returns it in E.164
// ("+919876543210"), the one form phones are stored and compared in.
func NormalizePhone(raw, defaultRegion string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", invalid("phone", "must not be empty")
	}
	key := phoneKey{raw: raw, region: strings.ToUpper(strings.TrimSpace(defaultRegion))}
	if strings.HasPrefix(raw, "+") {
		key.region = "" // an international number is read the same in every region
	}
	if r, ok := phones.Get(key); ok {
		return r.e164, r.err
	}
	r := parsePhone(key)
	if len(raw) <= maxCachedPhone {
		phones.Add(key, r)
	}
	if r.err == nil && r.e164 != raw {
		// The normalized number is what the later steps parse again.
		phones.Add(phoneKey{raw: r.e164}, r)
	}
	return r.e164, r.err
}

// parsePhone reads key.raw by libphonenumber's rules, national numbers in
// key.region.
func parsePhone(key phoneKey) phoneResult {
	var r phoneResult
	num, err := phonenumbers.Parse(key.raw, key.region)
	switch {
	case err != nil:
		r.err = invalid("phone", "is not a phone number")
	case !phonenumbers.IsValidNumber(num):
		r.err = invalid("phone", "is not a valid phone number")
	default:
		r.e164 = phonenumbers.Format(num, phonenumbers.E164)
	}
	return r
}

// phones remembers the latest NormalizePhone outcomes. Parsing a number by
// libphonenumber's rules is the costliest step in taking a lead (a tenth of
// a create's CPU, measured), and each number is parsed twice on the way:
// when NormalizeProfile normalizes the API's input and when the profile is
// validated; the second sees the E.164 form, which is kept under its own
// key.
var phones = mustLRU[phoneKey, phoneResult](8192)

// maxCachedPhone bounds the inputs phones keeps (a phone is short; a long
// input is parsed each time rather than kept).
const maxCachedPhone = 64

type phoneKey struct{ raw, region string }

type phoneResult struct {
	e164 string
	err  error
}

func mustLRU[K comparable, V any](size int) *lru.Cache[K, V] {
	c, err := lru.New[K, V](size)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return c
}
