package customers

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/leads"
)

// The customer counts are tables beside rm_customers, part of this
// projection, that make the segments and reports of customers a sum over a
// few rows instead of a count over every customer:
//
//	rm_customer_counts       (tenant_id, type, status, orders) -> n
//	rm_customer_counts_daily (tenant_id, day)                   -> n
//
// orders is the customer's order segment (OrderSegment: none, one_time,
// repeat, loyal), day the customer's creation day on the lead counts'
// calendar (leads.ReportDay), so a report's days mean the same for leads
// and customers. Apply moves a customer between groups as its row changes;
// a rebuild counts the copied rows (countAll). Groups whose n reaches 0 are
// deleted: the tables hold exactly the non-empty groups of rm_customers.
const countsTables = `
create table if not exists rm_customer_counts (
	tenant_id uuid not null,
	type      text not null,
	status    text not null,
	orders    text not null,
	n         bigint not null,
	primary key (tenant_id, type, status, orders)
);
create table if not exists rm_customer_counts_daily (
	tenant_id uuid not null,
	day       date not null,
	n         bigint not null,
	primary key (tenant_id, day)
);`

// Order segments: how many live orders a customer has.
const (
	OrdersNone    = "none"     // no order
	OrdersOneTime = "one_time" // one
	OrdersRepeat  = "repeat"   // two to LoyalOrders-1
	OrdersLoyal   = "loyal"    // LoyalOrders or more
	// LoyalOrders is the fewest orders of a loyal customer.
	LoyalOrders = 5
)

// segmentsOrders is OrderSegment in SQL, for the rebuild's count.
var segmentsOrders = fmt.Sprintf(`case when orders >= %d then '%s' when orders >= 2 then '%s' when orders = 1 then '%s' else '%s' end`,
	LoyalOrders, OrdersLoyal, OrdersRepeat, OrdersOneTime, OrdersNone)

// OrderSegments are the order segments, fewest orders first.
var OrderSegments = []string{OrdersNone, OrdersOneTime, OrdersRepeat, OrdersLoyal}

// OrderSegment is the segment of a customer with n live orders.
func OrderSegment(n int) string {
	switch {
	case n >= LoyalOrders:
		return OrdersLoyal
	case n >= 2:
		return OrdersRepeat
	case n == 1:
		return OrdersOneTime
	}
	return OrdersNone
}

// customerCounts and dailyCounts are rm_customer_counts and
// rm_customer_counts_daily.
var (
	customerCounts = projections.NewCounts("rm_customer_counts", "type", "status", "orders")
	dailyCounts    = projections.NewCounts("rm_customer_counts_daily", "day")
)

// countAll counts rm_customers into the (empty) counts, in a rebuild.
func countAll(ctx context.Context, b *projections.BulkBuild) error {
	if err := customerCounts.Rebuild(ctx, b, "rm_customers", "type", "status", segmentsOrders); err != nil {
		return err
	}
	return dailyCounts.Rebuild(ctx, b, "rm_customers", leads.ReportDaySQL("created_at"))
}

// groups are the customer's groups of the counts and of the daily counts
// (day: YYYY-MM-DD); nil when it has no row.
func (r *customerRow) groups() (counts, daily []any) {
	if !r.present {
		return nil, nil
	}
	return []any{string(r.profile.Type), string(r.profile.Status), OrderSegment(r.orders)},
		[]any{leads.ReportDay(r.createdAt).Format("2006-01-02")}
}

// recount moves the customer from its groups before to its groups after.
func recount(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, before, after customerRow) error {
	from, fromDay := before.groups()
	to, toDay := after.groups()
	if err := customerCounts.Move(ctx, tx, tenant, from, to); err != nil {
		return err
	}
	return dailyCounts.Move(ctx, tx, tenant, fromDay, toDay)
}
