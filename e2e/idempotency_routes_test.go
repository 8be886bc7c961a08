package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// keyedRequest is one request of a keyed-route case.
type keyedRequest struct {
	method, path string
	body         any // nil: none; string or []byte: raw; else JSON
	header       http.Header
}

func (r keyedRequest) String() string { return r.method + " " + r.path }

// keyedCase is a mutating route's request and its three misuses of the
// same Idempotency-Key: another path (another target or route, same method
// and body), another body, another method.
type keyedCase struct {
	first, otherPath, otherBody, otherMethod keyedRequest
	// unchanged, if set, checks what the refused requests must have left
	// alone beyond the event store (a photo file).
	unchanged func(t *testing.T)
	// writesNothing: the route only answers (a preview), so its first
	// request writes no event either.
	writesNothing bool
}

// fixtures makes the records the keyed-route cases work on, through the APIs.
type fixtures struct {
	s *stack
	n int
}

func (f *fixtures) next() int { f.n++; return f.n }

func (f *fixtures) cratioLead() string {
	n := f.next()
	return f.s.createLead(f.s.key, map[string]any{"name": fmt.Sprintf("Cratio %d", n), "email": fmt.Sprintf("c%d@example.com", n)}).ID
}

func (f *fixtures) cratioCall(lead string) string {
	return f.s.logCall(f.s.key, map[string]any{"lead_id": lead, "call_type": "Inbound", "duration_seconds": 0}).ID
}

func (f *fixtures) laLead() int64 {
	n := f.next()
	return f.s.laCreate(f.s.key, laPerson(fmt.Sprintf("Leads%d", n), fmt.Sprintf("l%d@example.com", n))).ID
}

func (f *fixtures) laStatus() int64 {
	var st laStatus
	f.s.laWant(f.s.do(f.s.key, "POST", "/leads/status", map[string]any{"name": fmt.Sprintf("Stage %d", f.next()), "primaryColor": "coral"}), 201, &st)
	return st.ID
}

func (f *fixtures) laComment(lead int64) int64 {
	var cm struct {
		ID int64 `json:"id"`
	}
	f.s.laWant(f.s.do(f.s.key, "POST", fmt.Sprintf("/leads/comments/%d", lead), map[string]any{"content": "first words"}), 201, &cm)
	return cm.ID
}

func (f *fixtures) laPhoto() string {
	var name string
	f.s.laWant(f.s.laUpload(f.s.key, laPNG(f.s.t, 8), nil), 200, &name)
	return name
}

func (f *fixtures) opLead() string {
	n := f.next()
	return f.s.opCreate(f.s.key, map[string]any{"lead_name": fmt.Sprintf("Over %d", n), "email_id": fmt.Sprintf("o%d@example.com", n)}).ID
}

// psAuth is the Authorization of the prospects API's requests: a token of
// the stack's tenant with every permission.
func (f *fixtures) psAuth() http.Header {
	return http.Header{"Authorization": {"Bearer " + f.s.token()}}
}

// psReq is a keyed request to the prospects API.
func (f *fixtures) psReq(method, path string, body any) keyedRequest {
	return keyedRequest{method: method, path: path, body: body, header: f.psAuth()}
}

// psLead creates a prospect (of type typ) and returns its id.
func (f *fixtures) psLead(typ int) int64 {
	n := f.next()
	return f.s.psCreate(f.s.token(), map[string]any{"name": fmt.Sprintf("Prospect %d", n), "email": fmt.Sprintf("p%d@example.com", n), "type": typ})
}

// psRecord adds a record through the prospects API and returns its id.
func (f *fixtures) psRecord(path string, body map[string]any) int64 {
	var rec struct {
		ID int64 `json:"id"`
	}
	f.s.laWant(f.s.do(f.s.token(), "POST", path, body), http.StatusCreated, &rec)
	return rec.ID
}

func (f *fixtures) psContact(owner string) int64 {
	n := f.next()
	return f.psRecord(owner+"/contacts", map[string]any{"name": "Contact", "email": fmt.Sprintf("ct%d@example.com", n), "phone_code": "91", "phone": fmt.Sprintf("98765%05d", n)})
}

func (f *fixtures) psNote(owner string) int64 {
	return f.psRecord(owner+"/notes", map[string]any{"note": "first note"})
}

func (f *fixtures) psLocation(owner string) int64 {
	return f.psRecord(owner+"/locations", map[string]any{"name": "Office", "link": "https://maps.example/o", "type": "office"})
}

// psClient makes a client and returns its path.
func (f *fixtures) psClient() string {
	n := f.next()
	return fmt.Sprintf("/clients/%d", f.s.psClient(fmt.Sprintf("Client %d", n), fmt.Sprintf("client%d@example.com", n)))
}

// keyedRoutes lists every mutating route of every API (as mounted in
// api/cratio, api/leadsapi and api/overplane) with its case.
func keyedRoutes() []struct {
	name string
	make func(f *fixtures) keyedCase
} {
	ids := func(ids ...int64) map[string]any { return map[string]any{"ids": ids} }
	p := fmt.Sprintf
	return append([]struct {
		name string
		make func(f *fixtures) keyedCase
	}{
		{"cratio POST /api/v1/leads", func(f *fixtures) keyedCase {
			body := map[string]any{"name": "Keyed", "email": p("k%d@example.com", f.next())}
			return keyedCase{
				first:       keyedRequest{method: "POST", path: "/api/v1/leads", body: body},
				otherPath:   keyedRequest{method: "POST", path: "/api/v1/call-logs", body: body},
				otherBody:   keyedRequest{method: "POST", path: "/api/v1/leads", body: map[string]any{"name": "Other", "email": p("k%d@example.com", f.next())}},
				otherMethod: keyedRequest{method: "DELETE", path: "/api/v1/leads/" + f.cratioLead()},
			}
		}},
		{"cratio DELETE /api/v1/leads/{id}", func(f *fixtures) keyedCase {
			a, b := f.cratioLead(), f.cratioLead()
			return keyedCase{
				first:       keyedRequest{method: "DELETE", path: "/api/v1/leads/" + a},
				otherPath:   keyedRequest{method: "DELETE", path: "/api/v1/leads/" + b},
				otherBody:   keyedRequest{method: "DELETE", path: "/api/v1/leads/" + a, body: "{}"},
				otherMethod: keyedRequest{method: "POST", path: "/api/v1/leads", body: map[string]any{"name": "X", "email": p("k%d@example.com", f.next())}},
			}
		}},
		{"cratio POST /api/v1/call-logs", func(f *fixtures) keyedCase {
			a, b := f.cratioLead(), f.cratioLead()
			body := map[string]any{"lead_id": a, "call_type": "Outbound", "duration_seconds": 30}
			return keyedCase{
				first:       keyedRequest{method: "POST", path: "/api/v1/call-logs", body: body},
				otherPath:   keyedRequest{method: "POST", path: "/api/v1/leads", body: body},
				otherBody:   keyedRequest{method: "POST", path: "/api/v1/call-logs", body: map[string]any{"lead_id": b, "call_type": "Outbound", "duration_seconds": 30}},
				otherMethod: keyedRequest{method: "DELETE", path: "/api/v1/call-logs/" + f.cratioCall(a)},
			}
		}},
		{"cratio DELETE /api/v1/call-logs/{id}", func(f *fixtures) keyedCase {
			lead := f.cratioLead()
			a, b := f.cratioCall(lead), f.cratioCall(lead)
			return keyedCase{
				first:       keyedRequest{method: "DELETE", path: "/api/v1/call-logs/" + a},
				otherPath:   keyedRequest{method: "DELETE", path: "/api/v1/call-logs/" + b},
				otherBody:   keyedRequest{method: "DELETE", path: "/api/v1/call-logs/" + a, body: "{}"},
				otherMethod: keyedRequest{method: "POST", path: "/api/v1/call-logs", body: map[string]any{"lead_id": lead, "call_type": "Inbound", "duration_seconds": 1}},
			}
		}},
		{"leads POST /leads", func(f *fixtures) keyedCase {
			body := laPerson("Keyed", p("k%d@example.com", f.next()))
			return keyedCase{
				first:       keyedRequest{method: "POST", path: "/leads", body: body},
				otherPath:   keyedRequest{method: "POST", path: "/leads/status", body: body},
				otherBody:   keyedRequest{method: "POST", path: "/leads", body: laPerson("Other", p("k%d@example.com", f.next()))},
				otherMethod: keyedRequest{method: "DELETE", path: "/leads", body: ids(f.laLead())},
			}
		}},
		{"leads DELETE /leads", func(f *fixtures) keyedCase {
			a, b := f.laLead(), f.laLead()
			return keyedCase{
				first:       keyedRequest{method: "DELETE", path: "/leads", body: ids(a)},
				otherPath:   keyedRequest{method: "DELETE", path: p("/leads/status/%d", f.laStatus()), body: ids(a)},
				otherBody:   keyedRequest{method: "DELETE", path: "/leads", body: ids(b)},
				otherMethod: keyedRequest{method: "PATCH", path: "/leads/archive", body: ids(b)},
			}
		}},
		{"leads PUT /leads/{id}", func(f *fixtures) keyedCase {
			a, b := f.laLead(), f.laLead()
			body := laPerson("Renamed", p("r%d@example.com", f.next()))
			return keyedCase{
				first:       keyedRequest{method: "PUT", path: p("/leads/%d", a), body: body},
				otherPath:   keyedRequest{method: "PUT", path: p("/leads/%d", b), body: body},
				otherBody:   keyedRequest{method: "PUT", path: p("/leads/%d", a), body: laPerson("Again", p("r%d@example.com", f.next()))},
				otherMethod: keyedRequest{method: "DELETE", path: "/leads", body: ids(a)},
			}
		}},
		{"leads PUT /leads/change-status", func(f *fixtures) keyedCase {
			a, b := f.laLead(), f.laLead()
			body := map[string]any{"ids": []int64{a}, "statusId": 2}
			return keyedCase{
				first:       keyedRequest{method: "PUT", path: "/leads/change-status", body: body},
				otherPath:   keyedRequest{method: "PUT", path: p("/leads/%d", b), body: body},
				otherBody:   keyedRequest{method: "PUT", path: "/leads/change-status", body: map[string]any{"ids": []int64{b}, "statusId": 2}},
				otherMethod: keyedRequest{method: "PATCH", path: "/leads/archive", body: ids(a)},
			}
		}},
		{"leads PATCH /leads/archive", func(f *fixtures) keyedCase {
			a, b := f.laLead(), f.laLead()
			return keyedCase{
				first:       keyedRequest{method: "PATCH", path: "/leads/archive", body: ids(a)},
				otherPath:   keyedRequest{method: "PATCH", path: "/leads/restore", body: ids(a)},
				otherBody:   keyedRequest{method: "PATCH", path: "/leads/archive", body: ids(b)},
				otherMethod: keyedRequest{method: "DELETE", path: "/leads", body: ids(a)},
			}
		}},
		{"leads PATCH /leads/restore", func(f *fixtures) keyedCase {
			a, b := f.laLead(), f.laLead()
			f.s.laWant(f.s.do(f.s.key, "PATCH", "/leads/archive", ids(a, b)), 200, nil)
			return keyedCase{
				first:       keyedRequest{method: "PATCH", path: "/leads/restore", body: ids(a)},
				otherPath:   keyedRequest{method: "PATCH", path: "/leads/archive", body: ids(b)},
				otherBody:   keyedRequest{method: "PATCH", path: "/leads/restore", body: ids(b)},
				otherMethod: keyedRequest{method: "DELETE", path: "/leads", body: ids(a)},
			}
		}},
		{"leads POST /leads/status", func(f *fixtures) keyedCase {
			body := map[string]any{"name": p("Keyed %d", f.next()), "primaryColor": "blue"}
			return keyedCase{
				first:       keyedRequest{method: "POST", path: "/leads/status", body: body},
				otherPath:   keyedRequest{method: "POST", path: "/leads", body: body},
				otherBody:   keyedRequest{method: "POST", path: "/leads/status", body: map[string]any{"name": p("Other %d", f.next()), "primaryColor": "blue"}},
				otherMethod: keyedRequest{method: "PUT", path: p("/leads/status/%d", f.laStatus()), body: body},
			}
		}},
		{"leads PUT /leads/status/{id}", func(f *fixtures) keyedCase {
			a, b := f.laStatus(), f.laStatus()
			body := map[string]any{"name": p("Renamed %d", f.next())}
			return keyedCase{
				first:       keyedRequest{method: "PUT", path: p("/leads/status/%d", a), body: body},
				otherPath:   keyedRequest{method: "PUT", path: p("/leads/status/%d", b), body: body},
				otherBody:   keyedRequest{method: "PUT", path: p("/leads/status/%d", a), body: map[string]any{"name": p("Other %d", f.next())}},
				otherMethod: keyedRequest{method: "DELETE", path: p("/leads/status/%d", a)},
			}
		}},
		{"leads DELETE /leads/status/{id}", func(f *fixtures) keyedCase {
			a, b := f.laStatus(), f.laStatus()
			return keyedCase{
				first:       keyedRequest{method: "DELETE", path: p("/leads/status/%d", a)},
				otherPath:   keyedRequest{method: "DELETE", path: p("/leads/status/%d", b)},
				otherBody:   keyedRequest{method: "DELETE", path: p("/leads/status/%d", a), body: "{}"},
				otherMethod: keyedRequest{method: "PUT", path: p("/leads/status/%d", a), body: map[string]any{"name": "Back"}},
			}
		}},
		{"leads PUT /leads/statuses/order", func(f *fixtures) keyedCase {
			a := f.laStatus()
			body := []map[string]any{{"id": a, "statusOrder": 1}}
			return keyedCase{
				first:       keyedRequest{method: "PUT", path: "/leads/statuses/order", body: body},
				otherPath:   keyedRequest{method: "PUT", path: p("/leads/status/%d", a), body: body},
				otherBody:   keyedRequest{method: "PUT", path: "/leads/statuses/order", body: []map[string]any{{"id": a, "statusOrder": 2}}},
				otherMethod: keyedRequest{method: "POST", path: "/leads/status", body: map[string]any{"name": p("New %d", f.next()), "primaryColor": "blue"}},
			}
		}},
		{"leads POST /leads/comments/{id}", func(f *fixtures) keyedCase {
			a, b := f.laLead(), f.laLead()
			body := map[string]any{"content": "Called back, interested."}
			return keyedCase{
				first:       keyedRequest{method: "POST", path: p("/leads/comments/%d", a), body: body},
				otherPath:   keyedRequest{method: "POST", path: p("/leads/comments/%d", b), body: body},
				otherBody:   keyedRequest{method: "POST", path: p("/leads/comments/%d", a), body: map[string]any{"content": "Something else."}},
				otherMethod: keyedRequest{method: "PUT", path: p("/leads/comments/%d", f.laComment(a)), body: body},
			}
		}},
		{"leads PUT /leads/comments/{id}", func(f *fixtures) keyedCase {
			lead := f.laLead()
			a, b := f.laComment(lead), f.laComment(lead)
			body := map[string]any{"content": "Edited."}
			return keyedCase{
				first:       keyedRequest{method: "PUT", path: p("/leads/comments/%d", a), body: body},
				otherPath:   keyedRequest{method: "PUT", path: p("/leads/comments/%d", b), body: body},
				otherBody:   keyedRequest{method: "PUT", path: p("/leads/comments/%d", a), body: map[string]any{"content": "Edited twice."}},
				otherMethod: keyedRequest{method: "POST", path: p("/leads/comments/%d", lead), body: body},
			}
		}},
		{"leads POST /leads/upload-photo", func(f *fixtures) keyedCase {
			a, b := f.laLead(), f.laLead()
			body, h := laMultipart(f.s.t, laPNG(f.s.t, 8), map[string]string{"id": fmt.Sprint(a)})
			other, oh := laMultipart(f.s.t, laPNG(f.s.t, 8), map[string]string{"id": fmt.Sprint(b)})
			return keyedCase{
				first:       keyedRequest{method: "POST", path: "/leads/upload-photo", body: body, header: h},
				otherPath:   keyedRequest{method: "POST", path: "/leads", body: body, header: h},
				otherBody:   keyedRequest{method: "POST", path: "/leads/upload-photo", body: other, header: oh},
				otherMethod: keyedRequest{method: "DELETE", path: "/leads/delete-photo/" + f.laPhoto()},
			}
		}},
		{"leads DELETE /leads/delete-photo/{fileName}", func(f *fixtures) keyedCase {
			a, b := f.laPhoto(), f.laPhoto()
			return keyedCase{
				first:       keyedRequest{method: "DELETE", path: "/leads/delete-photo/" + a},
				otherPath:   keyedRequest{method: "DELETE", path: "/leads/delete-photo/" + b},
				otherBody:   keyedRequest{method: "DELETE", path: "/leads/delete-photo/" + a, body: "{}"},
				otherMethod: keyedRequest{method: "POST", path: "/leads/upload-photo", body: map[string]any{"photo": "aGVsbG8="}},
				unchanged: func(t *testing.T) {
					if _, err := os.Stat(filepath.Join(f.s.core.Config.PhotoDir, f.s.tenantID.String(), b)); err != nil {
						t.Errorf("the other photo: %v", err)
					}
				},
			}
		}},
		{"overplane POST /api/crm/lead", func(f *fixtures) keyedCase {
			body := map[string]any{"lead_name": "Keyed", "email_id": p("k%d@example.com", f.next())}
			return keyedCase{
				first:       keyedRequest{method: "POST", path: "/api/crm/lead", body: body},
				otherPath:   keyedRequest{method: "POST", path: "/api/v1/leads", body: body},
				otherBody:   keyedRequest{method: "POST", path: "/api/crm/lead", body: map[string]any{"lead_name": "Other", "email_id": p("k%d@example.com", f.next())}},
				otherMethod: keyedRequest{method: "DELETE", path: "/api/crm/lead/" + f.opLead()},
			}
		}},
		{"overplane PATCH /api/crm/lead/{id}", func(f *fixtures) keyedCase {
			a, b := f.opLead(), f.opLead()
			body := map[string]any{"lead_name": "Patched"}
			return keyedCase{
				first:       keyedRequest{method: "PATCH", path: "/api/crm/lead/" + a, body: body},
				otherPath:   keyedRequest{method: "PATCH", path: "/api/crm/lead/" + b, body: body},
				otherBody:   keyedRequest{method: "PATCH", path: "/api/crm/lead/" + a, body: map[string]any{"lead_name": "Patched again"}},
				otherMethod: keyedRequest{method: "DELETE", path: "/api/crm/lead/" + a},
			}
		}},
		{"overplane DELETE /api/crm/lead/{id}", func(f *fixtures) keyedCase {
			a, b := f.opLead(), f.opLead()
			return keyedCase{
				first:       keyedRequest{method: "DELETE", path: "/api/crm/lead/" + a},
				otherPath:   keyedRequest{method: "DELETE", path: "/api/crm/lead/" + b},
				otherBody:   keyedRequest{method: "DELETE", path: "/api/crm/lead/" + a, body: "{}"},
				otherMethod: keyedRequest{method: "PATCH", path: "/api/crm/lead/" + a, body: map[string]any{"lead_name": "Back"}},
			}
		}},
	}, append(append(append(prospectsKeyedRoutes(), devcrmKeyedRoutes()...), reminderKeyedRoutes()...), devcrmImportKeyedRoutes()...)...)
}

// prospectsKeyedRoutes are the keyed-route cases of the prospects &
// clients API.
func prospectsKeyedRoutes() []struct {
	name string
	make func(f *fixtures) keyedCase
} {
	p := fmt.Sprintf
	row := func(f *fixtures) []any { return []any{map[string]any{"email": p("row%d@example.com", f.next())}} }
	lead := func(f *fixtures) string { return p("/prospects/%d", f.psLead(1)) }
	type route = struct {
		name string
		make func(f *fixtures) keyedCase
	}
	out := []route{
		{"prospects POST /prospects/process", func(f *fixtures) keyedCase {
			body := row(f)
			return keyedCase{writesNothing: true,
				first:       f.psReq("POST", "/prospects/process", body),
				otherPath:   f.psReq("POST", "/prospects", body),
				otherBody:   f.psReq("POST", "/prospects/process", row(f)),
				otherMethod: f.psReq("PATCH", lead(f), map[string]any{"name": "X"}),
			}
		}},
		{"prospects POST /prospects", func(f *fixtures) keyedCase {
			body := row(f)
			return keyedCase{
				first:       f.psReq("POST", "/prospects", body),
				otherPath:   f.psReq("POST", "/prospects/process", body),
				otherBody:   f.psReq("POST", "/prospects", row(f)),
				otherMethod: f.psReq("PATCH", lead(f), map[string]any{"name": "X"}),
			}
		}},
		{"prospects PATCH /prospects/{id}", func(f *fixtures) keyedCase {
			a, b := lead(f), lead(f)
			body := map[string]any{"company_name": "Keyed Co"}
			return keyedCase{
				first:       f.psReq("PATCH", a, body),
				otherPath:   f.psReq("PATCH", b, body),
				otherBody:   f.psReq("PATCH", a, map[string]any{"company_name": "Other Co"}),
				otherMethod: f.psReq("POST", a+"/notes", map[string]any{"note": "n"}),
			}
		}},
		{"prospects PATCH /prospects/{id}/data", func(f *fixtures) keyedCase {
			a, b := lead(f), lead(f)
			body := map[string]any{"channel": "referral"}
			return keyedCase{
				first:       f.psReq("PATCH", a+"/data", body),
				otherPath:   f.psReq("PATCH", b+"/data", body),
				otherBody:   f.psReq("PATCH", a+"/data", map[string]any{"channel": "website"}),
				otherMethod: f.psReq("POST", a+"/notes", map[string]any{"note": "n"}),
			}
		}},
		{"prospects PATCH /prospects/{id}/partner-data", func(f *fixtures) keyedCase {
			a, b := p("/prospects/%d", f.psLead(3)), p("/prospects/%d", f.psLead(3))
			body := map[string]any{"url": "https://p.example", "partner_type_id": 1, "partner_origin_id": 1, "rating": 3, "locale_id": 1}
			other := map[string]any{"url": "https://q.example", "partner_type_id": 1, "partner_origin_id": 1, "rating": 3, "locale_id": 1}
			return keyedCase{
				first:       f.psReq("PATCH", a+"/partner-data", body),
				otherPath:   f.psReq("PATCH", b+"/partner-data", body),
				otherBody:   f.psReq("PATCH", a+"/partner-data", other),
				otherMethod: f.psReq("POST", a+"/notes", map[string]any{"note": "n"}),
			}
		}},
		{"prospects POST /prospects/{id}/contacts", func(f *fixtures) keyedCase {
			a, b := lead(f), lead(f)
			body := map[string]any{"name": "Keyed", "email": p("kc%d@example.com", f.next()), "phone_code": "91", "phone": "9876512345"}
			return keyedCase{
				first:       f.psReq("POST", a+"/contacts", body),
				otherPath:   f.psReq("POST", b+"/contacts", body),
				otherBody:   f.psReq("POST", a+"/contacts", map[string]any{"name": "Other", "email": p("kc%d@example.com", f.next()), "phone_code": "91", "phone": "9876512346"}),
				otherMethod: f.psReq("DELETE", p("/prospects/%d/contacts", f.psContact(a)), nil),
			}
		}},
		{"prospects PUT /prospects/{id}/contacts", func(f *fixtures) keyedCase {
			owner := lead(f)
			a, b := p("/prospects/%d/contacts", f.psContact(owner)), p("/prospects/%d/contacts", f.psContact(owner))
			body := map[string]any{"position": "CTO"}
			return keyedCase{
				first:       f.psReq("PUT", a, body),
				otherPath:   f.psReq("PUT", b, body),
				otherBody:   f.psReq("PUT", a, map[string]any{"position": "CEO"}),
				otherMethod: f.psReq("DELETE", a, nil),
			}
		}},
		{"prospects DELETE /prospects/{id}/contacts", func(f *fixtures) keyedCase {
			owner := lead(f)
			a, b := p("/prospects/%d/contacts", f.psContact(owner)), p("/prospects/%d/contacts", f.psContact(owner))
			return keyedCase{
				first:       f.psReq("DELETE", a, nil),
				otherPath:   f.psReq("DELETE", b, nil),
				otherBody:   f.psReq("DELETE", a, "{}"),
				otherMethod: f.psReq("PUT", b, map[string]any{"position": "X"}),
			}
		}},
		{"prospects POST /prospects/{id}/notes", func(f *fixtures) keyedCase {
			a, b := lead(f), lead(f)
			body := map[string]any{"note": "keyed note", "action": "call"}
			return keyedCase{
				first:       f.psReq("POST", a+"/notes", body),
				otherPath:   f.psReq("POST", b+"/notes", body),
				otherBody:   f.psReq("POST", a+"/notes", map[string]any{"note": "other note"}),
				otherMethod: f.psReq("PATCH", a, map[string]any{"name": "X"}),
			}
		}},
		{"prospects PATCH /prospects/{id}/notes/{noteId}", func(f *fixtures) keyedCase {
			owner := lead(f)
			a, b := p("%s/notes/%d", owner, f.psNote(owner)), p("%s/notes/%d", owner, f.psNote(owner))
			body := map[string]any{"scheduled_date": "2026-05-01", "origin": "prospect"}
			return keyedCase{
				first:       f.psReq("PATCH", a, body),
				otherPath:   f.psReq("PATCH", b, body),
				otherBody:   f.psReq("PATCH", a, map[string]any{"scheduled_date": "2026-06-01", "origin": "prospect"}),
				otherMethod: f.psReq("POST", owner+"/notes", map[string]any{"note": "n"}),
			}
		}},
		{"prospects POST /prospects/{id}/locations", func(f *fixtures) keyedCase {
			a, b := lead(f), lead(f)
			body := map[string]any{"name": "Keyed", "link": "https://maps.example/k", "type": "branch"}
			return keyedCase{
				first:       f.psReq("POST", a+"/locations", body),
				otherPath:   f.psReq("POST", b+"/locations", body),
				otherBody:   f.psReq("POST", a+"/locations", map[string]any{"name": "Other", "link": "https://maps.example/k", "type": "branch"}),
				otherMethod: f.psReq("PATCH", a, map[string]any{"name": "X"}),
			}
		}},
	}
	for _, k := range []struct{ kind, owner string }{{"prospects", "/prospects"}, {"clients", "/clients"}} {
		owner := func(f *fixtures) string {
			if k.kind == "clients" {
				return f.psClient()
			}
			return lead(f)
		}
		locations := func(f *fixtures) (string, string) {
			o := owner(f)
			return p("%s/locations/%d", k.owner, f.psLocation(o)), p("%s/locations/%d", k.owner, f.psLocation(o))
		}
		out = append(out,
			route{k.kind + " PUT " + k.owner + "/locations/{id}", func(f *fixtures) keyedCase {
				a, b := locations(f)
				return keyedCase{
					first:       f.psReq("PUT", a, map[string]any{"name": "Moved"}),
					otherPath:   f.psReq("PUT", b, map[string]any{"name": "Moved"}),
					otherBody:   f.psReq("PUT", a, map[string]any{"name": "Moved again"}),
					otherMethod: f.psReq("DELETE", a, nil),
				}
			}},
			route{k.kind + " DELETE " + k.owner + "/locations/{id}", func(f *fixtures) keyedCase {
				a, b := locations(f)
				return keyedCase{
					first:       f.psReq("DELETE", a, nil),
					otherPath:   f.psReq("DELETE", b, nil),
					otherBody:   f.psReq("DELETE", a, "{}"),
					otherMethod: f.psReq("PUT", b, map[string]any{"name": "X"}),
				}
			}})
	}
	out = append(out, route{"clients PATCH /clients/{id}/data", func(f *fixtures) keyedCase {
		a, b := f.psClient(), f.psClient()
		body := map[string]any{"channel": "referral"}
		return keyedCase{
			first:       f.psReq("PATCH", a+"/data", body),
			otherPath:   f.psReq("PATCH", b+"/data", body),
			otherBody:   f.psReq("PATCH", a+"/data", map[string]any{"channel": "website"}),
			otherMethod: f.psReq("POST", a+"/notes", map[string]any{"note": "n"}),
		}
	}})
	for _, r := range []struct {
		sub  string
		body func(f *fixtures) map[string]any
	}{
		{"contacts", func(f *fixtures) map[string]any {
			n := f.next()
			return map[string]any{"name": "Keyed", "email": p("cc%d@example.com", n), "phone_code": "91", "phone": p("98764%05d", n)}
		}},
		{"notes", func(f *fixtures) map[string]any { return map[string]any{"note": p("note %d", f.next())} }},
		{"locations", func(f *fixtures) map[string]any {
			return map[string]any{"name": p("Depot %d", f.next()), "link": "https://maps.example/d", "type": "warehouse"}
		}},
	} {
		out = append(out, route{"clients POST /clients/{id}/" + r.sub, func(f *fixtures) keyedCase {
			a, b := f.psClient(), f.psClient()
			body := r.body(f)
			return keyedCase{
				first:       f.psReq("POST", a+"/"+r.sub, body),
				otherPath:   f.psReq("POST", b+"/"+r.sub, body),
				otherBody:   f.psReq("POST", a+"/"+r.sub, r.body(f)),
				otherMethod: f.psReq("PUT", p("/clients/locations/%d", f.psLocation(a)), map[string]any{"name": "X"}),
			}
		}})
	}
	return out
}

// send makes r with the Idempotency-Key key.
func (s *stack) send(r keyedRequest, key string) response {
	s.t.Helper()
	h := http.Header{"Idempotency-Key": {key}}
	for k, v := range r.header {
		h[k] = v
	}
	return s.doWith(s.key, r.method, r.path, r.body, h)
}

// tenantEvents counts the events of the stack's tenant.
func (s *stack) tenantEvents() int {
	s.t.Helper()
	var n int
	if err := s.core.Pool.QueryRow(s.ctx, `select count(*) from events where tenant_id = $1`, s.tenantID).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// refusesReusedKey checks a 422 in the shape of the API at path, naming
// the Idempotency-Key header.
func refusesReusedKey(t *testing.T, path string, r response) {
	t.Helper()
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422: %s", r.Status, r.Body)
	}
	m := r.object(t)
	e, _ := m["error"].(map[string]any)
	var ok bool
	switch {
	case strings.HasPrefix(path, "/api/v1/"):
		ok = e["code"] == "invalid_field" && e["field"] == "Idempotency-Key"
	case strings.HasPrefix(path, "/api/crm/lead"):
		ok = e["type"] == "invalid_request_error" && e["code"] == "idempotency_key_reused" && e["param"] == "Idempotency-Key"
	case strings.HasPrefix(path, "/dev/crm/"):
		ok = m["field"] == "Idempotency-Key" && strings.HasPrefix(fmt.Sprint(m["message"]), "Idempotency-Key: ")
	default:
		ok = m["statusCode"] == float64(422) && m["error"] == "Unprocessable Entity" && m["field"] == "Idempotency-Key"
	}
	if !ok {
		t.Fatalf("422 not in the API's shape naming Idempotency-Key: %s", r.Body)
	}
}

// TestIdempotencyKeyOnEveryMutatingRoute runs Stripe's rules on every POST,
// PUT, PATCH and DELETE of the three APIs: a true retry replays the first
// response and writes nothing; the same key with another path (another
// target), another body or another method is a 422 in the API's own shape
// naming the header, and writes nothing (the other target is unchanged).
func TestIdempotencyKeyOnEveryMutatingRoute(t *testing.T) {
	s := newStack(t)
	covered := map[string]bool{}
	for _, route := range keyedRoutes() {
		_, methodPath, _ := strings.Cut(route.name, " ")
		covered[methodPath] = true
	}
	param := regexp.MustCompile(`[:*](\w+)`)
	for _, r := range s.srv.Config.Handler.(*gin.Engine).Routes() {
		if r.Method != "GET" && !covered[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] {
			t.Errorf("mutating route %s %s has no case here", r.Method, r.Path)
		}
	}
	f := &fixtures{s: s}
	parent := s.t
	for i, route := range keyedRoutes() {
		t.Run(route.name, func(t *testing.T) {
			s.t = t // the stack's helpers fail the subtest
			defer func() { s.t = parent }()
			kc := route.make(f)
			key := fmt.Sprintf("route-%d", i)
			before := s.tenantEvents()
			first := s.send(kc.first, key)
			if first.Status < 200 || first.Status >= 300 {
				t.Fatalf("%s: %d %s", kc.first, first.Status, first.Body)
			}
			done := s.tenantEvents()
			if done == before && !strings.Contains(kc.first.path, "delete-photo") && !kc.writesNothing {
				t.Fatalf("%s wrote no event", kc.first)
			}
			again := s.send(kc.first, key)
			if again.Status != first.Status || string(again.Body) != string(first.Body) ||
				again.Header.Get("Idempotent-Replayed") != "true" ||
				again.Header.Get("X-Crm-Position") != first.Header.Get("X-Crm-Position") {
				t.Fatalf("retry: %d %v %s, want the replay of %d %s", again.Status, again.Header, again.Body, first.Status, first.Body)
			}
			for _, misuse := range []keyedRequest{kc.otherPath, kc.otherBody, kc.otherMethod} {
				refusesReusedKey(t, misuse.path, s.send(misuse, key))
			}
			if after := s.tenantEvents(); after != done {
				t.Fatalf("the retry and the refused requests wrote %d events", after-done)
			}
			if kc.unchanged != nil {
				kc.unchanged(t)
			}
		})
	}
	s.assertReplayEqual()
}

