// Package devcrm serves the /dev/crm API's leads, lead interactions,
// customers, customer interactions, orders and feedback at /dev/crm: a lead is the core lead
// (its id the lead's UUID, as Cratio shows it), a customer the core
// customer (its id the customer's UUID), an interaction a record of the
// owner's stream (its id the interaction's UUID). Every route takes a
// bearer API key, the keys of the other key-based APIs; errors are
// {"message"} with the field named. Choices where the API document is
// silent are written down in openapi.json, served at /openapi/devcrm.json.
package devcrm

import (
	_ "embed"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/projections/customers"
	"github.com/crmcore/crm/projections/leads"
	"github.com/crmcore/crm/projections/pipelines"
	"github.com/crmcore/crm/projections/records"
)

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// Name identifies the dialect in the audit trail.
const Name = "devcrm"

// readModels are the projections this API reads: a write answers once they
// show it. The pipeline's is among them: a write may create the tenant's
// Negotiation or Converted status, which the answer names.
var readModels = []string{leads.Projection{}.Name(), customers.Projection{}.Name(), records.Projection{}.Name(),
	pipelines.Projection{}.Name()}

// Dialect mounts the /dev/crm API.
type Dialect struct{}

// Mount implements api.Dialect.
func (Dialect) Mount(r *gin.Engine, d *api.Deps) {
	r.GET("/openapi/devcrm.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", OpenAPI) })
	h := &handlers{d: d}
	g := r.Group("/dev/crm", d.RequireKey(h.fail), d.RateLimit(h.fail), api.CheckParams(h.fail), d.Idempotent(h.fail))
	g.GET("/leads", h.listLeads)
	g.POST("/leads", h.createLead)
	g.GET("/leads/:leadId", h.getLead)
	g.PUT("/leads/:leadId", h.updateLead)
	g.DELETE("/leads/:leadId", h.deleteBy("leadId", "lead", (*commands.Handler).DeleteLead))
	g.POST("/leads/:leadId/convert", h.convertLead)
	g.GET("/leads/:leadId/interactions", h.listInteractions(leadSide))
	g.POST("/leads/:leadId/interactions", h.addInteraction(leadSide))
	g.PUT("/leads/:leadId/interactions/:interactionId", h.changeInteraction(leadSide))
	g.DELETE("/leads/:leadId/interactions/:interactionId", h.removeInteraction(leadSide))
	g.GET("/customers", h.listCustomers)
	g.POST("/customers", h.createCustomer)
	g.GET("/customers/segments", h.customerSegments)
	g.GET("/customers/:customerId", h.getCustomer)
	g.GET("/customers/:customerId/health", h.customerHealth)
	g.PUT("/customers/:customerId", h.updateCustomer)
	// A customer's delete takes its feedback along: the figures show it gone.
	g.DELETE("/customers/:customerId", h.deleteBy("customerId", "customer", (*commands.Handler).DeleteCustomer,
		append(slices.Clone(readModels), feedbackModels...)...))
	g.GET("/customers/:customerId/interactions", h.listInteractions(customerSide))
	g.POST("/customers/:customerId/interactions", h.addInteraction(customerSide))
	g.PUT("/customers/:customerId/interactions/:interactionId", h.changeInteraction(customerSide))
	g.DELETE("/customers/:customerId/interactions/:interactionId", h.removeInteraction(customerSide))
	g.GET("/orders", h.listOrders)
	g.POST("/orders", h.createOrder)
	g.GET("/orders/:orderId", h.getOrder)
	g.PUT("/orders/:orderId", h.updateOrder)
	g.DELETE("/orders/:orderId", h.deleteBy("orderId", "order", (*commands.Handler).DeleteOrder, orderModels...))
	g.POST("/customers/:customerId/feedback/request", h.requestFeedback)
	g.POST("/feedback/:feedbackId", h.receiveFeedback)
	g.GET("/feedback/analytics", h.feedbackAnalytics)
	g.GET("/feedback/themes", h.feedbackThemes)
	g.GET("/feedback/dashboard", h.feedbackDashboard)
	g.POST("/feedback/process-reminders", h.processReminders)
	g.GET("/reports/leads", h.reportLeads)
	g.GET("/reports/customers", h.reportCustomers)
	g.GET("/analytics/dashboard", h.analyticsDashboard)
	h.mountImports(r, g)
}

type handlers struct {
	d *api.Deps
}
