package devcrm

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

// The fuzz targets hold this API's decoding to the rule every dialect
// keeps: whatever the bytes, never a panic, never a 5xx, always an error
// in the API's shape naming the field (or the whole body). Each input goes
// two ways: straight into the decoder, whose refusal must render as a 4xx
// matching the OpenAPI document's Error (and what it accepts must make a
// profile or record the domain takes or refuses naming a field); and
// through the real engine and handlers (apitest) over a store that cannot
// be reached, where a refusal must be the very answer the decoder's
// renders and what decoding lets through can only end at the store, a 503.

type fuzzAPI struct {
	*apitest.Server
	h *handlers
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	s := apitest.New(f, OpenAPI, func(bool) api.Dialect { return Dialect{} })
	return &fuzzAPI{Server: s, h: &handlers{d: s.Deps}}
}

// render is fail's answer to err.
func (a *fuzzAPI) render(err error) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodPost, "/dev/crm/leads", nil)
	a.h.fail(c, err)
	return w
}

// bodyLevel are the refusals of a whole body, which name no field.
var bodyLevel = map[string]bool{"invalid_json": true, "invalid_body": true, "body_too_large": true, "not_found": true}

// checkRefusal holds a refusal to the contract and renders it.
func (a *fuzzAPI) checkRefusal(t *testing.T, bad *api.BadInput) *httptest.ResponseRecorder {
	t.Helper()
	if bad.Status < 400 || bad.Status > 499 || bad.Code == "" {
		t.Fatalf("refusal %+v is not a 4xx with a code", bad)
	}
	if bad.Field == "" && !bodyLevel[bad.Code] {
		t.Fatalf("refusal %+v names no field", bad)
	}
	w := a.render(bad)
	if w.Code != bad.Status {
		t.Fatalf("refusal %+v rendered as %d", bad, w.Code)
	}
	a.CheckErrorSchema(t, w)
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	if e.Field != apitest.JSONText(bad.Field) || (bad.Field != "" && !strings.HasPrefix(e.Message, e.Field+": ")) {
		t.Fatalf("refusal %+v rendered as %s", bad, w.Body.Bytes())
	}
	return w
}

// checkDomain holds what the domain says of a decoded body: accepted, or
// refused naming a field, rendered as a 4xx in the Error schema.
func (a *fuzzAPI) checkDomain(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var v domain.ValidationError
	if !errors.As(err, &v) || v.Field == "" {
		t.Fatalf("the domain refused with %T %v, want a refusal naming a field", err, err)
	}
	w := a.render(err)
	if w.Code < 400 || w.Code > 499 {
		t.Fatalf("domain refusal %v rendered as %d", err, w.Code)
	}
	a.CheckErrorSchema(t, w)
}

// body decodes raw as a JSON object of fields with decode, as the route does.
func body[E any](raw []byte, fields []string, decode func(api.Object) (E, *api.BadInput)) (E, *api.BadInput) {
	o, bad := api.DecodeObject(apitest.Capped(raw, false, 0).Body, fields...)
	if bad != nil {
		var zero E
		return zero, bad
	}
	return decode(o)
}

var leadSeeds = []string{
	`{"name":"John Doe","email":"john@example.com","phone":"+14155552671","company":"Acme Corp","source":"website","status":"new","score":75,"notes":"Interested","campaign_id":"0190a5a0-0000-7000-8000-000000000001","assigned_to":"0190a5a0-0000-7000-8000-000000000002","last_contact":"2024-01-15","custom_fields":{"a":[1,{"b":null}]}}`,
	`{"name":"John Doe Updated","status":"qualified","score":85,"notes":"Updated notes"}`,
	`{"name":null}`, `{"email":""}`, `{"phone":"+1234567890"}`, `{"score":100.5}`, `{"score":1e400}`, `{"status":"negotiation"}`,
	`{"source":null,"custom_fields":null,"assigned_to":null}`, `{"custom_fields":[]}`, `{"last_contact":"2024-13-01"}`,
	`{"campaign_id":"uuid-here"}`, `{"x":1}`, `{"name":"\u0000"}`, `{}`, `[]`, ``, "\xff", `{"name":"a"} x`,
}

