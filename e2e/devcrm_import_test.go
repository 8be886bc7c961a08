package e2e

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmcore/crm/devenv/storetest"
)

// CSV import and export through /dev/crm (api/devcrm/imports.go): real
// multipart uploads, real files (BOM, CRLF, quotes), the import resource,
// the error CSV, exports that import back unchanged; every answer checked
// against the OpenAPI document.

// dcImportOutcome is the 200 of an upload imported within its request.
type dcImportOutcome struct {
	ID              string   `json:"id"`
	Kind            string   `json:"kind"`
	State           string   `json:"state"`
	Rows            int64    `json:"rows"`
	Imported        int64    `json:"imported"`
	Failed          int64    `json:"failed"`
	IgnoredColumns  []string `json:"ignored_columns"`
	ErrorsTruncated bool     `json:"errors_truncated"`
	ErrorsURL       string   `json:"errors_url"`
	AlreadyImported bool     `json:"already_imported"`
	Errors          []struct {
		Row     int64  `json:"row"`
		Line    int64  `json:"line"`
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// dcImport is the import resource.
type dcImport struct {
	ID           string   `json:"id"`
	State        string   `json:"state"`
	RowsTotal    int64    `json:"rows_total"`
	RowsDone     int64    `json:"rows_done"`
	RowsImported int64    `json:"rows_imported"`
	RowsFailed   int64    `json:"rows_failed"`
	Percent      float64  `json:"percent"`
	ETASeconds   *float64 `json:"eta_seconds"`
	ErrorsURL    string   `json:"errors_url"`
}

// multipartFile is a multipart body with file in field (and its content type).
func multipartFile(t testing.TB, field, name string, file []byte) ([]byte, http.Header) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, err := w.CreateFormFile(field, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(file); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), http.Header{"Content-Type": {w.FormDataContentType()}}
}

// dcUpload uploads file as the multipart field file to path.
func (s *stack) dcUpload(key, path, name string, file []byte) response {
	s.t.Helper()
	body, h := multipartFile(s.t, "file", name, file)
	return s.doWith(key, "POST", path, body, h)
}

// dcImported uploads a file that imports within the request and returns its outcome.
func (s *stack) dcImported(key, path string, file []byte) dcImportOutcome {
	s.t.Helper()
	var out dcImportOutcome
	s.dcWant(s.dcUpload(key, path, "f.csv", file), http.StatusOK, &out)
	return out
}

// dcCSV GETs path as CSV: 200, text/csv, an attachment; its records.
func (s *stack) dcCSV(key, path string) ([]byte, [][]string) {
	s.t.Helper()
	r := s.do(key, "GET", path, nil)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") {
		s.t.Fatalf("GET %s: %d %v %s", path, r.Status, r.Header, r.Body)
	}
	recs, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil {
		s.t.Fatalf("GET %s: not CSV: %v\n%s", path, err, r.Body)
	}
	return r.Body, recs
}

