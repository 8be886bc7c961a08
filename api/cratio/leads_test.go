package cratio

import (
	"testing"

	"github.com/crmcore/crm/api/apitest"
)

// TestDecodeLeadAnswersTheFaultItAlwaysHas: a body with several faults is
// answered with the one Cratio has always named, whatever the order in which
// the body is read and normalized.
func TestDecodeLeadAnswersTheFaultItAlwaysHas(t *testing.T) {
	for _, tt := range []struct{ body, field, reason string }{
		{`{"name":"","phone":5}`, "name", "is required"},
		{`{"name":"x","phone":"12","status":"Hot"}`, "phone", "is not a valid phone number"},
		{`{"name":"x","email":"bad","phone":"12"}`, "phone", "is not a valid phone number"},
		{`{"name":"x","email":"bad","deal_value":"1"}`, "email", "is not a valid email address"},
		{`{"name":"x","email":"a@b.co","status":"Hot","assigned_to":"bob"}`, "status", "must be one of New | Contacted | Qualified | Proposal | Won | Lost"},
		{`{"name":"x","email":"a@b.co","tags":[""],"assigned_to":"bob"}`, "tags", "must not contain empty tags"},
		{`{"name":"x","email":"a@b.co","assigned_to":"bob","deal_value":-1}`, "deal_value", "must not be negative"},
		{`{"name":"x","email":"a@b.co","assigned_to":"Bob <bob@x.co>"}`, "assigned_to", "must be an email address"},
	} {
		_, _, bad := decodeLead(bodyContext([]byte(tt.body), false), apitest.Region)
		if bad == nil || bad.Field != tt.field || bad.Reason != tt.reason {
			t.Errorf("%s: refused %+v, want %s %q", tt.body, bad, tt.field, tt.reason)
		}
	}
}
