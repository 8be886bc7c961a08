package leads

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crmcore/crm/projections"
)

// longRange is the span of days past which a total may be taken as the
// all-time count minus the days outside the range, whichever reads fewer
// daily rows.
const longRange = 31

// leadDims adds the filter's conditions on the columns rm_leads and both
// count tables share. It reports false if the filter has a condition the
// counts do not keep (the assignee, whose values are as many as the
// tenant's users: a per-user list is selective, and counted exactly on
// rm_leads; likewise a search).
func leadDims(w *projections.Where, f Filter) bool {
	w.Add("tenant_id = ?", f.TenantID)
	for _, c := range []struct{ col, val string }{
		{"status", f.Status}, {"source", f.Source}, {"priority", f.Priority},
	} {
		if c.val != "" {
			w.Add(c.col+" = ?", c.val)
		}
	}
	switch {
	case f.OnlyArchived:
		w.Add("archived = ?", true)
	case !f.IncludeArchived:
		w.Add("archived = ?", false)
	}
	return f.AssignedTo == "" && f.Search == ""
}

// leadWhere is the condition of the filter on rm_leads.
func leadWhere(f Filter) *projections.Where {
	var w projections.Where
	leadDims(&w, f)
	if f.AssignedTo != "" {
		w.Add("assigned_to = ?", f.AssignedTo)
	}
	if f.Search != "" {
		w.Add("lower(name || ' ' || email || ' ' || phone || ' ' || company) like ?", likePattern(f.Search))
	}
	if !f.CreatedFrom.IsZero() {
		w.Add("created_at >= ?", f.CreatedFrom)
	}
	if !f.CreatedTo.IsZero() {
		w.Add("created_at < ?", f.CreatedTo)
	}
	return &w
}

// countsDay is the start of the counts day that holds t.
func countsDay(t time.Time) time.Time {
	y, m, d := t.In(countsZone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, countsZone)
}

// countLeadsSQL returns one statement (one snapshot) that counts the leads
// matching f, exactly, from the count tables where it can: whole counts
// days from rm_lead_counts_daily (or all time from rm_lead_counts), and the
// partial days at the edges of the range from rm_leads. span is the
// tenant's first and last counts day, used to choose between summing the
// days inside a long range and subtracting those outside it from the
// all-time count; nil means inside.
func countLeadsSQL(f Filter, span *[2]time.Time) (string, []any) {
	var w projections.Where
	if !leadDims(&w, f) {
		w := leadWhere(f)
		return `select count(*) from rm_leads where ` + w.String(), w.Args
	}
	dims := w.String()
	if f.CreatedFrom.IsZero() && f.CreatedTo.IsZero() {
		return `select coalesce(sum(n), 0)::bigint from rm_lead_counts where ` + dims, w.Args
	}
	arg := func(v any) string {
		w.Args = append(w.Args, v)
		return "$" + strconv.Itoa(len(w.Args))
	}
	// Whole days [lo, hi) of the range; a zero bound is open.
	var lo, hi time.Time
	if !f.CreatedFrom.IsZero() {
		if lo = countsDay(f.CreatedFrom); lo.Before(f.CreatedFrom) {
			lo = lo.AddDate(0, 0, 1)
		}
	}
	if !f.CreatedTo.IsZero() {
		hi = countsDay(f.CreatedTo)
	}
	if !lo.IsZero() && !hi.IsZero() && !lo.Before(hi) {
		w := leadWhere(f) // within a day or two: count the rows
		return `select count(*) from rm_leads where ` + w.String(), w.Args
	}
	sql := `select (0`
	edge := func(from, to time.Time) {
		sql += ` + (select count(*) from rm_leads where ` + dims + ` and created_at >= ` + arg(from) +
			` and created_at < ` + arg(to) + `)`
	}
	if !lo.IsZero() && f.CreatedFrom.Before(lo) {
		edge(f.CreatedFrom, lo)
	}
	if !hi.IsZero() && hi.Before(f.CreatedTo) {
		edge(hi, f.CreatedTo)
	}
	if outside(lo, hi, span) {
		var out []string
		if !lo.IsZero() {
			out = append(out, `day < `+arg(lo.Format(time.DateOnly))+`::date`)
		}
		if !hi.IsZero() {
			out = append(out, `day >= `+arg(hi.Format(time.DateOnly))+`::date`)
		}
		sql += ` + (select coalesce(sum(n), 0) from rm_lead_counts where ` + dims + `)` +
			` - (select coalesce(sum(n), 0) from rm_lead_counts_daily where ` + dims + ` and (` + strings.Join(out, " or ") + `))`
	} else {
		days := dims
		if !lo.IsZero() {
			days += ` and day >= ` + arg(lo.Format(time.DateOnly)) + `::date`
		}
		if !hi.IsZero() {
			days += ` and day < ` + arg(hi.Format(time.DateOnly)) + `::date`
		}
		sql += ` + (select coalesce(sum(n), 0) from rm_lead_counts_daily where ` + days + `)`
	}
	return sql + `)::bigint`, w.Args
}

// outside reports whether the days of [lo, hi) are more of the tenant's
// span than the days outside it.
func outside(lo, hi time.Time, span *[2]time.Time) bool {
	if span == nil {
		return false
	}
	first, last := span[0], span[1].AddDate(0, 0, 1)
	in0, in1 := first, last
	if !lo.IsZero() && lo.After(in0) {
		in0 = lo
	}
	if !hi.IsZero() && hi.Before(in1) {
		in1 = hi
	}
	inside := max(0, in1.Sub(in0).Hours()/24)
	return inside > last.Sub(first).Hours()/24-inside
}

// ListSQL returns the two statements ListLeads runs for f, the total
// and the page, with their arguments (benchmarks time them raw). For an
// open or long creation range ListLeads may take the total another exact
// way (see countsSpan).
func ListSQL(f Filter) (countSQL string, countArgs []any, pageSQL string, pageArgs []any) {
	countSQL, countArgs = countLeadsSQL(f, nil)
	w := leadWhere(f)
	pageArgs = append(w.Args, f.Limit, f.Offset)
	pageSQL = `select ` + leadColumns + ` from rm_leads where ` + w.String() +
		fmt.Sprintf(` order by created_at desc, id desc limit $%d offset $%d`, len(pageArgs)-1, len(pageArgs))
	return countSQL, countArgs, pageSQL, pageArgs
}

// countsSpan returns the tenant's first and last counts day when f's total
// may be cheaper as the all-time count minus the days outside its range
// (an open or long range); nil otherwise.
func (r *Reader) countsSpan(ctx context.Context, f Filter) (*[2]time.Time, error) {
	if f.AssignedTo != "" || f.Search != "" || (f.CreatedFrom.IsZero() && f.CreatedTo.IsZero()) ||
		(!f.CreatedFrom.IsZero() && !f.CreatedTo.IsZero() && f.CreatedTo.Sub(f.CreatedFrom) <= longRange*24*time.Hour) {
		return nil, nil
	}
	var first, last *time.Time
	if err := r.pool.QueryRow(ctx, `select min(day)::timestamp, max(day)::timestamp from rm_lead_counts_daily where tenant_id = $1`,
		f.TenantID).Scan(&first, &last); err != nil {
		return nil, fmt.Errorf("count leads: days: %w", err)
	}
	if first == nil || last == nil {
		return nil, nil
	}
	return &[2]time.Time{inZone(*first), inZone(*last)}, nil
}

// inZone reads a date scanned as a UTC midnight as the counts day's start.
func inZone(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, countsZone)
}
