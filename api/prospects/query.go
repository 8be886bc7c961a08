package prospects

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections/leads"
)

// permAll lets a caller filter by salesman and creation dates (mapping
// c.13): without it those filters are a 403 naming it.
const permAll = "all-prospects"

// Page bounds of the Kanban and the list: length 1..500, 25 unless given.
const (
	defaultLength = 25
	maxLength     = 500
)

// roleParams are the role filters (kae … parapaquetes, fulfillment as
// spelled both ways): no endpoint writes roles, so any of them matches
// nothing.
var roleParams = []string{"kae", "kae_ltl", "csr", "csr_ltl", "fullfilment", "fulfillment", "wms", "ecartpay", "parapaquetes"}

// The parameters each read route accepts; any other is a 400 naming it.
var (
	filterParams = append([]string{"category", "search", "follow", "type", "onboarding", "ecommerce", "campaing", "campaign",
		"salesman", "startDate", "endDate", "source", "counters", "report"}, roleParams...)
	kpiParams     = filterParams
	groupedParams = append([]string{"start", "length", "sortBy", "sortType"}, filterParams...)
	listParams    = append([]string{"minShipments", "leadStatus", "nextContact[0]", "nextContact[1]", "estimatedCloseDate[0]",
		"estimatedCloseDate[1]", "estimatedCloseMonth", "weightRange", "contentId", "planTypeId", "commercialOfferDate[0]",
		"commercialOfferDate[1]", "hasRecharge"}, groupedParams...)
	activityParams = append([]string{"startDate", "endDate", "search", "follow", "type", "onboarding", "ecommerce",
		"campaing", "campaign", "salesman"}, roleParams...)
)

// params are a request's query parameters, read strictly: each named by
// its route, given once; an empty value is the same as none (data tables
// send their blank filters).
type params struct {
	v url.Values
}

// paramsOf checks that the query names only allowed parameters, each once;
// of several faults it names the first parameter in sort order, so that
// the same query is always refused the same way.
func paramsOf(q url.Values, allowed []string) (params, *api.BadInput) {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs := q[k]
		if !contains(allowed, k) {
			return params{}, &api.BadInput{Status: http.StatusBadRequest, Code: "unknown_field", Field: api.FieldName(k), Reason: "is not allowed"}
		}
		if len(vs) > 1 {
			return params{}, api.BadParam(k, "must be given once")
		}
	}
	return params{v: q}, nil
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

// get is the parameter's trimmed value, "" when absent or blank.
func (p params) get(name string) string { return strings.TrimSpace(p.v.Get(name)) }

// integer reads an integer parameter in [least, most]; def when absent.
func (p params) integer(name string, least, most, def int64) (int64, *api.BadInput) {
	s := p.get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < least || n > most {
		return 0, api.BadParam(name, "must be an integer from "+strconv.FormatInt(least, 10)+" to "+strconv.FormatInt(most, 10))
	}
	return n, nil
}

// ids reads a comma-separated list of positive integers.
func (p params) ids(name string) ([]int64, *api.BadInput) {
	s := p.get(name)
	if s == "" {
		return nil, nil
	}
	var out []int64
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil || n < 1 || n > maxID {
			return nil, api.BadParam(name, "must be ids (positive integers) separated by commas")
		}
		out = append(out, n)
	}
	return out, nil
}

