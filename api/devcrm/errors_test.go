package devcrm

import (
	"testing"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/api/apitest"
)

// TestErrorShapeAnswersEveryCode: the dialect's table has a row for every
// error code, each answering in its documented Error schema.
func TestErrorShapeAnswersEveryCode(t *testing.T) {
	apitest.New(t, OpenAPI, func(bool) api.Dialect { return Dialect{} }).CheckErrorShape(t, shape)
}
