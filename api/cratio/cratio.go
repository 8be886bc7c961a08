// Package cratio serves the Cratio API v1 (leads and call logs) at /api/v1.
// Choices where the Postman collection is silent are written down in
// openapi.json, served at /openapi/cratio.json.
package cratio

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/projections/calllogs"
	"github.com/crmcore/crm/projections/leads"
)

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// Name identifies the dialect in the audit trail.
const Name = "cratio"

// readModels are the projections this API reads: a write answers once they
// show it.
var readModels = []string{leads.Projection{}.Name(), calllogs.Projection{}.Name()}

// Dialect mounts the Cratio API.
type Dialect struct{}

// Mount implements api.Dialect.
func (Dialect) Mount(r *gin.Engine, d *api.Deps) {
	r.GET("/openapi/cratio.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", OpenAPI) })
	h := &handlers{d: d}
	limit := d.RateLimit(h.fail)
	g := r.Group("/api/v1", d.RequireKey(h.fail), limit, api.CheckParams(h.fail),
		d.Idempotent(h.fail))
	g.GET("/leads", h.listLeads)
	g.POST("/leads", h.createLead)
	g.DELETE("/leads/:id", h.deleteLead)
	g.GET("/call-logs", h.listCallLogs)
	g.POST("/call-logs", h.createCallLog)
	g.DELETE("/call-logs/:id", h.deleteCallLog)
}

type handlers struct {
	d *api.Deps
}
