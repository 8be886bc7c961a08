package leads

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ReportDay is the start of the report day that holds t: the lead counts'
// calendar day (countsZone), which every report counts days by.
func ReportDay(t time.Time) time.Time { return countsDay(t) }

// ReportDate is the report day of a date scanned from a date column (a
// UTC midnight).
func ReportDate(date time.Time) time.Time { return inZone(date) }

// ReportDaySQL is ReportDay of the timestamptz column col in SQL, as a date.
func ReportDaySQL(col string) string {
	return fmt.Sprintf(`((%s at time zone 'UTC') + interval '%d seconds')::date`, col, countsZoneOffset)
}

// Days are report days from First to Last, both included; a zero bound is
// open.
type Days struct {
	First, Last time.Time
}

// Open reports whether d has no bound.
func (d Days) Open() bool { return d.First.IsZero() && d.Last.IsZero() }

// LeadGroup counts the leads of one status key and source ("": none).
type LeadGroup struct {
	Status, Source string
	N              int64
}

// DayCount counts what was made on one report day.
type DayCount struct {
	Day time.Time // the day's start in the report days' zone
	N   int64
}

// LeadReport is the tenant's leads made in a window of days, archived or
// not, by status and source, and how many were made on each day of a
// second window (the per-day series), non-empty days only, oldest first.
type LeadReport struct {
	Groups []LeadGroup
	Days   []DayCount
}

// LeadReportSQL returns the one statement (one snapshot) Report runs: the
// groups of the window from rm_lead_counts (all time) or
// rm_lead_counts_daily, and the days of series from rm_lead_counts_daily.
// Rows with a day are the series'; the others the groups.
func LeadReportSQL(tenantID uuid.UUID, window, series Days) (string, []any) {
	args := []any{tenantID}
	sql := `select null::date, status, source, sum(n)::bigint from rm_lead_counts where tenant_id = $1 group by 2, 3`
	if !window.Open() {
		sql = `select null::date, status, source, sum(n)::bigint from rm_lead_counts_daily where tenant_id = $1` +
			window.Where(&args) + ` group by 2, 3`
	}
	return sql + ` union all select day, null, null, sum(n)::bigint from rm_lead_counts_daily where tenant_id = $1` +
		series.Where(&args) + ` group by 1 order by 1`, args
}

// Where is the condition on a column day (a date) of d's bounds, " and …"
// ("" when open), their values appended to args.
func (d Days) Where(args *[]any) string {
	var w string
	for _, b := range []struct {
		day time.Time
		op  string
	}{{d.First, ">="}, {d.Last, "<="}} {
		if !b.day.IsZero() {
			*args = append(*args, b.day.Format(time.DateOnly))
			w += fmt.Sprintf(" and day %s $%d::date", b.op, len(*args))
		}
	}
	return w
}

// Report counts the tenant's leads made in window by status and source,
// and those made on each day of series, from the lead counts.
func (r *Reader) Report(ctx context.Context, tenantID uuid.UUID, window, series Days) (LeadReport, error) {
	sql, args := LeadReportSQL(tenantID, window, series)
	rows, err := r.pool.Query(ctx, sql, args...)
	if err != nil {
		return LeadReport{}, fmt.Errorf("lead report: %w", err)
	}
	var rep LeadReport
	var day *time.Time
	var status, source *string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&day, &status, &source, &n}, func() error {
		if day != nil {
			rep.Days = append(rep.Days, DayCount{Day: ReportDate(*day), N: n})
		} else {
			rep.Groups = append(rep.Groups, LeadGroup{Status: *status, Source: *source, N: n})
		}
		return nil
	})
	if err != nil {
		return LeadReport{}, fmt.Errorf("lead report: %w", err)
	}
	return rep, nil
}

// Series is the days a per-day series of window d shows: d, or when d has
// no first day the n days up to its last (or up to now's day).
func (d Days) Series(now time.Time, n int) Days {
	if !d.First.IsZero() {
		return d
	}
	last := d.Last
	if last.IsZero() {
		last = ReportDay(now)
	}
	return Days{First: last.AddDate(0, 0, 1-n), Last: d.Last}
}