// FuzzLeadBody: the bodies of POST and PUT /dev/crm/leads.
func FuzzLeadBody(f *testing.F) {
	for _, s := range leadSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, raw []byte, create bool) {
		e, bad := body(raw, leadFields, func(o api.Object) (leadEdit, *api.BadInput) { return decodeLead(o, create, apitest.Region) })
		if bad != nil {
			a.checkRefusal(t, bad)
		} else {
			cur := domain.LeadProfile{Name: "Cur", Emails: []string{"cur@example.com"}}
			if create {
				cur = domain.LeadProfile{}
			}
			p, err := domain.NormalizeProfile(e.apply(cur), apitest.Region)
			if err == nil {
				err = p.Validate()
			}
			a.checkDomain(t, err)
			if k, name := statusOf(e.status); e.status != "" && k == "" && name == "" {
				t.Fatalf("status %q maps to nothing", e.status)
			}
		}
		if create {
			got := a.Serve(http.MethodPost, "/dev/crm/leads", "", raw, "", false)
			a.Decoded(t, "POST /dev/crm/leads", got, bad, a.checkRefusal)
			return
		}
		// The lead is looked up before its body is read: the store.
		a.ReachedStore(t, "PUT", a.Serve(http.MethodPut, "/dev/crm/leads/"+uuid.NewString(), "", raw, "", false))
	})
}

var customerSeeds = []string{
	`{"name":"Jane Smith","email":"jane@example.com","phone":"+14155552671","company":"Tech Corp","type":"business","status":"active","billing_address":"123 Main St","shipping_address":"x","payment_terms":"Net 30","credit_limit":10000.5,"tax_id":"T1","custom_fields":{},"assigned_to":"0190a5a0-0000-7000-8000-000000000002","lead_id":"0190a5a0-0000-7000-8000-000000000001","notes":"n"}`,
	`{"status":"active","credit_limit":10000.00,"notes":"Updated customer information"}`,
	`{"type":null}`, `{"status":"gone"}`, `{"credit_limit":-1}`, `{"credit_limit":"1"}`, `{"lead_id":"x"}`, `{"email":"A@B.co"}`,
	`{"phone":"12"}`, `{"x":1}`, `{}`, `[]`, ``, "\xff",
}

// FuzzCustomerBody: the bodies of POST and PUT /dev/crm/customers.
func FuzzCustomerBody(f *testing.F) {
	for _, s := range customerSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, raw []byte, create bool) {
		e, bad := body(raw, customerFields, func(o api.Object) (customerEdit, *api.BadInput) {
			return decodeCustomer(o, create, apitest.Region)
		})
		if bad != nil {
			a.checkRefusal(t, bad)
		} else {
			cur := domain.CustomerProfile{Name: "Cur", Emails: []string{"cur@example.com"}, Type: "individual", Status: "active"}
			if create {
				cur = domain.CustomerProfile{}
			}
			_, err := domain.CreateCustomer(uuid.New(), 1, e.leadID, e.apply(cur), "")
			a.checkDomain(t, err)
		}
		if create {
			got := a.Serve(http.MethodPost, "/dev/crm/customers", "", raw, "", false)
			if bad != nil {
				apitest.SameAnswer(t, "POST /dev/crm/customers", got, a.checkRefusal(t, bad))
				return
			}
			if got.Code != http.StatusBadRequest || e.leadID == uuid.Nil { // lead_id is looked up: the store
				a.ReachedStore(t, "POST /dev/crm/customers", got)
			}
			return
		}
		a.ReachedStore(t, "PUT", a.Serve(http.MethodPut, "/dev/crm/customers/"+uuid.NewString(), "", raw, "", false))
	})
}

var interactionSeeds = []string{
	`{"type":"call","notes":"Discussed pricing","next_action":"Send proposal","next_action_date":"2024-01-15T10:00:00Z"}`,
	`{"type":"call","subject":"Product Discussion","description":"d","date":"2024-01-15T10:00:00Z","outcome":"positive","next_action":"x","next_action_date":"2024-01-20"}`,
	`{"type":"support","subject":"s","date":"2024-01-15"}`, `{"type":null}`, `{"subject":""}`, `{"date":null}`,
	`{"next_action_date":"soon"}`, `{"type":"fax"}`, `{"notes":null}`, `{"x":1}`, `{}`, `[]`, ``, "\xff",
}

