package leadsapi

import (
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/domain"
)

// volumeAnswer is the answer of GET /leads/leads-volume.
type volumeAnswer struct {
	Labels           []string                    `json:"labels"`
	Data             map[string]map[string]int64 `json:"data"`
	TotalLeadsAmount int64                       `json:"totalLeadsAmount"`
	PercentageChange float64                     `json:"percentageChange"`
}

// percentageChange is how much cur grew over prev, in percent rounded to
// two decimals; 0 when prev is 0, where no percentage exists.
func percentageChange(cur, prev int64) float64 {
	if prev == 0 {
		return 0
	}
	return math.Round(float64(cur-prev)/float64(prev)*10000) / 100
}

// leadsVolume counts the leads created on each day of [from, to] by their
// current status, and compares the total with the period of the same
// length just before.
func (h *handlers) leadsVolume(c *gin.Context) {
	ctx, tenant := c.Request.Context(), api.Principal(c).TenantID
	from, to, bad := dayRange(c, time.Now())
	if bad != nil {
		h.fail(c, bad)
		return
	}
	days := int(to.Sub(from).Hours()/24) + 1
	rows, err := h.d.Volume.Counts(ctx, tenant, from.AddDate(0, 0, -days), to)
	if err != nil {
		h.fail(c, err)
		return
	}
	pl, err := h.pipeline(ctx, tenant)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := volumeAnswer{Labels: make([]string, days), Data: map[string]map[string]int64{}}
	for i := range days {
		out.Labels[i] = from.AddDate(0, 0, i).Format(time.DateOnly)
	}
	series := func(name string) map[string]int64 {
		if s, ok := out.Data[name]; ok {
			return s
		}
		s := make(map[string]int64, days)
		for _, l := range out.Labels {
			s[l] = 0
		}
		out.Data[name] = s
		return s
	}
	for _, s := range pl.statuses {
		series(s.Name)
	}
	var prev int64
	for _, r := range rows {
		if r.Day.Before(from) {
			prev += r.Leads
			continue
		}
		name, _ := pl.status(r.Status)
		series(name)[r.Day.Format(time.DateOnly)] += r.Leads
		out.TotalLeadsAmount += r.Leads
	}
	out.PercentageChange = percentageChange(out.TotalLeadsAmount, prev)
	c.JSON(http.StatusOK, out)
}

// statusTotal is one status's card of GET /leads/total-leads.
type statusTotal struct {
	ID               int64   `json:"id"`
	Name             string  `json:"name"`
	Current          int64   `json:"current"`
	PercentageChange float64 `json:"percentageChange"`
	Color            string  `json:"color"`
	BackgroundColor  string  `json:"backgroundColor"`
}

// totalLeads shows, per status in pipeline order, the live leads in it and
// how the leads created in the last 30 days that are in it compare with
// those created in the 30 days before.
func (h *handlers) totalLeads(c *gin.Context) {
	ctx, tenant := c.Request.Context(), api.Principal(c).TenantID
	today := utcDay(time.Now())
	since := today.AddDate(0, 0, 1-volumeDays)
	rows, err := h.d.Volume.Counts(ctx, tenant, since.AddDate(0, 0, -volumeDays), today)
	if err != nil {
		h.fail(c, err)
		return
	}
	counts, err := h.d.Leads.CountByStatus(ctx, tenant)
	if err != nil {
		h.fail(c, err)
		return
	}
	statuses, err := h.d.Pipelines.Statuses(ctx, tenant)
	if err != nil {
		h.fail(c, err)
		return
	}
	cur, prev := map[string]int64{}, map[string]int64{}
	for _, r := range rows {
		if r.Day.Before(since) {
			prev[r.Status] += r.Leads
		} else {
			cur[r.Status] += r.Leads
		}
	}
	out := make([]statusTotal, len(statuses))
	for i, s := range statuses {
		key := string(s.Key)
		out[i] = statusTotal{ID: s.ID, Name: s.Name, Current: counts[key], PercentageChange: percentageChange(cur[key], prev[key]),
			Color: s.Color, BackgroundColor: domain.SecondaryColor(s.Color)}
	}
	c.JSON(http.StatusOK, out)
}
