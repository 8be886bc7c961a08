package devcrm

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections/customers"
	"github.com/crmcore/crm/projections/leads"
)

// Reports, segments and the dashboard read the counts tables of the read
// models (rm_lead_counts, rm_lead_counts_daily, rm_customer_counts,
// rm_customer_counts_daily, rm_order_counts, rm_feedback_counts), never
// the events; days are the lead counts' calendar days (leads.ReportDay).
// A customer's health is computed at read time from its rows; the health
// levels of segments from every customer's (customers.Reader.HealthLevels).

// seriesDays is how many days new_per_day shows without from.
const seriesDays = 30

// Report days' bounds: a date outside is a 400.
var (
	firstReportDay = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	lastReportDay  = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// reportDay reads a from or to parameter: YYYY-MM-DD names a report day,
// an RFC 3339 date-time the report day that holds it.
func reportDay(name, s string) (time.Time, *api.BadInput) {
	const want = "must be a date (YYYY-MM-DD or an RFC 3339 date-time) from 1900-01-01 to 9999-12-31"
	var day time.Time
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		day = leads.ReportDate(d)
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		day = leads.ReportDay(t)
	} else {
		return time.Time{}, api.BadParam(name, want)
	}
	if y, m, d := day.Date(); time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Before(firstReportDay) ||
		time.Date(y, m, d, 0, 0, 0, 0, time.UTC).After(lastReportDay) {
		return time.Time{}, api.BadParam(name, want)
	}
	return day, nil
}

// reportWindow reads the optional from and to of a report (blank: not
// given), both included; to before from is a 400 naming to.
func reportWindow(from, to string) (leads.Days, *api.BadInput) {
	var w leads.Days
	var bad *api.BadInput
	if from != "" {
		if w.First, bad = reportDay("from", from); bad != nil {
			return leads.Days{}, bad
		}
	}
	if to != "" {
		if w.Last, bad = reportDay("to", to); bad != nil {
			return leads.Days{}, bad
		}
	}
	if !w.First.IsZero() && !w.Last.IsZero() && w.Last.Before(w.First) {
		return leads.Days{}, api.BadParam("to", "must not be before from")
	}
	return w, nil
}

// windowQuery reads the request's from and to (reportWindow).
func windowQuery(c *gin.Context) (leads.Days, *api.BadInput) {
	from, bad := query(c, "from")
	if bad != nil {
		return leads.Days{}, bad
	}
	to, bad := query(c, "to")
	if bad != nil {
		return leads.Days{}, bad
	}
	return reportWindow(from, to)
}

// windowOf reads the request's report window, answering its refusal.
func (h *handlers) windowOf(c *gin.Context) (leads.Days, bool) {
	w, bad := windowQuery(c)
	if bad != nil {
		h.fail(c, bad)
		return leads.Days{}, false
	}
	return w, true
}

// seriesOf is the days new_per_day shows for window w: w, or without a
// first day the seriesDays up to its last (or today).
func seriesOf(w leads.Days, now time.Time) leads.Days { return w.Series(now, seriesDays) }

// dateOrNil shows a window's bound.
func dateOrNil(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format(time.DateOnly)
	return &s
}

// Shown figures.

type statusCount struct {
	Status string `json:"status"`
	Count  int64  `json:"count"`
}

type sourceCount struct {
	Source *string `json:"source"`
	Count  int64   `json:"count"`
}

type typeCount struct {
	Type  *string `json:"type"`
	Count int64   `json:"count"`
}

type customerStatusCount struct {
	Status *string `json:"status"`
	Count  int64   `json:"count"`
}

type segmentCount struct {
	Segment string `json:"segment"`
	Count   int64  `json:"count"`
}

type levelCount struct {
	Level string `json:"level"`
	Count int64  `json:"count"`
}

type dayCount struct {
	Date  string `json:"date"`
	Count int64  `json:"count"`
}

