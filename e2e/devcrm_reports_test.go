package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
)

// /dev/crm reports, segments, health and the analytics dashboard: figures
// checked against data made through the APIs (a Cratio lead, a converted
// lead, orders, an interaction, feedback), another tenant's data never
// counted, every answer checked against the OpenAPI document, and the
// counts tables equal to a replay.

type dcCount struct {
	Status  *string `json:"status"`
	Source  *string `json:"source"`
	Type    *string `json:"type"`
	Segment string  `json:"segment"`
	Level   string  `json:"level"`
	Date    string  `json:"date"`
	Count   int64   `json:"count"`
}

type dcLeadFigures struct {
	From           *string   `json:"from"`
	To             *string   `json:"to"`
	Total          int64     `json:"total"`
	ByStatus       []dcCount `json:"by_status"`
	BySource       []dcCount `json:"by_source"`
	Converted      int64     `json:"converted"`
	ConversionRate float64   `json:"conversion_rate"`
	NewPerDay      []dcCount `json:"new_per_day"`
}

type dcCustomerFigures struct {
	From      *string   `json:"from"`
	To        *string   `json:"to"`
	Total     int64     `json:"total"`
	ByType    []dcCount `json:"by_type"`
	ByStatus  []dcCount `json:"by_status"`
	ByOrders  []dcCount `json:"by_orders"`
	ByHealth  []dcCount `json:"by_health"`
	NewPerDay []dcCount `json:"new_per_day"`
}

type dcFactor struct {
	Points            int      `json:"points"`
	Max               int      `json:"max"`
	LastInteractionAt *string  `json:"last_interaction_at"`
	DaysSince         *int     `json:"days_since"`
	Orders            int      `json:"orders"`
	MeanRating        *float64 `json:"mean_rating"`
	Ratings           int      `json:"ratings"`
	Status            *string  `json:"status"`
}

type dcHealth struct {
	CustomerID string              `json:"customer_id"`
	Score      int                 `json:"score"`
	Level      string              `json:"level"`
	Factors    map[string]dcFactor `json:"factors"`
}

type dcDashboard struct {
	Leads     dcLeadFigures     `json:"leads"`
	Customers dcCustomerFigures `json:"customers"`
	Orders    struct {
		Total    int64     `json:"total"`
		ByStatus []dcCount `json:"by_status"`
	} `json:"orders"`
	Feedback struct {
		Requested    int64   `json:"requested"`
		Received     int64   `json:"received"`
		ResponseRate float64 `json:"response_rate"`
		MeanRating   float64 `json:"mean_rating"`
	} `json:"feedback"`
}

// countsOf maps a figure's groups by their key.
func countsOf(cs []dcCount, key func(dcCount) string) map[string]int64 {
	out := map[string]int64{}
	for _, c := range cs {
		out[key(c)] += c.Count
	}
	return out
}

func strOr(s *string, none string) string {
	if s == nil {
		return none
	}
	return *s
}

func byStatus(c dcCount) string  { return strOr(c.Status, "null") }
func bySource(c dcCount) string  { return strOr(c.Source, "null") }
func byType(c dcCount) string    { return strOr(c.Type, "null") }
func bySegment(c dcCount) string { return c.Segment }
func byLevel(c dcCount) string   { return c.Level }

func sameCounts(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s %v, want %v", what, got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("%s %v, want %v", what, got, want)
		}
	}
}

// reportToday is today's report day (India Standard Time).
func reportToday() time.Time {
	return time.Now().In(time.FixedZone("IST", 5*3600+1800))
}