// texts reads a comma-separated list of values.
func (p params) texts(name string) []string {
	s := p.get(name)
	if s == "" {
		return nil
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// boolean reads true|false|1|0.
func (p params) boolean(name string) (bool, *api.BadInput) {
	switch p.get(name) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, api.BadParam(name, "must be true, false, 1 or 0")
}

// oneOf reads a parameter that takes one of allowed ("" when absent).
func (p params) oneOf(name string, allowed ...string) (string, *api.BadInput) {
	s := p.get(name)
	if s == "" || contains(allowed, s) {
		return s, nil
	}
	return "", api.BadParam(name, "must be one of "+strings.Join(allowed, ", "))
}

// bound reads a date bound: an RFC 3339 time or a date (00:00 UTC). As
// the end of an inclusive range (end), a date covers its whole day: the
// answer is then the first instant after the range.
func (p params) bound(name string, end bool) (time.Time, *api.BadInput) {
	s := p.get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, ok := dateOf(s)
	if !ok {
		return time.Time{}, api.BadParam(name, "must be a date (YYYY-MM-DD) or an RFC 3339 time")
	}
	if end {
		if _, err := time.Parse(time.DateOnly, s); err == nil {
			return t.AddDate(0, 0, 1), nil
		}
		return t.Add(time.Microsecond), nil // Postgres keeps microseconds
	}
	return t, nil
}

// prospectQuery is a read route's parsed query before the pipeline
// resolves its status ids.
type prospectQuery struct {
	filter    leads.ProspectFilter
	category  int64   // category: a status id, 0 none
	follow    []int64 // follow: status ids
	needsAll  string  // the first parameter that needs permAll, "" none
	start     int
	length    int
	sort      leads.ProspectSort
	listExtra bool // the list's extra filters were read
}

var monthPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// parseFilters reads the shared filters (F) of the Kanban, list and KPIs.
func parseFilters(p params) (prospectQuery, *api.BadInput) {
	var q prospectQuery
	f := &q.filter
	var bad *api.BadInput
	if q.category, bad = p.integer("category", 1, maxID, 0); bad != nil {
		return q, bad
	}
	if q.follow, bad = p.ids("follow"); bad != nil {
		return q, bad
	}
	types, bad := p.ids("type")
	if bad != nil {
		return q, bad
	}
	for _, t := range types {
		if t > partnerType {
			return q, api.BadParam("type", "must be prospect types (1, 2, 3) separated by commas")
		}
		f.Types = append(f.Types, int(t))
	}
	source, bad := p.oneOf("source", string(leads.SourceCompany), string(leads.SourcePartner))
	if bad != nil {
		return q, bad
	}
	f.Source = leads.ProspectSource(source)
	if f.Ecommerce, bad = p.ids("ecommerce"); bad != nil {
		return q, bad
	}
	f.Search = p.get("search")
	f.Campaigns = append(p.texts("campaing"), p.texts("campaign")...)
	f.Salesmen = p.texts("salesman")
	// A prospect has no onboarding (a client's checklist), and no
	// endpoint writes roles: these filters match nothing.
	if _, bad = p.oneOf("onboarding", onboardingStatuses...); bad != nil {
		return q, bad
	}
	f.RoleFilter = p.get("onboarding") != ""
	for _, r := range roleParams {
		f.RoleFilter = f.RoleFilter || p.get(r) != ""
	}
	if f.CreatedFrom, bad = p.bound("startDate", false); bad != nil {
		return q, bad
	}
	if f.CreatedTo, bad = p.bound("endDate", true); bad != nil {
		return q, bad
	}
	for _, flag := range []string{"counters", "report"} {
		if _, bad = p.boolean(flag); bad != nil {
			return q, bad
		}
	}
	for _, name := range []string{"salesman", "startDate", "endDate"} {
		if p.get(name) != "" {
			q.needsAll = name
			break
		}
	}
	return q, nil
}

// parsePage reads start, length, sortBy (valid says which) and sortType.
func parsePage(p params, q *prospectQuery, valid func(string) bool) *api.BadInput {
	start, bad := p.integer("start", 0, api.MaxOffset, 0)
	if bad != nil {
		return bad
	}
	length, bad := p.integer("length", 1, maxLength, defaultLength)
	if bad != nil {
		return bad
	}
	q.start, q.length = int(start), int(length)
	by := p.get("sortBy")
	if !valid(by) {
		return api.BadParam("sortBy", "unknown column "+strconv.Quote(by))
	}
	dir, bad := p.oneOf("sortType", "asc", "desc")
	if bad != nil {
		return bad
	}
	q.sort = leads.ProspectSort{By: by, Desc: dir == "desc"}
	return nil
}

// parseListExtras reads the list's own filters.
func parseListExtras(p params, q *prospectQuery) *api.BadInput {
	f := &q.filter
	q.listExtra = true
	if p.get("minShipments") != "" {
		n, bad := p.integer("minShipments", 0, 1<<53, 0)
		if bad != nil {
			return bad
		}
		f.MinShipments = &n
	}
	f.LeadStatuses = p.texts("leadStatus")
	var bad *api.BadInput
	if f.WeightIDs, bad = p.ids("weightRange"); bad != nil {
		return bad
	}
	if f.ContentIDs, bad = p.ids("contentId"); bad != nil {
		return bad
	}
	for _, r := range []struct {
		name string
		end  bool
		dst  *time.Time
	}{{"nextContact[0]", false, &f.NextContactFrom}, {"nextContact[1]", true, &f.NextContactTo},
		{"estimatedCloseDate[0]", false, &f.EstimatedCloseFrom}, {"estimatedCloseDate[1]", true, &f.EstimatedCloseTo}} {
		if *r.dst, bad = p.bound(r.name, r.end); bad != nil {
			return bad
		}
	}
	if f.EstimatedCloseTo.Hour()+f.EstimatedCloseTo.Minute()+f.EstimatedCloseTo.Second()+f.EstimatedCloseTo.Nanosecond() != 0 {
		// The estimated close is a date: a time's end covers its day.
		f.EstimatedCloseTo = f.EstimatedCloseTo.Truncate(24*time.Hour).AddDate(0, 0, 1)
	}
	if m := p.get("estimatedCloseMonth"); m != "" {
		if !monthPattern.MatchString(m) {
			return api.BadParam("estimatedCloseMonth", "must be a month as YYYY-MM")
		}
		f.EstimatedCloseMonth = m
	}
	// crm stores no plan type, commercial offer date or recharge: a plan
	// type or a commercial offer range matches no prospect, hasRecharge=1
	// none and hasRecharge=0 every one.
	if _, bad = p.ids("planTypeId"); bad != nil {
		return bad
	}
	for _, name := range []string{"commercialOfferDate[0]", "commercialOfferDate[1]"} {
		if _, bad = p.bound(name, false); bad != nil {
			return bad
		}
	}
	recharge, bad := p.oneOf("hasRecharge", "0", "1")
	if bad != nil {
		return bad
	}
	if p.get("planTypeId") != "" || p.get("commercialOfferDate[0]") != "" || p.get("commercialOfferDate[1]") != "" || recharge == "1" {
		f.RoleFilter = true
	}
	return nil
}

// parseRoute reads the query of one of the Kanban (grouped), list and
// KPIs routes.
func parseRoute(q url.Values, route string) (prospectQuery, *api.BadInput) {
	allowed := map[string][]string{"grouped": groupedParams, "list": listParams, "kpis": kpiParams}[route]
	p, bad := paramsOf(q, allowed)
	if bad != nil {
		return prospectQuery{}, bad
	}
	pq, bad := parseFilters(p)
	if bad != nil {
		return pq, bad
	}
	switch route {
	case "grouped":
		bad = parsePage(p, &pq, leads.ValidKanbanSort)
	case "list":
		if bad = parsePage(p, &pq, leads.ValidListSort); bad == nil {
			bad = parseListExtras(p, &pq)
		}
	}
	return pq, bad
}

// activityQuery is the calendar's parsed query.
type activityQuery struct {
	from, to  time.Time // inclusive
	search    string
	follow    []int64
	types     []int
	campaign  string
	salesman  string
	ecommerce []int64
	nothing   bool
}

// parseActivities reads the calendar's query: startDate and endDate
// required (inclusive), campaing/campaign and salesman one value each.
func parseActivities(q url.Values) (activityQuery, *api.BadInput) {
	var a activityQuery
	p, bad := paramsOf(q, activityParams)
	if bad != nil {
		return a, bad
	}
	for _, name := range []string{"startDate", "endDate"} {
		if p.get(name) == "" {
			return a, &api.BadInput{Status: http.StatusBadRequest, Code: "missing_field", Field: name, Reason: "is required"}
		}
	}
	if a.from, bad = p.bound("startDate", false); bad != nil {
		return a, bad
	}
	end, bad := p.bound("endDate", true)
	if bad != nil {
		return a, bad
	}
	a.to = end.Add(-time.Microsecond)
	if a.to.Before(a.from) {
		return a, api.BadParam("endDate", "must not be before startDate")
	}
	base, bad := parseFilters(params{v: url.Values{"follow": q["follow"], "type": q["type"], "ecommerce": q["ecommerce"],
		"onboarding": q["onboarding"], "search": q["search"]}})
	if bad != nil {
		return a, bad
	}
	a.follow, a.types, a.ecommerce, a.search = base.follow, base.filter.Types, base.filter.Ecommerce, base.filter.Search
	a.nothing = base.filter.RoleFilter
	for _, r := range roleParams {
		a.nothing = a.nothing || p.get(r) != ""
	}
	campaigns := append(p.texts("campaing"), p.texts("campaign")...)
	if len(campaigns) > 1 {
		return a, api.BadParam("campaing", "takes one campaign on the calendar")
	}
	if len(campaigns) == 1 {
		a.campaign = campaigns[0]
	}
	a.salesman = p.get("salesman")
	return a, nil
}

// statusKeys resolves status ids (category, follow) to the pipeline's
// keys; an unknown id is a 400 naming param.
func statusKeys(statuses []domain.PipelineStatus, param string, ids ...int64) ([]string, *api.BadInput) {
	var keys []string
	for _, id := range ids {
		found := false
		for _, s := range statuses {
			if s.ID == id {
				keys, found = append(keys, string(s.Key)), true
			}
		}
		if !found {
			return nil, api.BadParam(param, "no follow-up status has id "+strconv.FormatInt(id, 10))
		}
	}
	return keys, nil
}

// mayFilterAll answers 403 when the query uses a filter that needs
// permAll and the token does not hold it.
func (h *handlers) mayFilterAll(c *gin.Context, param string) bool {
	if param == "" || api.TokenPrincipal(c).Has(permAll) {
		return true
	}
	h.fail(c, api.Forbidden(permAll))
	return false
}
