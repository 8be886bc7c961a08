package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmcore/crm/api/leadsapi"
	"github.com/crmcore/crm/projections/leads"
)

// laLead is the lead object as a client of the Leads API reads it.
type laLead struct {
	ID          int64    `json:"id"`
	FirstName   *string  `json:"firstName"`
	LastName    *string  `json:"lastName"`
	Email       *string  `json:"email"`
	PhoneNumber []string `json:"phoneNumber"`
	Status      string   `json:"status"`
	StatusID    *int64   `json:"statusId"`
	State       string   `json:"state"`
	Business    []struct {
		ID int64 `json:"id"`
	} `json:"business"`
	Photo       *string            `json:"photo"`
	Source      *string            `json:"source"`
	Description *string            `json:"description"`
	Location    *string            `json:"location"`
	SocialMedia map[string]*string `json:"socialMedia"`
	Position    *string            `json:"position"`
	Company     *string            `json:"company"`
}

type laError struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Error      string `json:"error"`
	Field      string `json:"field"`
}

var laJohn = map[string]any{
	"firstName": "John", "lastName": "Doe", "business": []int{1, 2, 3}, "state": "Active", "statusId": 1,
	"source": "Referral", "phoneNumber": []string{"+91 98765 43210"}, "email": "John.Doe@Example.com",
	"description": "Lead description", "location": "New York", "position": "Manager", "company": "Company Name",
	"socialMedia": map[string]any{"youtube": "youtube.com/lead", "facebook": "facebook.com/lead",
		"instagram": "instagram.com/lead", "twitter": "twitter.com/lead"},
}

