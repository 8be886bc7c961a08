package imports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/imports"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const region = "IN"

func newImporter(t *testing.T, batch int) (*imports.Importer, *eventstore.Store) {
	t.Helper()
	store := eventstore.New(storetest.MigratedPool(t), imports.Purge)
	return imports.New(store, imports.Options{Region: region, Batch: batch,
		Metadata: eventstore.Metadata{Actor: "test", API: "import"}}), store
}

// newImporterWith is newImporter (batch 100) with status as the status hook.
func newImporterWith(t *testing.T, status imports.StatusFunc) (*imports.Importer, *eventstore.Store) {
	t.Helper()
	store := eventstore.New(storetest.MigratedPool(t), imports.Purge)
	return imports.New(store, imports.Options{Region: region, Batch: 100, Status: status,
		Metadata: eventstore.Metadata{Actor: "test", API: "import"}}), store
}

// leadsFile is a file of n good rows; row bad (1-based, 0 for none) has a
// phone that is no phone number.
func leadsFile(n, bad int, tag string) []byte {
	var b bytes.Buffer
	b.WriteString("Name,EMAIL,phone,company,score,notes,favourite colour\r\n")
	for i := 1; i <= n; i++ {
		phone := fmt.Sprintf("+9198%08d", i)
		if i == bad {
			phone = "12"
		}
		fmt.Fprintf(&b, "Lead %d,lead%d-%s@example.com,%s,\"Acme, Inc\",%d,\"said \"\"hi\"\"\",blue\r\n", i, i, tag, phone, i%101)
	}
	return b.Bytes()
}

