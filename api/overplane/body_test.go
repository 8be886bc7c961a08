package overplane

import (
	"strings"
	"testing"

	"github.com/crmcore/crm/api/apitest"
)

// TestDecodePatchAnswersTheFaultItAlwaysHas: a body with several faults is
// answered with the one Overplane has always named, whatever the order in
// which the body is read and normalized.
func TestDecodePatchAnswersTheFaultItAlwaysHas(t *testing.T) {
	for _, tt := range []struct{ body, field, reason string }{
		{`{"lead_name":5,"email_id":"bad"}`, "lead_name", "must be a string or null"},
		{`{"lead_name":"x","email_id":"bad","phone":5}`, "email_id", "is not a valid email address"},
		{`{"lead_name":"x","email_id":5,"phone":"12"}`, "email_id", "must be a string or null"},
		{`{"lead_name":"x","phone":"12","mobile_no":"13"}`, "phone", "is not a valid phone number"},
		{`{"lead_name":"x","mobile_no":"12","annual_revenue":-1}`, "mobile_no", "is not a valid phone number"},
		{`{"lead_name":"x","email_id":"a@b.co","annual_revenue":-1,"status":5}`, "annual_revenue", "must not be negative"},
		{`{"lead_name":"x","lead_owner":5,"annual_revenue":-1}`, "lead_owner", "must be a string or null"},
	} {
		_, bad := decodePatch(strings.NewReader(tt.body), apitest.Region)
		if bad == nil || bad.Field != tt.field || bad.Reason != tt.reason {
			t.Errorf("%s: refused %+v, want %s %q", tt.body, bad, tt.field, tt.reason)
		}
	}
}
