package customers

import (
	"context"
	"fmt"

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

// countAll counts rm_customers into the (empty) counts, in a rebuild.
var countAll = `insert into rm_customer_counts (tenant_id, type, status, orders, n)
	select tenant_id, type, status, ` + segmentsOrders + `, count(*) from rm_customers group by 1, 2, 3, 4;
insert into rm_customer_counts_daily (tenant_id, day, n)
	select tenant_id, ` + leads.ReportDaySQL("created_at") + `, count(*) from rm_customers group by 1, 2`

// countGroup is a customer's group of the counts.
type countGroup struct {
	typ, status, orders string
	day                 string // YYYY-MM-DD
}

func (r *customerRow) group() countGroup {
	return countGroup{typ: string(r.profile.Type), status: string(r.profile.Status), orders: OrderSegment(r.orders),
		day: leads.ReportDay(r.createdAt).Format("2006-01-02")}
}

// recount moves the customer from its group before to its group after.
func recount(ctx context.Context, tx pgx.Tx, before, after customerRow) error {
	if before.present && after.present && before.group() == after.group() {
		return nil
	}
	if before.present {
		if err := count(ctx, tx, before, -1); err != nil {
			return err
		}
	}
	if after.present {
		return count(ctx, tx, after, 1)
	}
	return nil
}

// count adds by to r's groups, and drops a group left empty.
func count(ctx context.Context, tx pgx.Tx, r customerRow, by int) error {
	g := r.group()
	tenant := projections.CopyUUID(r.tenantID)
	var n int64
	err := tx.QueryRow(ctx, `insert into rm_customer_counts as c (tenant_id, type, status, orders, n) values ($1, $2, $3, $4, $5)
		on conflict (tenant_id, type, status, orders) do update set n = c.n + excluded.n returning n`,
		tenant, g.typ, g.status, g.orders, by).Scan(&n)
	if err == nil && n == 0 {
		_, err = tx.Exec(ctx, `delete from rm_customer_counts where tenant_id = $1 and type = $2 and status = $3 and orders = $4`,
			tenant, g.typ, g.status, g.orders)
	}
	if err == nil {
		err = tx.QueryRow(ctx, `insert into rm_customer_counts_daily as c (tenant_id, day, n) values ($1, $2::date, $3)
			on conflict (tenant_id, day) do update set n = c.n + excluded.n returning n`, tenant, g.day, by).Scan(&n)
	}
	if err == nil && n == 0 {
		_, err = tx.Exec(ctx, `delete from rm_customer_counts_daily where tenant_id = $1 and day = $2::date`, tenant, g.day)
	}
	if err != nil {
		return fmt.Errorf("count customer %s: %w", r.id, err)
	}
	return nil
}
