// Package overplane serves the Overplane Lead API at /api/crm/lead: the
// ERPNext-style Lead object with Stripe-style ids, lists and errors. Choices
// where the API document is vague are written down in openapi.json, served
// at /openapi/overplane.json.
package overplane

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/projections/leads"
)

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// Name identifies the dialect in the audit trail.
const Name = "overplane"

// readModel is the projection this API reads: a write answers once it shows it.
var readModel = leads.Projection{}.Name()

// Dialect mounts the Overplane Lead API.
type Dialect struct{}

// Mount implements api.Dialect.
func (Dialect) Mount(r *gin.Engine, d *api.Deps) {
	r.GET("/openapi/overplane.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", OpenAPI) })
	h := &handlers{d: d}
	limit := d.RateLimit(h.fail)
	g := r.Group("/api/crm/lead", d.RequireKey(h.fail), limit, api.CheckParams(h.fail),
		d.Idempotent(h.fail))
	g.GET("", h.listLeads)
	g.POST("", h.createLead)
	g.GET("/:id", h.getLead)
	g.PATCH("/:id", h.updateLead)
	g.DELETE("/:id", h.deleteLead)
}

type handlers struct {
	d *api.Deps
}
