package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/projections/leads"
)

// psCategory is a Kanban category as the tests read it.
type psCategory struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Count   int64  `json:"count"`
	Records []struct {
		ID               int64   `json:"id"`
		CompanyName      *string `json:"company_name"`
		FollowUpID       int64   `json:"follow_up_id"`
		FollowName       string  `json:"follow_name"`
		Balance          float64 `json:"balance"`
		AccountValue     float64 `json:"account_value"`
		MonthlyShipments *int64  `json:"monthly_shipments"`
		Verified         bool    `json:"verified"`
		Tier             *string `json:"tier"`
		Services         []int   `json:"services"`
	} `json:"records"`
}

// psKanban reads the Kanban with query q.
func (s *stack) psKanban(tok, q string) []psCategory {
	s.t.Helper()
	var out struct {
		Categories []psCategory `json:"categories"`
	}
	s.laWant(s.do(tok, "GET", "/prospects/grouped?"+q, nil), http.StatusOK, &out)
	return out.Categories
}

// psCounts are the categories' counts in order, and the ids of each
// category's page.
func psCounts(cats []psCategory) (counts []int64, pages [][]int64) {
	for _, c := range cats {
		counts = append(counts, c.Count)
		var ids []int64
		for _, r := range c.Records {
			ids = append(ids, r.ID)
		}
		pages = append(pages, ids)
	}
	return counts, pages
}

type psListRow struct {
	ID                 int64   `json:"id"`
	FollowName         string  `json:"follow_name"`
	AccountValue       float64 `json:"account_value"`
	LastContact        *string `json:"last_contact"`
	DaysUC             int64   `json:"days_uc"`
	DaysWithoutContact *int64  `json:"days_without_contact"`
	NextContact        *string `json:"next_contact"`
	EstimatedCloseDate *string `json:"estimated_close_date"`
	MonthlyShipments   *string `json:"monthly_shipments_desc"`
}

type psList struct {
	Total    int64       `json:"recordsTotal"`
	Filtered int64       `json:"recordsFiltered"`
	Data     []psListRow `json:"data"`
}

func (s *stack) psList(tok, q string) psList {
	s.t.Helper()
	var out psList
	s.laWant(s.do(tok, "GET", "/prospects/list?"+q, nil), http.StatusOK, &out)
	return out
}

