package leadsapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/crmcore/crm/api/apitest"
)

// staticSegments are the fixed routes beside /leads/{id}.
var staticSegments = map[string]bool{"search": true, "recent-leads": true, "statuses": true, "leads-volume": true,
	"total-leads": true, "change-status": true, "archive": true, "restore": true, "status": true, "comments": true,
	"upload-photo": true, "delete-photo": true, "logs": true, "logs-and-comments": true}

// FuzzQuery: the query strings of the list, search, recent and dashboard
// endpoints, and the ids in paths: lead and status numbers, comment ids,
// photo file names.
func FuzzQuery(f *testing.F) {
	for _, s := range []struct{ query, id string }{
		{"page=2&limit=10&state=All&statusId=5", "1"}, {"state=Archived", "42"}, {"state=archived", "0"},
		{"statusId=7", "-1"}, {"statusId=0", "1.5"}, {"statusId=x", "01"}, {"page=0", "9223372036854775807"},
		{"page=1000001", "99999999999999999999"}, {"limit=101", "+1"}, {"limit=-1", " 1"}, {"q=john&limit=5", "search"},
		{"q=", "statuses"}, {"q=" + strings.Repeat("a", 201), "0190a5a0-0000-7000-8000-000000000001.png"},
		{"q=%25_%5C", "../etc/passwd"}, {"from=2026-04-01&to=2026-04-30", "..%2fx.png"}, {"from=2026-04-30&to=2026-04-01", ".hidden"},
		{"from=2024-01-01&to=2026-01-01", "a/b.png"}, {"to=2026-02-30", "a\\b.png"}, {"from=yesterday", "x.png\x00"},
		{"q=%00", "ünï.png"}, {"q=%ff", "a..b"}, {"=%ff", ""}, {"%ff=1", "/"}, {"a=1&a=%00", strings.Repeat("a", 256)},
	} {
		f.Add(s.query, s.id)
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, rawQuery, id string) {
		sent := apitest.SentParams(rawQuery)
		for _, path := range []string{"/leads", "/leads/search", "/leads/recent-leads", "/leads/leads-volume"} {
			w := a.QueryRefusal(t, path, rawQuery)
			if w == nil {
				continue
			}
			if e := a.checkError(t, w, false); e.Field != "" && !sent[e.Field] && !(path == "/leads/search" && e.Field == "q") {
				t.Fatalf("GET %s?%s: refusal names %q, which was not sent", path, rawQuery, e.Field)
			}
		}
		// Numbers in paths: GET /leads/{id} and the routes like it.
		n, ok := positiveInt(id)
		if ok && (n < 1 || strings.TrimLeft(id, "0123456789") != "") {
			t.Fatalf("id %q read as %d", id, n)
		}
		if id != "" && !strings.ContainsAny(id, "/?#") && !staticSegments[id] {
			for _, route := range []struct{ method, path, what string }{
				{http.MethodGet, "/leads/", "lead"}, {http.MethodGet, "/leads/logs/", "lead"},
				{http.MethodGet, "/leads/logs-and-comments/", "lead"}, {http.MethodDelete, "/leads/status/", "status"},
			} {
				w := a.Serve(route.method, route.path+id, "", nil, "", false)
				if ok {
					a.ReachedStore(t, route.method+" "+route.path+"{id}", w)
					continue
				}
				apitest.SameAnswer(t, route.method+" "+route.path+"{id}", w, a.render(badRequest("id", "Invalid "+route.what+" ID"), false))
			}
		}
		// Photo names: never a way out of the tenant's folder. Nothing is
		// stored here, so a valid name is not found.
		valid := validPhotoName(id)
		if valid && (strings.ContainsAny(id, "/\\\x00") || strings.HasPrefix(id, ".") || strings.Contains(id, "..")) {
			t.Fatalf("photo name %q accepted", id)
		}
		w := a.Serve(http.MethodDelete, "/leads/delete-photo/"+id, "", nil, "", false)
		want := a.render(badRequest("fileName", "Invalid file name"), false)
		if valid {
			want = a.render(notFound("fileName", "Photo not found"), false)
		}
		apitest.SameAnswer(t, "DELETE /leads/delete-photo/{fileName}", w, want)
	})
}
