package cratio

import (
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
)

// The fuzz targets here hold Cratio's request decoding to the rule:
// whatever the bytes, never a panic, never a 5xx, always an error in
// Cratio's shape naming the field. Each input goes two ways:
//
//   - straight into the decoder, whose refusal must be an *api.BadInput
//     that fail renders as a 4xx matching the OpenAPI document's Error;
//     what it accepts goes on through the domain's normalization and
//     decisions, whose refusals must render the same way and whose events
//     must be storable;
//   - through the real engine and handlers (apitest), over an event store
//     that cannot be reached: a refusal must be the very answer the
//     decoder's refusal renders, and a request the decoding lets through
//     can only end at the store, as a 503 (never a 500, never a panic).

// fuzzAPI is the Cratio API for the fuzz targets.
type fuzzAPI struct {
	*apitest.Server
	h *handlers // for rendering refusals
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	s := apitest.New(f, OpenAPI, func(bool) api.Dialect { return Dialect{} })
	return &fuzzAPI{Server: s, h: &handlers{d: s.Deps}}
}

// bodyContext is a gin context whose request carries body, capped as the
// server caps it.
func bodyContext(body []byte, small bool) *gin.Context {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = apitest.Capped(body, small, 0)
	return c
}

// render is fail's answer to err.
func (a *fuzzAPI) render(err error) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodPost, "/api/v1/leads", nil)
	a.h.fail(c, err)
	return w
}

var bodyLevelCodes = map[string]bool{"invalid_json": true, "invalid_body": true, "body_too_large": true}

// checkError holds an error answer to Cratio's shape: the document's Error
// schema, and a field (one called "" shows as `""`) unless the whole body
// is at fault.
func (a *fuzzAPI) checkError(t *testing.T, w *httptest.ResponseRecorder) errorDetail {
	t.Helper()
	a.CheckErrorSchema(t, w)
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	if w.Code < 500 && e.Error.Field == "" && !bodyLevelCodes[e.Error.Code] {
		t.Fatalf("%d answer %s names no field", w.Code, w.Body.Bytes())
	}
	return e.Error
}

// checkRefusal holds a decoder's refusal to the contract and renders it.
func (a *fuzzAPI) checkRefusal(t *testing.T, bad *api.BadInput) *httptest.ResponseRecorder {
	t.Helper()
	if bad.Status < 400 || bad.Status > 499 || bad.Code == "" {
		t.Fatalf("refusal %+v is not a 4xx with a code", bad)
	}
	if bad.Field == "" && !bodyLevelCodes[bad.Code] {
		t.Fatalf("refusal %+v names no field and is not about the whole body", bad)
	}
	w := a.render(bad)
	if w.Code != bad.Status {
		t.Fatalf("refusal %+v rendered as %d", bad, w.Code)
	}
	if got := a.checkError(t, w); got.Field != apitest.JSONText(bad.Field) {
		t.Fatalf("refusal %+v rendered naming %q", bad, got.Field)
	}
	return w
}

// checkDomainRefusal holds a domain refusal to the contract and renders it.
func (a *fuzzAPI) checkDomainRefusal(t *testing.T, err error) *httptest.ResponseRecorder {
	t.Helper()
	var invalid domain.ValidationError
	if !errors.As(err, &invalid) || invalid.Field == "" {
		t.Fatalf("domain refused with %T %v, want a ValidationError naming a field", err, err)
	}
	w := a.render(err)
	if w.Code < 400 || w.Code > 499 {
		t.Fatalf("domain refusal %v rendered as %d", err, w.Code)
	}
	a.checkError(t, w)
	return w
}

// existingLead is a lead a Cratio create may merge into.
func existingLead(t *testing.T) *domain.Lead {
	t.Helper()
	events, err := domain.CreateLead(uuid.New(), 1, domain.LeadProfile{Name: "Rahul Sharma",
		Emails: []string{"rahul@techcorp.in"}, Phones: []string{"+919876543210"}, Tags: []string{"hot-lead"}}, "Contacted")
	if err != nil {
		t.Fatal(err)
	}
	return domain.NewLeadFromHistory(events)
}