func laStr(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// laWant checks a response's status and decodes its body into v (if not nil).
func (s *stack) laWant(r response, status int, v any) {
	s.t.Helper()
	if r.Status != status {
		s.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if v != nil {
		r.json(s.t, v)
	}
}

// laFails checks an error answer: status, message and field.
func (s *stack) laFails(r response, status int, message, field string) {
	s.t.Helper()
	var e laError
	s.laWant(r, status, &e)
	if e.StatusCode != status || e.Error != http.StatusText(status) || e.Field != field ||
		(message != "" && e.Message != message) {
		s.t.Fatalf("error %+v, want %d %q field %q", e, status, message, field)
	}
}

func (s *stack) laCreate(key string, body map[string]any) laLead {
	s.t.Helper()
	var l laLead
	s.laWant(s.do(key, "POST", "/leads", body), http.StatusCreated, &l)
	return l
}

func (s *stack) laGet(key string, id int64) laLead {
	s.t.Helper()
	var l laLead
	s.laWant(s.do(key, "GET", fmt.Sprintf("/leads/%d", id), nil), http.StatusOK, &l)
	return l
}

func (s *stack) laList(key, query string) (int, []laLead) {
	s.t.Helper()
	var out struct {
		Count int      `json:"count"`
		Leads []laLead `json:"leads"`
	}
	s.laWant(s.do(key, "GET", "/leads"+query, nil), http.StatusOK, &out)
	return out.Count, out.Leads
}

func laPerson(first, email string) map[string]any {
	return map[string]any{"firstName": first, "email": email}
}

func TestLeadsAPICreateGetListSearchUpdate(t *testing.T) {
	s := newStack(t)
	john := s.laCreate(s.key, laJohn)
	if john.ID != 1 || laStr(john.FirstName) != "John" || laStr(john.LastName) != "Doe" || laStr(john.Email) != "john.doe@example.com" ||
		strings.Join(john.PhoneNumber, ",") != "+919876543210" || john.Status != "New" || *john.StatusID != 1 || john.State != "Active" ||
		len(john.Business) != 3 || laStr(john.Position) != "Manager" || laStr(john.SocialMedia["twitter"]) != "twitter.com/lead" {
		t.Fatalf("created lead: %+v", john)
	}
	if got := s.laGet(s.key, john.ID); laStr(got.Company) != "Company Name" || laStr(got.Location) != "New York" {
		t.Fatalf("get: %+v", got)
	}
	ann := s.laCreate(s.key, map[string]any{"firstName": "Ann", "phoneNumber": []string{"09812345678"}, "statusId": 5, "company": "Globex"})
	if ann.ID != 2 || ann.Status != "Won" || ann.Email != nil || ann.LastName != nil {
		t.Fatalf("second lead: %+v", ann)
	}
	// Duplicate email or phone: refused, nothing written.
	before := len(s.events())
	s.laFails(s.do(s.key, "POST", "/leads", laPerson("Johnny", "JOHN.doe@example.com")), 400, "Email already exists", "email")
	s.laFails(s.do(s.key, "POST", "/leads", map[string]any{"firstName": "X", "phoneNumber": []string{"+919812345678"}}), 400, "Phone number already exists", "phoneNumber")
	s.laFails(s.do(s.key, "POST", "/leads", map[string]any{"firstName": "X", "email": "x@y.co", "statusId": 99}), 404, "No lead status found", "statusId")
	if after := len(s.events()); after != before {
		t.Fatalf("refused creates wrote %d events", after-before)
	}

	if n, leads := s.laList(s.key, ""); n != 2 || len(leads) != 2 || leads[0].ID != ann.ID {
		t.Fatalf("list: %d %+v", n, leads)
	}
	if n, leads := s.laList(s.key, "?page=2&limit=1"); n != 2 || len(leads) != 1 || leads[0].ID != john.ID {
		t.Fatalf("second page: %d %+v", n, leads)
	}
	if n, _ := s.laList(s.key, "?statusId=5"); n != 1 {
		t.Fatalf("statusId filter: %d", n)
	}
	for q, want := range map[string]int64{"doe": john.ID, "JOHN.DOE@": john.ID, "98123": ann.ID, "globex": ann.ID} {
		var found []laLead
		s.laWant(s.do(s.key, "GET", "/leads/search?q="+q, nil), 200, &found)
		if len(found) != 1 || found[0].ID != want {
			t.Errorf("search %q: %+v", q, found)
		}
	}
	var recent []laLead
	s.laWant(s.do(s.key, "GET", "/leads/recent-leads?limit=1", nil), 200, &recent)
	if len(recent) != 1 || recent[0].ID != ann.ID {
		t.Fatalf("recent: %+v", recent)
	}

	// PUT replaces what this API shows: unsent fields are cleared.
	var put laLead
	s.laWant(s.do(s.key, "PUT", "/leads/1", map[string]any{"firstName": "Johnny", "lastName": nil, "email": "johnny@example.com",
		"statusId": 3, "socialMedia": map[string]any{"youtube": "yt/j"}, "business": []int{7}}), 200, &put)
	if laStr(put.FirstName) != "Johnny" || put.LastName != nil || laStr(put.Email) != "johnny@example.com" || len(put.PhoneNumber) != 0 ||
		put.Status != "Qualified" || put.Company != nil || put.SocialMedia["twitter"] != nil || laStr(put.SocialMedia["youtube"]) != "yt/j" ||
		len(put.Business) != 1 || put.Business[0].ID != 7 {
		t.Fatalf("after PUT: %+v", put)
	}
	// The old email is free again; the other lead's phone is not.
	s.laCreate(s.key, laPerson("Jane", "john.doe@example.com"))
	s.laFails(s.do(s.key, "PUT", "/leads/1", map[string]any{"firstName": "J", "phoneNumber": []string{"+919812345678"}}), 400, "Phone number already exists", "phoneNumber")
	s.laWant(s.do(s.key, "PUT", "/leads/1", map[string]any{"firstName": "J", "email": "j@x.co", "state": "Archived"}), 200, &put)
	if put.State != "Archived" {
		t.Fatalf("archived by PUT: %+v", put)
	}
	if n, _ := s.laList(s.key, ""); n != 2 {
		t.Fatalf("archived lead listed: %d", n)
	}
	if n, leads := s.laList(s.key, "?state=Archived"); n != 1 || leads[0].ID != 1 {
		t.Fatalf("archived list: %d %+v", n, leads)
	}
	s.assertReplayEqual()
}

func TestLeadsAPIBadInput(t *testing.T) {
	s := newStack(t)
	s.laCreate(s.key, laJohn)
	before := len(s.events())
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		field        string
	}{
		{"POST", "/leads", `{"firstName": "x",`, 400, ""},
		{"POST", "/leads", `[1]`, 400, ""},
		{"POST", "/leads", map[string]any{"email": "a@b.co"}, 400, "firstName"},
		{"POST", "/leads", map[string]any{"firstName": "x"}, 400, "email"},
		{"POST", "/leads", map[string]any{"firstName": 5, "email": "a@b.co"}, 400, "firstName"},
		{"POST", "/leads", map[string]any{"firstName": "x", "email": "nope"}, 400, "email"},
		{"POST", "/leads", map[string]any{"firstName": "x", "phoneNumber": []string{"12"}}, 400, "phoneNumber"},
		{"POST", "/leads", map[string]any{"firstName": "x", "email": "a@b.co", "state": "Deleted"}, 400, "state"},
		{"POST", "/leads", map[string]any{"firstName": "x", "email": "a@b.co", "statusId": 0}, 400, "statusId"},
		{"POST", "/leads", map[string]any{"firstName": "x", "email": "a@b.co", "business": []any{"a"}}, 400, "business"},
		{"POST", "/leads", map[string]any{"firstName": "x", "email": "a@b.co", "socialMedia": map[string]any{"myspace": "x"}}, 400, "socialMedia"},
		{"POST", "/leads", map[string]any{"firstName": "x", "email": "a@b.co", "photo": "../etc/passwd"}, 400, "photo"},
		{"POST", "/leads", map[string]any{"firstName": "x", "email": "a@b.co", "photo": "missing.png"}, 400, "photo"},
		{"POST", "/leads", map[string]any{"firstName": "x", "email": "a@b.co", "nickname": "y"}, 400, "nickname"},
		{"POST", "/leads", map[string]any{"firstName": strings.Repeat("x", 1001), "email": "a@b.co"}, 400, "firstName"},
		{"POST", "/leads", strings.Repeat(" ", 2<<20), 413, ""},
		{"GET", "/leads/abc", nil, 400, "id"},
		{"GET", "/leads/0", nil, 400, "id"},
		{"GET", "/leads/99", nil, 404, "id"},
		{"PUT", "/leads/99", laPerson("x", "a@b.co"), 404, "id"},
		{"PUT", "/leads/1", map[string]any{"email": "a@b.co"}, 400, "firstName"},
		{"PUT", "/leads/1", map[string]any{"firstName": "x", "email": "a@b.co", "statusId": 42}, 404, "statusId"},
		{"GET", "/leads?limit=0", nil, 400, "limit"},
		{"GET", "/leads?page=x", nil, 400, "page"},
		{"GET", "/leads?state=Gone", nil, 400, "state"},
		{"GET", "/leads?statusId=77", nil, 400, "statusId"},
		{"GET", "/leads/search", nil, 400, "q"},
		{"GET", "/leads/recent-leads?limit=51", nil, 400, "limit"},
		{"GET", "/leads/leads-volume?from=2026-13-01", nil, 400, "from"},
		{"GET", "/leads/leads-volume?from=2026-02-02&to=2026-02-01", nil, 400, "from"},
		{"GET", "/leads/leads-volume?from=2020-01-01&to=2026-01-01", nil, 400, "from"},
		{"GET", "/leads/logs/x", nil, 400, "id"},
		{"GET", "/leads/logs/1?limit=201", nil, 400, "limit"},
		{"GET", "/leads/logs-and-comments/-1", nil, 400, "id"},
		{"POST", "/leads/comments/1.5", map[string]any{"content": "x"}, 400, "id"},
		{"POST", "/leads/comments/1", map[string]any{"content": "  "}, 400, "content"},
		{"PUT", "/leads/comments/abc", map[string]any{"content": "x"}, 400, "id"},
		{"PUT", "/leads/comments/9", map[string]any{"content": "x"}, 404, "id"},
		{"PUT", "/leads/change-status", map[string]any{"ids": []int{1}}, 400, "statusId"},
		{"PUT", "/leads/change-status", map[string]any{"ids": []int{1}, "statusId": 99}, 400, "statusId"},
		{"PUT", "/leads/change-status", map[string]any{"ids": []int{}, "statusId": 2}, 400, "ids"},
		{"PATCH", "/leads/archive", map[string]any{}, 400, "ids"},
		{"PATCH", "/leads/archive", map[string]any{"ids": []int{-1}}, 400, "ids"},
		{"POST", "/leads/status", map[string]any{"name": "Hot", "primaryColor": "ultraviolet"}, 400, "primaryColor"},
		{"POST", "/leads/status", map[string]any{"primaryColor": "blue"}, 400, "name"},
		{"POST", "/leads/status", map[string]any{"name": "new", "primaryColor": "blue"}, 400, "name"},
		{"PUT", "/leads/status/99", map[string]any{"name": "X"}, 400, "id"},
		{"PUT", "/leads/status/x", map[string]any{"name": "X"}, 400, "id"},
		{"DELETE", "/leads/status/99", nil, 400, "id"},
		{"PUT", "/leads/statuses/order", []map[string]any{{"id": 99, "statusOrder": 1}}, 400, "id"},
		{"PUT", "/leads/statuses/order", []map[string]any{{"id": 1, "statusOrder": 0}}, 400, "statusOrder"},
		{"PUT", "/leads/statuses/order", `[]`, 400, ""},
		{"PUT", "/leads/statuses/order", []map[string]any{{"id": 1, "statusOrder": 2}, {"id": 2, "statusOrder": 2}}, 400, "statusOrder"},
		{"POST", "/leads/upload-photo", map[string]any{"photo": "not base64!"}, 400, "photo"},
		{"POST", "/leads/upload-photo", map[string]any{"id": 99, "photo": base64.StdEncoding.EncodeToString(laPNG(t, 4))}, 404, "id"},
	} {
		t.Run(fmt.Sprintf("%s %s %d", c.method, c.path, c.status), func(t *testing.T) {
			r := s.do(s.key, c.method, c.path, c.body)
			var e laError
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			r.json(t, &e)
			if e.StatusCode != c.status || e.Field != c.field || e.Message == "" {
				t.Fatalf("error %s, want field %q", r.Body, c.field)
			}
		})
	}
	if after := len(s.events()); after != before {
		t.Fatalf("bad input wrote %d events", after-before)
	}
}

func TestLeadsAPIBulkIsAllOrNothing(t *testing.T) {
	s := newStack(t)
	for i := range 3 {
		s.laCreate(s.key, laPerson(fmt.Sprintf("Lead%d", i), fmt.Sprintf("l%d@example.com", i)))
	}
	_, otherKey := s.newTenant("globex")
	s.laCreate(otherKey, laPerson("Theirs", "theirs@example.com")) // number 1 of the other tenant
	s.laCreate(otherKey, laPerson("Theirs2", "theirs2@example.com"))
	s.laCreate(otherKey, laPerson("Theirs3", "theirs3@example.com"))
	s.laCreate(otherKey, laPerson("Theirs4", "theirs4@example.com")) // number 4 exists only there
	before := len(s.events())
	unknown := map[string]any{"ids": []int{1, 2, 4}}
	s.laFails(s.do(s.key, "PATCH", "/leads/archive", unknown), 400, "One or more leads not found", "ids")
	s.laFails(s.do(s.key, "PATCH", "/leads/restore", unknown), 400, "One or more leads not found", "ids")
	s.laFails(s.do(s.key, "DELETE", "/leads", unknown), 400, "One or more leads not found", "ids")
	s.laFails(s.do(s.key, "PUT", "/leads/change-status", map[string]any{"ids": []int{1, 4}, "statusId": 5}), 404, "Lead not found", "ids")
	if after := len(s.events()); after != before {
		t.Fatalf("refused bulk requests wrote %d events", after-before)
	}
	if n, _ := s.laList(s.key, "?statusId=1"); n != 3 {
		t.Fatalf("leads changed by a refused request: %d", n)
	}

	var changed []struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	s.laWant(s.do(s.key, "PUT", "/leads/change-status", map[string]any{"ids": []int{1, 2}, "statusId": 5}), 200, &changed)
	if len(changed) != 2 || changed[0].ID != 1 || changed[1].Status != "Won" {
		t.Fatalf("change-status: %+v", changed)
	}
	// Cratio's status filter shows the change at once.
	if got := s.listLeads(s.key, "?status=Won"); got.Total != 2 {
		t.Fatalf("Cratio sees %d Won leads", got.Total)
	}
	var msg map[string]string
	s.laWant(s.do(s.key, "PATCH", "/leads/archive", map[string]any{"ids": []int{1, 3}}), 200, &msg)
	if msg["message"] != "Leads archived successfully" || msg["description"] != "The leads have been archived successfully." {
		t.Fatalf("archive answer: %v", msg)
	}
	if n, _ := s.laList(s.key, ""); n != 1 {
		t.Fatalf("%d active leads after archive", n)
	}
	s.laWant(s.do(s.key, "PATCH", "/leads/restore", map[string]any{"ids": []int{3}}), 200, &msg)
	if msg["message"] != "Leads restored successfully" {
		t.Fatalf("restore answer: %v", msg)
	}
	s.laWant(s.do(s.key, "DELETE", "/leads", map[string]any{"ids": []int{1, 2}}), 200, &msg)
	if msg["message"] != "Leads deleted successfully" || msg["description"] != "The leads have been deleted successfully." {
		t.Fatalf("delete answer: %v", msg)
	}
	s.laFails(s.do(s.key, "GET", "/leads/1", nil), 404, "Lead not found", "id")
	if n, _ := s.laList(s.key, "?state=All"); n != 1 {
		t.Fatalf("%d leads after delete", n)
	}
	if n, _ := s.laList(otherKey, ""); n != 4 {
		t.Fatalf("other tenant's leads changed: %d", n)
	}
	s.assertReplayEqual()
}

type laStatus struct {
	ID             int64  `json:"id"`
	Name           string `json:"name"`
	PrimaryColor   string `json:"primaryColor"`
	SecondaryColor string `json:"secondaryColor"`
	StatusOrder    int    `json:"statusOrder"`
}

func (s *stack) laStatuses(key string) ([]laStatus, []string) {
	s.t.Helper()
	var out struct {
		Statuses []laStatus `json:"statuses"`
		Colors   []string   `json:"colors"`
	}
	s.laWant(s.do(key, "GET", "/leads/statuses", nil), 200, &out)
	return out.Statuses, out.Colors
}

func laOrder(statuses []laStatus) string {
	var names []string
	for _, st := range statuses {
		names = append(names, st.Name)
	}
	return strings.Join(names, ",")
}

func TestLeadsAPIStatuses(t *testing.T) {
	s := newStack(t)
	statuses, colors := s.laStatuses(s.key)
	if laOrder(statuses) != "New,Contacted,Qualified,Proposal,Won,Lost" || statuses[4].ID != 5 || len(colors) != 11 ||
		statuses[0].PrimaryColor != "blue" || statuses[0].SecondaryColor != "lightblue" {
		t.Fatalf("default pipeline: %+v %v", statuses, colors)
	}
	var hot laStatus
	s.laWant(s.do(s.key, "POST", "/leads/status", map[string]any{"name": "Hot", "primaryColor": "coral"}), 201, &hot)
	if hot.ID != 7 || hot.SecondaryColor != "lightcoral" || hot.StatusOrder != 7 {
		t.Fatalf("created status: %+v", hot)
	}
	s.laFails(s.do(s.key, "POST", "/leads/status", map[string]any{"name": "hot", "primaryColor": "blue"}), 400, "Lead status already exists", "name")
	lead := s.laCreate(s.key, map[string]any{"firstName": "Ann", "email": "ann@example.com", "statusId": hot.ID})
	if lead.Status != "Hot" || *lead.StatusID != hot.ID {
		t.Fatalf("lead in the new status: %+v", lead)
	}
	s.laWant(s.do(s.key, "PUT", "/leads/status/7", map[string]any{"name": "Very hot", "primaryColor": nil}), 200, &hot)
	if hot.Name != "Very hot" || hot.PrimaryColor != "coral" {
		t.Fatalf("renamed status: %+v", hot)
	}
	if got := s.laGet(s.key, lead.ID); got.Status != "Very hot" {
		t.Fatalf("lead shows %q after the rename", got.Status)
	}
	s.laWant(s.do(s.key, "PUT", "/leads/status/7", map[string]any{"primaryColor": "seagreen"}), 200, &hot)
	if hot.Name != "Very hot" || hot.SecondaryColor != "lightseagreen" {
		t.Fatalf("recoloured status: %+v", hot)
	}
	// In use: refused; once the lead moves away, deleted.
	s.laFails(s.do(s.key, "DELETE", "/leads/status/7", nil), 400, "", "id")
	s.laWant(s.do(s.key, "PUT", "/leads/change-status", map[string]any{"ids": []int64{lead.ID}, "statusId": 2}), 200, nil)
	var msg map[string]string
	s.laWant(s.do(s.key, "DELETE", "/leads/status/7", nil), 200, &msg)
	if msg["message"] != "Lead status deleted successfully" {
		t.Fatalf("delete answer: %v", msg)
	}
	// Reorder: an array, or the single object the document shows.
	var places []struct {
		ID          int64 `json:"id"`
		StatusOrder int   `json:"statusOrder"`
	}
	s.laWant(s.do(s.key, "PUT", "/leads/statuses/order", []map[string]any{{"id": 6, "statusOrder": 1}, {"id": 5, "statusOrder": 2}}), 200, &places)
	if len(places) != 6 || places[0].ID != 6 || places[1].ID != 5 || places[2].StatusOrder != 3 {
		t.Fatalf("reorder answer: %+v", places)
	}
	s.laWant(s.do(s.key, "PUT", "/leads/statuses/order", map[string]any{"id": 1, "statusOrder": 6}), 200, nil)
	if statuses, _ = s.laStatuses(s.key); laOrder(statuses) != "Lost,Won,Contacted,Qualified,Proposal,New" || statuses[5].StatusOrder != 6 {
		t.Fatalf("order after reorder: %s", laOrder(statuses))
	}
	// A new lead starts in the first status of the pipeline.
	if l := s.laCreate(s.key, laPerson("Bo", "bo@example.com")); l.Status != "Lost" {
		t.Fatalf("new lead in %q", l.Status)
	}
	// Another tenant keeps the default pipeline.
	_, other := s.newTenant("globex")
	if st, _ := s.laStatuses(other); laOrder(st) != "New,Contacted,Qualified,Proposal,Won,Lost" {
		t.Fatalf("other tenant's pipeline: %s", laOrder(st))
	}
	s.assertReplayEqual()
}

type laLog struct {
	ID        int64   `json:"id"`
	Action    *string `json:"action"`
	Type      string  `json:"type"`
	Content   *string `json:"content"`
	CommentID *int64  `json:"commentId"`
	User      struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
	} `json:"user"`
	Changes []struct {
		Field    string `json:"field"`
		OldValue any    `json:"oldValue"`
		NewValue any    `json:"newValue"`
	} `json:"changes"`
}

