package customers

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/projections/leads"
)

// CustomerGroup counts the live customers of one type, status and order
// segment ("" type or status: none given).
type CustomerGroup struct {
	Type, Status, Orders string
	N                    int64
}

// CustomerReport is the tenant's live customers by type, status and order
// segment (all of them: a customer's standing is today's), and how many
// were made on each day of a window of days, non-empty days only, oldest
// first.
type CustomerReport struct {
	Groups []CustomerGroup
	Days   []leads.DayCount
}

// ReportSQL returns the one statement (one snapshot) Report runs: the
// groups from rm_customer_counts, then the days of series from
// rm_customer_counts_daily (the rows with a day).
func ReportSQL(tenantID uuid.UUID, series leads.Days) (string, []any) {
	args := []any{tenantID}
	days := series.Where(&args)
	return `select null::date, type, status, orders, n from rm_customer_counts where tenant_id = $1
		union all select day, null, null, null, n from rm_customer_counts_daily where tenant_id = $1` + days + ` order by 1, 2, 3, 4`, args
}

// Report counts the tenant's customers from the customer counts.
func (r *Reader) Report(ctx context.Context, tenantID uuid.UUID, series leads.Days) (CustomerReport, error) {
	sql, args := ReportSQL(tenantID, series)
	rows, err := r.pool.Query(ctx, sql, args...)
	if err != nil {
		return CustomerReport{}, fmt.Errorf("customer report: %w", err)
	}
	var rep CustomerReport
	var day *time.Time
	var typ, status, orders *string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&day, &typ, &status, &orders, &n}, func() error {
		if day != nil {
			rep.Days = append(rep.Days, leads.DayCount{Day: leads.ReportDate(*day), N: n})
		} else {
			rep.Groups = append(rep.Groups, CustomerGroup{Type: *typ, Status: *status, Orders: *orders, N: n})
		}
		return nil
	})
	if err != nil {
		return CustomerReport{}, fmt.Errorf("customer report: %w", err)
	}
	return rep, nil
}
