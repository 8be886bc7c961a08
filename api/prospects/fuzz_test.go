package prospects

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/api/apitest"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/jwtauth"
)

// The fuzz targets hold this API's body decoding to the rule every dialect
// keeps: whatever the bytes, never a panic, never a 5xx, always a Boom
// error naming the field (or the whole body). Each input goes two ways:
// straight into the decoder, whose refusal must render as a 4xx matching
// the OpenAPI document's Error; and through the real engine and handlers
// (apitest, with a JWT verifier) over a store that cannot be reached, where
// a refusal must be the very answer the decoder's renders and what the
// decoding lets through can only end at the store, as a 503.

const fuzzSecret = "fuzz-secret-0123456789abcdef0123456789"

// fuzzAPI is the API for the fuzz targets, with the token they send.
type fuzzAPI struct {
	*apitest.Server
	h     *handlers
	token string
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	s := apitest.New(f, OpenAPI, func(bool) api.Dialect { return Dialect{} })
	tenant := uuid.New()
	v, err := jwtauth.New(jwtauth.Settings{Secret: []byte(fuzzSecret)}, jwtauth.Options{
		Tenants: jwtauth.TenantsFunc(func(context.Context, string) (uuid.UUID, error) { return tenant, nil })})
	if err != nil {
		f.Fatal(err)
	}
	s.Deps.JWT, s.SmallDeps.JWT = v, v
	tok, err := jwtauth.IssueHS256([]byte(fuzzSecret), jwtauth.Grant{Tenant: "fuzz", Subject: "fuzzer",
		Permissions: []string{permProspects, permMenu, permPartners}, TTL: time.Hour}, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	return &fuzzAPI{Server: s, h: &handlers{d: s.Deps}, token: tok}
}

// serve sends body to method path with the token.
func (a *fuzzAPI) serve(method, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	a.Engine.ServeHTTP(w, req)
	return w
}

// render is fail's answer to err.
func (a *fuzzAPI) render(err error) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodPost, "/prospects", nil)
	a.h.fail(c, err)
	return w
}

// bodyLevel are the refusals of a whole body, which name no field.
var bodyLevel = map[string]bool{"invalid_json": true, "invalid_body": true, "body_too_large": true}

// checkRefusal holds a refusal to the contract and renders it.
func (a *fuzzAPI) checkRefusal(t *testing.T, bad *api.BadInput) *httptest.ResponseRecorder {
	t.Helper()
	if bad.Status < 400 || bad.Status > 499 || bad.Code == "" || bad.Reason == "" {
		t.Fatalf("refusal %+v is not a 4xx with a code and a reason", bad)
	}
	if bad.Field == "" && !bodyLevel[bad.Code] {
		t.Fatalf("refusal %+v names no field and is not about the whole body", bad)
	}
	w := a.render(bad)
	a.CheckErrorSchema(t, w)
	var e boom
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != bad.Status || e.StatusCode != bad.Status ||
		e.Field != apitest.JSONText(bad.Field) {
		t.Fatalf("refusal %+v rendered as %d %s", bad, w.Code, w.Body.Bytes())
	}
	return w
}

// checkEdits applies decoded edits to a prospect of type typ: the result is
// a normalized profile, or a refusal naming a field.
func (a *fuzzAPI) checkEdits(t *testing.T, e edits, typ int) {
	t.Helper()
	cur := domain.LeadProfile{Name: "Ravi Kumar", Company: "Globex", Emails: []string{"ravi@example.com"},
		Phones: []string{"+919876543210"}, ProspectType: typ, Social: map[string]string{"x": "@ravi"}}
	next, err := e.apply(cur)
	if err == nil {
		if _, err = apitest.Normalized(t, next); err == nil {
			err = next.Validate()
		}
	}
	var bad *api.BadInput
	var invalid domain.ValidationError
	switch {
	case err == nil:
	case errors.As(err, &bad):
		a.checkRefusal(t, bad)
	case errors.As(err, &invalid) && invalid.Field != "":
		w := a.render(err)
		if w.Code != http.StatusBadRequest {
			t.Fatalf("domain refusal %v rendered as %d", err, w.Code)
		}
		a.CheckErrorSchema(t, w)
	default:
		t.Fatalf("edits refused with %T %v, want a refusal naming a field", err, err)
	}
}

