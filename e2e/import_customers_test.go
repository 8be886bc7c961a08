package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/domain"
)

func TestImportCommandImportsCustomersOnce(t *testing.T) {
	s := newStack(t)
	const n = 40
	var b bytes.Buffer
	b.WriteString("\xef\xbb\xbfName,Email,Phone,Type,Credit_Limit,Notes\r\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "\"Cust, %d\",cust%d@example.com,+9194%08d,business,%d,\"two\nlines\"\r\n", i, i, i, i*100)
	}
	b.WriteString("Again,CUST7@example.com,,individual,,\r\n") // row n+1 repeats row 7's email
	file := filepath.Join(t.TempDir(), "customers.csv")
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	command := func() *exec.Cmd {
		cmd := s.importCommand(file)
		cmd.Args = append(cmd.Args, "--kind", "customers")
		return cmd
	}

	first := runToEnd(t, command())
	if first.code != 0 || !strings.Contains(first.out, fmt.Sprintf("imported %d rows, 1 failed, of %d", n, n+1)) {
		t.Fatalf("import: exit %d: %s", first.code, first.out)
	}
	errs, err := os.ReadFile(file + ".errors.csv")
	if err != nil || !strings.Contains(string(errs), "41,82,email,duplicate: row 7 has the same email") {
		t.Fatalf("errors file: %v\n%s", err, errs)
	}
	s.assertCustomersImported(n)

	// The same file again imports nothing.
	again := runToEnd(t, command())
	if again.code != 0 || !strings.Contains(again.out, "already imported") {
		t.Fatalf("second run: exit %d: %s", again.code, again.out)
	}
	s.assertCustomersImported(n)

	// An unknown kind is a usage error.
	bad := s.importCommand(file)
	bad.Args = append(bad.Args, "--kind", "orders")
	if r := runToEnd(t, bad); r.code == 0 || !strings.Contains(r.out, "--kind leads|customers") {
		t.Fatalf("--kind orders: exit %d: %s", r.code, r.out)
	}
}

// assertCustomersImported checks the stack's tenant has n customers, each
// one customer.created by the CLI with its own number, no lead, and the
// read models equal to a replay.
func (s *stack) assertCustomersImported(n int) {
	s.t.Helper()
	var events, numbers, cli, leads int
	if err := s.core.Pool.QueryRow(s.ctx, `select count(*), count(distinct (data->>'number')::int),
			count(*) filter (where metadata->>'actor' = 'crm import' and metadata->>'api' = 'cli'),
			(select count(*) from events where tenant_id = $1 and event_type = $3)
		from events where tenant_id = $1 and event_type = $2`, s.tenantID, domain.CustomerCreated, domain.LeadCreated).
		Scan(&events, &numbers, &cli, &leads); err != nil {
		s.t.Fatal(err)
	}
	if events != n || numbers != n || cli != n || leads != 0 {
		s.t.Fatalf("%d customer.created (%d numbers, %d by the CLI), %d lead.created; want %d customers",
			events, numbers, cli, leads, n)
	}
	storetest.WaitFor(s.t, time.Minute, func() (bool, error) {
		var listed int
		err := s.core.Pool.QueryRow(s.ctx, "select count(*) from rm_customers where tenant_id = $1", s.tenantID).Scan(&listed)
		return listed == n, err
	})
	s.assertReplayEqual()
}