func TestLeadsAPICommentsAndLogs(t *testing.T) {
	s := newStack(t)
	lead := s.laCreate(s.key, laJohn)
	var cm struct {
		ID      int64  `json:"id"`
		Content string `json:"content"`
		User    struct {
			FirstName string `json:"firstName"`
			Email     string `json:"email"`
		} `json:"user"`
		CreatedAt time.Time `json:"createdAt"`
	}
	s.laWant(s.do(s.key, "POST", "/leads/comments/1", map[string]any{"content": "This is a comment."}), 201, &cm)
	if cm.ID != 1 || cm.Content != "This is a comment." || !strings.HasPrefix(cm.User.Email, "api_key:") || cm.CreatedAt.IsZero() {
		t.Fatalf("comment: %+v", cm)
	}
	created := cm.CreatedAt
	s.laWant(s.do(s.key, "PUT", "/leads/comments/1", map[string]any{"content": "This is an edited comment."}), 200, &cm)
	if cm.Content != "This is an edited comment." || !cm.CreatedAt.Equal(created) {
		t.Fatalf("edited comment: %+v", cm)
	}
	s.laWant(s.do(s.key, "POST", "/leads/comments/1", map[string]any{"content": "Second."}), 201, nil)
	s.laFails(s.do(s.key, "POST", "/leads/comments/7", map[string]any{"content": "x"}), 404, "Lead not found", "id")
	// Changes through this API and Cratio all land in the log.
	acme := map[string]any{}
	for k, v := range laJohn {
		acme[k] = v
	}
	acme["company"] = "Acme"
	s.laWant(s.do(s.key, "PUT", "/leads/1", acme), 200, nil)
	s.laWant(s.do(s.key, "PUT", "/leads/change-status", map[string]any{"ids": []int{1}, "statusId": 2}), 200, nil)
	s.laWant(s.do(s.key, "PATCH", "/leads/archive", map[string]any{"ids": []int{1}}), 200, nil)
	s.laWant(s.do(s.key, "PATCH", "/leads/restore", map[string]any{"ids": []int{1}}), 200, nil)
	s.do(s.key, "POST", "/api/v1/leads", map[string]any{"name": "John Doe", "email": "john.doe@example.com", "city": "Pune"})
	var logs struct {
		Count int     `json:"count"`
		Logs  []laLog `json:"logs"`
	}
	s.laWant(s.do(s.key, "GET", "/leads/logs/1?limit=100", nil), 200, &logs)
	var actions []string
	for _, l := range logs.Logs {
		actions = append(actions, *l.Action)
	}
	want := "MergeLead,RestoreLead,ArchiveLead,ChangeStatus,UpdateLead,AddComment,EditComment,AddComment,CreateLead"
	if got := strings.Join(actions, ","); got != want || logs.Count != 9 {
		t.Fatalf("log actions %s (count %d), want %s", got, logs.Count, want)
	}
	// The log is the lead's stream, straight from the store.
	stream := 0
	for _, e := range s.events() {
		if e.StreamID.String() == laUUID(t, s, lead.ID) {
			stream++
		}
	}
	if stream != logs.Count {
		t.Fatalf("%d log entries, %d events in the stream", logs.Count, stream)
	}
	upd := logs.Logs[4]
	if len(upd.Changes) != 1 || upd.Changes[0].Field != "company" || upd.Changes[0].OldValue != "Company Name" || upd.Changes[0].NewValue != "Acme" {
		t.Fatalf("update entry: %+v", upd)
	}
	if st := logs.Logs[3].Changes[0]; st.Field != "status" || st.OldValue != "New" || st.NewValue != "Contacted" {
		t.Fatalf("status entry: %+v", logs.Logs[3])
	}
	s.laWant(s.do(s.key, "GET", "/leads/logs/1?page=2&limit=4", nil), 200, &logs)
	if len(logs.Logs) != 4 || logs.Logs[0].ID != 5 {
		t.Fatalf("second page of logs: %+v", logs.Logs)
	}
	var tl struct {
		Items         []laLog `json:"logsAndComments"`
		LogsCount     int     `json:"logsCount"`
		CommentsCount int     `json:"commentsCount"`
	}
	s.laWant(s.do(s.key, "GET", "/leads/logs-and-comments/1?limit=200", nil), 200, &tl)
	if tl.LogsCount != 9 || tl.CommentsCount != 2 || len(tl.Items) != 11 {
		t.Fatalf("timeline counts: %d logs, %d comments, %d items", tl.LogsCount, tl.CommentsCount, len(tl.Items))
	}
	var comments []string
	for _, it := range tl.Items {
		if it.Type == "comment" {
			comments = append(comments, *it.Content)
		}
	}
	if strings.Join(comments, "|") != "Second.|This is an edited comment." {
		t.Fatalf("timeline comments: %v", comments)
	}
	s.laFails(s.do(s.key, "GET", "/leads/logs/9", nil), 404, "Lead not found", "id")
	s.laFails(s.do(s.key, "GET", "/leads/logs/x", nil), 400, "Invalid lead ID", "id")
	s.assertReplayEqual()
}

