package volume

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// ApplyBatch implements projections.BatchApplier: the rows of the leads the
// batch changes, but those it creates, are read in one query; each lead's
// events are folded as Apply folds them (volumeLeadRow); the new rows go in
// with one COPY and the counts move once per day and status by the sum of
// the rows' changes.
func (Projection) ApplyBatch(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error {
	runs := projections.ByStream(events, func(e *eventstore.Event) bool {
		return e.StreamType == domain.LeadStream && slices.Contains(volumeEvents, e.Type)
	})
	if len(runs) == 0 {
		return nil
	}
	before := make([]volumeLeadRow, len(runs))
	var load projections.Keys
	at := map[projections.StreamKey]int{}
	for i, r := range runs {
		if r.Events[0].Type != domain.LeadCreated {
			load.Add(r.StreamKey)
			at[r.StreamKey] = i
		}
	}
	if len(at) > 0 {
		rows, err := tx.Query(ctx, `select v.tenant_id, v.lead_id, v.day, v.status
			from unnest($1::uuid[], $2::uuid[]) k (tenant_id, lead_id)
			join rm_lead_volume_leads v on v.tenant_id = k.tenant_id and v.lead_id = k.lead_id`, load.Tenants, load.Streams)
		if err != nil {
			return fmt.Errorf("load leads: %w", err)
		}
		var r volumeLeadRow
		if _, err := pgx.ForEachRow(rows, []any{&r.tenantID, &r.id, &r.day, &r.status}, func() error {
			r.present = true
			before[at[projections.StreamKey{Tenant: r.tenantID, Stream: r.id}]] = r
			return nil
		}); err != nil {
			return fmt.Errorf("load leads: %w", err)
		}
	}
	type group struct {
		tenant uuid.UUID
		day    time.Time
		status string
	}
	deltas := map[group]int{}
	var groups []group // in the order first moved, for a deterministic write order
	count := func(r volumeLeadRow, d int) {
		g := group{r.tenantID, r.day, r.status}
		if _, ok := deltas[g]; !ok {
			groups = append(groups, g)
		}
		deltas[g] += d
	}
	var inserts [][]any
	for i, run := range runs {
		b := before[i]
		after := b
		for _, e := range run.Events {
			if err := after.Fold(e); err != nil {
				return err
			}
		}
		if b == after {
			continue
		}
		var err error
		switch {
		case !b.present:
			inserts = append(inserts, []any{projections.CopyUUID(after.tenantID), projections.CopyUUID(after.id), after.day, after.status})
		case !after.present:
			_, err = tx.Exec(ctx, `delete from rm_lead_volume_leads where tenant_id=$1 and lead_id=$2`, b.tenantID, b.id)
		default:
			_, err = tx.Exec(ctx, `update rm_lead_volume_leads set status=$3 where tenant_id=$1 and lead_id=$2`, b.tenantID, b.id, after.status)
		}
		if err != nil {
			return err
		}
		if b.present {
			count(b, -1)
		}
		if after.present {
			count(after, 1)
		}
	}
	if len(inserts) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"rm_lead_volume_leads"}, []string{"tenant_id", "lead_id", "day", "status"},
			pgx.CopyFromRows(inserts)); err != nil {
			return err
		}
	}
	for _, g := range groups {
		if d := deltas[g]; d != 0 {
			if err := countVolume(ctx, tx, g.tenant, g.day, g.status, d); err != nil {
				return err
			}
		}
	}
	return nil
}
