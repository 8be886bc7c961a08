package leadsapi

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

// The fuzz targets here hold the Leads API's request decoding to the
// issue's rule: whatever the bytes, never a panic, never a 5xx, always an
// error in the API's shape naming the field. Each input goes two ways:
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

// fuzzAPI is the Leads API for the fuzz targets, with photos in a folder of
// the target's own; Small also caps photos at apitest.SmallBody.
type fuzzAPI struct {
	*apitest.Server
	h, hSmall *handlers // for rendering refusals and the decoders that are methods
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	dir := f.TempDir()
	s := apitest.New(f, OpenAPI, func(small bool) api.Dialect {
		if small {
			return Dialect{PhotoDir: dir, MaxPhotoBytes: apitest.SmallBody}
		}
		return Dialect{PhotoDir: dir}
	})
	return &fuzzAPI{Server: s,
		h:      &handlers{d: s.Deps, photos: DirPhotoStore{Dir: dir}, maxPhotoBytes: defaultMaxPhotoBytes},
		hSmall: &handlers{d: s.SmallDeps, photos: DirPhotoStore{Dir: dir}, maxPhotoBytes: apitest.SmallBody}}
}

// bodyContext is a gin context whose request carries body, capped as the
// server caps it.
func bodyContext(body []byte, small bool) *gin.Context {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = apitest.Capped(body, small, 0)
	return c
}

// render is fail's (or failStatus's) answer to err.
func (a *fuzzAPI) render(err error, status bool) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodPost, "/leads", nil)
	if status {
		a.h.failStatus(c, err)
	} else {
		a.h.fail(c, err)
	}
	return w
}

var bodyLevelCodes = map[string]bool{"invalid_json": true, "invalid_body": true, "body_too_large": true}

// bodyLevel reports whether a refusal is about the whole body (or its
// Content-Type), so names no field.
func bodyLevel(bad *api.BadInput) bool {
	if bad.Field != "" {
		return false
	}
	if bodyLevelCodes[bad.Code] {
		return true
	}
	r := strings.ToLower(bad.Reason)
	return bad.Code == ownMessage && (strings.Contains(r, "body") || strings.Contains(r, "content-type") || strings.Contains(r, "multipart"))
}

// checkError holds an error answer to the Leads API's shape: the document's
// Error schema, statusCode and error repeating the status, and a field
// unless nameless says none is to blame.
func (a *fuzzAPI) checkError(t *testing.T, w *httptest.ResponseRecorder, nameless bool) errorBody {
	t.Helper()
	a.CheckErrorSchema(t, w)
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	if e.StatusCode != w.Code || e.Error != http.StatusText(w.Code) || e.Message == "" {
		t.Fatalf("%d answer %s does not repeat its status", w.Code, w.Body.Bytes())
	}
	if w.Code < 500 && e.Field == "" && !nameless {
		t.Fatalf("%d answer %s names no field", w.Code, w.Body.Bytes())
	}
	return e
}

// checkRefusal holds a decoder's refusal to the contract and renders it: a
// field called "" is named `""`, like any other field.
func (a *fuzzAPI) checkRefusal(t *testing.T, bad *api.BadInput) *httptest.ResponseRecorder {
	t.Helper()
	if bad.Status < 400 || bad.Status > 499 || bad.Code == "" || bad.Reason == "" {
		t.Fatalf("refusal %+v is not a 4xx with a code and a reason", bad)
	}
	nameless := bodyLevel(bad)
	if bad.Field == "" && !nameless {
		t.Fatalf("refusal %+v names no field and is not about the whole body", bad)
	}
	w := a.render(bad, false)
	if w.Code != bad.Status {
		t.Fatalf("refusal %+v rendered as %d", bad, w.Code)
	}
	if got := a.checkError(t, w, nameless); got.Field != apitest.JSONText(bad.Field) {
		t.Fatalf("refusal %+v rendered naming %q", bad, got.Field)
	}
	return w
}

// pipelineErrors are the refusals of pipeline decisions besides validation.
var pipelineErrors = []error{domain.ErrStatusExists, domain.ErrStatusNotFound, domain.ErrStatusInUse}

// checkDomainRefusal holds a domain refusal to the contract and renders it
// (with failStatus for the pipeline's).
func (a *fuzzAPI) checkDomainRefusal(t *testing.T, err error, pipeline bool) *httptest.ResponseRecorder {
	t.Helper()
	var invalid domain.ValidationError
	known := errors.As(err, &invalid) && invalid.Field != ""
	for _, e := range pipelineErrors {
		known = known || pipeline && errors.Is(err, e)
	}
	if !known {
		t.Fatalf("domain refused with %T %v, want a ValidationError naming a field", err, err)
	}
	w := a.render(err, pipeline)
	if w.Code < 400 || w.Code > 499 {
		t.Fatalf("domain refusal %v rendered as %d", err, w.Code)
	}
	a.checkError(t, w, false)
	return w
}

// existingLead is lead 1, with comment 1, as other APIs may have left it.
func existingLead(t *testing.T) *domain.Lead {
	t.Helper()
	events, err := domain.CreateLead(uuid.New(), 1, domain.LeadProfile{Name: "John Doe", FirstName: "John", LastName: "Doe",
		Emails: []string{"john.doe@example.com", "jd@example.com"}, Phones: []string{"+919876543210"}, Tags: []string{"vip"},
		Social: map[string]string{"linkedin": "in/jd", "twitter": "@jd"}}, "New")
	if err != nil {
		t.Fatal(err)
	}
	lead := domain.NewLeadFromHistory(events)
	comment, err := lead.AddComment(1, "first call went well", "api_key:x")
	if err != nil {
		t.Fatal(err)
	}
	lead.Apply(comment[0])
	return lead
}

var leadSeeds = []string{
	`{"firstName":"John","lastName":"Doe","business":[1,2,3],"state":"Active","statusId":1,"source":"Referral","phoneNumber":["+91 98765 43210"],"email":"John.Doe@Example.com","description":"Lead description","location":"New York","position":"Manager","company":"Company Name","socialMedia":{"youtube":"youtube.com/lead","facebook":"facebook.com/lead","instagram":"instagram.com/lead","twitter":"twitter.com/lead"}}`,
	`{"firstName":"Ann","phoneNumber":["09812345678"],"statusId":5,"company":"Globex"}`,
	`{"firstName":"Ann","email":"ann@example.com","state":"Archived","photo":"0190a5a0-0000-7000-8000-000000000001.png"}`,
	`{"firstName":"","email":"a@b.co"}`, `{"lastName":"Only","email":"a@b.co"}`, `{"firstName":"x"}`,
	`{"firstName":"x","email":null,"phoneNumber":null}`, `{"firstName":"x","phoneNumber":[]}`, `{"firstName":"x","phoneNumber":[""," "]}`,
	`{"firstName":"x","phoneNumber":["+91 98765 43210","09876543210"]}`, `{"firstName":"x","phoneNumber":"+919876543210"}`,
	`{"firstName":"x","phoneNumber":["12"]}`, `{"firstName":"x","phoneNumber":[1]}`, `{"firstName":"x","email":"not an email"}`,
	`{"firstName":"x","email":"a@b.co","state":"Deleted"}`, `{"firstName":"x","email":"a@b.co","state":"active"}`,
	`{"firstName":"x","email":"a@b.co","statusId":0}`, `{"firstName":"x","email":"a@b.co","statusId":-1}`,
	`{"firstName":"x","email":"a@b.co","statusId":1.5}`, `{"firstName":"x","email":"a@b.co","statusId":9223372036854775808}`,
	`{"firstName":"x","email":"a@b.co","statusId":"1"}`, `{"firstName":"x","email":"a@b.co","business":[0]}`,
	`{"firstName":"x","email":"a@b.co","business":[1,1,2]}`, `{"firstName":"x","email":"a@b.co","business":{}}`,
	`{"firstName":"x","email":"a@b.co","photo":"../../etc/passwd"}`, `{"firstName":"x","email":"a@b.co","photo":".hidden"}`,
	`{"firstName":"x","email":"a@b.co","photo":"a/b.png"}`, `{"firstName":"x","email":"a@b.co","socialMedia":{"linkedin":"x"}}`,
	`{"firstName":"x","email":"a@b.co","socialMedia":{"twitter":1}}`, `{"firstName":"x","email":"a@b.co","socialMedia":[]}`,
	`{"firstName":"x","email":"a@b.co","socialMedia":null}`, `{"firstName":"x","email":"a@b.co","socialMedia":{"twitter":"\u0000"}}`,
	`{"firstName":"` + strings.Repeat("f", 1001) + `","email":"a@b.co"}`,
	`{"firstName":"x","email":"a@b.co","description":"` + strings.Repeat("d", 10001) + `"}`,
	`{"firstName":"x","email":"a@b.co","name":"y"}`, `{"":1}`, `[]`, `null`, ``, `{`, "\xff", `{"firstName":"x","email":"a@b.co"}}`,
}

