package leadsapi

import (
	"strings"
	"testing"

	"github.com/crmcore/crm/api/apitest"
)

// TestDecodeLeadAnswersTheFaultItAlwaysHas: a body with several faults is
// answered with the one the Leads API has always named, whatever the order
// in which the body is read and normalized.
func TestDecodeLeadAnswersTheFaultItAlwaysHas(t *testing.T) {
	for _, tt := range []struct{ body, field, reason string }{
		{`{"firstName":"x","email":"bad","phoneNumber":5}`, "email", "email must be an email address"},
		{`{"firstName":"x","email":"bad","phoneNumber":["12"]}`, "email", "email must be an email address"},
		{`{"firstName":"x","state":"Nope","email":"bad"}`, "state", "state must be one of Active, Archived"},
		{`{"firstName":"x","email":"a@b.co","phoneNumber":["12"],"business":"x"}`, "phoneNumber", `phoneNumber must hold valid phone numbers; "12" is not one`},
		{`{"firstName":"x","phoneNumber":["+91 98765 43210"," ","12 "]}`, "phoneNumber", `phoneNumber must hold valid phone numbers; "12 " is not one`},
		{`{"firstName":"x","email":"a@b.co","business":[0],"statusId":"1"}`, "business", "business must hold positive integer ids"},
		{`{"firstName":"x","email":"a@b.co","statusId":0,"socialMedia":{"x":1}}`, "statusId", "statusId must be a positive integer"},
		{`{"firstName":"x","phoneNumber":[" "],"socialMedia":{"x":1}}`, "socialMedia", "socialMedia must be an object with only youtube, facebook, instagram and twitter"},
		{`{"firstName":"x","phoneNumber":[" "]}`, "email", "email or phoneNumber is required"},
	} {
		_, bad := decodeLead(strings.NewReader(tt.body), apitest.Region)
		if bad == nil || bad.Field != tt.field || bad.Reason != tt.reason {
			t.Errorf("%s: refused %+v, want %s %q", tt.body, bad, tt.field, tt.reason)
		}
	}
}