// laUUID is the internal id of lead number n, as Cratio shows it.
func laUUID(t *testing.T, s *stack, n int64) string {
	t.Helper()
	row, err := leads.NewReader(s.core.Pool).GetLeadByNumber(s.ctx, s.tenantID, n)
	if err != nil {
		t.Fatal(err)
	}
	return row.ID.String()
}

// laPNG encodes a side×side PNG of noise, which does not compress.
func laPNG(t testing.TB, side int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	rng := rand.New(rand.NewPCG(1, uint64(side)))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32())
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// laMultipart builds a multipart/form-data body with a photo file and fields.
func laMultipart(t testing.TB, photo []byte, fields map[string]string) ([]byte, http.Header) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if photo != nil {
		fw, err := w.CreateFormFile("photo", "me.png")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(photo)
	}
	w.Close()
	return buf.Bytes(), http.Header{"Content-Type": {w.FormDataContentType()}}
}

func (s *stack) laUpload(key string, photo []byte, fields map[string]string) response {
	s.t.Helper()
	body, h := laMultipart(s.t, photo, fields)
	return s.doWith(key, "POST", "/leads/upload-photo", body, h)
}

func TestLeadsAPIPhotos(t *testing.T) {
	s := newStack(t)
	s.laCreate(s.key, laJohn)
	img := laPNG(t, 16)

	var name string
	s.laWant(s.laUpload(s.key, img, map[string]string{"id": "1"}), 200, &name)
	if !strings.HasSuffix(name, ".png") || strings.ContainsAny(name, "/\\") {
		t.Fatalf("stored name %q", name)
	}
	stored, err := os.ReadFile(filepath.Join(s.core.Config.PhotoDir, s.tenantID.String(), name))
	if err != nil || !bytes.Equal(stored, img) {
		t.Fatalf("stored file: %v", err)
	}
	if l := s.laGet(s.key, 1); laStr(l.Photo) != name {
		t.Fatalf("lead photo %q, want %q", laStr(l.Photo), name)
	}
	// The documented JSON body, base64 or as a data URL; no id stores only.
	var fromJSON, fromURL string
	s.laWant(s.do(s.key, "POST", "/leads/upload-photo", map[string]any{"photo": base64.StdEncoding.EncodeToString(img)}), 200, &fromJSON)
	s.laWant(s.do(s.key, "POST", "/leads/upload-photo", map[string]any{"photo": "data:image/png;base64," + base64.StdEncoding.EncodeToString(img)}), 200, &fromURL)
	if fromJSON == name || !strings.HasSuffix(fromURL, ".png") {
		t.Fatalf("JSON uploads: %q %q", fromJSON, fromURL)
	}
	// A stored photo may be named in a lead body; another name may not.
	s.laWant(s.do(s.key, "POST", "/leads", map[string]any{"firstName": "P", "email": "p@example.com", "photo": fromJSON}), 201, nil)

	before := len(s.events())
	s.laFails(s.laUpload(s.key, []byte("%PDF-1.4 not an image"), nil), 400, "", "photo")
	s.laFails(s.laUpload(s.key, append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)...), nil), 400, "", "photo")
	s.laFails(s.laUpload(s.key, nil, map[string]string{"id": "1"}), 400, "", "photo")
	s.laFails(s.laUpload(s.key, img, map[string]string{"id": "x"}), 400, "Invalid lead ID", "id")
	s.laFails(s.laUpload(s.key, img, map[string]string{"id": "9"}), 404, "Lead not found", "id")
	s.laFails(s.laUpload(s.key, img, map[string]string{"owner": "me"}), 400, "", "owner")
	s.laFails(s.doWith(s.key, "POST", "/leads/upload-photo", img, http.Header{"Content-Type": {"image/png"}}), 400, "", "")
	s.laFails(s.laUpload(s.key, bytes.Repeat(img, 5_000_000/len(img)+1), nil), 413, "Invalid file: the photo is larger than 5000000 bytes", "photo")
	if after := len(s.events()); after != before {
		t.Fatalf("refused uploads wrote %d events", after-before)
	}
	entries, _ := os.ReadDir(filepath.Join(s.core.Config.PhotoDir, s.tenantID.String()))
	if len(entries) != 3 {
		t.Fatalf("%d files stored, want 3", len(entries))
	}

	for _, bad := range []string{"..", "..%2F..%2Fetc%2Fpasswd", "a%2Fb.png", "%2Fetc%2Fpasswd", "a%00.png", ".hidden", "x%5C..%5Cy"} {
		s.laFails(s.do(s.key, "DELETE", "/leads/delete-photo/"+bad, nil), 400, "Invalid file name", "fileName")
	}
	_, other := s.newTenant("globex")
	s.laFails(s.do(other, "DELETE", "/leads/delete-photo/"+name, nil), 404, "Photo not found", "fileName")
	var msg map[string]string
	s.laWant(s.do(s.key, "DELETE", "/leads/delete-photo/"+fromURL, nil), 200, &msg)
	if msg["message"] != "Photo deleted successfully" {
		t.Fatalf("delete answer: %v", msg)
	}
	s.laFails(s.do(s.key, "DELETE", "/leads/delete-photo/"+fromURL, nil), 404, "Photo not found", "fileName")
	s.assertReplayEqual()
}

