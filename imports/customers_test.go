package imports_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/imports"
)

// customersFile is n customers; row dup (0: none) repeats row 1's email.
func customersFile(n, dup int) []byte {
	var b bytes.Buffer
	b.WriteString("Name,EMAIL,type,credit_limit\r\n")
	for i := 1; i <= n; i++ {
		email := fmt.Sprintf("c%d@example.com", i)
		if i == dup {
			email = "C1@example.com"
		}
		fmt.Fprintf(&b, "\"Cust, %d\",%s,business,%d\r\n", i, email, i)
	}
	return b.Bytes()
}

func TestCustomerImportMakesCustomersOnceEach(t *testing.T) {
	ctx := context.Background()
	im, store := newImporter(t, 100)
	tenant := uuid.New()
	file := customersFile(250, 120)
	up, err := im.Upload(ctx, ctx, tenant, imports.KindCustomers, "c.csv", bytes.NewReader(file), 1000)
	if err != nil || up.Async || up.Existing || up.Job.Kind != imports.KindCustomers || up.Job.RowsImported != 249 || up.Job.RowsFailed != 1 {
		t.Fatalf("upload: %+v %v", up, err)
	}
	errs, err := im.RowErrors(ctx, tenant, up.Job.ID, 0, 10)
	if err != nil || len(errs) != 1 || errs[0].Row != 120 || errs[0].Field != "email" || !strings.HasPrefix(errs[0].Message, "duplicate: customer ") {
		t.Fatalf("row errors %+v %v", errs, err)
	}
	// Every customer.created with its number and its email reserved once.
	var created, numbers, emails int
	if err := store.Pool().QueryRow(ctx, `select count(*), count(distinct (data->>'number')::int),
		(select count(*) from reservations where tenant_id = $1 and kind = $3)
		from events where tenant_id = $1 and event_type = $2`, tenant, domain.CustomerCreated, domain.ReserveCustomerEmail).
		Scan(&created, &numbers, &emails); err != nil {
		t.Fatal(err)
	}
	if created != 249 || numbers != 249 || emails != 249 {
		t.Fatalf("%d customer.created, %d numbers, %d emails reserved; want 249", created, numbers, emails)
	}

	// The same file again: its job, nothing imported. As a lead file it is
	// another job (another kind), and a lead may share a customer's email.
	again, err := im.Upload(ctx, ctx, tenant, imports.KindCustomers, "again.csv", bytes.NewReader(file), 1000)
	if err != nil || !again.Existing || again.Job.ID != up.Job.ID {
		t.Fatalf("again: %+v %v", again, err)
	}
	leads, err := im.Upload(ctx, ctx, tenant, imports.KindLeads, "l.csv", bytes.NewReader(file), 1000)
	if err != nil || leads.Existing || leads.Job.RowsImported != 249 {
		t.Fatalf("as leads: %+v %v", leads, err)
	}
	// A customer email taken already is a duplicate naming the customer.
	dup, err := im.Upload(ctx, ctx, tenant, imports.KindCustomers, "d.csv", strings.NewReader("name,email\nX,c7@example.com\n"), 1000)
	if err != nil || dup.Job.RowsFailed != 1 {
		t.Fatalf("dup: %+v %v", dup, err)
	}
	if errs, _ := im.RowErrors(ctx, tenant, dup.Job.ID, 0, 10); len(errs) != 1 || !strings.HasPrefix(errs[0].Message, "duplicate: customer ") {
		t.Fatalf("dup errors %+v", errs)
	}
	// A file without the required columns is refused whole.
	var fe *imports.FileError
	if _, err := im.Upload(ctx, ctx, tenant, imports.KindCustomers, "n.csv", strings.NewReader("name,type\nX,business\n"), 1000); !errors.As(err, &fe) {
		t.Fatalf("no email column: %v", err)
	}
}

func TestStatusHookIsAskedOncePerCellAndItsFailureStopsTheRun(t *testing.T) {
	ctx := context.Background()
	asked := map[string]int{}
	down := errors.New("pipeline unreadable")
	im, _ := newImporterWith(t, func(_ context.Context, _ uuid.UUID, cell string) (domain.Status, error) {
		asked[cell]++
		switch cell {
		case "Hot":
			return "Qualified", nil
		case "Down":
			return "", down
		case "":
			return "", nil
		}
		return "", domain.ValidationError{Field: "status", Reason: "is not a status"}
	})
	tenant := uuid.New()
	file := "name,email,status\nA,a@example.com,Hot\nB,b@example.com,Hot\nC,c@example.com,Nope\nD,d@example.com,\n"
	job, _, err := im.Import(ctx, ctx, tenant, "s.csv", strings.NewReader(file), 1000)
	if err != nil || job.RowsImported != 3 || job.RowsFailed != 1 || asked["Hot"] != 1 {
		t.Fatalf("job %+v %v; asked %v", job, err, asked)
	}
	_, _, err = im.Import(ctx, ctx, tenant, "down.csv", strings.NewReader("name,email,status\nE,e@example.com,Down\n"), 1000)
	if !errors.Is(err, down) {
		t.Fatalf("a status hook that fails: %v", err)
	}
}
