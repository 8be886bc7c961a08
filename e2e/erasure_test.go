package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/devenv/localnats"
	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/eventstore/relay"
)

// erasable is a person whose lead the test deletes: every value is
// distinctive, so finding one anywhere after the delete is a leak.
type erasable struct {
	first, last, email, phone, digits, note string
}

// marks are the strings that must not survive the person's lead.
func (p erasable) marks() []string {
	return []string{p.first, p.last, p.email, p.digits, p.note}
}

// TestPermanentDeleteLeavesNoPersonalData creates a lead through each API
// (with Idempotency-Key and X-Request-Id headers carrying the person's
// email), gives it comments, call logs with notes, a photo and, through the
// prospects API, a contact, a note and a location, deletes it
// through the API that made it, and then searches everything crm writes —
// every column of every row of every table of the database, the photo
// folder, every message of the JetStream stream and every file of the NATS
// store directory — for the person's name, email and phone. One person is
// made through the prospects API and converted into a client with records
// of its own, and the client is deleted too; one is a /dev/crm customer
// with a deleted order and an answered feedback request, deleted through
// DELETE /dev/crm/customers/:id. It also deletes one call log
// and one contact of a lead that stays, and looks for what they held.
func TestPermanentDeleteLeavesNoPersonalData(t *testing.T) {
	storeDir := t.TempDir()
	ns, err := localnats.Start(localnats.Options{Dir: storeDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	s := newStack(t, withNATS(ns.URL()))

	people := []erasable{
		{"Quillon", "Vexmartha", "quillon.vexmartha@erasure.example", "+91 93456 12871", "9345612871", "Vexmartha-call-notes"},
		{"Zorbeth", "Plindacue", "zorbeth.plindacue@erasure.example", "+91 94567 23982", "9456723982", "Plindacue-call-notes"},
		{"Yarnifex", "Oddlestrom", "yarnifex.oddlestrom@erasure.example", "+91 95678 34093", "9567834093", "Oddlestrom-call-notes"},
		{"Wembric", "Tallowquent", "wembric.tallowquent@erasure.example", "+91 96789 45104", "9678945104", "Tallowquent-call-notes"},
	}
	headers := func(p erasable, what string) http.Header {
		return http.Header{"Idempotency-Key": {uuid.NewString()}, "X-Request-Id": {"rid-" + what + "-" + p.email}}
	}
	var photos []string
	var deletes []func()
	for i, p := range people {
		var uuidID string
		var number int64
		switch i {
		case 0: // Cratio
			r := s.doWith(s.key, "POST", "/api/v1/leads", map[string]any{"name": p.first + " " + p.last,
				"email": p.email, "phone": p.phone, "notes": "met " + p.first}, headers(p, "create"))
			var l cratioLead
			s.laWant(r, http.StatusCreated, &l)
			uuidID = l.ID
			deletes = append(deletes, func() {
				s.laWant(s.do(s.key, "DELETE", "/api/v1/leads/"+uuidID, nil), http.StatusOK, nil)
			})
		case 1: // Leads API
			r := s.doWith(s.key, "POST", "/leads", map[string]any{"firstName": p.first, "lastName": p.last,
				"email": p.email, "phoneNumber": []string{p.phone}}, headers(p, "create"))
			var l laLead
			s.laWant(r, http.StatusCreated, &l)
			number = l.ID
			uuidID = laUUID(t, s, number)
			deletes = append(deletes, func() {
				s.laWant(s.do(s.key, "DELETE", "/leads", map[string]any{"ids": []int64{number}}), http.StatusOK, nil)
			})
		case 2: // Overplane
			r := s.doWith(s.key, "POST", "/api/crm/lead", map[string]any{"lead_name": p.first + " " + p.last,
				"first_name": p.first, "last_name": p.last, "email_id": p.email, "phone": p.phone}, headers(p, "create"))
			var l opLead
			s.laWant(r, http.StatusCreated, &l)
			uuidID = uuidOf(l.ID)
			deletes = append(deletes, func() {
				s.laWant(s.do(s.key, "DELETE", "/api/crm/lead/"+l.ID, nil), http.StatusOK, nil)
			})
		case 3: // the prospects API, then converted into a client
			var out struct {
				Inserts []struct{ ID int64 } `json:"inserts"`
			}
			s.laWant(s.doWith(s.token(), "POST", "/prospects", []any{map[string]any{"name": p.first + " " + p.last,
				"company": p.last + " Ltd", "email": p.email, "phone": json.Number(p.digits), "code": 91}}, headers(p, "create")), http.StatusOK, &out)
			if len(out.Inserts) != 1 {
				t.Fatalf("prospect create: %+v", out)
			}
			number = out.Inserts[0].ID
			uuidID = laUUID(t, s, number)
			deletes = append(deletes, func() {
				s.laWant(s.do(s.key, "DELETE", "/leads", map[string]any{"ids": []int64{number}}), http.StatusOK, nil)
			})
		}
		if number == 0 {
			number = s.leadNumber(uuidID)
		}
		s.laWant(s.doWith(s.key, "POST", fmt.Sprintf("/leads/comments/%d", number),
			map[string]any{"content": "called " + p.first + " at " + p.phone}, headers(p, "comment")), http.StatusCreated, nil)
		s.laWant(s.doWith(s.key, "POST", "/api/v1/call-logs", map[string]any{"lead_id": uuidID, "call_type": "Outbound",
			"duration_seconds": 60, "notes": p.note + " " + p.email}, headers(p, "call")), http.StatusCreated, nil)
		var photo string
		s.laWant(s.doWith(s.key, "POST", "/leads/upload-photo", map[string]any{"id": number,
			"photo": base64.StdEncoding.EncodeToString(laPNG(t, 8))}, headers(p, "photo")), http.StatusOK, &photo)
		photos = append(photos, photo)
		// Through the prospects API: a contact, a scheduled note and a
		// location that carry the person too.
		tok, pp := s.token(), fmt.Sprintf("/prospects/%d", number)
		s.laWant(s.doWith(tok, "POST", pp+"/contacts", map[string]any{"name": p.first + " Assistant",
			"email": "assistant." + p.email, "phone_code": "91", "phone": p.digits, "position": p.last + " office"},
			headers(p, "contact")), http.StatusCreated, nil)
		s.laWant(s.doWith(tok, "POST", pp+"/notes", map[string]any{"action": "call", "note": "spoke to " + p.first + " " + p.last,
			"scheduled_date": "2026-12-20T09:00:00Z"}, headers(p, "note")), http.StatusCreated, nil)
		s.laWant(s.doWith(tok, "POST", pp+"/locations", map[string]any{"name": p.last + " house",
			"link": "https://maps.example.com/?q=" + p.last, "type": "office"}, headers(p, "location")), http.StatusCreated, nil)
		if i == 3 {
			deletes = append(deletes, s.eraseableClient(p, uuidID, headers))
		}
	}

	// A lead that stays, with a call log that is deleted.
	keeper := s.createLead(s.key, map[string]any{"name": "Kept Lead", "email": "kept@erasure.example"})
	const callNotes = "Thrommelwick-private-call-notes"
	call := s.logCall(s.key, map[string]any{"lead_id": keeper.ID, "call_type": "Inbound", "duration_seconds": 30,
		"notes": callNotes, "outcome": "Completed"})
	s.laWant(s.do(s.key, "DELETE", "/api/v1/call-logs/"+call.ID, nil), http.StatusOK, nil)
	if got := s.listCalls(s.key, "?lead_id="+keeper.ID).Total; got != 0 {
		t.Fatalf("the deleted call log is still listed: %d", got)
	}
	// … and a contact of it that is removed: its data goes with it.
	const contactName = "Brindlefoss Gorrimant"
	var ct struct{ ID int64 }
	s.laWant(s.do(s.token(), "POST", fmt.Sprintf("/prospects/%d/contacts", s.leadNumber(keeper.ID)), map[string]any{
		"name": contactName, "email": "brindlefoss@erasure.example", "phone_code": "91", "phone": "9789056215"}),
		http.StatusCreated, &ct)
	s.laWant(s.do(s.token(), "DELETE", fmt.Sprintf("/prospects/%d/contacts", ct.ID), nil), http.StatusNoContent, nil)

	deletes = append(deletes, s.erasableDevcrmCustomer(devcrmPerson))

	for _, d := range deletes {
		d()
	}
	s.caughtUp()
	s.relayDone()
	s.assertReplayEqual()

	var marks []string
	for _, p := range people {
		marks = append(marks, p.marks()...)
	}
	marks = append(marks, callNotes, contactName, "brindlefoss@erasure.example", "9789056215")
	marks = append(marks, devcrmPerson.marks()...)

	s.searchDatabase(marks)
	for _, name := range photos {
		_, err := os.Stat(filepath.Join(s.core.Config.PhotoDir, s.tenantID.String(), name))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("photo %s of a deleted lead is still in the photo folder (%v)", name, err)
		}
	}
	searchFiles(t, "photo folder", s.core.Config.PhotoDir, marks)
	s.searchStream(marks)
	searchFiles(t, "NATS store directory", storeDir, marks)

	// The kept lead lives on, and its history shows the call log deleted.
	if r := s.do(s.key, "GET", fmt.Sprintf("/leads/logs/%d", s.leadNumber(keeper.ID)), nil); r.Status != http.StatusOK ||
		!strings.Contains(string(r.Body), "DeleteCallLog") || strings.Contains(string(r.Body), callNotes) {
		t.Errorf("logs of the kept lead: %d %s", r.Status, r.Body)
	}
}

// devcrmPerson is the /dev/crm customer TestPermanentDeleteLeavesNoPersonalData
// deletes: note is the comment of its feedback, and digits are in the
// notes of an order it had.
var devcrmPerson = erasable{"Gorvandle", "Suffrickane", "gorvandle.suffrickane@erasure.example", "+91 97890 56216",
	"9789056216", "Suffrickane-feedback-comment"}

// erasableDevcrmCustomer makes p a /dev/crm customer that orders (the
// order deleted again: a customer with orders stays) and answers a
// feedback request with p.note, each write with an Idempotency-Key, and
// returns its delete through DELETE /dev/crm/customers/:id.
func (s *stack) erasableDevcrmCustomer(p erasable) func() {
	s.t.Helper()
	key := func() http.Header { return http.Header{"Idempotency-Key": {uuid.NewString()}} }
	var c dcCustomer
	s.dcWant(s.doWith(s.key, "POST", "/dev/crm/customers", map[string]any{"name": p.first + " " + p.last, "email": p.email,
		"phone": p.phone, "notes": "customer " + p.last}, key()), http.StatusCreated, &c)
	var o dcOrder
	s.dcWant(s.doWith(s.key, "POST", "/dev/crm/orders", map[string]any{"customer_id": c.ID, "product_id": uuid.NewString(),
		"quantity": 1, "shipping_address": p.last + " street", "notes": "order for " + p.digits}, key()), http.StatusCreated, &o)
	s.dcWant(s.doWith(s.key, "PUT", "/dev/crm/orders/"+o.ID, map[string]any{"notes": "again " + p.digits}, key()), http.StatusOK, nil)
	s.dcWant(s.doWith(s.key, "DELETE", "/dev/crm/orders/"+o.ID, nil, key()), http.StatusNoContent, nil)
	var f dcFeedback
	s.dcWant(s.doWith(s.key, "POST", "/dev/crm/customers/"+c.ID+"/feedback/request", nil, key()), http.StatusCreated, &f)
	s.dcWant(s.doWith(s.key, "POST", "/dev/crm/feedback/"+f.ID, map[string]any{"rating": 2, "comment": p.note,
		"category": p.last}, key()), http.StatusOK, nil)
	s.dcFeedbackRequest(s.key, c.ID) // one left unanswered
	return func() {
		s.dcWant(s.doWith(s.key, "DELETE", "/dev/crm/customers/"+c.ID, nil, key()), http.StatusNoContent, nil)
	}
}

// eraseableClient converts the lead into a client (no route of the
// prospects API converts; /dev/crm's will), gives the client a contact, a
// note, a location and follow-up data through the prospects API, and
// returns the client's delete, through the commands (no route of this API
// deletes a client).
func (s *stack) eraseableClient(p erasable, leadID string, headers func(erasable, string) http.Header) func() {
	s.t.Helper()
	h, c := commands.New(s.core.Store, "IN"), commands.Context{TenantID: s.tenantID}
	conv, err := h.ConvertLead(s.ctx, c, uuid.MustParse(leadID))
	if err != nil {
		s.t.Fatal(err)
	}
	tok, cp := s.token(), fmt.Sprintf("/clients/%d", conv.Number)
	s.laWant(s.doWith(tok, "POST", cp+"/contacts", map[string]any{"name": p.first + " Buyer",
		"email": "buyer." + p.email, "phone_code": "91", "phone": p.digits, "position": p.last + " purchasing"},
		headers(p, "client-contact")), http.StatusCreated, nil)
	s.laWant(s.doWith(tok, "POST", cp+"/notes", map[string]any{"action": "email", "note": "wrote to " + p.first + " " + p.last,
		"scheduled_date": "2026-12-21T09:00:00Z"}, headers(p, "client-note")), http.StatusCreated, nil)
	s.laWant(s.doWith(tok, "POST", cp+"/locations", map[string]any{"name": p.last + " depot",
		"link": "https://maps.example.com/?q=depot+" + p.last, "type": "warehouse"}, headers(p, "client-location")), http.StatusCreated, nil)
	s.laWant(s.doWith(tok, "PATCH", cp+"/data", map[string]any{"annotations": p.first + " prefers mornings"},
		headers(p, "client-data")), http.StatusOK, nil)
	return func() {
		if _, err := h.DeleteCustomer(s.ctx, c, conv.CustomerID); err != nil {
			s.t.Fatal(err)
		}
	}
}

// leadNumber is the per-tenant number of the lead with the given UUID.
func (s *stack) leadNumber(id string) int64 {
	s.t.Helper()
	var n int64
	if err := s.core.Pool.QueryRow(s.ctx, `select number from rm_leads where tenant_id = $1 and id = $2`,
		s.tenantID, id).Scan(&n); err != nil {
		s.t.Fatalf("number of lead %s: %v", id, err)
	}
	return n
}

// relayDone waits until the relay has published every committed event and
// passed its checkpoint beyond them: a deletion's erase is done before the
// checkpoint passes the deletion.
func (s *stack) relayDone() {
	s.t.Helper()
	events := s.events()
	last := events[len(events)-1].Position
	storetest.WaitFor(s.t, 20*time.Second, func() (bool, error) {
		cp, err := eventstore.LoadCheckpoint(s.ctx, s.core.Pool, relay.CheckpointName, false)
		return !cp.Less(last), err
	})
}

// searchDatabase looks for the marks in every column of every row of every
// table of the test's database, in every schema but Postgres's own: each
// row as text, and each bytea column's bytes.
func (s *stack) searchDatabase(marks []string) {
	s.t.Helper()
	rows, err := s.core.Pool.Query(s.ctx, `select n.nspname, c.relname,
			coalesce(array_agg(a.attname::text order by a.attnum) filter (where a.atttypid = 'bytea'::regtype), '{}')
		from pg_class c
		join pg_namespace n on n.oid = c.relnamespace
		left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
		where c.relkind in ('r', 'p', 'm') and n.nspname not in ('pg_catalog', 'information_schema')
			and n.nspname not like 'pg_toast%'
		group by n.nspname, c.relname order by 1, 2`)
	if err != nil {
		s.t.Fatal(err)
	}
	type table struct {
		schema, name string
		bytea        []string
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var t table
		err := r.Scan(&t.schema, &t.name, &t.bytea)
		return t, err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	if len(tables) < 10 {
		s.t.Fatalf("found only %d tables: %v", len(tables), tables)
	}
	for _, tb := range tables {
		ident := pgx.Identifier{tb.schema, tb.name}.Sanitize()
		conds := []string{"t::text ilike '%' || m || '%'"}
		for _, col := range tb.bytea {
			conds = append(conds, fmt.Sprintf("encode(t.%s, 'escape') ilike '%%' || m || '%%'", pgx.Identifier{col}.Sanitize()))
		}
		q := fmt.Sprintf(`select m, left(t::text, 300) from %s t, unnest($1::text[]) m where %s`, ident, strings.Join(conds, " or "))
		rows, err := s.core.Pool.Query(s.ctx, q, marks)
		if err != nil {
			s.t.Fatalf("search %s: %v", ident, err)
		}
		for rows.Next() {
			var m, row string
			if err := rows.Scan(&m, &row); err != nil {
				s.t.Fatal(err)
			}
			s.t.Errorf("table %s still holds %q: %s", ident, m, row)
		}
		if err := rows.Err(); err != nil {
			s.t.Fatalf("search %s: %v", ident, err)
		}
	}
}

// searchStream looks for the marks in every message of the stream, headers
// and body.
func (s *stack) searchStream(marks []string) {
	s.t.Helper()
	st, err := s.js.Stream(s.ctx, s.stream.Name)
	if err != nil {
		s.t.Fatal(err)
	}
	info, err := st.Info(s.ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
		msg, err := st.GetMsg(s.ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			s.t.Fatal(err)
		}
		text := strings.ToLower(fmt.Sprint(msg.Header) + string(msg.Data))
		for _, m := range marks {
			if strings.Contains(text, strings.ToLower(m)) {
				s.t.Errorf("stream message %d still holds %q: %.300s", seq, m, msg.Data)
			}
		}
	}
}

// searchFiles looks for the marks in every file under dir, ignoring case.
func searchFiles(t *testing.T, what, dir string, marks []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b = bytes.ToLower(b)
		for _, m := range marks {
			if bytes.Contains(b, []byte(strings.ToLower(m))) {
				t.Errorf("%s: %s still holds %q", what, path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeletedLeadsPhotosAreRemovedOnceProjected deletes leads while the
// projectors are down: their photo files stay until the projectors run
// again, and are then removed, but for a file another lead still names.
func TestDeletedLeadsPhotosAreRemovedOnceProjected(t *testing.T) {
	s := newStack(t, withWaitTimeout(100*time.Millisecond))
	photoPath := func(name string) string { return filepath.Join(s.core.Config.PhotoDir, s.tenantID.String(), name) }
	exists := func(name string) bool {
		_, err := os.Stat(photoPath(name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		return err == nil
	}
	a := s.laCreate(s.key, laPerson("Asha", "asha@example.com"))
	b := s.laCreate(s.key, laPerson("Bina", "bina@example.com"))
	c := s.laCreate(s.key, laPerson("Chitra", "chitra@example.com"))
	var shared, own string
	s.laWant(s.laUpload(s.key, laPNG(t, 8), map[string]string{"id": fmt.Sprint(a.ID)}), http.StatusOK, &shared)
	s.laWant(s.do(s.key, "PUT", fmt.Sprintf("/leads/%d", b.ID), map[string]any{"firstName": "Bina", "email": "bina@example.com", "photo": shared}), http.StatusOK, nil)
	s.laWant(s.laUpload(s.key, laPNG(t, 8), map[string]string{"id": fmt.Sprint(c.ID)}), http.StatusOK, &own)
	s.caughtUp()

	s.stop("projectors")
	s.laWant(s.do(s.key, "DELETE", "/leads", map[string]any{"ids": []int64{a.ID, c.ID}}), http.StatusOK, nil)
	if !exists(shared) || !exists(own) {
		t.Fatal("a photo was removed before any projector applied the deletion")
	}
	s.startProjectors()
	s.caughtUp()
	if exists(own) {
		t.Errorf("photo %s of deleted lead %d is still there", own, c.ID)
	}
	if !exists(shared) {
		t.Errorf("photo %s was removed while lead %d still names it", shared, b.ID)
	}
	s.laWant(s.do(s.key, "DELETE", "/leads", map[string]any{"ids": []int64{b.ID}}), http.StatusOK, nil)
	s.caughtUp()
	if exists(shared) {
		t.Errorf("photo %s outlived every lead that named it", shared)
	}
	s.assertReplayEqual()
}