func listIDs(l psList) []int64 {
	var ids []int64
	for _, r := range l.Data {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestProspectsReads: the Kanban, list, KPIs, calendar and details over
// prospects and clients made through the write routes, with their
// filters, sorting, paging and refusals, each answer checked against the
// OpenAPI document.
func TestProspectsReads(t *testing.T) {
	s := newStack(t)
	tok := s.token()
	allTok := tokenAt(t, "acme", time.Now(), append(allPermissions, "all-prospects")...)

	// Read-your-writes: a prospect is in the Kanban as soon as its create
	// answered.
	a := s.psCreate(tok, map[string]any{"name": "Alpha", "company": "Acme", "email": "alpha@example.com",
		"phone": 5551234567, "code": 52, "follow_up_id": 1, "monthly_shipments": 150})
	if counts, pages := psCounts(s.psKanban(tok, "")); counts[0] != 1 || len(pages[0]) != 1 || pages[0][0] != a {
		t.Fatalf("the created prospect is not in the Kanban: %v %v", counts, pages)
	}
	b := s.psCreate(tok, map[string]any{"name": "Bravo", "company": "Bolt", "email": "bravo@example.com", "type": 2,
		"follow_up_id": 1, "monthly_shipments": "20-50"})
	c := s.psCreate(tok, map[string]any{"name": "Charlie", "company": "Crane", "email": "charlie@example.com", "follow_up_id": 3})
	d := s.psCreate(tok, map[string]any{"name": "Delta", "company": "Dome", "email": "delta@example.com", "type": 3, "follow_up_id": 1})
	for id, data := range map[int64]map[string]any{
		a: {"account_value": 5000, "ecommerce_type_id": 2, "estimated_close_date": "2026-04-15"},
		b: {"account_value": 100}, c: {"account_value": 700, "ecommerce_type_id": 5}, d: {"account_value": 9},
	} {
		s.settled(s.do(tok, "PATCH", fmt.Sprintf("/prospects/%d/data", id), data))
	}
	// A follow-up note on c: the calendar's, c's last and next contact.
	s.laWant(s.settled(s.do(tok, "POST", fmt.Sprintf("/prospects/%d/notes", c), map[string]any{"action": "call",
		"note": "Discussed pricing", "scheduled_date": "2026-03-20T09:00:00Z"})), http.StatusCreated, nil)

	// Kanban: every pipeline status, in order, empty ones included.
	cats := s.psKanban(tok, "")
	wantNames := []string{"new", "contacted", "qualified", "proposal", "won", "lost"}
	if len(cats) != len(wantNames) {
		t.Fatalf("categories %+v", cats)
	}
	for i, cat := range cats {
		if cat.ID != int64(i+1) || cat.Name != wantNames[i] || cat.Records == nil {
			t.Fatalf("category %d: %+v", i, cat)
		}
	}
	counts, _ := psCounts(cats)
	if fmt.Sprint(counts) != "[2 0 1 0 0 0]" {
		t.Fatalf("counts %v (the partner is not a company prospect)", counts)
	}
	for _, r := range cats[0].Records {
		if r.ID == a && (r.AccountValue != 5000 || r.MonthlyShipments == nil || *r.MonthlyShipments != 150 ||
			r.Balance != 0 || r.Verified || r.Tier != nil || r.Services == nil || r.FollowUpID != 1 || r.FollowName != "new") {
			t.Fatalf("record %+v", r)
		}
	}
	kanban := func(q string) string {
		counts, pages := psCounts(s.psKanban(tok, q))
		return fmt.Sprint(counts, pages)
	}
	for q, want := range map[string]string{
		"sortBy=company_name&sortType=asc":             fmt.Sprintf("[2 0 1 0 0 0] [[%d %d] [] [%d] [] [] []]", a, b, c),
		"sortBy=company_name&sortType=desc":            fmt.Sprintf("[2 0 1 0 0 0] [[%d %d] [] [%d] [] [] []]", b, a, c),
		"sortBy=account_value&sortType=desc&length=1":  fmt.Sprintf("[2 0 1 0 0 0] [[%d] [] [%d] [] [] []]", a, c),
		"sortBy=account_value&start=1&length=1":        fmt.Sprintf("[2 0 1 0 0 0] [[%d] [] [] [] [] []]", a),
		"source=partner":                               fmt.Sprintf("[1 0 0 0 0 0] [[%d] [] [] [] [] []]", d),
		"category=3":                                   fmt.Sprintf("[0 0 1 0 0 0] [[] [] [%d] [] [] []]", c),
		"follow=3,1&type=2":                            fmt.Sprintf("[1 0 0 0 0 0] [[%d] [] [] [] [] []]", b),
		"ecommerce=2":                                  fmt.Sprintf("[1 0 0 0 0 0] [[%d] [] [] [] [] []]", a),
		"search=CRANE":                                 fmt.Sprintf("[0 0 1 0 0 0] [[] [] [%d] [] [] []]", c),
		"campaing=q1&campaign=q2":                      "[0 0 0 0 0 0] [[] [] [] [] [] []]",
		"kae=7":                                        "[0 0 0 0 0 0] [[] [] [] [] [] []]",
		"fulfillment=1&counters=true&report=0&search=": "[0 0 0 0 0 0] [[] [] [] [] [] []]",
		"onboarding=pending":                           "[0 0 0 0 0 0] [[] [] [] [] [] []]",
	} {
		if got := kanban(q); got != want {
			t.Errorf("Kanban ?%s: %s, want %s", q, got, want)
		}
	}
	day := time.Now().UTC().Format(time.DateOnly)
	if counts, _ := psCounts(s.psKanban(allTok, "salesman=nobody@example.com")); fmt.Sprint(counts) != "[0 0 0 0 0 0]" {
		t.Fatalf("salesman: %v", counts)
	}
	if counts, _ := psCounts(s.psKanban(allTok, "startDate="+day+"&endDate="+day)); fmt.Sprint(counts) != "[2 0 1 0 0 0]" {
		t.Fatalf("created today, inclusive: %v", counts)
	}
	for _, bad := range []struct{ q, field string }{
		{"sortBy=nope", "sortBy"}, {"sortType=up", "sortType"}, {"length=501", "length"}, {"length=0", "length"},
		{"start=-1", "start"}, {"category=99", "category"}, {"follow=1,x", "follow"}, {"type=4", "type"},
		{"source=all", "source"}, {"foo=1", "foo"}, {"minShipments=1", "minShipments"}, {"start=1&start=2", "start"},
		{"counters=yes", "counters"}, {"startDate=yesterday", "startDate"},
	} {
		s.psFails(s.do(allTok, "GET", "/prospects/grouped?"+bad.q, nil), http.StatusBadRequest, bad.field, "")
	}
	for _, q := range []string{"salesman=x", "startDate=" + day, "endDate=" + day} {
		s.psFails(s.do(tok, "GET", "/prospects/grouped?"+q, nil), http.StatusForbidden, "permission", "all-prospects")
	}

	// KPIs: every status, zeros included; from the counts, and counted.
	type kpi struct {
		ID    int64   `json:"category_id"`
		Name  string  `json:"category_name"`
		Value float64 `json:"total_value"`
		Count int64   `json:"count"`
	}
	kpis := func(q string) string {
		var out []kpi
		s.laWant(s.do(tok, "GET", "/prospects/kpis?"+q, nil), http.StatusOK, &out)
		return fmt.Sprint(out)
	}
	for q, want := range map[string]string{
		"":               "[{1 new 5100 2} {2 contacted 0 0} {3 qualified 700 1} {4 proposal 0 0} {5 won 0 0} {6 lost 0 0}]",
		"search=acme":    "[{1 new 5000 1} {2 contacted 0 0} {3 qualified 0 0} {4 proposal 0 0} {5 won 0 0} {6 lost 0 0}]",
		"source=partner": "[{1 new 9 1} {2 contacted 0 0} {3 qualified 0 0} {4 proposal 0 0} {5 won 0 0} {6 lost 0 0}]",
	} {
		if got := kpis(q); got != want {
			t.Errorf("KPIs ?%s: %s, want %s", q, got, want)
		}
	}
	s.psFails(s.do(tok, "GET", "/prospects/kpis?start=0", nil), http.StatusBadRequest, "start", "not allowed")

	// List.
	l := s.psList(tok, "sortBy=id&sortType=asc")
	if l.Total != 3 || l.Filtered != 3 || fmt.Sprint(listIDs(l)) != fmt.Sprint([]int64{a, b, c}) {
		t.Fatalf("list %+v", l)
	}
	for _, r := range l.Data {
		switch r.ID {
		case a:
			if laStr(r.EstimatedCloseDate) != "2026-04-15" || r.AccountValue != 5000 || r.DaysUC != 0 || r.FollowName != "new" ||
				r.LastContact != nil || r.DaysWithoutContact != nil || laStr(r.MonthlyShipments) != "150" {
				t.Fatalf("row %+v", r)
			}
		case c:
			if laStr(r.NextContact) != "2026-03-20" || r.LastContact == nil || r.DaysWithoutContact == nil || *r.DaysWithoutContact != 0 {
				t.Fatalf("row %+v", r)
			}
		}
	}
	list := func(q string) string { l := s.psList(tok, q); return fmt.Sprint(l.Total, l.Filtered, listIDs(l)) }
	for q, want := range map[string]string{
		"sortBy=id&sortType=desc&length=2":                                  fmt.Sprint(3, 3, []int64{c, b}),
		"sortBy=id&sortType=desc&start=2&length=2":                          fmt.Sprint(3, 3, []int64{a}),
		"sortBy=account_value&sortType=desc":                                fmt.Sprint(3, 3, []int64{a, c, b}),
		"type=1&sortBy=id":                                                  fmt.Sprint(3, 2, []int64{a, c}),
		"minShipments=100":                                                  fmt.Sprint(3, 1, []int64{a}),
		"estimatedCloseMonth=2026-04":                                       fmt.Sprint(3, 1, []int64{a}),
		"estimatedCloseDate[0]=2026-04-15&estimatedCloseDate[1]=2026-04-15": fmt.Sprint(3, 1, []int64{a}),
		"nextContact[0]=2026-03-20&nextContact[1]=2026-03-20":               fmt.Sprint(3, 1, []int64{c}),
		"hasRecharge=1":                                                     fmt.Sprint(3, 0, []int64(nil)),
		"hasRecharge=0&sortBy=id":                                           fmt.Sprint(3, 3, []int64{a, b, c}),
		"planTypeId=2":                                                      fmt.Sprint(3, 0, []int64(nil)),
		"commercialOfferDate[0]=2026-01-01":                                 fmt.Sprint(3, 0, []int64(nil)),
		"leadStatus=qualified":                                              fmt.Sprint(3, 0, []int64(nil)),
		"weightRange=1&contentId=2":                                         fmt.Sprint(3, 0, []int64(nil)),
	} {
		if got := list(q); got != want {
			t.Errorf("list ?%s: %s, want %s", q, got, want)
		}
	}
	for _, bad := range []struct{ q, field string }{{"length=501", "length"}, {"sortBy=name", "sortBy"},
		{"estimatedCloseMonth=2026-13", "estimatedCloseMonth"}, {"hasRecharge=2", "hasRecharge"}, {"minShipments=-1", "minShipments"},
		{"nextContact[2]=2026-01-01", "nextContact[2]"}, {"sortBy=id&sortBy=name", "sortBy"}} {
		s.psFails(s.do(tok, "GET", "/prospects/list?"+bad.q, nil), http.StatusBadRequest, bad.field, "")
	}

	// Calendar: inclusive dates, required bounds.
	type act struct {
		ID         int64  `json:"id"`
		EntityType string `json:"entity_type"`
		EntityID   int64  `json:"entity_id"`
		EntityName string `json:"entity_name"`
		Action     string `json:"action"`
		FollowName string `json:"follow_name"`
	}
	var acts []act
	s.laWant(s.do(tok, "GET", "/prospects/activities?startDate=2026-03-20&endDate=2026-03-20", nil), http.StatusOK, &acts)
	if len(acts) != 1 || acts[0].EntityID != c || acts[0].EntityType != "prospect" || acts[0].EntityName != "Crane" ||
		acts[0].Action != "call" || acts[0].FollowName != "qualified" {
		t.Fatalf("activities %+v", acts)
	}
	for q, n := range map[string]int{"startDate=2026-03-21&endDate=2026-03-31": 0, "startDate=2026-03-01&endDate=2026-03-31&follow=1": 0,
		"startDate=2026-03-20T09:00:00Z&endDate=2026-03-20T09:00:00Z&search=crane": 1, "startDate=2026-03-01&endDate=2026-03-31&wms=1": 0,
		"startDate=2026-03-01&endDate=2026-03-31&ecommerce=5,6": 1, "startDate=2026-03-01&endDate=2026-03-31&ecommerce=2": 0,
		"startDate=2026-03-01&endDate=2026-03-31&type=1&campaign=q1": 0} {
		s.laWant(s.do(tok, "GET", "/prospects/activities?"+q, nil), http.StatusOK, &acts)
		if len(acts) != n {
			t.Errorf("activities ?%s: %+v, want %d", q, acts, n)
		}
	}
	s.psFails(s.do(tok, "GET", "/prospects/activities?startDate=2026-03-20", nil), http.StatusBadRequest, "endDate", "required")
	s.psFails(s.do(tok, "GET", "/prospects/activities?endDate=2026-03-20", nil), http.StatusBadRequest, "startDate", "required")
	s.psFails(s.do(tok, "GET", "/prospects/activities?startDate=2026-03-20&endDate=2026-03-19", nil), http.StatusBadRequest, "endDate", "")
	s.psFails(s.do(tok, "GET", "/prospects/activities?startDate=2026-03-20&endDate=2026-03-21&salesman=x", nil), http.StatusForbidden, "permission", "all-prospects")

	// Details.
	s.laWant(s.settled(s.do(tok, "POST", fmt.Sprintf("/prospects/%d/contacts", a), map[string]any{"name": "Jane", "email": "jane@acme.example",
		"phone_code": "52", "phone": "5598765432"})), http.StatusCreated, nil)
	s.laWant(s.settled(s.do(tok, "POST", fmt.Sprintf("/prospects/%d/locations", a), map[string]any{"name": "HQ", "link": "https://maps.example/hq",
		"type": "headquarters"})), http.StatusCreated, nil)
	var det struct {
		Prospect struct {
			ID         int64   `json:"id"`
			PhoneCode  *string `json:"phone_code"`
			Phone      *string `json:"phone"`
			CompanyID  *int64  `json:"company_id"`
			FollowUpID *int64  `json:"follow_up_id"`
			Status     int     `json:"status"`
			Type       int     `json:"type"`
		} `json:"prospect"`
		FollowData struct {
			AccountValue *float64 `json:"account_value"`
		} `json:"follow_data"`
		Notes     []any `json:"notes"`
		Contacts  []any `json:"contacts"`
		Locations []any `json:"locations"`
	}
	s.laWant(s.do(tok, "GET", fmt.Sprintf("/prospects/%d", a), nil), http.StatusOK, &det)
	if det.Prospect.ID != a || laStr(det.Prospect.PhoneCode) != "52" || laStr(det.Prospect.Phone) != "5551234567" ||
		det.Prospect.CompanyID != nil || det.Prospect.Status != 1 || det.Prospect.Type != 1 || det.FollowData.AccountValue == nil ||
		*det.FollowData.AccountValue != 5000 || len(det.Contacts) != 1 || len(det.Locations) != 1 || len(det.Notes) != 0 {
		t.Fatalf("detail %+v", det)
	}
	s.laWant(s.do(tok, "GET", fmt.Sprintf("/prospects/%d?source=partner", d), nil), http.StatusOK, nil)
	s.psFails(s.do(tok, "GET", fmt.Sprintf("/prospects/%d?source=partner", a), nil), http.StatusNotFound, "", "not found")
	s.psFails(s.do(tok, "GET", "/prospects/999999", nil), http.StatusNotFound, "", "not found")
	s.psFails(s.do(tok, "GET", "/prospects/0", nil), http.StatusNotFound, "", "not found")
	s.psFails(s.do(tok, "GET", fmt.Sprintf("/prospects/%d?x=1", a), nil), http.StatusBadRequest, "x", "not allowed")

	// A converted prospect names its client, whose detail shows the
	// lead's records beside its own.
	lead, err := leads.NewReader(s.core.Pool).GetLeadByNumber(s.ctx, s.tenantID, a)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := commands.New(s.core.Store, "IN").ConvertLead(s.ctx, commands.Context{TenantID: s.tenantID}, lead.ID)
	if err != nil {
		t.Fatal(err)
	}
	s.caughtUp()
	s.laWant(s.do(tok, "GET", fmt.Sprintf("/prospects/%d", a), nil), http.StatusOK, &det)
	if det.Prospect.CompanyID == nil || *det.Prospect.CompanyID != conv.Number {
		t.Fatalf("converted prospect's company_id %v, want %d", det.Prospect.CompanyID, conv.Number)
	}
	var cl struct {
		Company struct {
			ID      int64   `json:"id"`
			Balance float64 `json:"balance"`
		} `json:"company"`
		Contacts     []any `json:"contacts"`
		Locations    []any `json:"locations"`
		Integrations []any `json:"integrations"`
		Onboarding   struct {
			Status    string `json:"status"`
			Completed int    `json:"completed"`
		} `json:"onboarding"`
	}
	s.laWant(s.do(tok, "GET", fmt.Sprintf("/clients/%d", conv.Number), nil), http.StatusOK, &cl)
	if cl.Company.ID != conv.Number || len(cl.Contacts) != 1 || len(cl.Locations) != 1 || cl.Integrations == nil ||
		cl.Onboarding.Status != "in_progress" || cl.Onboarding.Completed != 2 {
		t.Fatalf("client %+v", cl)
	}
	direct := s.psClient("Direct Co", "direct@example.com")
	s.caughtUp() // made through the commands: no answer waited for the read models
	var ob struct {
		Status      string `json:"status"`
		StatusLabel string `json:"status_label"`
		Steps       []struct {
			Key   string `json:"key"`
			Label string `json:"label"`
		} `json:"steps"`
	}
	s.laWant(s.do(tok, "GET", fmt.Sprintf("/clients/%d/onboarding?translate=true", direct), nil), http.StatusOK, &ob)
	if ob.Status != "pending" || ob.StatusLabel != "Pending" || len(ob.Steps) != 5 || ob.Steps[0].Label == "" {
		t.Fatalf("onboarding %+v", ob)
	}
	ob.StatusLabel, ob.Steps = "", nil
	s.laWant(s.do(tok, "GET", fmt.Sprintf("/clients/%d/onboarding", direct), nil), http.StatusOK, &ob)
	if ob.StatusLabel != "" || ob.Steps[0].Label != "" {
		t.Fatalf("untranslated onboarding %+v", ob)
	}
	s.psFails(s.do(tok, "GET", fmt.Sprintf("/clients/%d/onboarding?translate=maybe", direct), nil), http.StatusBadRequest, "translate", "")
	s.psFails(s.do(tok, "GET", "/clients/999999", nil), http.StatusNotFound, "", "not found")
	s.psFails(s.do(tok, "GET", "/clients/999999/onboarding", nil), http.StatusNotFound, "", "not found")

	// Auth: no token 401, a token without 319 403 naming it.
	menu := tokenAt(t, "acme", time.Now(), "crm-menu")
	for _, path := range []string{"/prospects/grouped", "/prospects/list", "/prospects/kpis",
		"/prospects/activities?startDate=2026-01-01&endDate=2026-01-02", fmt.Sprintf("/prospects/%d", b),
		fmt.Sprintf("/clients/%d", direct), fmt.Sprintf("/clients/%d/onboarding", direct)} {
		s.psFails(s.do("", "GET", path, nil), http.StatusUnauthorized, "", "")
		s.psFails(s.do(menu, "GET", path, nil), http.StatusForbidden, "permission", "319")
	}
}