func TestDevcrmReports(t *testing.T) {
	s := newStack(t)
	_, otherKey := s.newTenant("reports-other")
	today := reportToday().Format(time.DateOnly)
	tomorrow := reportToday().AddDate(0, 0, 1).Format(time.DateOnly)
	yesterday := reportToday().AddDate(0, 0, -1).Format(time.DateOnly)

	// Nothing yet: zeros, every segment and level shown.
	var lr dcLeadFigures
	s.dcWant(s.do(s.key, "GET", "/dev/crm/reports/leads", nil), http.StatusOK, &lr)
	if lr.Total != 0 || lr.ConversionRate != 0 || len(lr.ByStatus) != 0 || len(lr.NewPerDay) != 0 || lr.From != nil || lr.To != nil {
		t.Fatalf("empty lead report %+v", lr)
	}
	var seg dcCustomerFigures
	s.dcWant(s.do(s.key, "GET", "/dev/crm/customers/segments", nil), http.StatusOK, &seg)
	sameCounts(t, "empty order segments", countsOf(seg.ByOrders, bySegment), map[string]int64{"none": 0, "one_time": 0, "repeat": 0, "loyal": 0})
	sameCounts(t, "empty health levels", countsOf(seg.ByHealth, byLevel), map[string]int64{"healthy": 0, "at_risk": 0, "critical": 0})

	// Leads: two through Cratio, three here, one of them converted.
	s.createLead(s.key, map[string]any{"name": "Rahul Sharma", "phone": "+91 98765 43210", "email": "rahul@techcorp.in",
		"source": "IVR", "status": "Contacted"})
	s.createLead(s.key, map[string]any{"name": "Priya Nair", "phone": "+91 98765 43211", "email": "priya@techcorp.in",
		"source": "IVR", "status": "Won"})
	conv := s.dcCreate(s.key, map[string]any{"name": "Conv Ert", "email": "convert@example.com", "company": "Conv Co", "source": "website"})
	s.dcCreate(s.key, map[string]any{"name": "Web Lead", "email": "web@example.com", "source": "website"})
	s.dcCreate(s.key, map[string]any{"name": "No Source", "email": "nosource@example.com"})
	var loyal dcCustomer
	s.dcWant(s.do(s.key, "POST", "/dev/crm/leads/"+conv.ID+"/convert", nil), http.StatusOK, &loyal)
	direct := s.dcCustomerCreate(s.key, map[string]any{"name": "Direct", "email": "direct@example.com", "type": "individual", "status": "inactive"})
	idle := s.dcCustomerCreate(s.key, map[string]any{"name": "Idle", "email": "idle@example.com", "type": "individual", "status": "active"})
	product := uuid.NewString()
	for range 2 {
		s.dcOrderCreate(s.key, map[string]any{"customer_id": loyal.ID, "product_id": product, "quantity": 1})
	}
	once := s.dcOrderCreate(s.key, map[string]any{"customer_id": direct.ID, "product_id": product, "quantity": 2})
	s.dcWant(s.do(s.key, "POST", "/dev/crm/customers/"+loyal.ID+"/interactions", map[string]any{"type": "call", "subject": "Check-in",
		"date": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}), http.StatusCreated, nil)
	f := s.dcFeedbackRequest(s.key, loyal.ID)
	s.dcWant(s.do(s.key, "POST", "/dev/crm/feedback/"+f.ID, map[string]any{"rating": 4}), http.StatusOK, nil)

	// The other tenant's data: never counted here.
	s.createLead(otherKey, map[string]any{"name": "Other", "phone": "+91 98765 43299", "email": "other@other.example", "source": "Other"})
	oc := s.dcCustomerCreate(otherKey, map[string]any{"name": "Other Co", "email": "c@other.example", "type": "business", "status": "blocked"})
	s.dcOrderCreate(otherKey, map[string]any{"customer_id": oc.ID, "product_id": product, "quantity": 1})

	wantStatuses := map[string]int64{"contacted": 1, "won": 1, "converted": 1, "new": 2}
	wantSources := map[string]int64{"IVR": 2, "website": 2, "null": 1}
	for _, q := range []string{"", "?from=" + today, "?to=" + today, "?from=" + yesterday + "&to=" + tomorrow,
		"?from=" + url.QueryEscape(time.Now().UTC().Format(time.RFC3339)) + "&to=" + url.QueryEscape(time.Now().Add(24*time.Hour).Format(time.RFC3339))} {
		s.dcWant(s.do(s.key, "GET", "/dev/crm/reports/leads"+q, nil), http.StatusOK, &lr)
		if lr.Total != 5 || lr.Converted != 1 || lr.ConversionRate != 0.2 || len(lr.NewPerDay) != 1 ||
			lr.NewPerDay[0].Date != today || lr.NewPerDay[0].Count != 5 {
			t.Fatalf("lead report%s %+v", q, lr)
		}
		sameCounts(t, "leads by status", countsOf(lr.ByStatus, byStatus), wantStatuses)
		sameCounts(t, "leads by source", countsOf(lr.BySource, bySource), wantSources)
	}
	if lr.ByStatus[0].Count != 2 || *lr.ByStatus[0].Status != "new" {
		t.Fatalf("by_status not most first: %+v", lr.ByStatus)
	}
	s.dcWant(s.do(s.key, "GET", "/dev/crm/reports/leads?from="+yesterday+"&to="+yesterday, nil), http.StatusOK, &lr)
	if lr.Total != 0 || lr.ConversionRate != 0 || len(lr.NewPerDay) != 0 || *lr.From != yesterday || *lr.To != yesterday {
		t.Fatalf("yesterday's lead report %+v", lr)
	}

	var cr dcCustomerFigures
	s.dcWant(s.do(s.key, "GET", "/dev/crm/reports/customers?from="+today, nil), http.StatusOK, &cr)
	if cr.Total != 3 || len(cr.NewPerDay) != 1 || cr.NewPerDay[0].Count != 3 || cr.NewPerDay[0].Date != today {
		t.Fatalf("customer report %+v", cr)
	}
	sameCounts(t, "customers by type", countsOf(cr.ByType, byType), map[string]int64{"business": 1, "individual": 2})
	sameCounts(t, "customers by status", countsOf(cr.ByStatus, byStatus), map[string]int64{"active": 2, "inactive": 1})
	sameCounts(t, "customers by orders", countsOf(cr.ByOrders, bySegment), map[string]int64{"none": 1, "one_time": 1, "repeat": 1, "loyal": 0})
	s.dcWant(s.do(s.key, "GET", "/dev/crm/reports/customers?to="+yesterday, nil), http.StatusOK, &cr)
	if cr.Total != 3 || len(cr.NewPerDay) != 0 {
		t.Fatalf("customer report up to yesterday %+v", cr)
	}

	// Health: the converted customer is healthy, the others critical.
	var h dcHealth
	s.dcWant(s.do(s.key, "GET", "/dev/crm/customers/"+loyal.ID+"/health", nil), http.StatusOK, &h)
	rec, ord, rat, st := h.Factors["interaction_recency"], h.Factors["recent_orders"], h.Factors["mean_rating"], h.Factors["status"]
	if h.CustomerID != loyal.ID || h.Score != 30+22+15+20 || h.Level != "healthy" || rec.Points != 30 || rec.DaysSince == nil ||
		*rec.DaysSince != 0 || rec.LastInteractionAt == nil || ord.Orders != 2 || ord.Points != 22 || rat.MeanRating == nil ||
		*rat.MeanRating != 4 || rat.Ratings != 1 || rat.Points != 15 || *st.Status != "active" || st.Points != 20 {
		t.Fatalf("health of the converted customer %+v", h)
	}
	s.dcWant(s.do(s.key, "GET", "/dev/crm/customers/"+direct.ID+"/health", nil), http.StatusOK, &h)
	if h.Score != 0+15+10+5 || h.Level != "critical" || h.Factors["interaction_recency"].DaysSince != nil ||
		h.Factors["mean_rating"].MeanRating != nil {
		t.Fatalf("health of the direct customer %+v", h)
	}
	s.dcWant(s.do(s.key, "GET", "/dev/crm/customers/segments", nil), http.StatusOK, &seg)
	if seg.Total != 3 {
		t.Fatalf("segments %+v", seg)
	}
	sameCounts(t, "health levels", countsOf(seg.ByHealth, byLevel), map[string]int64{"healthy": 1, "at_risk": 0, "critical": 2})
	sameCounts(t, "segments by orders", countsOf(seg.ByOrders, bySegment), map[string]int64{"none": 1, "one_time": 1, "repeat": 1, "loyal": 0})

	var d dcDashboard
	s.dcWant(s.do(s.key, "GET", "/dev/crm/analytics/dashboard", nil), http.StatusOK, &d)
	if d.Leads.Total != 5 || d.Leads.Converted != 1 || d.Customers.Total != 3 || d.Orders.Total != 3 ||
		countsOf(d.Orders.ByStatus, byStatus)["pending"] != 3 || len(d.Orders.ByStatus) != 5 || d.Feedback.Received != 1 ||
		d.Feedback.MeanRating != 4 || d.Feedback.ResponseRate != 1 || len(d.Leads.NewPerDay) != 1 || len(d.Customers.NewPerDay) != 1 {
		t.Fatalf("dashboard %+v", d)
	}

	// The other tenant sees its own only.
	s.dcWant(s.do(otherKey, "GET", "/dev/crm/analytics/dashboard", nil), http.StatusOK, &d)
	if d.Leads.Total != 1 || d.Leads.Converted != 0 || d.Customers.Total != 1 || d.Orders.Total != 1 || d.Feedback.Received != 0 {
		t.Fatalf("the other tenant's dashboard %+v", d)
	}
	sameCounts(t, "the other tenant's sources", countsOf(d.Leads.BySource, bySource), map[string]int64{"Other": 1})
	s.dcWant(s.do(otherKey, "GET", "/dev/crm/customers/segments", nil), http.StatusOK, &seg)
	sameCounts(t, "the other tenant's health", countsOf(seg.ByHealth, byLevel), map[string]int64{"healthy": 0, "at_risk": 0, "critical": 1})
	s.dcFails(s.do(otherKey, "GET", "/dev/crm/customers/"+loyal.ID+"/health", nil), http.StatusNotFound, "", "customer not found")

	// Changes move the counts: an order deleted, a status changed, a
	// customer deleted; the counts equal a replay.
	s.dcWant(s.do(s.key, "DELETE", "/dev/crm/orders/"+once.ID, nil), http.StatusNoContent, nil)
	s.dcWant(s.do(s.key, "PUT", "/dev/crm/customers/"+direct.ID, map[string]any{"status": "blocked", "type": "business"}), http.StatusOK, nil)
	s.dcWant(s.do(s.key, "DELETE", "/dev/crm/customers/"+idle.ID, nil), http.StatusNoContent, nil)
	s.dcWant(s.do(s.key, "GET", "/dev/crm/reports/customers", nil), http.StatusOK, &cr)
	if cr.Total != 2 {
		t.Fatalf("customer report after the changes %+v", cr)
	}
	sameCounts(t, "customers by type after", countsOf(cr.ByType, byType), map[string]int64{"business": 2})
	sameCounts(t, "customers by status after", countsOf(cr.ByStatus, byStatus), map[string]int64{"active": 1, "blocked": 1})
	sameCounts(t, "customers by orders after", countsOf(cr.ByOrders, bySegment), map[string]int64{"none": 1, "one_time": 0, "repeat": 1, "loyal": 0})
	s.dcWant(s.do(s.key, "GET", "/dev/crm/analytics/dashboard", nil), http.StatusOK, &d)
	if d.Orders.Total != 2 || d.Customers.Total != 2 {
		t.Fatalf("dashboard after the changes %+v", d)
	}
	s.assertReplayEqual()
}

