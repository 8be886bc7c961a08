package eventstore_test

import (
	"strings"
	"testing"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
)

// TestPoolTurnsJITOff: crm's connections run without JIT compilation
// (ConfigurePool says why), unless the database URL asks for it.
func TestPoolTurnsJITOff(t *testing.T) {
	url := storetest.Postgres(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	for want, u := range map[string]string{"off": url, "on": url + sep + "jit=on"} {
		pool, err := eventstore.OpenPool(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		var jit string
		err = pool.QueryRow(t.Context(), "show jit").Scan(&jit)
		pool.Close()
		if err != nil || jit != want {
			t.Errorf("%s: jit %q (%v), want %q", u, jit, err, want)
		}
	}
}
