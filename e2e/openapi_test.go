package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/crmcore/crm/api/cratio"
	"github.com/crmcore/crm/api/devcrm"
	"github.com/crmcore/crm/api/leadsapi"
	"github.com/crmcore/crm/api/overplane"
	"github.com/crmcore/crm/api/prospects"
)

// openAPIChecker validates every response a test receives against the
// OpenAPI document of the API that served it: status, headers and body.
type openAPIChecker struct {
	apis []documentedAPI
}

type documentedAPI struct {
	prefix string
	router routers.Router
}

func newOpenAPIChecker(t testing.TB) *openAPIChecker {
	t.Helper()
	c := &openAPIChecker{}
	for _, d := range []struct {
		prefix string
		doc    []byte
	}{{"/api/v1/", cratio.OpenAPI}, {"/api/crm/lead", overplane.OpenAPI}, {"/leads", leadsapi.OpenAPI},
		{"/prospects", prospects.OpenAPI}, {"/clients", prospects.OpenAPI}, {"/dev/crm/", devcrm.OpenAPI}} {
		router, err := loadOpenAPI(d.doc)
		if err != nil {
			t.Fatalf("OpenAPI document for %s: %v", d.prefix, err)
		}
		c.apis = append(c.apis, documentedAPI{prefix: d.prefix, router: router})
	}
	return c
}

// loadOpenAPI loads and validates an API's document for the checker. A
// missing, empty or pathless document is an error: a checker with nothing
// to check against would pass every response.
func loadOpenAPI(raw []byte) (routers.Router, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, errors.New("the document is missing or empty")
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("invalid: %w", err)
	}
	if doc.Paths.Len() == 0 {
		return nil, errors.New("the document has no paths")
	}
	doc.Servers = openapi3.Servers{{URL: "/"}}
	return gorillamux.NewRouter(doc)
}

// TestOpenAPICheckerRefusesEmptyDocuments: the checker fails rather than
// check nothing when a document is missing, empty or describes no path.
func TestOpenAPICheckerRefusesEmptyDocuments(t *testing.T) {
	for _, doc := range []string{"", " \n", "{}", "{}\n", "null",
		`{"openapi": "3.0.3", "info": {"title": "x", "version": "1"}, "paths": {}}`} {
		if _, err := loadOpenAPI([]byte(doc)); err == nil {
			t.Errorf("loadOpenAPI(%q) = nil error, want a refusal", doc)
		}
	}
	for name, doc := range map[string][]byte{"cratio": cratio.OpenAPI, "leadsapi": leadsapi.OpenAPI, "overplane": overplane.OpenAPI, "prospects": prospects.OpenAPI, "devcrm": devcrm.OpenAPI} {
		if _, err := loadOpenAPI(doc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func (c *openAPIChecker) check(t testing.TB, req *http.Request, res response) {
	t.Helper()
	for _, api := range c.apis {
		if !strings.HasPrefix(req.URL.Path, api.prefix) {
			continue
		}
		r := req.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(nil))
		route, params, err := api.router.FindRoute(r)
		if err != nil {
			t.Errorf("%s %s is not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
			return
		}
		err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
			Status:                 res.Status,
			Header:                 res.Header,
			Body:                   io.NopCloser(bytes.NewReader(res.Body)),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true},
		})
		if err != nil {
			t.Errorf("%s %s answered %d %s, which does not match the OpenAPI document: %v",
				req.Method, req.URL.RequestURI(), res.Status, res.Body, err)
		}
		return
	}
}