func TestLeadsAPIPhotoSizeCap(t *testing.T) {
	t.Setenv("CRM_MAX_PHOTO_BYTES", "2000")
	s := newStack(t)
	s.laCreate(s.key, laJohn)
	var small string
	s.laWant(s.laUpload(s.key, laPNG(t, 4), nil), 200, &small)
	big := laPNG(t, 40)
	before := len(s.events())
	const refused = "Invalid file: the photo is larger than 2000 bytes"
	s.laFails(s.laUpload(s.key, big, map[string]string{"id": "1"}), 413, refused, "photo")
	s.laFails(s.do(s.key, "POST", "/leads/upload-photo", map[string]any{"photo": base64.StdEncoding.EncodeToString(big), "id": 1}), 413, refused, "photo")
	// Refused means nothing kept: no file beside the small one, no event,
	// the lead without a photo.
	s.laWantPhotos(small)
	if after := len(s.events()); after != before {
		t.Fatalf("refused uploads wrote %d events", after-before)
	}
	if l := s.laGet(s.key, 1); l.Photo != nil {
		t.Fatalf("lead photo %q after refused uploads", laStr(l.Photo))
	}
}

// laWantPhotos checks that the tenant's photo folder holds exactly names.
func (s *stack) laWantPhotos(names ...string) {
	s.t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.core.Config.PhotoDir, s.tenantID.String()))
	if err != nil {
		s.t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	slices.Sort(names)
	if !slices.Equal(got, names) {
		s.t.Fatalf("stored photos %q, want %q", got, names)
	}
}

