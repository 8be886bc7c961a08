// Package leadsapi serves the Leads API at /leads.
package leadsapi

import (
	_ "embed"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
)

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// Dialect mounts the Leads API.
type Dialect struct {
	// PhotoDir is the folder uploaded lead photos are stored in.
	PhotoDir string
	// MaxPhotoBytes caps an uploaded photo (default 5 MB).
	MaxPhotoBytes int64
}

// Mount implements api.Dialect.
func (Dialect) Mount(r *gin.Engine, d *api.Deps) {}