var leadSeeds = []string{
	`{"name":"Rahul Sharma","phone":"+91 98765 43210","email":"rahul@techcorp.in","company":"TechCorp Solutions","city":"Mumbai","source":"IVR","status":"New","priority":"High","deal_value":150000,"tags":["hot-lead","inbound"],"notes":"Interested in Pro plan","assigned_to":"sales@company.com"}`,
	`{"name":"Asha","email":"asha@example.com","status":"Won","source":"Web","priority":"Low"}`,
	`{"name":"Vikram","phone":"09812345678"}`,
	`{"name":"x","phone":"+1 202 555 0143"}`, `{"name":"x","phone":"not a phone"}`, `{"name":"x","phone":"+999"}`,
	`{"name":"x","email":"Ann <ann@x.com>"}`, `{"name":"x","email":"a@b"}`, `{"name":"x","email":"\"q\"@x.com"}`,
	`{"name":" ","email":"a@b.co"}`, `{"email":"a@b.co"}`, `{"name":"x"}`, `{"name":null,"phone":null,"email":null}`,
	`{"name":"x","email":"a@b.co","status":"new"}`, `{"name":"x","email":"a@b.co","status":"Lead"}`,
	`{"name":"x","email":"a@b.co","priority":"high"}`, `{"name":"x","email":"a@b.co","deal_value":-1}`,
	`{"name":"x","email":"a@b.co","deal_value":1e308}`, `{"name":"x","email":"a@b.co","deal_value":1e309}`,
	`{"name":"x","email":"a@b.co","deal_value":"150000"}`, `{"name":"x","email":"a@b.co","tags":[""]}`,
	`{"name":"x","email":"a@b.co","tags":["a","a"]}`, `{"name":"x","email":"a@b.co","tags":"a"}`,
	`{"name":"x","email":"a@b.co","tags":[1]}`, `{"name":"x","email":"a@b.co","assigned_to":"nobody"}`,
	`{"name":"x","email":"a@b.co","notes":"` + strings.Repeat("n", 10001) + `"}`,
	`{"name":"` + strings.Repeat("n", 1001) + `","email":"a@b.co"}`,
	`{"name":"x","email":"` + strings.Repeat("a", 250) + `@b.co"}`,
	`{"name":"x","email":"a@b.co","extra":1}`, `{"":1}`, `{"name":"\u0000","email":"a@b.co"}`,
	`{"name":"x","email":"a@b.co"}]`, `{"name":"x","email":"a@b.co"} {}`, `[]`, `null`, `"x"`, ``, `{`, "\xff",
	`{"name":"ünïcödé ✓","email":"ÜN@example.com"}`, `{"name":"x","email":"a@b.co","name":"y"}`,
}

// FuzzCreateLeadBody: POST /api/v1/leads.
func FuzzCreateLeadBody(f *testing.F) {
	for _, s := range leadSeeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(leadSeeds[0]), true)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, small bool) {
		c := bodyContext(body, small)
		p, status, bad := decodeLead(c, apitest.Region)
		engine := a.Serve(http.MethodPost, "/api/v1/leads", "", body, "", small)
		if bad != nil {
			apitest.SameAnswer(t, "POST /api/v1/leads", engine, a.checkRefusal(t, bad))
			return
		}
		if status != "" && !contains(statuses, string(status)) {
			t.Fatalf("decoded status %q", status)
		}
		// The profile goes to commands.CreateLead as normalized: normalizing
		// it again changes nothing.
		norm, err := apitest.Normalized(t, p)
		if err != nil {
			apitest.SameAnswer(t, "POST /api/v1/leads", engine, a.checkDomainRefusal(t, err))
			return
		}
		a.ReachedStore(t, "POST /api/v1/leads", engine)
		// Past the store: a new lead, or a merge into the lead that owns the
		// email or phone, moved to the status sent.
		events, err := domain.CreateLead(uuid.New(), 7, norm, status)
		if err != nil {
			a.checkDomainRefusal(t, err)
		} else {
			apitest.CheckStorable(t, events)
		}
		lead := existingLead(t)
		merged, err := lead.Merge(norm)
		if err == nil && status != "" {
			var moved []domain.Event
			moved, err = lead.ChangeStatus(status)
			merged = append(merged, moved...)
		}
		if err != nil {
			a.checkDomainRefusal(t, err)
			return
		}
		apitest.CheckStorable(t, merged)
	})
}

var callLogSeeds = []string{
	`{"lead_id":"0190a5a0-0000-7000-8000-000000000001","call_type":"Outbound","duration_seconds":180,"outcome":"Interested","notes":"Asked for a demo","called_at":"2026-04-22T10:30:00Z"}`,
	`{"lead_id":"0190a5a0-0000-7000-8000-000000000001","call_type":"Inbound","duration_seconds":0}`,
	`{"lead_id":"0190a5a0-0000-7000-8000-000000000001","call_type":"Inbound","duration_seconds":0,"called_at":"2026-04-22T10:30:00+05:30"}`,
	`{"lead_id":"0190a5a0-0000-7000-8000-000000000001","call_type":"Inbound","duration_seconds":0,"called_at":"2026-04-22"}`,
	`{"lead_id":"0190a5a0-0000-7000-8000-000000000001","call_type":"Inbound","duration_seconds":0,"called_at":"9999-12-31T23:59:59+23:59"}`,
	`{"lead_id":"0190a5a0-0000-7000-8000-000000000001","call_type":"Inbound","duration_seconds":0,"called_at":"0000-01-01T00:00:00Z"}`,
	`{"lead_id":"0190a5a0-0000-7000-8000-000000000001","call_type":"inbound","duration_seconds":0}`,
	`{"lead_id":"0190a5a0-0000-7000-8000-000000000001","call_type":"Inbound","duration_seconds":-1}`,
	`{"lead_id":"0190a5a0-0000-7000-8000-000000000001","call_type":"Inbound","duration_seconds":1.5}`,
	`{"lead_id":"0190a5a0-0000-7000-8000-000000000001","call_type":"Inbound","duration_seconds":1e30}`,
	`{"lead_id":"0190a5a0-0000-7000-8000-000000000001","call_type":"Inbound","duration_seconds":0,"outcome":"` + strings.Repeat("o", 101) + `"}`,
	`{"lead_id":"{0190a5a0-0000-7000-8000-000000000001}","call_type":"Inbound","duration_seconds":0}`,
	`{"lead_id":"0190a5a000007000800000000000000100","call_type":"Inbound","duration_seconds":0}`,
	`{"lead_id":"urn:uuid:0190a5a0-0000-7000-8000-000000000001","call_type":"Inbound","duration_seconds":0}`,
	`{"lead_id":1,"call_type":"Inbound","duration_seconds":0}`, `{"call_type":"Inbound","duration_seconds":0}`,
	`{"lead_id":"0190a5a0-0000-7000-8000-000000000001"}`, `{"lead_id":null}`, `{"id":"x"}`, `{}`, `[]`, ``, `{"":0}`,
}