func TestDevcrmReportsBadInput(t *testing.T) {
	s := newStack(t)
	for _, route := range []string{"/dev/crm/reports/leads", "/dev/crm/reports/customers"} {
		for _, c := range []struct{ query, field, words string }{
			{"from=yesterday", "from", "must be a date"},
			{"to=2026-13-01", "to", "must be a date"},
			{"from=2026-02-30", "from", "must be a date"},
			{"from=0000-01-01", "from", "from 1900-01-01"},
			{"to=1899-12-31", "to", "from 1900-01-01"},
			{"from=2026-01-01T00:00:00", "from", "must be a date"},
			{"from=2026-01-02&to=2026-01-01", "to", "must not be before from"},
			{"from=2026-01-02T00:00:00Z&to=2026-01-01T18:29:59Z", "to", "must not be before from"},
		} {
			s.dcFails(s.do(s.key, "GET", route+"?"+c.query, nil), http.StatusBadRequest, c.field, c.words)
		}
		// The same day in two forms: accepted.
		s.dcWant(s.do(s.key, "GET", route+"?from=2026-01-02&to="+url.QueryEscape("2026-01-01T18:30:00Z"), nil), http.StatusOK, nil)
	}
	for _, path := range []string{"/dev/crm/reports/leads", "/dev/crm/reports/customers", "/dev/crm/analytics/dashboard",
		"/dev/crm/customers/segments", "/dev/crm/customers/" + uuid.NewString() + "/health"} {
		s.dcFails(s.do("", "GET", path, nil), http.StatusUnauthorized, "", "Invalid or missing API key")
		s.dcFails(s.do("le_live_unknown", "GET", path, nil), http.StatusUnauthorized, "", "Invalid or missing API key")
	}
	lead := s.dcCreate(s.key, map[string]any{"name": "Not A Customer", "email": "lead@example.com"})
	for _, id := range []string{uuid.NewString(), lead.ID, "not-a-uuid", "1"} {
		s.dcFails(s.do(s.key, "GET", "/dev/crm/customers/"+id+"/health", nil), http.StatusNotFound, "", "customer not found")
	}
}
