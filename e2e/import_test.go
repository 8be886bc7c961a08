package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/imports"
)

// importFile writes a CSV file of n leads (tag keeps their emails and
// phones apart from other files') and returns its path.
func importFile(t *testing.T, n int, tag string) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("\xef\xbb\xbfname,email,phone,company,source,status,score,notes\r\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "Lead %d,%s%d@example.com,+9193%08d,\"Acme, %s\",website,Contacted,%d,\"line one\nline two\"\r\n",
			i, tag, i, i, tag, i%101)
	}
	path := filepath.Join(t.TempDir(), tag+".csv")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// importCommand is `crm import` of file into the stack's tenant acme, as a
// child process.
func (s *stack) importCommand(file string) *exec.Cmd {
	cmd := exec.Command(crmBinary(s.t), "import", "--tenant", "acme", "--file", file, "--batch", "500")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+s.dbURL, "CRM_LOG_LEVEL=warn", "CRM_METRICS_ADDR=", "CRM_PHONE_REGION=IN")
	return cmd
}

// assertImported checks the tenant has n leads from lead.created events,
// each with its own number and its email and phone reserved once, and its
// read models equal to a replay.
func (s *stack) assertImported(tenant uuid.UUID, n int) {
	s.t.Helper()
	var events, numbers, emails, reserved int
	if err := s.core.Pool.QueryRow(s.ctx, `select count(*), count(distinct (data->>'number')::int),
			count(distinct data->'profile'->'emails'->>0),
			(select count(*) from reservations where tenant_id = $1)
		from events where tenant_id = $1 and event_type = $2`, tenant, domain.LeadCreated).
		Scan(&events, &numbers, &emails, &reserved); err != nil {
		s.t.Fatal(err)
	}
	if events != n || numbers != n || emails != n || reserved != 2*n {
		s.t.Fatalf("%d lead.created, %d numbers, %d emails, %d reservations; want %d leads once each", events, numbers, emails, reserved, n)
	}
	// The read models take their time over a large import on a busy
	// machine: the lead list first, then every read model against a replay.
	storetest.WaitFor(s.t, 2*time.Minute, func() (bool, error) {
		var listed int
		err := s.core.Pool.QueryRow(s.ctx, "select count(*) from rm_leads where tenant_id = $1", tenant).Scan(&listed)
		return listed == n, err
	})
	s.assertReplayEqual()
}

func TestImportKilledMidwayResumesEveryRowOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("kills crm import processes during a 20,000-row import")
	}
	s := newStack(t)
	const n = 20000
	file := importFile(t, n, "kill")

	first := s.importCommand(file)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	// Kill it once it has committed a batch or more, before the end.
	var progress int64
	killed := false
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && !killed; time.Sleep(5 * time.Millisecond) {
		select {
		case err := <-done:
			t.Logf("the import ended before it could be killed (%v); resuming was checked as a no-op", err)
			killed = true
			continue
		default:
		}
		err := s.core.Pool.QueryRow(s.ctx, "select coalesce(sum(rows), 0) from import_batches").Scan(&progress)
		if err != nil {
			t.Fatal(err)
		}
		if progress >= 2000 {
			_ = first.Process.Kill()
			<-done
			killed = true
			t.Logf("killed with %d of %d rows done", progress, n)
		}
	}
	if !killed {
		t.Fatal("the import made no progress in a minute")
	}

	again := runToEnd(t, s.importCommand(file))
	if again.code != 0 {
		t.Fatalf("resumed import: exit %d: %s", again.code, again.out)
	}
	if !strings.Contains(again.out, fmt.Sprintf("of %d", n)) {
		t.Errorf("resumed import said: %s", again.out)
	}
	s.assertImported(s.tenantID, n)

	// The export pages through them all, each once.
	recs := withoutIDs(t, s.export(s.tenantID))
	emails := map[string]bool{}
	for _, r := range recs[1:] {
		emails[r[1]] = true
	}
	if len(recs) != n+1 || len(emails) != n {
		t.Fatalf("export: %d records, %d emails; want %d leads", len(recs)-1, len(emails), n)
	}

	// A third run finds the file imported and does nothing.
	third := runToEnd(t, s.importCommand(file))
	if third.code != 0 || !strings.Contains(third.out, "already imported") {
		t.Fatalf("third run: exit %d: %s", third.code, third.out)
	}
	s.assertImported(s.tenantID, n)
}

func TestExportImportsBackUnchanged(t *testing.T) {
	s := newStack(t)
	im := imports.New(s.core.Store, imports.Options{Region: "IN", Metadata: eventstore.Metadata{Actor: "test", API: "import"}})
	file := "\xef\xbb\xbfName,Email,Phone,Company,Source,Status,Score,Notes,Campaign_ID,Assigned_To,Last_Contact,Custom_Fields\r\n" +
		"\"Doe, Jane\",jane@example.com,+14155552671,\"Acme \"\"Big\"\" Co\",website,Qualified,88,\"two\nlines\",c-1,Rep@Example.com,2026-11-02,\"{\"\"tier\"\": 2, \"\"a\"\": [1]}\"\r\n" +
		"Émile,emile@example.com,09876543210,,referral,,,,,,2026-11-03T10:20:30Z,\r\n" +
		"Plain,plain@example.com,,,,,0,,,,,\r\n"
	for i := range 50 {
		file += fmt.Sprintf("Bulk %d,bulk%d@example.com,+9192%08d,Co %d,direct,New,%d,,,,,\r\n", i, i, i, i, i)
	}
	job, _, err := im.Import(s.ctx, s.ctx, s.tenantID, "in.csv", strings.NewReader(file), 1000)
	if err != nil || job.RowsImported != 53 || job.RowsFailed != 0 {
		t.Fatalf("import: %+v %v", job, err)
	}
	s.caughtUp()
	first := s.export(s.tenantID)

	other, _ := s.newTenant("other")
	job, _, err = im.Import(s.ctx, s.ctx, other, "back.csv", bytes.NewReader(first), 1000)
	if err != nil || job.RowsImported != 53 || job.RowsFailed != 0 {
		t.Fatalf("import of the export: %+v %v", job, err)
	}
	if len(job.IgnoredColumns) != 0 {
		t.Errorf("the export has columns the import ignores: %q", job.IgnoredColumns)
	}
	s.caughtUp()
	second := s.export(other)
	a, b := withoutIDs(t, first), withoutIDs(t, second)
	if !slices.EqualFunc(a, b, slices.Equal) {
		t.Fatalf("the export of the imported export differs:\n%s\nvs\n%s", first, second)
	}
	if !strings.Contains(string(first), `"{""a"": [1], ""tier"": 2}"`) || !strings.Contains(string(first), "rep@example.com") {
		t.Errorf("export:\n%s", first)
	}
	s.assertReplayEqual()
}

// export is the tenant's export.
func (s *stack) export(tenant uuid.UUID) []byte {
	s.t.Helper()
	var buf bytes.Buffer
	n, err := imports.Export(context.Background(), s.core.Pool, tenant, imports.Filter{}, &buf)
	if err != nil {
		s.t.Fatal(err)
	}
	if n == 0 {
		s.t.Fatal("empty export")
	}
	return buf.Bytes()
}

// withoutIDs is an export's records without their id column.
func withoutIDs(t *testing.T, file []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(file)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		recs[i] = recs[i][1:]
	}
	return recs
}