// FuzzCreateCallLogBody: POST /api/v1/call-logs.
func FuzzCreateCallLogBody(f *testing.F) {
	for _, s := range callLogSeeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(callLogSeeds[0]), true)
	a := newFuzzAPI(f)
	now := time.Date(2026, 4, 22, 10, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, small bool) {
		c := bodyContext(body, small)
		_, call, bad := decodeCallLog(c, now)
		engine := a.Serve(http.MethodPost, "/api/v1/call-logs", "", body, "", small)
		if !a.Decoded(t, "POST /api/v1/call-logs", engine, bad, a.checkRefusal) {
			return
		}
		// Past the store: the lead decides (commands.LogCall gives the id).
		call.ID = uuid.New()
		events, err := existingLead(t).LogCall(call)
		if err != nil {
			a.checkDomainRefusal(t, err)
			return
		}
		apitest.CheckStorable(t, events)
	})
}

// FuzzQuery: the query strings of GET /api/v1/leads and /api/v1/call-logs
// and the id of DELETE /api/v1/leads/{id} and /api/v1/call-logs/{id}.
func FuzzQuery(f *testing.F) {
	for _, s := range []struct{ query, id string }{
		{"", "0190a5a0-0000-7000-8000-000000000001"},
		{"limit=10&offset=20&status=Won&priority=High&source=IVR&assigned_to=sales@company.com", "x"},
		{"from_date=2026-04-01&to_date=2026-04-30", "0190a5a0000070008000000000000001"},
		{"from_date=2026-04-30&to_date=2026-04-01", "{0190a5a0-0000-7000-8000-000000000001}"},
		{"from_date=2026-02-30", "urn:uuid:0190a5a0-0000-7000-8000-000000000001"},
		{"to_date=26-4-1", "00000000-0000-0000-0000-000000000000"},
		{"limit=0", ""}, {"limit=501", " "}, {"limit=-1&offset=-1", ".."}, {"limit=1e3", "%"},
		{"limit=99999999999999999999", "0190A5A0-0000-7000-8000-000000000001"},
		{"status=won", "0190a5a0-0000-7000-8000-00000000000g"}, {"priority=", "\x00"},
		{"assigned_to=Ann%20%3Cann@x.com%3E", "ünï"}, {"call_type=Missed", "a"},
		{"lead_id=0190a5a0-0000-7000-8000-000000000001", "b"}, {"lead_id=nope", "c"},
		{"lead_id=", "d"}, {"q=%00", "e"}, {"q=%ff", "f"}, {"=%ff", "g"}, {"%ff=1", "h"}, {"a=1&a=%00", "i"},
	} {
		f.Add(s.query, s.id)
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, rawQuery, id string) {
		sent := apitest.SentParams(rawQuery)
		for _, route := range []string{"/api/v1/leads", "/api/v1/call-logs"} {
			w := a.QueryRefusal(t, route, rawQuery)
			if w == nil {
				continue
			}
			if e := a.checkError(t, w); !sent[e.Field] && e.Field != "" {
				t.Fatalf("GET %s?%s: refusal names %q, which was not sent", route, rawQuery, e.Field)
			}
		}
		parsed, bad := uuidParam("id", id)
		if bad != nil {
			a.checkRefusal(t, bad)
		} else if parsed.String() != strings.ToLower(id) {
			t.Fatalf("id %q parsed as %s", id, parsed)
		}
		if id == "" || strings.ContainsAny(id, "/?#") {
			return // not one path segment: no route of the API
		}
		for _, route := range []string{"/api/v1/leads/", "/api/v1/call-logs/"} {
			w := a.Serve(http.MethodDelete, route+id, "", nil, "", false)
			if bad != nil {
				apitest.SameAnswer(t, "DELETE "+route+"{id}", w, a.render(bad))
			} else {
				a.ReachedStore(t, "DELETE "+route+"{id}", w)
			}
		}
	})
}