func TestLeadsAPISharesLeadsWithCratio(t *testing.T) {
	s := newStack(t)
	// Created here, read and changed in Cratio.
	s.laCreate(s.key, laJohn)
	list := s.listLeads(s.key, "")
	if list.Total != 1 || list.Data[0].Name != "John Doe" || list.Data[0].Status != "New" || *list.Data[0].Company != "Company Name" {
		t.Fatalf("Cratio sees: %+v", list.Data)
	}
	r := s.do(s.key, "POST", "/api/v1/leads", map[string]any{"name": "John Doe", "email": "john.doe@example.com", "status": "Qualified", "priority": "High"})
	if r.Status != http.StatusOK {
		t.Fatalf("Cratio merge: %d %s", r.Status, r.Body)
	}
	if l := s.laGet(s.key, 1); l.Status != "Qualified" || *l.StatusID != 3 {
		t.Fatalf("Leads API after the Cratio change: %+v", l)
	}
	// A PUT here keeps what only Cratio shows.
	s.laWant(s.do(s.key, "PUT", "/leads/1", map[string]any{"firstName": "John", "lastName": "Doe", "email": "john.doe@example.com"}), 200, nil)
	if got := s.listLeads(s.key, ""); *got.Data[0].Priority != "High" {
		t.Fatalf("PUT lost Cratio's priority: %+v", got.Data[0])
	}
	// Created in Cratio, read and changed here.
	asha := s.createLead(s.key, map[string]any{"name": "Asha Rao", "email": "asha@example.com", "status": "Won"})
	l := s.laGet(s.key, 2)
	if laStr(l.FirstName) != "Asha" || laStr(l.LastName) != "Rao" || l.Status != "Won" || *l.StatusID != 5 {
		t.Fatalf("Leads API sees: %+v", l)
	}
	s.laWant(s.do(s.key, "PUT", "/leads/change-status", map[string]any{"ids": []int{2}, "statusId": 6}), 200, nil)
	if got := s.listLeads(s.key, "?status=Lost"); got.Total != 1 || got.Data[0].ID != asha.ID {
		t.Fatalf("Cratio's Lost filter: %+v", got)
	}
	if r := s.do(s.key, "DELETE", "/api/v1/leads/"+asha.ID, nil); r.Status != http.StatusOK {
		t.Fatalf("Cratio delete: %d", r.Status)
	}
	s.laFails(s.do(s.key, "GET", "/leads/2", nil), 404, "Lead not found", "id")
	s.assertReplayEqual()
}