var rowSeeds = []string{
	`[{"name":"John Doe","company":"Acme Corp","email":"john@acme.com","phone":5551234567,"code":52,"locale":1}]`,
	`[{"email":"a@b.co","type":3,"monthly_shipments":"100-500","follow_up_id":2},{"phone":9876543210}]`,
	`[{"email":"a@b.co"},{"email":"A@B.co"}]`, `[{"email":"nope"},{"name":"x"},{"phone":12,"code":52}]`,
	`[{"email":"a@b.co","phone":"555"}]`, `[{"email":"a@b.co","extra":1}]`, `[{"email":"a@b.co","type":4}]`,
	`[{"email":"a@b.co","monthly_shipments":-1}]`, `[{"email":"a@b.co","phone":1e30}]`, `[{"email":"\u0000"}]`,
	`[]`, `{}`, `[1]`, `[null]`, `null`, ``, `[{"email":"a@b.co"}] x`, "\xff",
}

// FuzzRowsBody: the batch decoder of POST /prospects and /prospects/process.
func FuzzRowsBody(f *testing.F) {
	for _, s := range rowSeeds {
		f.Add([]byte(s))
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, bad := decodeRows(apitest.Capped(body, false, 0).Body)
		for _, path := range []string{"/prospects/process", "/prospects"} {
			got := a.serve(http.MethodPost, path, body)
			if bad != nil {
				apitest.SameAnswer(t, path, got, a.checkRefusal(t, bad))
				continue
			}
			// Rows refused one by one need no store: an answer of 200.
			if got.Code == http.StatusOK {
				continue
			}
			a.ReachedStore(t, path, got)
		}
	})
}

var patchSeeds = []string{
	`{"company_name":"Acme","name":"Jane","email":"Jane@Acme.com","phone_code":"52","phone":"5598765432","created_by":15}`,
	`{"email":null,"phone":null}`, `{"phone_code":"52"}`, `{"email":"nope"}`, `{"created_by":"15"}`, `{"created_by":0}`,
	`{"channel":"referral","account_value":8000,"monthly_shipments":200,"ecommerce_type_id":3,"weight_id":2,"content_id":1,"account_type":"enterprise","estimated_close_date":"2026-05-01","annotations":"x"}`,
	`{"account_type":"huge"}`, `{"estimated_close_date":"2026-05-01T10:00:00+05:30"}`, `{"account_value":-1}`, `{"locale":-1}`,
	`{"url":"https://p.example","partner_type_id":2,"partner_origin_id":1,"rating":4,"locale_id":1,"social_network":"@p"}`,
	`{"url":"","partner_type_id":2,"partner_origin_id":1,"rating":6,"locale_id":1}`, `{"name":""}`, `{"x":1}`, `{}`, `[]`, ``,
}

// FuzzPatchBody: the bodies of PATCH /prospects/{id}, /data,
// /partner-data and /clients/{id}/data, and the profile their edits leave.
func FuzzPatchBody(f *testing.F) {
	for _, s := range patchSeeds {
		for which := range 4 {
			f.Add([]byte(s), uint8(which))
		}
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		route := []struct {
			path   string
			fields []string
			decode func(api.Object) (edits, *api.BadInput)
			typ    int
		}{
			{"/prospects/1", coreFields, func(o api.Object) (edits, *api.BadInput) { return decodeCore(o, apitest.Region) }, 1},
			{"/prospects/1/data", dataFields, decodeData, 1},
			{"/prospects/1/partner-data", partnerFields, decodePartner, partnerType},
			{"/clients/1/data", dataFields, decodeData, 0},
		}[which%4]
		o, bad := api.DecodeObject(apitest.Capped(body, false, 0).Body, route.fields...)
		var e edits
		if bad == nil {
			e, bad = route.decode(o)
		}
		if bad != nil {
			a.checkRefusal(t, bad)
		} else {
			a.checkEdits(t, e, route.typ)
			a.checkEdits(t, e, 1)
		}
		// The prospect is looked up before its body is read: the store.
		a.ReachedStore(t, route.path, a.serve(http.MethodPatch, route.path, body))
	})
}

