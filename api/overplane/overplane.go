// Package overplane serves the Overplane Lead API at /api/crm/lead.
package overplane

import (
	_ "embed"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
)

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// Dialect mounts the Overplane Lead API.
type Dialect struct{}

// Mount implements api.Dialect.
func (Dialect) Mount(r *gin.Engine, d *api.Deps) {}
