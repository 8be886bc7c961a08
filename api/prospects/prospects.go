// Package prospects serves the prospects & clients API at /prospects and
// /clients: a prospect is the core lead (its id the per-tenant lead number,
// as the Leads API shows it), a client the core customer (its id the
// per-tenant customer number). Every route needs a bearer JWT with the
// permission the API document names; errors are hapi's Boom shape. Choices
// where the document is vague are written down in openapi.json, served at
// /openapi/prospects.json.
package prospects

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/jwtauth"
	"github.com/crmcore/crm/projections/customers"
	"github.com/crmcore/crm/projections/leads"
	"github.com/crmcore/crm/projections/records"
)

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// Name identifies the dialect in the audit trail.
const Name = "prospects"

// The permissions the API document names per route; jwtauth.AnyToken is
// its token_admin (any valid token).
const (
	permProspects = "319"
	permMenu      = "crm-menu"
	permPartners  = "crm-partners"
)

// readModels are the projections a write answers after: this API reads
// prospects from leads, clients from customers, and their notes, contacts
// and locations from records, so a write is visible in all of them (a
// location just added shows in the detail read next).
var readModels = []string{leads.Projection{}.Name(), customers.Projection{}.Name(), records.Projection{}.Name()}

// Dialect mounts the prospects & clients API.
type Dialect struct{}

// Mount implements api.Dialect.
func (Dialect) Mount(r *gin.Engine, d *api.Deps) {
	r.GET("/openapi/prospects.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", OpenAPI) })
	h := &handlers{d: d}
	// Authentication first (the rate limit is keyed by the token's
	// subject), then the limit, the query check and the Idempotency-Key.
	limit, params, keyed := d.RateLimit(h.fail), api.CheckParams(h.fail), d.Idempotent(h.fail)
	route := func(method, path, permission string, handle gin.HandlerFunc) {
		r.Handle(method, path, d.RequireToken(permission, h.fail), limit, params, keyed, handle)
	}
	route(http.MethodGet, "/prospects/grouped", permProspects, h.grouped)
	route(http.MethodGet, "/prospects/list", permProspects, h.list)
	route(http.MethodGet, "/prospects/activities", permProspects, h.activities)
	route(http.MethodGet, "/prospects/kpis", permProspects, h.kpis)
	route(http.MethodGet, "/prospects/:id", permProspects, h.detail)
	route(http.MethodGet, "/clients/:id", permProspects, h.client)
	route(http.MethodGet, "/clients/:id/onboarding", permProspects, h.onboarding)
	route(http.MethodPost, "/prospects/process", jwtauth.AnyToken, h.process)
	route(http.MethodPost, "/prospects", jwtauth.AnyToken, h.createProspects)
	route(http.MethodPatch, "/prospects/:id", jwtauth.AnyToken, h.updateProspect)
	route(http.MethodPatch, "/prospects/:id/data", permProspects, h.updateData)
	route(http.MethodPatch, "/prospects/:id/partner-data", permPartners, h.updatePartnerData)
	route(http.MethodPost, "/prospects/:id/contacts", permProspects, h.addContact(prospectOwner))
	route(http.MethodPut, "/prospects/:id/contacts", permProspects, h.changeContact)
	route(http.MethodDelete, "/prospects/:id/contacts", permProspects, h.removeContact)
	route(http.MethodPost, "/prospects/:id/notes", permProspects, h.addNote(prospectOwner))
	route(http.MethodPatch, "/prospects/:id/notes/:noteId", permProspects, h.rescheduleNote)
	route(http.MethodPost, "/prospects/:id/locations", permMenu, h.addLocation(prospectOwner))
	route(http.MethodPut, "/prospects/locations/:id", permMenu, h.changeLocation(prospectOwner))
	route(http.MethodDelete, "/prospects/locations/:id", permMenu, h.removeLocation(prospectOwner))
	route(http.MethodPost, "/clients/:id/contacts", permProspects, h.addContact(clientOwner))
	route(http.MethodPost, "/clients/:id/notes", permProspects, h.addNote(clientOwner))
	route(http.MethodPatch, "/clients/:id/data", permProspects, h.updateClientData)
	route(http.MethodPost, "/clients/:id/locations", permMenu, h.addLocation(clientOwner))
	route(http.MethodPut, "/clients/locations/:id", permMenu, h.changeLocation(clientOwner))
	route(http.MethodDelete, "/clients/locations/:id", permMenu, h.removeLocation(clientOwner))
}

type handlers struct {
	d *api.Deps
}