// FuzzInteractionBody: the bodies of POST and PUT of lead and customer
// interactions, and the record their edits leave.
func FuzzInteractionBody(f *testing.F) {
	for _, s := range interactionSeeds {
		for which := range 4 {
			f.Add([]byte(s), uint8(which))
		}
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, raw []byte, which uint8) {
		s, create := []side{leadSide, customerSide}[which%2], which&2 == 0
		e, bad := body(raw, s.fields, func(o api.Object) (interactionEdit, *api.BadInput) { return decodeInteraction(o, s, create) })
		if bad != nil {
			a.checkRefusal(t, bad)
		} else {
			cur := domain.Interaction{ID: uuid.New(), Number: 1, Kind: domain.KindNote, OccurredAt: time.Now()}
			rec := e.apply(cur)
			if !create || s.stream == domain.LeadStream {
				rec.Subject = cur.Subject
			}
			events, err := domain.CreateLead(uuid.New(), 1, domain.LeadProfile{Name: "L", Emails: []string{"l@example.com"}}, "")
			if err != nil {
				t.Fatal(err)
			}
			added, err := domain.AddRecord(domain.NewLeadFromHistory(events), rec)
			a.checkDomain(t, err)
			apitest.CheckStorable(t, added)
		}
		owner := "/dev/crm/leads/"
		if s.stream == domain.CustomerStream {
			owner = "/dev/crm/customers/"
		}
		// The owner (and the interaction) are looked up first: the store.
		method, path := http.MethodPost, owner+uuid.NewString()+"/interactions"
		if !create {
			method, path = http.MethodPut, path+"/"+uuid.NewString()
		}
		a.ReachedStore(t, method+" "+path, a.Serve(method, path, "", raw, "", false))
	})
}

var orderSeeds = []string{
	`{"customer_id":"0190a5a0-0000-7000-8000-000000000001","product_id":"0190a5a0-0000-7000-8000-000000000002","quantity":2,"status":"pending","order_date":"2024-01-15T10:00:00Z","shipping_address":"123 Main St","billing_address":"123 Main St","notes":"Rush delivery"}`,
	`{"status":"shipped","notes":"Order shipped via express"}`, `{"status":"cancelled"}`, `{"status":null}`, `{"status":"lost"}`,
	`{"quantity":0}`, `{"quantity":1.5}`, `{"quantity":1000001}`, `{"quantity":"2"}`, `{"quantity":null}`, `{"order_date":null}`,
	`{"order_date":"2024-13-01"}`, `{"customer_id":"uuid-here"}`, `{"product_id":null}`, `{"notes":"\u0000"}`, `{"x":1}`,
	`{}`, `[]`, ``, "\xff",
}

// orderCustomer is a live customer to place decoded orders with.
func orderCustomer(t *testing.T) *domain.Customer {
	events, err := domain.CreateCustomer(uuid.New(), 1, uuid.Nil,
		domain.CustomerProfile{Name: "C", Emails: []string{"c@example.com"}, Type: "individual", Status: "active"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return domain.NewCustomerFromHistory(events)
}

// FuzzOrderBody: the bodies of POST and PUT /dev/crm/orders, and the
// order their edits make (or the move they ask: a 409 naming status).
func FuzzOrderBody(f *testing.F) {
	for _, s := range orderSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, raw []byte, create bool) {
		e, bad := body(raw, orderFields, func(o api.Object) (orderEdit, *api.BadInput) { return decodeOrder(o, create) })
		if bad != nil {
			a.checkRefusal(t, bad)
		} else {
			cust, now := orderCustomer(t), time.Now()
			cur := domain.OrderDetails{OrderDate: now}
			if !create {
				cur = domain.OrderDetails{ProductID: uuid.New(), Quantity: 1, OrderDate: now}
			}
			placed, _, err := domain.PlaceOrder(uuid.New(), cust, e.apply(cur), e.status)
			if !create {
				var base []domain.Event
				if base, _, err = domain.PlaceOrder(uuid.New(), cust, cur, domain.OrderShipped); err != nil {
					t.Fatal(err)
				}
				placed, err = domain.NewOrderFromHistory(base).Update(e.apply(cur), e.status)
			}
			var move domain.OrderTransitionError
			if errors.As(err, &move) {
				if w := a.render(err); w.Code != http.StatusConflict || !strings.HasPrefix(w.Body.String(), `{"message":"status: `) {
					t.Fatalf("a refused move rendered as %d %s", w.Code, w.Body.Bytes())
				}
				err = nil
			}
			a.checkDomain(t, err)
			apitest.CheckStorable(t, placed)
		}
		method, path := http.MethodPost, "/dev/crm/orders"
		if !create { // the body is read before the order is looked up
			method, path = http.MethodPut, path+"/"+uuid.NewString()
		}
		a.Decoded(t, method+" "+path, a.Serve(method, path, "", raw, "", false), bad, a.checkRefusal)
	})
}

