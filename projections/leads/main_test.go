package leads

import (
	"testing"

	"github.com/crmcore/crm/devenv/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }
