package leadsapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/api/apitest"
	"github.com/crmcore/crm/domain"
)

// customPipeline is the default pipeline with status 7 added.
func customPipeline(t *testing.T) *domain.Pipeline {
	t.Helper()
	p := domain.NewPipelineFromHistory(nil)
	events, _, err := p.CreateStatus("Negotiation", "pink")
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(events[0])
	return p
}

// FuzzStatusBody: POST /leads/status and PUT /leads/status/{id}.
func FuzzStatusBody(f *testing.F) {
	for _, s := range []string{`{"name":"Negotiation","primaryColor":"pink"}`, `{"name":"Follow up","primaryColor":"steelblue"}`,
		`{"name":"new","primaryColor":"blue"}`, `{"name":"x","primaryColor":"purple"}`, `{"name":"x","primaryColor":""}`,
		`{"name":"","primaryColor":"blue"}`, `{"name":" ","primaryColor":"blue"}`, `{"name":null}`, `{"primaryColor":"blue"}`,
		`{"name":"` + strings.Repeat("n", 65) + `","primaryColor":"blue"}`, `{"name":"` + strings.Repeat("é", 33) + `","primaryColor":"blue"}`,
		`{"name":1,"primaryColor":"blue"}`, `{"name":"x","color":"blue"}`, `{"":1}`, `{}`, `[]`, ``, `{"name":"\u0000"}`} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`{"name":"Negotiation","primaryColor":"pink"}`), true)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, small bool) {
		name, color, bad := decodeStatus(bodyContext(body, small))
		for _, route := range []struct{ method, path string }{{http.MethodPost, "/leads/status"}, {http.MethodPut, "/leads/status/7"}} {
			engine := a.Serve(route.method, route.path, "", body, "", small)
			if bad != nil {
				apitest.SameAnswer(t, route.method+" "+route.path, engine, a.checkRefusal(t, bad))
				continue
			}
			a.ReachedStore(t, route.method+" "+route.path, engine)
		}
		if bad != nil {
			return
		}
		pl := customPipeline(t)
		_, _, err := pl.CreateStatus(name, color)
		if err != nil {
			a.checkDomainRefusal(t, err, true)
		}
		for _, id := range []int64{1, 7, 8} {
			if _, _, err := pl.ChangeStatus(id, name, color); err != nil {
				a.checkDomainRefusal(t, err, true)
			}
		}
	})
}

// FuzzStatusOrderBody: PUT /leads/statuses/order.
func FuzzStatusOrderBody(f *testing.F) {
	for _, s := range []string{`[{"id":6,"statusOrder":1},{"id":5,"statusOrder":2}]`, `{"id":1,"statusOrder":6}`,
		`{"id":7,"statusOrder":99}`, `[{"id":99,"statusOrder":1}]`, `[{"id":1,"statusOrder":0}]`, `[]`, `[[]]`, `[null]`, `[1]`,
		`[{"id":1,"statusOrder":2},{"id":2,"statusOrder":2}]`, `[{"id":1,"statusOrder":1},{"id":1,"statusOrder":2}]`,
		`[{"id":1}]`, `[{"statusOrder":1}]`, `[{"id":"1","statusOrder":1}]`, `[{"id":1,"statusOrder":1.5}]`,
		`[{"id":1,"statusOrder":9223372036854775807}]`, `[{"id":1,"statusOrder":1,"x":1}]`, `[{"":1}]`, ` [ ] `, `[`, `{}`, ``, `null`} {
		f.Add([]byte(s), false)
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, small bool) {
		moves, bad := decodePlaces(apitest.Capped(body, small, 0).Body)
		engine := a.Serve(http.MethodPut, "/leads/statuses/order", "", body, "", small)
		if !a.Decoded(t, "PUT /leads/statuses/order", engine, bad, a.checkRefusal) {
			return
		}
		pl := customPipeline(t)
		places, err := fullOrder(pl.Statuses(), moves)
		if err != nil {
			a.checkDomainRefusal(t, err, true)
			return
		}
		if _, err := pl.Reorder(places); err != nil {
			a.checkDomainRefusal(t, err, true)
		}
	})
}

// FuzzBulkBody: PATCH /leads/archive and /leads/restore, DELETE /leads and
// PUT /leads/change-status.
func FuzzBulkBody(f *testing.F) {
	for _, s := range []string{`{"ids":[1,2,3]}`, `{"ids":[1,2,3],"statusId":5}`, `{"ids":[1,1]}`, `{"ids":[]}`, `{"ids":null}`, `{}`,
		`{"ids":[0]}`, `{"ids":[-1]}`, `{"ids":[1.5]}`, `{"ids":["1"]}`, `{"ids":1}`, `{"ids":[9223372036854775808]}`,
		`{"ids":[1],"statusId":0}`, `{"ids":[1],"statusId":"5"}`, `{"ids":[1],"statusId":null}`, `{"ids":[1],"extra":1}`,
		`{"ids":[` + strings.Repeat("1,", 1000) + `1]}`, `{"":[]}`, `[1,2]`, ``, `{"ids":[1]}]`} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`{"ids":[`+strings.Repeat("1,", 40)+`1]}`), true)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, small bool) {
		// bulk: ids only.
		_, _, bad := decodeBulk(apitest.Capped(body, small, 0).Body, "ids")
		for _, route := range []struct{ method, path string }{{http.MethodPatch, "/leads/archive"}, {http.MethodPatch, "/leads/restore"}, {http.MethodDelete, "/leads"}} {
			engine := a.Serve(route.method, route.path, "", body, "", small)
			a.Decoded(t, route.method+" "+route.path, engine, bad, a.checkRefusal)
		}
		// changeStatuses: ids and statusId.
		obj, _, bad := decodeBulk(apitest.Capped(body, small, 0).Body, "ids", "statusId")
		if bad == nil {
			id, ok, fieldBad := api.Field[int64](obj, "statusId", "an integer")
			if bad = fieldBad; bad == nil && (!ok || id < 1) {
				bad = badRequest("statusId", "statusId must be a positive integer")
			}
		}
		engine := a.Serve(http.MethodPut, "/leads/change-status", "", body, "", small)
		a.Decoded(t, "PUT /leads/change-status", engine, bad, a.checkRefusal)
	})
}