// leadEvents counts the tenant's lead.created and customer.created events.
func (s *stack) createdEvents() int {
	s.t.Helper()
	var n int
	if err := s.core.Pool.QueryRow(s.ctx, `select count(*) from events where event_type in ('lead.created', 'customer.created')`).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// TestDevcrmImportLeads: a real file (BOM, CRLF, quoted fields with commas,
// quotes and line breaks, headers in any case, an unknown column) with a bad
// row and a duplicate among good ones; the same file again; each way a file
// is refused as a whole.
func TestDevcrmImportLeads(t *testing.T) {
	s := newStack(t)
	s.dcCreate(s.key, map[string]any{"name": "Existing", "email": "taken@example.com"})
	file := "\xef\xbb\xbfNAME,Email,phone,Company,SOURCE,Status,score,Notes,Favourite Colour\r\n" +
		"\"Doe, Jane\",jane@example.com,+14155552671,\"Acme \"\"Big\"\" Co\",Website,Qualified,88,\"two\r\nlines\",blue\r\n" +
		"Bad Email,not-an-email,,,,,,,red\r\n" +
		"Taken,TAKEN@example.com,,,,,,,green\r\n" +
		"Again,jane@example.com,,,,,,,\r\n" +
		"Nego,nego@example.com,,,referral,Negotiation,5,,\r\n" +
		"Plain,plain@example.com,09876543210,,,,,,\r\n"
	got := s.dcImported(s.key, "/dev/crm/leads/import", []byte(file))
	if got.Rows != 6 || got.Imported != 3 || got.Failed != 3 || got.State != "done" || got.AlreadyImported ||
		!slices.Equal(got.IgnoredColumns, []string{"Favourite Colour"}) || got.ErrorsURL != "/dev/crm/imports/"+got.ID+"/errors" {
		t.Fatalf("outcome %+v", got)
	}
	wantErrs := []struct {
		row, line int64
		field     string
		words     string
	}{{2, 4, "email", "valid"}, {3, 5, "email", "duplicate"}, {4, 6, "email", "row 1"}}
	if len(got.Errors) != len(wantErrs) {
		t.Fatalf("errors %+v", got.Errors)
	}
	for i, w := range wantErrs {
		e := got.Errors[i]
		if e.Row != w.row || e.Line != w.line || e.Field != w.field || !strings.Contains(e.Message, w.words) {
			t.Errorf("error %d: %+v, want row %d line %d field %s with %q", i, e, w.row, w.line, w.field, w.words)
		}
	}
	// Read-your-writes: the list shows them at once, as a create would.
	var jane dcList[dcLead]
	s.dcWant(s.do(s.key, "GET", "/dev/crm/leads?search=jane@example.com", nil), http.StatusOK, &jane)
	if jane.Total != 1 || jane.Data[0].Name != "Doe, Jane" || *jane.Data[0].Company != `Acme "Big" Co` ||
		*jane.Data[0].Notes != "two\nlines" || jane.Data[0].Status != "qualified" || *jane.Data[0].Source != "website" {
		t.Fatalf("imported lead %+v", jane)
	}
	var nego dcList[dcLead]
	s.dcWant(s.do(s.key, "GET", "/dev/crm/leads?status=negotiation", nil), http.StatusOK, &nego)
	if nego.Total != 1 || nego.Data[0].Name != "Nego" {
		t.Fatalf("negotiation leads %+v", nego)
	}
	// The error CSV: each refused row with why, as the file had it.
	_, recs := s.dcCSV(s.key, got.ErrorsURL)
	if len(recs) != 4 || !slices.Equal(recs[0][:5], []string{"row", "line", "field", "message", "NAME"}) ||
		recs[1][0] != "2" || recs[1][4] != "Bad Email" || recs[3][5] != "jane@example.com" {
		t.Fatalf("error CSV %q", recs)
	}
	var res dcImport
	s.dcWant(s.do(s.key, "GET", "/dev/crm/imports/"+got.ID, nil), http.StatusOK, &res)
	if res.State != "done" || res.RowsDone != 6 || res.Percent != 100 || res.ETASeconds == nil || *res.ETASeconds != 0 {
		t.Fatalf("import resource %+v", res)
	}

	// The same file again imports nothing and answers the first job.
	before := s.createdEvents()
	again := s.dcImported(s.key, "/dev/crm/leads/import", []byte(file))
	if !again.AlreadyImported || again.ID != got.ID || again.Imported != 3 || s.createdEvents() != before {
		t.Fatalf("second upload %+v; %d events, %d before", again, s.createdEvents(), before)
	}

	// Files refused as a whole: 400 naming file with the reason, nothing written.
	for _, tc := range []struct {
		name, file, words string
	}{
		{"no email column", "name,phone\nA,+14155552671\n", "no email column"},
		{"no header", "", "empty"},
		{"latin-1", "name,email\nJos\xe9,jose@example.com\n", "UTF-8"},
		{"utf-16", "\xff\xfen\x00a\x00", "UTF-16"},
		{"bad quoting", "name,email\n\"Unclosed,u@example.com\nB,b@example.com\n", "quot"},
		{"bare quote", "name,email\nA \"q\" B,q@example.com\n", "quot"},
		{"column twice", "name,email,Email\nA,a@example.com,b@example.com\n", "twice"},
	} {
		t.Run(tc.name, func(sub *testing.T) {
			s.t = sub
			defer func() { s.t = t }()
			s.dcFails(s.dcUpload(s.key, "/dev/crm/leads/import", "bad.csv", []byte(tc.file)), http.StatusBadRequest, "file", tc.words)
		})
	}
	if s.createdEvents() != before {
		t.Fatal("a refused file wrote events")
	}
	// No file field; not multipart; too large.
	body, h := multipartFile(t, "document", "f.csv", []byte("name,email\n"))
	s.dcFails(s.doWith(s.key, "POST", "/dev/crm/leads/import", body, h), http.StatusBadRequest, "file", "required")
	s.dcFails(s.do(s.key, "POST", "/dev/crm/leads/import", map[string]any{"file": "name,email"}), http.StatusBadRequest, "file", "multipart")
	big := bytes.Repeat([]byte("x"), 10<<20+1)
	s.dcFails(s.dcUpload(s.key, "/dev/crm/leads/import", "big.csv", big), http.StatusRequestEntityTooLarge, "file", "10 MB")
	s.dcFails(s.dcUpload(s.key, "/dev/crm/customers/import", "big.csv", append([]byte("name,email\n"), big...)), http.StatusRequestEntityTooLarge, "file", "10 MB")
	// Without a key.
	if r := s.dcUpload("", "/dev/crm/leads/import", "f.csv", []byte(file)); r.Status != http.StatusUnauthorized {
		t.Fatalf("no key: %d %s", r.Status, r.Body)
	}
	s.assertReplayEqual()
}

// bigLeadFile is n rows of leads tagged tag, row bad (if > 0) with a bad email.
func bigLeadFile(t *testing.T, n, bad int, tag string) []byte {
	t.Helper()
	data, err := os.ReadFile(importFile(t, n, tag))
	if err != nil {
		t.Fatal(err)
	}
	if bad > 0 {
		data = bytes.Replace(data, fmt.Appendf(nil, ",%s%d@example.com,", tag, bad), []byte(",broken-email,"), 1)
	}
	return data
}

// TestDevcrmImportAsync: above the threshold an upload answers 202 with the
// import resource and its Location; the job runs to done, its errors in
// the error CSV; another tenant sees none of it.
func TestDevcrmImportAsync(t *testing.T) {
	s := newStack(t)
	const n = 3000
	r := s.dcUpload(s.key, "/dev/crm/leads/import", "big.csv", bigLeadFile(t, n, 1234, "async"))
	var job dcImport
	s.dcWant(r, http.StatusAccepted, &job)
	if loc := r.Header.Get("Location"); loc != "/dev/crm/imports/"+job.ID || job.RowsTotal != n {
		t.Fatalf("202: Location %q, %+v", loc, job)
	}
	storetest.WaitFor(t, 2*time.Minute, func() (bool, error) {
		s.dcWant(s.do(s.key, "GET", "/dev/crm/imports/"+job.ID, nil), http.StatusOK, &job)
		return job.State == "done", nil
	})
	if job.RowsDone != n || job.RowsImported != n-1 || job.RowsFailed != 1 || job.Percent != 100 {
		t.Fatalf("done: %+v", job)
	}
	_, recs := s.dcCSV(s.key, job.ErrorsURL)
	if len(recs) != 2 || recs[1][0] != "1234" || recs[1][2] != "email" || recs[1][5] != "broken-email" {
		t.Fatalf("error CSV %q", recs)
	}
	s.caughtUp()
	s.assertImported(s.tenantID, n-1)

	// Another tenant: the import is not there.
	_, other := s.newTenant("other")
	s.dcFails(s.do(other, "GET", "/dev/crm/imports/"+job.ID, nil), http.StatusNotFound, "", "import not found")
	s.dcFails(s.do(other, "GET", "/dev/crm/imports/"+job.ID+"/errors", nil), http.StatusNotFound, "", "import not found")
	s.dcFails(s.do(s.key, "GET", "/dev/crm/imports/not-a-uuid", nil), http.StatusNotFound, "", "import not found")
}

// TestDevcrmExportImportsBack: a lead export with every column set and
// filtered as the list; imported into another tenant, its own export is
// the same file but for the ids. Likewise for customers.
func TestDevcrmExportImportsBack(t *testing.T) {
	s := newStack(t)
	file := "name,email,phone,company,source,status,score,notes,campaign_id,assigned_to,last_contact,custom_fields\n" +
		"\"Doe, Jane\",jane@example.com,+14155552671,\"Acme \"\"Big\"\" Co\",website,qualified,88,\"two\nlines\"," +
		"0a1fa000-0000-4000-8000-00000000c001,0a1fa000-0000-4000-8000-00000000a001,2026-11-02,\"{\"\"tier\"\": 2}\"\n" +
		"Émile,emile@example.com,09876543210,,referral,negotiation,,,,,2026-11-03T10:20:30Z,\n" +
		"Conv,conv@example.com,,,direct,Converted,0,,,,,\n" +
		"Plain,plain@example.com,,,,,,,,,,\n"
	if got := s.dcImported(s.key, "/dev/crm/leads/import", []byte(file)); got.Imported != 4 || got.Failed != 0 {
		t.Fatalf("import: %+v", got)
	}
	first, recs := s.dcCSV(s.key, "/dev/crm/leads/export")
	if len(recs) != 5 || recs[0][0] != "id" || recs[1][6] != "qualified" || recs[2][6] != "negotiation" || recs[3][6] != "converted" {
		t.Fatalf("export %q", recs)
	}
	_, other := s.newTenant("other")
	back := s.dcImported(other, "/dev/crm/leads/import", first)
	if back.Imported != 4 || back.Failed != 0 || len(back.IgnoredColumns) != 0 {
		t.Fatalf("import of the export: %+v", back)
	}
	second, _ := s.dcCSV(other, "/dev/crm/leads/export")
	if a, b := withoutIDs(t, first), withoutIDs(t, second); !slices.EqualFunc(a, b, slices.Equal) {
		t.Fatalf("the export of the imported export differs:\n%s\nvs\n%s", first, second)
	}
	// The list's filters.
	for q, want := range map[string][]string{
		"status=qualified": {"Doe, Jane"}, "status=negotiation": {"Émile"}, "status=won": nil, "source=referral": {"Émile"},
		"search=PLAIN": {"Plain"}, "assigned_to=0a1fa000-0000-4000-8000-00000000a001": {"Doe, Jane"},
		"status=converted&source=direct": {"Conv"},
	} {
		_, recs := s.dcCSV(s.key, "/dev/crm/leads/export?"+q)
		var names []string
		for _, r := range recs[1:] {
			names = append(names, r[1])
		}
		if len(recs) == 0 || recs[0][0] != "id" || !slices.Equal(names, want) {
			t.Errorf("export?%s: %q, want %q", q, recs, want)
		}
	}
	s.dcFails(s.do(s.key, "GET", "/dev/crm/leads/export?status=bogus", nil), http.StatusBadRequest, "status", "")
	s.dcFails(s.do(s.key, "GET", "/dev/crm/leads/export?assigned_to=x", nil), http.StatusBadRequest, "assigned_to", "")
	// A tenant with no status Negotiation exports nothing for it.
	_, third := s.newTenant("third")
	if _, recs := s.dcCSV(third, "/dev/crm/leads/export?status=negotiation"); len(recs) != 1 {
		t.Fatalf("third tenant: %q", recs)
	}

	// Customers.
	customers := "\xef\xbb\xbfName,EMAIL,Phone,company,type,Status,billing_address,shipping_address,payment_terms,credit_limit,tax_id,notes,custom_fields,assigned_to\r\n" +
		"Acme,billing@acme.example,+14155552671,Acme Ltd,Business,active,\"1 Main St, Springfield\",,net 30,1500.5,GB123,\"a \"\"vip\"\"\",\"{\"\"segment\"\": \"\"a\"\"}\",0a1fa000-0000-4000-8000-00000000a001\r\n" +
		"Solo,solo@example.com,,,,,,,,,,,,\r\n" +
		"Bad,bad@example.com,,,person,,,,,-3,,,,\r\n" +
		"Dup,BILLING@acme.example,,,,,,,,,,,,\r\n" +
		"Blocked,blocked@example.com,,,individual,BLOCKED,,,,0,,,,\r\n"
	got := s.dcImported(s.key, "/dev/crm/customers/import", []byte(customers))
	if got.Kind != "customers" || got.Imported != 3 || got.Failed != 2 || len(got.Errors) != 3 ||
		got.Errors[0].Field != "type" || got.Errors[1].Field != "credit_limit" || got.Errors[2].Field != "email" ||
		!strings.Contains(got.Errors[2].Message, "row 1") {
		t.Fatalf("customer import: %+v", got)
	}
	// A lead's email is no customer's: the customer import takes it.
	if got := s.dcImported(s.key, "/dev/crm/customers/import", []byte("name,email\nJane,jane@example.com\nAgain,billing@acme.example\n")); got.Imported != 1 ||
		got.Failed != 1 || !strings.Contains(got.Errors[0].Message, "duplicate: customer") {
		t.Fatalf("second customer import: %+v", got)
	}
	var solo dcList[dcCustomer]
	s.dcWant(s.do(s.key, "GET", "/dev/crm/customers?search=solo", nil), http.StatusOK, &solo)
	if solo.Total != 1 || solo.Data[0].Type != "individual" || solo.Data[0].Status != "active" {
		t.Fatalf("imported customer %+v", solo)
	}
	cfirst, crecs := s.dcCSV(s.key, "/dev/crm/customers/export")
	if len(crecs) != 5 || crecs[0][0] != "id" || crecs[0][1] != "lead_id" || crecs[1][2] != "Acme" || crecs[1][11] != "1500.5" {
		t.Fatalf("customer export %q", crecs)
	}
	if cback := s.dcImported(other, "/dev/crm/customers/import", cfirst); cback.Imported != 4 || cback.Failed != 0 || len(cback.IgnoredColumns) != 0 {
		t.Fatalf("import of the customer export: %+v", cback)
	}
	csecond, _ := s.dcCSV(other, "/dev/crm/customers/export")
	if a, b := withoutIDs(t, cfirst), withoutIDs(t, csecond); !slices.EqualFunc(a, b, slices.Equal) {
		t.Fatalf("the customer export of the imported export differs:\n%s\nvs\n%s", cfirst, csecond)
	}
	for q, want := range map[string]int{"type=business": 1, "status=blocked": 1, "search=acme": 1, "type=individual&status=active": 2} {
		if _, recs := s.dcCSV(s.key, "/dev/crm/customers/export?"+q); len(recs)-1 != want {
			t.Errorf("customer export?%s: %q, want %d", q, recs, want)
		}
	}
	s.dcFails(s.do(s.key, "GET", "/dev/crm/customers/export?type=person", nil), http.StatusBadRequest, "type", "")
	s.caughtUp()
	s.assertReplayEqual()
}

// TestDevcrmImportKilledMidwayResumes: `crm serve` takes a large upload
// (202), is killed with -9 once some batches are in, and started again: the
// job resumes after its last committed batch and ends with every row once.
func TestDevcrmImportKilledMidwayResumes(t *testing.T) {
	s := newStack(t)
	const n = 10000
	srv, url := s.serveProcess(t, "CRM_RATE_LIMIT_KEY=off", "CRM_RATE_LIMIT_TENANT=off", "CRM_PHONE_REGION=IN")
	client := &http.Client{Timeout: time.Minute}
	body, h := multipartFile(t, "file", "kill.csv", bigLeadFile(t, n, 0, "dckill"))
	r := s.doAt(url, client, s.key, "POST", "/dev/crm/leads/import", body, h)
	var job dcImport
	s.dcWant(r, http.StatusAccepted, &job)
	storetest.WaitFor(t, time.Minute, func() (bool, error) {
		var done int64
		err := s.core.Pool.QueryRow(s.ctx, "select coalesce(sum(rows), 0) from import_batches").Scan(&done)
		return done >= 2000, err
	})
	srv.kill()
	var done int64
	if err := s.core.Pool.QueryRow(s.ctx, "select coalesce(sum(rows), 0) from import_batches").Scan(&done); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed with %d of %d rows done", done, n)

	// The restarted server resumes it on its own.
	_, url = s.serveProcess(t, "CRM_RATE_LIMIT_KEY=off", "CRM_RATE_LIMIT_TENANT=off", "CRM_PHONE_REGION=IN")
	storetest.WaitFor(t, 3*time.Minute, func() (bool, error) {
		s.dcWant(s.doAt(url, client, s.key, "GET", "/dev/crm/imports/"+job.ID, nil, nil), http.StatusOK, &job)
		return job.State == "done", nil
	})
	if job.RowsImported != n || job.RowsFailed != 0 {
		t.Fatalf("resumed: %+v", job)
	}
	s.assertImported(s.tenantID, n)
	// Uploading it again imports nothing.
	r = s.doAt(url, client, s.key, "POST", "/dev/crm/leads/import", body, h)
	var again dcImportOutcome
	s.dcWant(r, http.StatusOK, &again)
	if !again.AlreadyImported || again.ID != job.ID {
		t.Fatalf("again: %+v", again)
	}
	s.assertImported(s.tenantID, n)
}
