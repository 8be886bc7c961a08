// Package customers is the customer read model: rm_customers (one row per
// live customer, folded from the customer's stream by customerRow) and
// rm_lead_customers (the customer a lead was converted to, folded from the
// lead's stream by leadCustomer), for live apply and bulk rebuild alike, and
// their queries.
package customers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// Projection is the customer read model.
type Projection struct{}

// Name implements projections.Projection.
func (Projection) Name() string { return "customers" }

// SchemaVersion implements projections.Versioned: bump it with any change to the tables.
// Version 2 added rm_customers.orders and the customer counts (counts.go);
// version 3 nulls lead_id once the lead is deleted (rm_customers_by_lead).
func (Projection) SchemaVersion() int { return 3 }

// Tables implements projections.Projection.
func (Projection) Tables() []string {
	return []string{"rm_customers", "rm_lead_customers", "rm_customer_counts", "rm_customer_counts_daily"}
}

// Setup implements projections.Projection. The list indexes end in the
// list's order (created_at desc, id desc), so a filtered page is an index
// scan that stops after offset+limit rows. lead_id is the lead the customer
// was created from (converted, or named on create) while that lead lives:
// null for a customer created directly, and once the lead is deleted (the
// customer stays; decision 19 of the /dev/crm mapping).
func (Projection) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
create table if not exists rm_customers (
	tenant_id   uuid not null,
	id          uuid not null,
	number      bigint not null,
	lead_id     uuid,
	name        text not null default '',
	email       text not null default '',
	phone       text not null default '',
	company     text not null default '',
	type        text not null default '',
	status      text not null default '',
	follow      text not null default '',
	assigned_to text not null default '',
	profile     jsonb not null default '{}',
	created_at  timestamptz not null,
	updated_at  timestamptz not null,
	orders      int not null default 0,
	primary key (tenant_id, id)
);
create unique index if not exists rm_customers_number on rm_customers (tenant_id, number);
create index if not exists rm_customers_created on rm_customers (tenant_id, created_at desc, id desc);
create index if not exists rm_customers_by_status on rm_customers (tenant_id, status, created_at desc, id desc);
create index if not exists rm_customers_by_type on rm_customers (tenant_id, type, created_at desc, id desc);
create index if not exists rm_customers_by_status_type on rm_customers (tenant_id, status, type, created_at desc, id desc);
create index if not exists rm_customers_by_lead on rm_customers (tenant_id, lead_id) where lead_id is not null;
create extension if not exists pg_trgm schema public;
create index if not exists rm_customers_search on rm_customers using gin (
	(lower(name || ' ' || email || ' ' || phone || ' ' || company)) public.gin_trgm_ops);
