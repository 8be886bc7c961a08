// Package feedback is the feedback read model: rm_feedback, one row per
// feedback request, folded from the request's stream by feedbackRow for
// live apply and bulk rebuild alike; rm_feedback_counts, the requests
// counted by status, category and rating, which the analytics, themes and
// dashboard read instead of the rows; and their queries.
package feedback

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// Projection is the feedback read model.
type Projection struct{}

// Name implements projections.Projection.
func (Projection) Name() string { return "feedback" }

// SchemaVersion implements projections.Versioned: bump it with any change to the tables.
// Version 2 added reminders and last_reminded_at.
func (Projection) SchemaVersion() int { return 2 }

// Tables implements projections.Projection.
func (Projection) Tables() []string { return []string{"rm_feedback", "rm_feedback_counts"} }

// Setup implements projections.Projection. rm_feedback_counts holds
// exactly the non-empty groups of rm_feedback by status, category and
// rating (0: none yet), so every figure of the analytics is a read of a
// tenant's few groups; the recent answers are an index scan.
func (Projection) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
create table if not exists rm_feedback (
	tenant_id    uuid not null,
	id           uuid not null,
	customer_id  uuid not null,
	status       text not null,
	rating       smallint not null default 0,
	comment      text not null default '',
	category     text not null default '',
	requested_at timestamptz not null,
	closed_at    timestamptz,
	reminders    smallint not null default 0,
	last_reminded_at timestamptz,
	primary key (tenant_id, id)
);
create index if not exists rm_feedback_requested on rm_feedback (tenant_id, requested_at desc, id desc);
create index if not exists rm_feedback_by_status on rm_feedback (tenant_id, status, closed_at desc, id desc);
create index if not exists rm_feedback_by_customer on rm_feedback (tenant_id, customer_id, requested_at desc, id desc);
create table if not exists rm_feedback_counts (
	tenant_id uuid not null,
	status    text not null,
	category  text not null,
	rating    smallint not null,
	n         bigint not null,
	primary key (tenant_id, status, category, rating)
);`)
	return err
}

// Apply implements projections.Projection: it loads the request's row,
// folds e into it as the bulk rebuild does, writes back the difference and
// moves the request from its old group of the counts to its new one.
func (Projection) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if e.StreamType != domain.FeedbackStream || !slices.Contains(feedbackEvents, e.Type) {
		return nil
	}
	var before feedbackRow
	if err := before.load(ctx, tx, e); err != nil {
		return fmt.Errorf("load feedback %s: %w", e.StreamID, err)
	}
	after := before
	if err := after.Fold(e); err != nil {
		return err
	}
	if err := writeFeedbackRow(ctx, tx, before, after); err != nil {
		return err
	}
	return feedbackCounts.Move(ctx, tx, e.TenantID, before.group(), after.group())
}

// load reads the request's row of e's stream; none leaves r not present.
func (r *feedbackRow) load(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	var closed, reminded pgtype.Timestamptz
	err := tx.QueryRow(ctx, `select customer_id, status, rating, comment, category, requested_at, closed_at,
			reminders, last_reminded_at
		from rm_feedback where tenant_id=$1 and id=$2`, e.TenantID, e.StreamID).
		Scan(&r.customerID, &r.status, &r.rating, &r.comment, &r.category, &r.requestedAt, &closed, &r.reminders, &reminded)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	r.present, r.tenantID, r.id, r.closedAt, r.remindedAt = true, e.TenantID, e.StreamID, closed.Time, reminded.Time
	return nil
}

// writeFeedbackRow writes the change from before to after of one request's row.
func writeFeedbackRow(ctx context.Context, tx pgx.Tx, before, after feedbackRow) error {
	switch {
	case after.present && before.present:
		_, err := tx.Exec(ctx, `update rm_feedback set customer_id=$3, status=$4, rating=$5, comment=$6, category=$7,
			requested_at=$8, closed_at=$9, reminders=$10, last_reminded_at=$11 where tenant_id=$1 and id=$2`, after.values()...)
		return err
	case after.present:
		_, err := tx.Exec(ctx, `insert into rm_feedback (tenant_id, id, customer_id, status, rating, comment, category,
			requested_at, closed_at, reminders, last_reminded_at) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`, after.values()...)
		return err
	case before.present:
		_, err := tx.Exec(ctx, `delete from rm_feedback where tenant_id=$1 and id=$2`,
			projections.CopyUUID(before.tenantID), projections.CopyUUID(before.id))
		return err
	}
	return nil
}