// FuzzLeadBody: POST /leads (and the same decoder's PUT /leads/{id}).
func FuzzLeadBody(f *testing.F) {
	for _, s := range leadSeeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(leadSeeds[0]), true)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, small bool) {
		in, bad := decodeLead(apitest.Capped(body, small, 0).Body, apitest.Region)
		engine := a.Serve(http.MethodPost, "/leads", "", body, "", small)
		if bad == nil && in.first == "" {
			bad = badRequest("firstName", "firstName must not be empty") // createLead's own rule
		}
		if bad != nil {
			apitest.SameAnswer(t, "POST /leads", engine, a.checkRefusal(t, bad))
			return
		}
		if in.photo != "" && !validPhotoName(in.photo) {
			t.Fatalf("decoded photo name %q", in.photo)
		}
		a.ReachedStore(t, "POST /leads", engine)
		// Past the store (status found, photo checked): what
		// commands.CreateLead and UpdateLead decide.
		status := domain.Status("New")
		if in.statusID == 7 {
			status = "status:7"
		}
		if p, err := apitest.Normalized(t, in.apply(domain.LeadProfile{})); err != nil {
			a.checkDomainRefusal(t, err, false)
		} else if events, err := domain.CreateLead(uuid.New(), 1, p, status); err != nil {
			a.checkDomainRefusal(t, err, false)
		} else {
			apitest.CheckStorable(t, events)
		}
		lead := existingLead(t)
		p, err := apitest.Normalized(t, in.apply(lead.Profile()))
		if err != nil {
			a.checkDomainRefusal(t, err, false)
			return
		}
		events, err := lead.Update(p)
		if err == nil {
			var moved []domain.Event
			moved, err = lead.ChangeStatus(status)
			events = append(events, moved...)
		}
		if err != nil {
			a.checkDomainRefusal(t, err, false)
			return
		}
		apitest.CheckStorable(t, events)
	})
}

// FuzzCommentBody: PUT /leads/comments/{id} (and POST, the same decoder).
func FuzzCommentBody(f *testing.F) {
	for _, s := range []string{`{"content":"Called, wants a demo"}`, `{"content":""}`, `{"content":"  "}`, `{"content":null}`,
		`{}`, `{"content":1}`, `{"content":["a"]}`, `{"content":"\u0000"}`, `{"content":"a","extra":1}`, `{"":""}`,
		`{"content":"` + strings.Repeat("c", 10001) + `"}`, `{"content":"ünï ✓ \ud83d\ude00"}`, `[]`, ``, "\xff{}"} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`{"content":"`+strings.Repeat("c", 100)+`"}`), true)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, small bool) {
		content, bad := decodeContent(bodyContext(body, small))
		engine := a.Serve(http.MethodPut, "/leads/comments/1", "", body, "", small)
		if !a.Decoded(t, "PUT /leads/comments/{id}", engine, bad, a.checkRefusal) {
			return
		}
		lead := existingLead(t)
		for _, decide := range []func() ([]domain.Event, error){
			func() ([]domain.Event, error) { return lead.AddComment(2, content, "api_key:x") },
			func() ([]domain.Event, error) { return lead.EditComment(1, content, "first call went well") },
		} {
			events, err := decide()
			if err != nil {
				a.checkDomainRefusal(t, err, false)
				continue
			}
			apitest.CheckStorable(t, events)
		}
	})
}