var recordSeeds = []string{
	`{"name":"Jane Smith","email":"jane@acme.com","phone_code":"52","phone":"5598765432","position":"CTO"}`,
	`{"name":"Jane","email":"jane@acme.com","phone_code":"52","phone":"12"}`, `{"position":"VP","isDefault":false}`,
	`{"isDefault":true,"email":"nope"}`, `{"isDefault":"yes"}`,
	`{"follow":3,"action":"call","note":"Discussed pricing","scheduled_date":"2026-03-20T09:00:00Z"}`, `{"note":"x","action":"fax"}`,
	`{"note":""}`, `{"note":"x","scheduled_date":"soon"}`, `{"scheduled_date":"2026-03-25T14:00:00Z","origin":"prospect"}`,
	`{"scheduled_date":null,"origin":"company"}`, `{"origin":"x"}`, `{"name":"Main Office","link":"https://maps.example","type":"headquarters"}`,
	`{"type":"castle"}`, `{"name":"` + strings.Repeat("n", 51) + `"}`, `{"x":1}`, `{}`, `[]`, ``, "\xff",
}

// FuzzRecordBody: the bodies of contacts, notes, note reschedules and
// locations, for prospects and clients.
func FuzzRecordBody(f *testing.F) {
	for _, s := range recordSeeds {
		for which := range 8 {
			f.Add([]byte(s), uint8(which))
		}
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		r := apitest.Capped(body, false, 0).Body
		var bad *api.BadInput
		method, path, bodyFirst := http.MethodPost, "", false
		switch which % 8 {
		case 0:
			path = "/prospects/1/contacts"
			var b contactBody
			if b, bad = decodeContact(r, true, contactFields...); bad == nil {
				_, bad = b.e164(apitest.Region)
			}
		case 1:
			method, path, bodyFirst = http.MethodPut, "/prospects/1/contacts", true
			var b contactBody
			if b, bad = decodeContact(r, false, append(contactFields, "isDefault")...); bad == nil {
				_, bad = b.e164(apitest.Region)
			}
			if bad == nil && b.email != "" {
				if _, err := domain.NormalizeEmail(b.email); err != nil {
					bad = badField("email", "must be a valid email")
				}
			}
		case 2:
			path = "/prospects/1/notes"
			_, bad = decodeNote(r, prospectOwner)
		case 3:
			path = "/clients/1/notes"
			_, bad = decodeNote(r, clientOwner)
		case 4:
			method, path, bodyFirst = http.MethodPatch, "/prospects/1/notes/1", true
			_, _, bad = decodeReschedule(r)
		case 5:
			path = "/prospects/1/locations"
			_, _, bad = decodeLocation(r, true)
		case 6:
			method, path, bodyFirst = http.MethodPut, "/prospects/locations/1", true
			_, _, bad = decodeLocation(r, false)
		case 7:
			method, path, bodyFirst = http.MethodPut, "/clients/locations/1", true
			_, _, bad = decodeLocation(r, false)
		}
		got := a.serve(method, path, body)
		if bad != nil {
			want := a.checkRefusal(t, bad)
			if bodyFirst {
				apitest.SameAnswer(t, method+" "+path, got, want)
				return
			}
		}
		// Accepted, or a route that finds its owner before reading the
		// body: the store is where it ends.
		a.ReachedStore(t, method+" "+path, got)
	})
}