// ranked is a map's counts, most first, then by key.
func ranked[T any](m map[string]int64, show func(string, int64) T) []T {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	out := make([]T, len(keys))
	for i, k := range keys {
		out[i] = show(k, m[k])
	}
	return out
}

func daysOf(ds []leads.DayCount) []dayCount {
	out := make([]dayCount, len(ds))
	for i, d := range ds {
		out[i] = dayCount{Date: d.Day.Format(time.DateOnly), Count: d.N}
	}
	return out
}

// rate is part of all, 0 when all is 0.
func rate(part, all int64) float64 {
	if all == 0 {
		return 0
	}
	return float64(part) / float64(all)
}

// leadFigures are a window's leads: how many, by status and source,
// converted (status converted) and the conversion rate.
type leadFigures struct {
	Total          int64         `json:"total"`
	ByStatus       []statusCount `json:"by_status"`
	BySource       []sourceCount `json:"by_source"`
	Converted      int64         `json:"converted"`
	ConversionRate float64       `json:"conversion_rate"`
	NewPerDay      []dayCount    `json:"new_per_day"`
}

// leadReport reads and shows the tenant's lead report.
func (h *handlers) leadReport(ctx context.Context, tenantID uuid.UUID, window, series leads.Days) (leadFigures, error) {
	// The pipeline names the tenant's own statuses (converted among them):
	// read beside the counts, not after them.
	var rep leads.LeadReport
	var statuses []domain.PipelineStatus
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		rep, err = h.d.Leads.Report(gctx, tenantID, window, series)
		return err
	})
	g.Go(func() (err error) {
		statuses, err = h.d.Pipelines.Statuses(gctx, tenantID)
		return err
	})
	if err := g.Wait(); err != nil {
		return leadFigures{}, err
	}
	book := domain.StatusBook(statuses)
	byStatus, bySource := map[string]int64{}, map[string]int64{}
	var f leadFigures
	for _, g := range rep.Groups {
		f.Total += g.N
		byStatus[shownStatus(g.Status, book)] += g.N
		bySource[g.Source] += g.N
	}
	f.Converted = byStatus["converted"]
	f.ConversionRate = rate(f.Converted, f.Total)
	f.ByStatus = ranked(byStatus, func(k string, n int64) statusCount { return statusCount{k, n} })
	f.BySource = ranked(bySource, func(k string, n int64) sourceCount { return sourceCount{optional(k), n} })
	f.NewPerDay = daysOf(rep.Days)
	return f, nil
}

// shownWindow is a report's window as it shows it: the days read from
// from and to, null where open.
type shownWindow struct {
	From *string `json:"from"`
	To   *string `json:"to"`
}

func windowShown(w leads.Days) shownWindow {
	return shownWindow{From: dateOrNil(w.First), To: dateOrNil(w.Last)}
}