create table if not exists rm_lead_customers (
	tenant_id       uuid not null,
	lead_id         uuid not null,
	customer_id     uuid not null,
	customer_number bigint not null,
	primary key (tenant_id, lead_id)
);`+countsTables)
	return err
}

// Apply implements projections.Projection: it loads the row e can change
// (a customer's, or a lead's link to its customer), folds e into it as the
// bulk rebuild does, and writes back the difference; a lead's delete also
// nulls lead_id of its customers.
func (Projection) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	switch {
	case e.StreamType == domain.CustomerStream && slices.Contains(customerRowEvents, e.Type):
		return applyTo(ctx, tx, e, "customer", func(ctx context.Context, tx pgx.Tx, before, after customerRow) error {
			if !before.present && after.present && after.leadID != uuid.Nil {
				// Created naming a lead deleted since (a race the command's
				// check can lose): as a rebuild has it.
				gone, err := leadDeleted(ctx, tx, e.TenantID, after.leadID)
				if err != nil {
					return fmt.Errorf("customer %s: %w", after.id, err)
				}
				if gone {
					after.leadID = uuid.Nil
				}
			}
			if err := writeCustomerRow(ctx, tx, before, after); err != nil {
				return err
			}
			return recount(ctx, tx, e.TenantID, before, after)
		})
	case e.StreamType == domain.LeadStream && slices.Contains(leadCustomerEvents, e.Type):
		if err := applyTo(ctx, tx, e, "customer of lead", writeLeadCustomer); err != nil {
			return err
		}
		if e.Type == domain.LeadDeleted {
			return unlinkLead(ctx, tx, e.TenantID, e.StreamID)
		}
	}
	return nil
}

// The customers of a deleted lead stay, with lead_id null. A lead's stream
// no longer names its customer once deleted (the delete redacts it), so
// lead.deleted finds them by lead_id, and a rebuild and the create of a
// customer look the lead's delete up in the log (leadGone): the one event
// of another stream that changes a customer's row.

// leadGone is SQL saying that the lead lead of tenant tenant (SQL
// expressions) is deleted.
func leadGone(tenant, lead string) string {
	return fmt.Sprintf(`exists (select 1 from events e where e.stream_id = %s and e.tenant_id = %s and e.event_type = '%s')`,
		lead, tenant, domain.LeadDeleted)
}

// leadDeleted says whether the tenant's lead has been deleted.
func leadDeleted(ctx context.Context, tx pgx.Tx, tenant, lead uuid.UUID) (bool, error) {
	var gone bool
	err := tx.QueryRow(ctx, "select "+leadGone("$1", "$2"), projections.CopyUUID(tenant),
		projections.CopyUUID(lead)).Scan(&gone)
	return gone, err
}

// unlinkLead nulls lead_id of the tenant's customers of the deleted lead.
func unlinkLead(ctx context.Context, tx pgx.Tx, tenant, lead uuid.UUID) error {
	if _, err := tx.Exec(ctx, `update rm_customers set lead_id = null where tenant_id = $1 and lead_id = $2`,
		projections.CopyUUID(tenant), projections.CopyUUID(lead)); err != nil {
		return fmt.Errorf("customers of deleted lead %s: %w", lead, err)
	}
	return nil
}

// row is a row type of this package as Apply handles it.
type row[T any] interface {
	*T
	load(ctx context.Context, tx pgx.Tx, e eventstore.Event) error
	Fold(e eventstore.Event) error
}

// applyTo loads the row of e's stream, folds e into it and writes the
// difference with write.
func applyTo[T any, P row[T]](ctx context.Context, tx pgx.Tx, e eventstore.Event, what string,
	write func(ctx context.Context, tx pgx.Tx, before, after T) error) error {
	var before T
	if err := P(&before).load(ctx, tx, e); err != nil {
		return fmt.Errorf("load %s %s: %w", what, e.StreamID, err)
	}
	after := before
	if err := P(&after).Fold(e); err != nil {
		return err
	}
	return write(ctx, tx, before, after)
}

// load reads the customer's row of e's stream; none leaves r not present
// (not created yet, or redacted history of a customer deleted later).
func (r *customerRow) load(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	var profile []byte
	var lead pgtype.UUID
	err := tx.QueryRow(ctx, `select number, lead_id, follow, profile, created_at, updated_at, orders
		from rm_customers where tenant_id=$1 and id=$2`, e.TenantID, e.StreamID).
		Scan(&r.number, &lead, &r.follow, &profile, &r.createdAt, &r.updatedAt, &r.orders)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(profile, &r.profile); err != nil {
		return err
	}
	r.present, r.tenantID, r.id, r.leadID = true, e.TenantID, e.StreamID, lead.Bytes
	return nil
}

// writeCustomerRow writes the change from before to after of one customer's row.
func writeCustomerRow(ctx context.Context, tx pgx.Tx, before, after customerRow) error {
	if !after.present {
		if !before.present {
			return nil
		}
		_, err := tx.Exec(ctx, `delete from rm_customers where tenant_id=$1 and id=$2`,
			projections.CopyUUID(before.tenantID), projections.CopyUUID(before.id))
		return err
	}
	v, err := after.values()
	if err != nil {
		return fmt.Errorf("customer %s: %w", after.id, err)
	}
	if !before.present {
		_, err = tx.Exec(ctx, `insert into rm_customers (tenant_id, id, number, lead_id, name, email, phone, company,
			type, status, follow, assigned_to, profile, created_at, updated_at, orders)
			values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`, v...)
		return err
	}
	_, err = tx.Exec(ctx, `update rm_customers set number=$3, lead_id=$4, name=$5, email=$6, phone=$7, company=$8,
		type=$9, status=$10, follow=$11, assigned_to=$12, profile=$13, created_at=$14, updated_at=$15, orders=$16
		where tenant_id=$1 and id=$2`, v...)
	return err
}

// load reads the lead's link to its customer; none leaves l not present.
func (l *leadCustomer) load(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	err := tx.QueryRow(ctx, `select customer_id, customer_number from rm_lead_customers where tenant_id=$1 and lead_id=$2`,
		e.TenantID, e.StreamID).Scan(&l.customerID, &l.customerNumber)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	l.present, l.tenantID, l.leadID = true, e.TenantID, e.StreamID
	return nil
}

// writeLeadCustomer writes the change from before to after of one lead's link.
func writeLeadCustomer(ctx context.Context, tx pgx.Tx, before, after leadCustomer) error {
	switch {
	case after.present:
		_, err := tx.Exec(ctx, `insert into rm_lead_customers (tenant_id, lead_id, customer_id, customer_number)
			values ($1,$2,$3,$4) on conflict (tenant_id, lead_id) do update
			set customer_id = excluded.customer_id, customer_number = excluded.customer_number`, after.values()...)
		return err
	case before.present:
		_, err := tx.Exec(ctx, `delete from rm_lead_customers where tenant_id=$1 and lead_id=$2`,
			projections.CopyUUID(before.tenantID), projections.CopyUUID(before.leadID))
		return err
	}
	return nil
}