// devcrmImportKeyedRoutes are the keyed-route cases of the /dev/crm CSV
// uploads: a multipart body, whose bytes are the request's fingerprint.
func devcrmImportKeyedRoutes() []struct {
	name string
	make func(f *fixtures) keyedCase
} {
	type route = struct {
		name string
		make func(f *fixtures) keyedCase
	}
	upload := func(f *fixtures, path, file string) keyedRequest {
		body, h := multipartFile(f.s.t, "file", "k.csv", []byte(file))
		return keyedRequest{method: "POST", path: path, body: body, header: h}
	}
	cases := func(path, other string) func(f *fixtures) keyedCase {
		return func(f *fixtures) keyedCase {
			n := f.next()
			first := upload(f, path, fmt.Sprintf("name,email\nKeyed,ki%d@example.com\n", n))
			lead := f.s.dcCreate(f.s.key, map[string]any{"name": "Keyed", "email": fmt.Sprintf("ki%d-lead@example.com", n)})
			return keyedCase{
				first:       first,
				otherPath:   keyedRequest{method: "POST", path: other, body: first.body, header: first.header},
				otherBody:   upload(f, path, fmt.Sprintf("name,email\nKeyed,ki%d-b@example.com\n", n)),
				otherMethod: keyedRequest{method: "PUT", path: "/dev/crm/leads/" + lead.ID, body: map[string]any{"name": "X"}},
			}
		}
	}
	return []route{
		{"devcrm POST /dev/crm/leads/import", cases("/dev/crm/leads/import", "/dev/crm/customers/import")},
		{"devcrm POST /dev/crm/customers/import", cases("/dev/crm/customers/import", "/dev/crm/leads/import")},
	}
}
