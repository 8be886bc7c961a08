package prospects

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/api/apitest"
	"github.com/crmcore/crm/projections/leads"
)

// serveQuery sends GET route?rawQuery with the token, the query as sent.
func (a *fuzzAPI) serveQuery(route, rawQuery string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, route, nil)
	req.URL.RawQuery = rawQuery
	req.Header.Set("Authorization", "Bearer "+a.token)
	w := httptest.NewRecorder()
	a.Engine.ServeHTTP(w, req)
	return w
}

// unreadable reports whether CheckParams refuses the query before the
// route's own parsing: a name or value not valid UTF-8 or holding NUL.
func unreadable(q url.Values) bool {
	bad := func(s string) bool { return !utf8.ValidString(s) || strings.ContainsRune(s, 0) }
	for k, vs := range q {
		if bad(k) {
			return true
		}
		for _, v := range vs {
			if bad(v) {
				return true
			}
		}
	}
	return false
}

// FuzzQuery: the read routes' query parsing. Whatever the query, the
// parser accepts it or refuses it naming a parameter that was sent, and
// the engine answers the parser's very refusal, a 403 for a filter that
// needs all-prospects (the fuzz token lacks it), or, accepted, a 503 from
// the unreachable store.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"", "start=0&length=25&sortBy=company_name&sortType=desc", "sortBy=nope", "length=501", "length=0", "start=-1",
		"category=3&follow=1,2&type=1,3&ecommerce=2&campaing=q1&campaign=q2&source=partner&counters=true&report=0",
		"salesman=a@b.co", "startDate=2026-01-01&endDate=2026-01-31T10:00:00Z", "startDate=2026-02-30",
		"kae=1&fullfilment=x&fulfillment=y", "onboarding=pending", "onboarding=done", "follow=1,,2", "type=4",
		"minShipments=10&leadStatus=qualified,new&nextContact[0]=2026-01-01&nextContact[1]=2026-01-02",
		"estimatedCloseDate[0]=2026-01-01&estimatedCloseDate[1]=2026-01-02T00:00:00Z&estimatedCloseMonth=2026-13",
		"weightRange=1&contentId=2&planTypeId=3&commercialOfferDate[0]=2026-01-01&hasRecharge=1", "hasRecharge=2",
		"translate=true", "translate=maybe", "source=all", "foo=1", "start=1&start=2", "search=%00", "search=%ff",
		"%ff=1", "=1", "a=1&a=%00", "sortBy=", "length=99999999999999999999", "category=1e3",
	} {
		f.Add(s)
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, rawQuery string) {
		q, _ := url.ParseQuery(rawQuery)
		sent := apitest.SentParams(rawQuery)
		type parsed struct {
			bad      *api.BadInput
			needsAll bool
		}
		routes := map[string]func() parsed{}
		for _, r := range []string{"grouped", "list", "kpis"} {
			routes["/prospects/"+r] = func() parsed {
				pq, bad := parseRoute(q, r)
				if bad == nil && !leads.ValidKanbanSort(pq.sort.By) && !leads.ValidListSort(pq.sort.By) {
					t.Fatalf("%s: sortBy %q accepted", r, pq.sort.By)
				}
				return parsed{bad: bad, needsAll: pq.needsAll != ""}
			}
		}
		routes["/prospects/activities"] = func() parsed {
			aq, bad := parseActivities(q)
			if bad == nil && aq.to.Before(aq.from) {
				t.Fatalf("activities: range %v..%v accepted", aq.from, aq.to)
			}
			return parsed{bad: bad, needsAll: aq.salesman != ""}
		}
		routes["/clients/1/onboarding"] = func() parsed {
			p, bad := paramsOf(q, []string{"translate"})
			if bad == nil {
				_, bad = p.boolean("translate")
			}
			return parsed{bad: bad}
		}
		for route, parse := range routes {
			got := parse()
			w := a.serveQuery(route, rawQuery)
			if got.bad != nil {
				a.checkRefusal(t, got.bad)
				if !sent[apitest.JSONText(got.bad.Field)] && got.bad.Code != "missing_field" {
					t.Fatalf("GET %s?%s: refusal %+v names a parameter not sent", route, rawQuery, got.bad)
				}
			}
			switch {
			case unreadable(q):
				// CheckParams refuses first, naming the parameter.
				if w.Code != http.StatusBadRequest {
					t.Fatalf("GET %s?%s: %d %s, want 400 from CheckParams", route, rawQuery, w.Code, w.Body.Bytes())
				}
				a.CheckErrorSchema(t, w)
			case got.bad != nil:
				apitest.SameAnswer(t, "GET "+route, w, a.render(got.bad))
			case got.needsAll:
				var e boom
				if w.Code != http.StatusForbidden || json.Unmarshal(w.Body.Bytes(), &e) != nil || !strings.Contains(e.Message, permAll) {
					t.Fatalf("GET %s?%s: %d %s, want 403 naming %s", route, rawQuery, w.Code, w.Body.Bytes(), permAll)
				}
				a.CheckErrorSchema(t, w)
			default:
				a.ReachedStore(t, "GET "+route, w)
			}
		}
	})
}
