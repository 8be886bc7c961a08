// Package leadsapi serves the Leads API at /leads: leads with integer ids,
// pipeline statuses, comments, photos, bulk archive/restore/delete,
// dashboards and the audit log. Choices where the API document is vague are
// written down in openapi.json, served at /openapi/leads.json.
package leadsapi

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/projections/leads"
	"github.com/crmcore/crm/projections/pipelines"
	"github.com/crmcore/crm/projections/volume"
)

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// Name identifies the dialect in the audit trail.
const Name = "leads"

// defaultMaxPhotoBytes caps an uploaded photo when Dialect.MaxPhotoBytes is unset.
const defaultMaxPhotoBytes = 5_000_000

// readModels are the projections this API reads: a write answers once they
// show it, so lists, statuses and dashboards all read it back.
var readModels = []string{leads.Projection{}.Name(), pipelines.Projection{}.Name(), volume.Projection{}.Name()}

// Dialect mounts the Leads API.
type Dialect struct {
	// PhotoDir is the folder uploaded lead photos are stored in.
	PhotoDir string
	// MaxPhotoBytes caps an uploaded photo (default 5 MB).
	MaxPhotoBytes int64
}

// Mount implements api.Dialect.
func (dl Dialect) Mount(r *gin.Engine, d *api.Deps) {
	r.GET("/openapi/leads.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", OpenAPI) })
	maxPhoto := dl.MaxPhotoBytes
	if maxPhoto <= 0 {
		maxPhoto = defaultMaxPhotoBytes
	}
	h := &handlers{d: d, photos: DirPhotoStore{Dir: dl.PhotoDir}, maxPhotoBytes: maxPhoto}
	limit := d.RateLimit(h.fail)
	g := r.Group("/leads", d.RequireKey(h.fail), limit, api.CheckParams(h.fail),
		d.Idempotent(h.fail))

	g.GET("", h.listLeads)
	g.POST("", h.createLead)
	g.DELETE("", h.deleteLeads)
	g.GET("/search", h.searchLeads)
	g.GET("/recent-leads", h.recentLeads)
	g.GET("/:id", h.getLead)
	g.PUT("/:id", h.updateLead)

	g.PUT("/change-status", h.changeStatuses)
	g.PATCH("/archive", h.archiveLeads)
	g.PATCH("/restore", h.restoreLeads)

	g.GET("/statuses", h.listStatuses)
	g.POST("/status", h.createStatus)
	g.PUT("/status/:id", h.changeStatus)
	g.DELETE("/status/:id", h.deleteStatus)
	g.PUT("/statuses/order", h.reorderStatuses)

	g.POST("/comments/:id", h.addComment)
	g.PUT("/comments/:id", h.editComment)

	// A base64 photo is 4/3 of its bytes, plus the rest of the form or JSON:
	// the upload's own body limit comes before anything reads the body.
	r.POST("/leads/upload-photo", api.BodyLimit(maxPhoto*4/3+64<<10), d.RequireKey(h.fail), limit,
		api.CheckParams(h.fail), d.Idempotent(h.fail), h.uploadPhoto)
	// A catch-all, so a name holding slashes reaches the handler and is
	// refused there with 400 rather than missing the route.
	g.DELETE("/delete-photo/*fileName", h.deletePhoto)

	g.GET("/leads-volume", h.leadsVolume)
	g.GET("/total-leads", h.totalLeads)

	g.GET("/logs/:id", h.logs)
	g.GET("/logs-and-comments/:id", h.logsAndComments)
}

type handlers struct {
	d             *api.Deps
	photos        PhotoStore
	maxPhotoBytes int64
}
