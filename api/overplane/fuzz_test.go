package overplane

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/api/apitest"
	"github.com/crmcore/crm/domain"
)

// The fuzz targets here hold Overplane's request decoding to the issue's
// rule: whatever the bytes, never a panic, never a 5xx, always an error in
// Overplane's shape naming the param. Each input goes two ways:
//
//   - straight into the decoder, whose refusal must be an *api.BadInput
//     that fail renders as a 4xx matching the OpenAPI document's Error;
//     what it accepts goes on through the status lookup, the patch, and the
//     domain's normalization and decisions, whose refusals must render the
//     same way and whose events must be storable;
//   - through the real engine and handlers (apitest), over an event store
//     that cannot be reached: a refusal must be the very answer the
//     decoder's refusal renders, and a request the decoding lets through
//     can only end at the store, as a 503 (never a 500, never a panic).

// fuzzAPI is the Overplane API for the fuzz targets.
type fuzzAPI struct {
	*apitest.Server
	h *handlers // for rendering refusals
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	s := apitest.New(f, OpenAPI, func(bool) api.Dialect { return Dialect{} })
	return &fuzzAPI{Server: s, h: &handlers{d: s.Deps}}
}

// render is fail's answer to err for a request on the lead id given.
func (a *fuzzAPI) render(err error, id string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodPost, "/api/crm/lead", nil)
	c.Params = gin.Params{{Key: "id", Value: id}}
	a.h.fail(c, err)
	return w
}

var bodyLevelCodes = map[string]bool{"invalid_json": true, "invalid_body": true, "body_too_large": true}

// checkError holds an error answer to Overplane's shape: the document's
// Error schema, an invalid_request_error for a 4xx, and a param unless the
// whole body is at fault (a param called "" shows as `""`).
func (a *fuzzAPI) checkError(t *testing.T, w *httptest.ResponseRecorder) errorDetail {
	t.Helper()
	a.CheckErrorSchema(t, w)
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	if w.Code < 500 && (e.Error.Type != invalidRequest || e.Error.Param == "" && !bodyLevelCodes[e.Error.Code]) {
		t.Fatalf("%d answer %s is not an invalid_request_error naming a param", w.Code, w.Body.Bytes())
	}
	return e.Error
}

// checkRefusal holds a refusal to the contract and renders it.
func (a *fuzzAPI) checkRefusal(t *testing.T, bad *api.BadInput) *httptest.ResponseRecorder {
	t.Helper()
	if bad.Status < 400 || bad.Status > 499 || bad.Code == "" || bad.Reason == "" {
		t.Fatalf("refusal %+v is not a 4xx with a code and a reason", bad)
	}
	if bad.Field == "" && !bodyLevelCodes[bad.Code] {
		t.Fatalf("refusal %+v names no param and is not about the whole body", bad)
	}
	w := a.render(bad, "")
	if w.Code != bad.Status {
		t.Fatalf("refusal %+v rendered as %d", bad, w.Code)
	}
	if got := a.checkError(t, w); got.Param != apitest.JSONText(bad.Field) {
		t.Fatalf("refusal %+v rendered naming %q", bad, got.Param)
	}
	return w
}

// checkDomainRefusal holds a domain refusal to the contract and renders it.
func (a *fuzzAPI) checkDomainRefusal(t *testing.T, err error) {
	t.Helper()
	var invalid domain.ValidationError
	var bad *api.BadInput
	switch {
	case errors.As(err, &bad): // the patch's own: a lead left without a name or a way to reach it
		a.checkRefusal(t, bad)
		return
	case !errors.As(err, &invalid) || invalid.Field == "":
		t.Fatalf("domain refused with %T %v, want a ValidationError naming a field", err, err)
	}
	w := a.render(err, "")
	if w.Code < 400 || w.Code > 499 {
		t.Fatalf("domain refusal %v rendered as %d", err, w.Code)
	}
	a.checkError(t, w)
}