func TestLeadsAPIDashboards(t *testing.T) {
	s := newStack(t)
	for i, status := range []int{1, 1, 5, 6} {
		s.laCreate(s.key, map[string]any{"firstName": fmt.Sprintf("L%d", i), "email": fmt.Sprintf("l%d@example.com", i), "statusId": status})
	}
	s.laWant(s.do(s.key, "PATCH", "/leads/archive", map[string]any{"ids": []int{2}}), 200, nil)
	today := time.Now().UTC().Format(time.DateOnly)
	var vol struct {
		Labels           []string                    `json:"labels"`
		Data             map[string]map[string]int64 `json:"data"`
		TotalLeadsAmount int64                       `json:"totalLeadsAmount"`
		PercentageChange float64                     `json:"percentageChange"`
	}
	s.laWant(s.do(s.key, "GET", "/leads/leads-volume", nil), 200, &vol)
	if len(vol.Labels) != 30 || vol.Labels[29] != today || vol.TotalLeadsAmount != 4 || vol.PercentageChange != 0 ||
		vol.Data["New"][today] != 2 || vol.Data["Won"][today] != 1 || vol.Data["Lost"][today] != 1 || vol.Data["Contacted"][today] != 0 {
		t.Fatalf("volume: %+v", vol)
	}
	s.laWant(s.do(s.key, "GET", "/leads/leads-volume?from="+today+"&to="+today, nil), 200, &vol)
	if len(vol.Labels) != 1 || vol.TotalLeadsAmount != 4 {
		t.Fatalf("one day's volume: %+v", vol)
	}
	s.laWant(s.do(s.key, "GET", "/leads/leads-volume?from=2020-01-01&to=2020-01-31", nil), 200, &vol)
	if vol.TotalLeadsAmount != 0 || len(vol.Labels) != 31 {
		t.Fatalf("old volume: %+v", vol)
	}
	var totals []struct {
		Name             string  `json:"name"`
		Current          int64   `json:"current"`
		PercentageChange float64 `json:"percentageChange"`
		Color            string  `json:"color"`
		BackgroundColor  string  `json:"backgroundColor"`
	}
	s.laWant(s.do(s.key, "GET", "/leads/total-leads", nil), 200, &totals)
	if len(totals) != 6 || totals[0].Name != "New" || totals[0].Current != 1 || totals[4].Current != 1 ||
		totals[0].Color != "blue" || totals[0].BackgroundColor != "lightblue" || totals[0].PercentageChange != 0 {
		t.Fatalf("totals: %+v", totals)
	}
	s.assertReplayEqual()
}