func TestImportReportsTheBadRowAndImportsTheRestOnce(t *testing.T) {
	ctx := context.Background()
	im, store := newImporter(t, 1000)
	tenant := uuid.New()
	file := leadsFile(10000, 4321, "a")

	job, async, err := im.Import(ctx, ctx, tenant, "leads.csv", bytes.NewReader(file), 1_000_000)
	if err != nil || async {
		t.Fatalf("Import: %v async=%v", err, async)
	}
	if job.State != imports.StateDone || job.RowsImported != 9999 || job.RowsFailed != 1 || job.RowsTotal != 10000 {
		t.Fatalf("job = %+v", job)
	}
	if body, err := json.Marshal(job); err != nil || !strings.Contains(string(body), `"percent":100,`) ||
		!strings.Contains(string(body), `"eta_seconds":0`) || !strings.Contains(string(body), `"rows_imported":9999`) {
		t.Errorf("job as JSON: %s %v", body, err)
	}
	if len(job.IgnoredColumns) != 1 || job.IgnoredColumns[0] != "favourite colour" {
		t.Errorf("ignored = %q", job.IgnoredColumns)
	}
	errs, err := im.RowErrors(ctx, tenant, job.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[0].Row != 4321 || errs[0].Line != 4322 || errs[0].Field != "phone" {
		t.Fatalf("errors = %+v", errs)
	}
	var csv bytes.Buffer
	if err := im.ErrorCSV(ctx, tenant, job.ID, &csv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "4321,4322,phone,") || !strings.Contains(csv.String(), "Lead 4321,lead4321-a@example.com,12") {
		t.Errorf("error csv:\n%s", csv.String())
	}

	// The same file again imports nothing.
	again, _, err := im.Import(ctx, ctx, tenant, "again.csv", bytes.NewReader(file), 1_000_000)
	if err != nil || again.ID != job.ID || again.RowsImported != 9999 {
		t.Fatalf("second import: %+v %v", again, err)
	}
	assertLeads(t, store, tenant, 9999, true)

	// Another API sees the imported values as taken.
	h := commands.New(store, region)
	_, err = h.CreateLead(ctx, commands.Context{TenantID: tenant, Metadata: eventstore.Metadata{Actor: "test"}},
		commands.CreateLead{Profile: domain.LeadProfile{Name: "X", Emails: []string{"LEAD7-a@example.com"}}, OnDuplicate: commands.RejectDuplicates})
	var dup *commands.DuplicateError
	if !errors.As(err, &dup) {
		t.Fatalf("create with an imported email: %v", err)
	}
}

// assertLeads checks the tenant has n lead.created events, each with its
// own number (1..n when gapless: no batch was lost), and 2n reservations.
func assertLeads(t *testing.T, store *eventstore.Store, tenant uuid.UUID, n int, gapless bool) {
	t.Helper()
	var events, numbers, minN, maxN, reserved int
	if err := store.Pool().QueryRow(context.Background(), `select count(*), count(distinct (data->>'number')::int),
			min((data->>'number')::int), max((data->>'number')::int),
			(select count(*) from reservations where tenant_id = $1)
		from events where tenant_id = $1 and event_type = $2`, tenant, domain.LeadCreated).
		Scan(&events, &numbers, &minN, &maxN, &reserved); err != nil {
		t.Fatal(err)
	}
	if events != n || numbers != n || minN < 1 || (gapless && maxN != n) || reserved != 2*n {
		t.Fatalf("events %d numbers %d (%d..%d) reservations %d; want %d leads", events, numbers, minN, maxN, reserved, n)
	}
}

func TestImportReportsDuplicates(t *testing.T) {
	ctx := context.Background()
	im, store := newImporter(t, 3)
	tenant := uuid.New()
	h := commands.New(store, region)
	existing, err := h.CreateLead(ctx, commands.Context{TenantID: tenant, Metadata: eventstore.Metadata{Actor: "test"}},
		commands.CreateLead{Profile: domain.LeadProfile{Name: "Old", Emails: []string{"old@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	file := "name,email,phone\n" +
		"A,a@example.com,+919800000001\n" +
		"B,OLD@example.com,\n" + // an existing lead's
		"C,a@example.com,\n" + // row 1's, in the same batch
		"D,d@example.com,+919800000001\n" + // row 1's phone, in the next batch
		"E,e@example.com,\n"
	job, _, err := im.Import(ctx, ctx, tenant, "d.csv", strings.NewReader(file), 100)
	if err != nil {
		t.Fatal(err)
	}
	if job.RowsImported != 2 || job.RowsFailed != 3 {
		t.Fatalf("job %+v", job)
	}
	errs, err := im.RowErrors(ctx, tenant, job.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		row   int64
		field string
		has   string
	}{{2, "email", existing.LeadID.String()}, {3, "email", "row 1"}, {4, "phone", "duplicate"}}
	if len(errs) != len(want) {
		t.Fatalf("errors %+v", errs)
	}
	for i, w := range want {
		if errs[i].Row != w.row || errs[i].Field != w.field || !strings.Contains(errs[i].Message, w.has) {
			t.Errorf("error %d = %+v; want row %d field %s with %q", i, errs[i], w.row, w.field, w.has)
		}
	}

	// The row that repeated the old lead quotes its email: deleting the
	// lead for good deletes it too.
	if _, err := h.DeleteLead(ctx, commands.Context{TenantID: tenant, Metadata: eventstore.Metadata{Actor: "test"}}, existing.LeadID); err != nil {
		t.Fatal(err)
	}
	errs, err = im.RowErrors(ctx, tenant, job.ID, 0, 10)
	if err != nil || len(errs) != 2 || errs[0].Row != 3 {
		t.Fatalf("errors after the delete: %+v %v", errs, err)
	}
}

func TestImportRefusesABadFileWhole(t *testing.T) {
	ctx := context.Background()
	im, store := newImporter(t, 1000)
	tenant := uuid.New()
	for name, tc := range map[string]struct{ file, want string }{
		"bad quoting":     {"name,email\nA,a@example.com\nB \"x\" y,b@example.com\n", "line 3, column"},
		"unclosed quote":  {"name,email\nA,\"a@example.com\nB,b@example.com\n", "quot"},
		"latin-1":         {"name,email\nJos\xe9,j@example.com\n", "line 2, column 1: the text is not UTF-8"},
		"utf-16":          {"\xff\xfen\x00a\x00", "UTF-16"},
		"no email column": {"name,phone\nA,+919800000001\n", "no email column"},
		"no header":       {"", "empty"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := im.Import(ctx, ctx, tenant, name, strings.NewReader(tc.file), 100)
			var fe *imports.FileError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want a FileError with %q", err, tc.want)
			}
		})
	}
	var jobs, events int
	if err := store.Pool().QueryRow(ctx, "select (select count(*) from import_jobs), (select count(*) from events)").Scan(&jobs, &events); err != nil {
		t.Fatal(err)
	}
	if jobs != 0 || events != 0 {
		t.Fatalf("a refused file wrote %d jobs, %d events", jobs, events)
	}
}

func TestReaderReadsRealFiles(t *testing.T) {
	file := "\xef\xbb\xbf Name ,Email,Notes,Custom_Fields\r\n" +
		"\"Doe, Jane\",JANE@Example.com,\"two\r\nlines\",\"{\"\"tier\"\": 1}\"\r\n" +
		"Émile,emile@example.com,,\r\n"
	rd, err := imports.NewReader(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	r1, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	if r1.Values[imports.FieldName] != "Doe, Jane" || r1.Values[imports.FieldNotes] != "two\nlines" ||
		r1.Values[imports.FieldCustomFields] != `{"tier": 1}` || r1.Line != 2 {
		t.Fatalf("row 1 = %+v", r1)
	}
	r2, err := rd.Next()
	if err != nil || r2.Values[imports.FieldName] != "Émile" || r2.Line != 4 || r2.Row != 2 {
		t.Fatalf("row 2 = %+v %v", r2, err)
	}
}

func TestRunResumesAfterAStopWithoutImportingARowTwice(t *testing.T) {
	im, store := newImporter(t, 500)
	tenant := uuid.New()
	file := leadsFile(5000, 0, "r")
	job, _, err := im.Submit(context.Background(), tenant, "r.csv", bytes.NewReader(file), true)
	if err != nil {
		t.Fatal(err)
	}
	// Stop after the third batch: the batches being written are rolled back.
	ctx, cancel := context.WithCancel(context.Background())
	batches := 0
	_, err = im.Run(ctx, tenant, job.ID, nil, func(imports.Job) {
		if batches++; batches == 3 {
			cancel()
		}
	})
	if err == nil {
		t.Fatal("a cancelled run succeeded")
	}
	mid, err := im.Get(context.Background(), tenant, job.ID)
	// The batch written beside the third may have committed too.
	if err != nil || mid.State != imports.StateRunning || mid.RowsDone < 1500 || mid.RowsDone > 2000 || mid.RowsDone%500 != 0 {
		t.Fatalf("after the stop: %+v %v", mid, err)
	}
	// As a starting server resumes it.
	if err := im.ResumeStored(context.Background()); err != nil {
		t.Fatal(err)
	}
	done, err := im.Get(context.Background(), tenant, job.ID)
	if err != nil || done.State != imports.StateDone || done.RowsImported != 5000 || done.RowsDone != 5000 {
		t.Fatalf("resumed: %+v %v", done, err)
	}
	assertLeads(t, store, tenant, 5000, false)
	var files int
	if err := store.Pool().QueryRow(context.Background(), "select count(*) from import_files").Scan(&files); err != nil || files != 0 {
		t.Fatalf("stored chunks left: %d %v", files, err)
	}
}

func TestLargeImportRunsInTheBackground(t *testing.T) {
	ctx := context.Background()
	im, store := newImporter(t, 1000)
	tenant := uuid.New()
	job, async, err := im.Import(ctx, ctx, tenant, "big.csv", bytes.NewReader(leadsFile(3000, 0, "b")), 1000)
	if err != nil || !async || job.State != imports.StateQueued {
		t.Fatalf("Import: %+v async=%v %v", job, async, err)
	}
	storetest.WaitFor(t, 30*time.Second, func() (bool, error) {
		j, err := im.Get(ctx, tenant, job.ID)
		return j.State == imports.StateDone, err
	})
	assertLeads(t, store, tenant, 3000, true)
	if _, err := im.Get(ctx, uuid.New(), job.ID); !errors.Is(err, imports.ErrJobNotFound) {
		t.Fatalf("another tenant's job: %v", err)
	}
}

func TestAFileThatChangedUnderItsJobFailsIt(t *testing.T) {
	ctx := context.Background()
	im, _ := newImporter(t, 2)
	tenant := uuid.New()
	file := "name,email\nA,a@example.com\nB,b@example.com\nC,c@example.com\n"
	job, _, err := im.Submit(ctx, tenant, "f.csv", strings.NewReader(file), false)
	if err != nil {
		t.Fatal(err)
	}
	changed := "name,email\nA,a@example.com\nB,b@example.com\nC,\"c@example.com\n"
	var fe *imports.FileError
	if _, err := im.Run(ctx, tenant, job.ID, strings.NewReader(changed), nil); !errors.As(err, &fe) {
		t.Fatalf("run on a changed file: %v", err)
	}
	failed, err := im.Get(ctx, tenant, job.ID)
	if err != nil || failed.State != imports.StateFailed || !strings.Contains(failed.Error, "line 4") || failed.RowsImported != 2 {
		t.Fatalf("job %+v %v", failed, err)
	}
	// A failed job is over: running it again does nothing.
	if again, err := im.Run(ctx, tenant, job.ID, strings.NewReader(file), nil); err != nil || again.State != imports.StateFailed {
		t.Fatalf("run again: %+v %v", again, err)
	}
}

func TestBadRowsAreReportedFieldByField(t *testing.T) {
	ctx := context.Background()
	_, store := newImporter(t, 1000)
	im := imports.New(store, imports.Options{Region: region, Sources: []string{"website", "referral"}})
	tenant := uuid.New()
	file := "id,name,email,phone,score,last_contact,custom_fields,source\n" +
		"x,A,a@example.com,,,,,Website\n" + // good: an export's id column is ignored
		"x,,not-an-email,,101,yesterday,[1],tv\n" +
		"x,C,c@example.com,,,,,,extra\n" +
		"x,D,d@example.com,12,,,,\n"
	job, _, err := im.Import(ctx, ctx, tenant, "bad.csv", strings.NewReader(file), 100)
	if err != nil || job.RowsImported != 1 || job.RowsFailed != 3 || len(job.IgnoredColumns) != 0 {
		t.Fatalf("job %+v %v", job, err)
	}
	errs, err := im.RowErrors(ctx, tenant, job.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, fmt.Sprintf("%d:%s", e.Row, e.Field))
	}
	want := "2:name 2:source 2:score 2:last_contact 2:custom_fields 2:email 3: 4:phone"
	if strings.Join(got, " ") != want {
		t.Fatalf("errors %v; want %s (%+v)", got, want, errs)
	}
}