// existingLead is a lead as other APIs may have left it.
func existingLead(t *testing.T) *domain.Lead {
	t.Helper()
	events, err := domain.CreateLead(uuid.New(), 1, domain.LeadProfile{Name: "Ravi Kumar", FirstName: "Ravi", LastName: "Kumar",
		Emails: []string{"ravi@example.com", "rk@example.com"}, Phones: []string{"+919876543210", "+919812345678"},
		MobileNo: "+919812345678", Tags: []string{"vip"}, Priority: domain.PriorityHigh}, "Contacted")
	if err != nil {
		t.Fatal(err)
	}
	return domain.NewLeadFromHistory(events)
}

// book is a pipeline with a status a tenant added.
var book = domain.StatusBook(append(domain.DefaultPipeline(), domain.PipelineStatus{ID: 7, Key: "status:7", Name: "Negotiation", Color: "pink"}))

var leadSeeds = []string{
	`{"lead_name":"Ravi Kumar","email_id":"Ravi@Example.com","phone":"+91 98765 43210","mobile_no":"09812345678","company_name":"Globex","status":"Lead","annual_revenue":2500000,"unsubscribed":false,"first_name":"Ravi","last_name":"Kumar","city":"Pune","utm_source":"google"}`,
	`{"first_name":"Ann","middle_name":"B","last_name":"Cee","email_id":"ann@example.com","status":"Negotiation"}`,
	`{"lead_name":"x","mobile_no":"+1 202 555 0143"}`, `{"lead_name":"x","phone":"12"}`, `{"lead_name":"x","email_id":"not an email"}`,
	`{"lead_name":"x","email_id":"a@b.co","status":"Won"}`, `{"lead_name":"x","email_id":"a@b.co","status":"won"}`,
	`{"lead_name":"x","email_id":"a@b.co","status":"New"}`, `{"lead_name":"x","email_id":"a@b.co","status":"Nope"}`,
	`{"lead_name":"x","email_id":"a@b.co","status":""}`, `{"lead_name":"x","email_id":"a@b.co","status":null}`,
	`{"lead_name":"x","email_id":"a@b.co","status":1}`, `{"lead_name":"x","email_id":"a@b.co","annual_revenue":-1}`,
	`{"lead_name":"x","email_id":"a@b.co","annual_revenue":1e309}`, `{"lead_name":"x","email_id":"a@b.co","annual_revenue":"1"}`,
	`{"lead_name":"x","email_id":"a@b.co","disabled":"true"}`, `{"lead_name":"x","email_id":"a@b.co","blog_subscriber":null}`,
	`{"lead_name":"x","email_id":"a@b.co","lead_owner":"__user"}`, `{"lead_name":"x","email_id":"a@b.co","lead_owner":"ops@x.co"}`,
	`{"lead_name":"","email_id":"a@b.co"}`, `{"lead_name":null,"first_name":null,"email_id":"a@b.co"}`, `{"email_id":"a@b.co"}`,
	`{"lead_name":"x"}`, `{"lead_name":"x","email_id":null,"phone":null,"mobile_no":null}`, `{"lead_name":"x","email_id":""}`,
	`{"lead_name":"` + strings.Repeat("n", 1001) + `","email_id":"a@b.co"}`, `{"lead_name":"x","email_id":"a@b.co","website":"\u0000"}`,
	`{"lead_name":"x","email_id":"a@b.co","id":"lead_x"}`, `{"":1}`, `{}`, `[]`, `null`, ``, `{`, "\xff",
	`{"lead_name":"x","email_id":"a@b.co"}]`,
}