var answerSeeds = []string{
	`{"rating":5,"comment":"Great service!","category":"support"}`, `{"rating":1}`, `{"rating":6}`, `{"rating":0}`,
	`{"rating":4.5}`, `{"rating":"5"}`, `{"rating":null}`, `{"comment":"c"}`, `{"rating":3,"category":null,"comment":null}`,
	`{"rating":3,"category":" Billing "}`, `{"rating":2,"comment":"\u0000"}`, `{"x":1}`, `{}`, `[]`, ``, "\xff",
}

// FuzzFeedbackAnswer: the body of POST /dev/crm/feedback/{feedbackId},
// and the answer the domain makes of it.
func FuzzFeedbackAnswer(f *testing.F) {
	for _, s := range answerSeeds {
		f.Add([]byte(s))
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		answer, bad := body(raw, feedbackFields, decodeAnswer)
		if bad != nil {
			a.checkRefusal(t, bad)
		} else {
			_, requested, err := domain.RequestFeedback(uuid.New(), orderCustomer(t))
			if err != nil {
				t.Fatal(err)
			}
			received, err := domain.NewFeedbackFromHistory(requested).Receive(answer)
			a.checkDomain(t, err)
			apitest.CheckStorable(t, received)
		}
		path := "/dev/crm/feedback/" + uuid.NewString() // the body is read before the request is looked up
		a.Decoded(t, "POST "+path, a.Serve(http.MethodPost, path, "", raw, "", false), bad, a.checkRefusal)
	})
}

// FuzzQuery: the lists' query parameters and the path ids.
func FuzzQuery(f *testing.F) {
	for _, s := range []struct{ query, id string }{
		{"", "0190a5a0-0000-7000-8000-000000000001"},
		{"limit=10&offset=20&status=negotiation&source=website&search=acme&assigned_to=0190a5a0-0000-7000-8000-000000000002", "x"},
		{"status=active&type=business&search=x", "0190a5a0000070008000000000000001"},
		{"limit=0", ""}, {"limit=501", " "}, {"offset=-1", ".."}, {"offset=100001", "%"}, {"limit=1e3", "ünï"},
		{"status=hot", "{0190a5a0-0000-7000-8000-000000000001}"}, {"type=corp", "a"}, {"assigned_to=bob", "b"},
		{"assigned_to=Ann%20%3Cann@x.com%3E", "c"}, {"search=" + strings.Repeat("x", 201), "d"},
		{"q=%00", "e"}, {"q=%ff", "f"}, {"=%ff", "g"}, {"%ff=1", "h"}, {"a=1&a=%00", "i"},
		{"customer_id=0190a5a0-0000-7000-8000-000000000001&status=shipped", "j"}, {"customer_id=bob&status=lost", "k"},
	} {
		f.Add(s.query, s.id)
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, rawQuery, id string) {
		sent := apitest.SentParams(rawQuery)
		for _, route := range []string{"/dev/crm/leads", "/dev/crm/customers", "/dev/crm/orders"} {
			w := a.QueryRefusal(t, route, rawQuery)
			if w == nil {
				continue
			}
			a.CheckErrorSchema(t, w)
			var e errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			if e.Field == "" || !sent[e.Field] {
				t.Fatalf("GET %s?%s: refusal %s names no parameter sent", route, rawQuery, w.Body.Bytes())
			}
		}
		if id == "" || strings.ContainsAny(id, "/?#") || id == "segments" {
			return // not one path segment naming an id: no route of the API, or GET /customers/segments
		}
		_, ok := parseUUID(id)
		for _, path := range []string{"/dev/crm/leads/" + id, "/dev/crm/customers/" + id, "/dev/crm/leads/" + id + "/interactions",
			"/dev/crm/orders/" + id} {
			w := a.Serve(http.MethodGet, path, "", nil, "", false)
			if ok {
				a.ReachedStore(t, "GET "+path, w)
				continue
			}
			if w.Code != http.StatusNotFound {
				t.Fatalf("GET %s: %d %s, want 404", path, w.Code, w.Body.Bytes())
			}
			a.CheckErrorSchema(t, w)
		}
	})
}