// report answers a report of the request's window, which read makes.
func (h *handlers) report(c *gin.Context, read func(ctx context.Context, tenantID uuid.UUID, w leads.Days) (any, error)) {
	w, ok := h.windowOf(c)
	if !ok {
		return
	}
	out, err := read(c.Request.Context(), api.Principal(c).TenantID, w)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// leadsReport is GET /reports/leads.
type leadsReport struct {
	shownWindow
	leadFigures
}

func (h *handlers) reportLeads(c *gin.Context) {
	h.report(c, func(ctx context.Context, tenantID uuid.UUID, w leads.Days) (any, error) {
		f, err := h.leadReport(ctx, tenantID, w, seriesOf(w, time.Now()))
		return leadsReport{windowShown(w), f}, err
	})
}

// customerFigures are the tenant's live customers by type, status and
// order segment (every segment shown), and new ones per day.
type customerFigures struct {
	Total     int64                 `json:"total"`
	ByType    []typeCount           `json:"by_type"`
	ByStatus  []customerStatusCount `json:"by_status"`
	ByOrders  []segmentCount        `json:"by_orders"`
	NewPerDay []dayCount            `json:"new_per_day"`
}

func (h *handlers) customerReport(ctx context.Context, tenantID uuid.UUID, series leads.Days) (customerFigures, error) {
	rep, err := h.d.Customers.Report(ctx, tenantID, series)
	if err != nil {
		return customerFigures{}, err
	}
	byType, byStatus, byOrders := map[string]int64{}, map[string]int64{}, map[string]int64{}
	var f customerFigures
	for _, g := range rep.Groups {
		f.Total += g.N
		byType[g.Type] += g.N
		byStatus[g.Status] += g.N
		byOrders[g.Orders] += g.N
	}
	f.ByType = ranked(byType, func(k string, n int64) typeCount { return typeCount{optional(k), n} })
	f.ByStatus = ranked(byStatus, func(k string, n int64) customerStatusCount { return customerStatusCount{optional(k), n} })
	f.ByOrders = make([]segmentCount, len(customers.OrderSegments))
	for i, s := range customers.OrderSegments {
		f.ByOrders[i] = segmentCount{s, byOrders[s]}
	}
	f.NewPerDay = daysOf(rep.Days)
	return f, nil
}

// customersReport is GET /reports/customers.
type customersReport struct {
	shownWindow
	customerFigures
}

func (h *handlers) reportCustomers(c *gin.Context) {
	h.report(c, func(ctx context.Context, tenantID uuid.UUID, w leads.Days) (any, error) {
		f, err := h.customerReport(ctx, tenantID, seriesOf(w, time.Now()))
		return customersReport{windowShown(w), f}, err
	})
}

// segments is GET /customers/segments: the customer figures without the
// days, and the customers by health level now (every level shown).
type segments struct {
	Total      int64                 `json:"total"`
	ByType     []typeCount           `json:"by_type"`
	ByStatus   []customerStatusCount `json:"by_status"`
	ByOrders   []segmentCount        `json:"by_orders"`
	ByHealth   []levelCount          `json:"by_health"`
	ComputedAt time.Time             `json:"computed_at"`
}

func (h *handlers) customerSegments(c *gin.Context) {
	ctx, tenantID, now := c.Request.Context(), api.Principal(c).TenantID, time.Now().UTC()
	f, err := h.customerReport(ctx, tenantID, seriesOf(leads.Days{}, now))
	if err != nil {
		h.fail(c, err)
		return
	}
	levels, err := h.d.Customers.HealthLevels(ctx, tenantID, now)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := segments{Total: f.Total, ByType: f.ByType, ByStatus: f.ByStatus, ByOrders: f.ByOrders,
		ByHealth: make([]levelCount, len(customers.HealthLevels)), ComputedAt: now}
	for i, l := range customers.HealthLevels {
		out.ByHealth[i] = levelCount{l, levels[l]}
	}
	c.JSON(http.StatusOK, out)
}

// factor is one factor of a health with its points of at most max.
type factor struct {
	Points int `json:"points"`
	Max    int `json:"max"`
}

// health is GET /customers/:customerId/health.
type health struct {
	CustomerID uuid.UUID `json:"customer_id"`
	Score      int       `json:"score"`
	Level      string    `json:"level"`
	ComputedAt time.Time `json:"computed_at"`
	Factors    struct {
		Recency struct {
			factor
			LastInteractionAt *time.Time `json:"last_interaction_at"`
			DaysSince         *int       `json:"days_since"`
		} `json:"interaction_recency"`
		Orders struct {
			factor
			Orders int `json:"orders"`
			Days   int `json:"days"`
		} `json:"recent_orders"`
		Rating struct {
			factor
			MeanRating *float64 `json:"mean_rating"`
			Ratings    int64    `json:"ratings"`
		} `json:"mean_rating"`
		Status struct {
			factor
			Status *string `json:"status"`
		} `json:"status"`
	} `json:"factors"`
}

func healthOf(id uuid.UUID, ch customers.CustomerHealth, now time.Time) health {
	out := health{CustomerID: id, Score: ch.Score, Level: ch.Level, ComputedAt: now}
	fs := &out.Factors
	for _, f := range ch.Factors {
		shown := factor{f.Points, f.Max}
		switch f.Name {
		case customers.FactorRecency:
			fs.Recency.factor = shown
		case customers.FactorOrders:
			fs.Orders.factor = shown
		case customers.FactorRating:
			fs.Rating.factor = shown
		case customers.FactorStatus:
			fs.Status.factor = shown
		}
	}
	if !ch.LastInteractionAt.IsZero() {
		t := ch.LastInteractionAt.UTC()
		fs.Recency.LastInteractionAt = &t
	}
	fs.Recency.DaysSince = ch.DaysSinceInteraction
	fs.Orders.Orders, fs.Orders.Days = ch.RecentOrders, customers.RecentDays
	fs.Rating.MeanRating, fs.Rating.Ratings = ch.MeanRating, ch.Ratings
	fs.Status.Status = optional(string(ch.Status))
	return out
}

func (h *handlers) customerHealth(c *gin.Context) {
	now := time.Now().UTC()
	get := func(ctx context.Context, tenantID, id uuid.UUID) (health, error) {
		ch, err := h.d.Customers.Health(ctx, tenantID, id, now)
		return healthOf(id, ch, now), err
	}
	if out, ok := found(h, c, "customerId", "customer", get); ok {
		c.JSON(http.StatusOK, out)
	}
}

// orderFigures are the tenant's live orders by status (every status shown).
type orderFigures struct {
	Total    int64         `json:"total"`
	ByStatus []statusCount `json:"by_status"`
}

// feedbackFigures are the tenant's feedback requests and answers.
type feedbackFigures struct {
	Requested    int64   `json:"requested"`
	Received     int64   `json:"received"`
	Expired      int64   `json:"expired"`
	ResponseRate float64 `json:"response_rate"`
	MeanRating   float64 `json:"mean_rating"`
}

// dashboardFigures is GET /analytics/dashboard: every figure of all time,
// new leads and customers per day of the last seriesDays.
type dashboardFigures struct {
	Leads      leadFigures     `json:"leads"`
	Customers  customerFigures `json:"customers"`
	Orders     orderFigures    `json:"orders"`
	Feedback   feedbackFigures `json:"feedback"`
	ComputedAt time.Time       `json:"computed_at"`
}

func (h *handlers) analyticsDashboard(c *gin.Context) {
	tenantID, now := api.Principal(c).TenantID, time.Now().UTC()
	out := dashboardFigures{ComputedAt: now}
	series := seriesOf(leads.Days{}, now)
	// Four reads of four read models, side by side: the answer waits for
	// the slowest, not for their sum.
	g, ctx := errgroup.WithContext(c.Request.Context())
	g.Go(func() (err error) {
		out.Leads, err = h.leadReport(ctx, tenantID, leads.Days{}, series)
		return err
	})
	g.Go(func() (err error) {
		out.Customers, err = h.customerReport(ctx, tenantID, series)
		return err
	})
	g.Go(func() error {
		counts, err := h.d.Orders.Counts(ctx, tenantID)
		out.Orders.ByStatus = make([]statusCount, len(domain.OrderStatuses))
		for i, s := range domain.OrderStatuses {
			out.Orders.ByStatus[i] = statusCount{string(s), counts[string(s)]}
			out.Orders.Total += counts[string(s)]
		}
		return err
	})
	g.Go(func() error {
		fb, err := h.d.Feedback.Summary(ctx, tenantID)
		out.Feedback = feedbackFigures{Requested: fb.Requested, Received: fb.Received, Expired: fb.Expired,
			ResponseRate: fb.ResponseRate, MeanRating: fb.Mean}
		return err
	})
	if err := g.Wait(); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}
