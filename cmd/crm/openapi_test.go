package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/crmcore/crm/api/cratio"
	"github.com/crmcore/crm/api/leadsapi"
	"github.com/crmcore/crm/api/overplane"
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
	}{{"/api/v1/", cratio.OpenAPI}, {"/api/crm/lead", overplane.OpenAPI}, {"/leads", leadsapi.OpenAPI}} {
		if string(d.doc) == "{}\n" {
			continue // not written yet
		}
		doc, err := openapi3.NewLoader().LoadFromData(d.doc)
		if err != nil {
			t.Fatalf("load OpenAPI document for %s: %v", d.prefix, err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			t.Fatalf("OpenAPI document for %s is invalid: %v", d.prefix, err)
		}
		doc.Servers = openapi3.Servers{{URL: "/"}}
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			t.Fatal(err)
		}
		c.apis = append(c.apis, documentedAPI{prefix: d.prefix, router: router})
	}
	return c
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