func TestLeadsAPIAuthAndTenantIsolation(t *testing.T) {
	s := newStack(t)
	s.laCreate(s.key, laJohn)
	s.laWant(s.do(s.key, "POST", "/leads/comments/1", map[string]any{"content": "mine"}), 201, nil)
	for _, key := range []string{"", "le_live_wrong", s.key + "x"} {
		s.laFails(s.do(key, "GET", "/leads", nil), 401, "Missing or invalid API key", "")
	}
	if r := s.do("", "GET", "/openapi/leads.json", nil); r.Status != http.StatusOK || !bytes.Equal(r.Body, leadsapi.OpenAPI) {
		t.Fatalf("GET /openapi/leads.json: %d", r.Status)
	}
	_, other := s.newTenant("globex")
	before := len(s.events())
	for _, c := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/leads/1", nil, 404},
		{"PUT", "/leads/1", laPerson("x", "x@example.com"), 404},
		{"POST", "/leads/comments/1", map[string]any{"content": "theirs"}, 404},
		{"PUT", "/leads/comments/1", map[string]any{"content": "theirs"}, 404},
		{"GET", "/leads/logs/1", nil, 404},
		{"GET", "/leads/logs-and-comments/1", nil, 404},
		{"PATCH", "/leads/archive", map[string]any{"ids": []int{1}}, 400},
		{"DELETE", "/leads", map[string]any{"ids": []int{1}}, 400},
		{"PUT", "/leads/change-status", map[string]any{"ids": []int{1}, "statusId": 2}, 404},
		{"POST", "/leads/upload-photo", map[string]any{"id": 1, "photo": base64.StdEncoding.EncodeToString(laPNG(t, 4))}, 404},
	} {
		if r := s.do(other, c.method, c.path, c.body); r.Status != c.status {
			t.Errorf("%s %s by another tenant: %d %s", c.method, c.path, r.Status, r.Body)
		}
	}
	if after := len(s.events()); after != before {
		t.Fatalf("another tenant's requests wrote %d events", after-before)
	}
	if n, leads := s.laList(other, ""); n != 0 || len(leads) != 0 {
		t.Fatalf("another tenant lists %d leads", n)
	}
	// Same email in another tenant: a lead of its own, number 1 there.
	if l := s.laCreate(other, laJohn); l.ID != 1 {
		t.Fatalf("other tenant's first lead is %d", l.ID)
	}
	if got := s.laGet(s.key, 1); laStr(got.FirstName) != "John" {
		t.Fatalf("owner's lead changed: %+v", got)
	}
	s.assertReplayEqual()
}

// A photo over the server-wide 1 MiB body cap but under the photo limit
// uploads, as multipart and as base64 JSON.
func TestLeadsAPILargePhoto(t *testing.T) {
	s := newStack(t)
	big := laPNG(t, 900) // about 3.2 MB of noise: PNG cannot shrink it
	if len(big) < 3<<20 || len(big) > 5_000_000 {
		t.Fatalf("test photo is %d bytes", len(big))
	}
	s.laCreate(s.key, laJohn)
	var multi, fromJSON string
	s.laWant(s.laUpload(s.key, big, map[string]string{"id": "1"}), 200, &multi)
	s.laWant(s.do(s.key, "POST", "/leads/upload-photo", map[string]any{"photo": base64.StdEncoding.EncodeToString(big)}), 200, &fromJSON)
	// Both are stored whole, under the names answered; the lead shows the first.
	for _, name := range []string{multi, fromJSON} {
		if !strings.HasSuffix(name, ".png") {
			t.Fatalf("stored name %q", name)
		}
		stored, err := os.ReadFile(filepath.Join(s.core.Config.PhotoDir, s.tenantID.String(), name))
		if err != nil || !bytes.Equal(stored, big) {
			t.Fatalf("stored %s: %d bytes (%v), want the %d uploaded", name, len(stored), err, len(big))
		}
	}
	s.laWantPhotos(multi, fromJSON)
	if l := s.laGet(s.key, 1); laStr(l.Photo) != multi {
		t.Fatalf("lead photo %q, want %q", laStr(l.Photo), multi)
	}
}