// FuzzLeadBody: POST /api/crm/lead and PATCH /api/crm/lead/{id}.
func FuzzLeadBody(f *testing.F) {
	for _, s := range leadSeeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(leadSeeds[0]), true)
	a := newFuzzAPI(f)
	patchPath := "/api/crm/lead/" + leadID(uuid.MustParse("0190a5a0-0000-7000-8000-000000000001"))
	f.Fuzz(func(t *testing.T, body []byte, small bool) {
		pt, bad := decodePatch(apitest.Capped(body, small, 0).Body, apitest.Region)
		create := a.Serve(http.MethodPost, "/api/crm/lead", "", body, "", small)
		update := a.Serve(http.MethodPatch, patchPath, "", body, "", small)
		if bad != nil {
			want := a.checkRefusal(t, bad)
			apitest.SameAnswer(t, "POST /api/crm/lead", create, want)
			apitest.SameAnswer(t, "PATCH /api/crm/lead/{id}", update, want)
			return
		}
		a.ReachedStore(t, "POST /api/crm/lead", create)
		a.ReachedStore(t, "PATCH /api/crm/lead/{id}", update)
		// Past the store: the status is looked up in the tenant's
		// pipeline, then the patch applies to a new lead or to this one.
		if bad := pt.resolveStatus(book); bad != nil {
			a.checkRefusal(t, bad)
			return
		}
		if p, err := pt.apply(domain.LeadProfile{}); err != nil {
			a.checkDomainRefusal(t, err)
		} else if p, err = apitest.Normalized(t, p); err != nil {
			a.checkDomainRefusal(t, err)
		} else if events, err := domain.CreateLead(uuid.New(), 1, p, pt.status); err != nil {
			a.checkDomainRefusal(t, err)
		} else {
			apitest.CheckStorable(t, events)
		}
		lead := existingLead(t)
		p, err := pt.apply(lead.Profile())
		if err == nil {
			p, err = apitest.Normalized(t, p)
		}
		var events []domain.Event
		if err == nil {
			events, err = lead.Update(p)
		}
		if err == nil && pt.status != "" {
			var moved []domain.Event
			moved, err = lead.ChangeStatus(pt.status)
			events = append(events, moved...)
		}
		if err != nil {
			a.checkDomainRefusal(t, err)
			return
		}
		apitest.CheckStorable(t, events)
	})
}

// FuzzQuery: the query string of GET /api/crm/lead and the id of GET,
// PATCH and DELETE /api/crm/lead/{id}.
func FuzzQuery(f *testing.F) {
	for _, s := range []struct{ query, id string }{
		{"", "lead_0190a5a0000070008000000000000001"}, {"limit=10&offset=20", "lead_0190A5A0000070008000000000000001"},
		{"limit=0", "lead_0190a5a000007000800000000000000"}, {"limit=101", "lead_0190a5a00000700080000000000000011"},
		{"limit=-1", "0190a5a0-0000-7000-8000-000000000001"}, {"offset=-1", "lead_"}, {"offset=1e3", "LEAD_0190a5a0000070008000000000000001"},
		{"limit=99999999999999999999", "lead_0190a5a000007000800000000000000g"}, {"starting_after=lead_x", "lead_ 190a5a0000070008000000000000001"},
		{"q=%00", "x"}, {"q=%ff", "ünï"}, {"=%ff", ".."}, {"%ff=1", "%"}, {"a=1&a=%00", "lead_00000000000000000000000000000000"},
	} {
		f.Add(s.query, s.id)
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, rawQuery, id string) {
		sent := apitest.SentParams(rawQuery)
		if w := a.QueryRefusal(t, "/api/crm/lead", rawQuery); w != nil {
			if e := a.checkError(t, w); e.Param != "" && !sent[e.Param] {
				t.Fatalf("GET /api/crm/lead?%s: refusal names %q, which was not sent", rawQuery, e.Param)
			}
		}
		parsed, ok := parseLeadID(id)
		if ok && leadID(parsed) != id {
			t.Fatalf("id %q read as %s", id, leadID(parsed))
		}
		if id == "" || strings.ContainsAny(id, "/?#") {
			return // not one path segment: no route of the API
		}
		for _, method := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
			var body []byte
			if method == http.MethodPatch {
				body = []byte(`{"city":"Pune"}`)
			}
			w := a.Serve(method, "/api/crm/lead/"+id, "", body, "", false)
			if ok {
				a.ReachedStore(t, method+" /api/crm/lead/{id}", w)
				continue
			}
			// Any id that names no lead is Stripe's resource_missing.
			apitest.SameAnswer(t, method+" /api/crm/lead/{id}", w, a.render(domain.ErrLeadNotFound, id))
			a.checkError(t, w)
		}
	})
}
