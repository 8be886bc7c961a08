package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/stack"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestBenchRunsEveryWorkload runs `crm bench` at a tiny scale on the test
// environment and checks that it completes and reports every workload. It
// never looks at a figure: a timing asserted in a test is a flaky test.
func TestBenchRunsEveryWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every benchmark workload end to end")
	}
	// The bench makes (and drops) a scratch database on this server, and
	// streams of its own (deleted after) on this NATS.
	t.Setenv("DATABASE_URL", storetest.AdminURL())
	t.Setenv("NATS_URL", storetest.NATS(t))
	outFile := filepath.Join(t.TempDir(), "bench.md")
	var out bytes.Buffer
	args := []string{"--scale", "100", "--duration", "2s", "--out", outFile, "--crm-binary", storetest.Binary(t, storetest.CRMCommand)}
	cfg, err := stack.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(t.Context(), cfg, args, &out, storetest.Logger()); err != nil {
		t.Fatalf("crm bench: %v\n%s", err, out.String())
	}
	report := out.String()
	for _, want := range []string{"Machine: ", "Command: `crm bench --scale 100 --duration 2s",
		"| workload | crm | baseline (same run) | ratio | target | met |"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	for _, w := range []string{"durable writes", "write to visible", "relay", "replay", "lists", "counts", "kanban", "kpis",
		"reports/leads", "reports/customers", "analytics/dashboard", "CSV import", "CSV import, projectors paused", "CSV export", "memory"} {
		if n := strings.Count(report, "\n| "+w+" | "); n != 1 {
			t.Errorf("report has %d rows for %q, want 1:\n%s", n, w, report)
		}
	}
	saved, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(saved) != report {
		t.Errorf("--out file differs from the printed report")
	}
}
