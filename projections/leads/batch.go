package leads

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// ApplyBatch implements projections.BatchApplier: the rows of the leads the
// batch changes, but those it creates, are read in one query; each lead's
// events are folded as Apply folds them one by one (leadRow); the new rows
// go in with one COPY (so the counts' statement triggers run once for
// them), the changed and deleted ones are written row by row.
func (Projection) ApplyBatch(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error {
	runs := projections.ByStream(events, func(e *eventstore.Event) bool {
		return e.StreamType == domain.LeadStream && slices.Contains(leadRowEvents, e.Type)
	})
	if len(runs) == 0 {
		return nil
	}
	before := make([]leadRow, len(runs))
	var load projections.Keys
	at := map[projections.StreamKey]int{}
	for i, r := range runs {
		if r.Events[0].Type != domain.LeadCreated {
			load.Add(r.StreamKey)
			at[r.StreamKey] = i
		}
	}
	if len(at) > 0 {
		if err := loadLeadRows(ctx, tx, load, func(k projections.StreamKey, row leadRow) {
			before[at[k]] = row
		}); err != nil {
			return err
		}
	}
	var inserts [][]any
	for i, r := range runs {
		after := before[i]
		for _, e := range r.Events {
			if err := after.Fold(e); err != nil {
				return err
			}
		}
		if !before[i].present && after.present {
			v, err := after.values()
			if err != nil {
				return fmt.Errorf("lead %s: %w", after.id, err)
			}
			inserts = append(inserts, v)
			continue
		}
		if err := writeLeadRow(ctx, tx, before[i], after); err != nil {
			return err
		}
	}
	if len(inserts) == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"rm_leads"}, leadCopyColumns, pgx.CopyFromRows(inserts))
	return err
}

// loadLeadRows reads the rows of the leads keys names, handing each to got
// (a lead with no row is not handed: redacted history of a lead deleted
// later).
func loadLeadRows(ctx context.Context, tx pgx.Tx, keys projections.Keys, got func(projections.StreamKey, leadRow)) error {
	rows, err := tx.Query(ctx, `select l.tenant_id, l.id, l.number, l.status, l.archived, l.profile, l.created_at,
			l.updated_at, l.status_changed_at, l.interactions
		from unnest($1::uuid[], $2::uuid[]) k (tenant_id, id)
		join rm_leads l on l.tenant_id = k.tenant_id and l.id = k.id`, keys.Tenants, keys.Streams)
	if err != nil {
		return fmt.Errorf("load leads: %w", err)
	}
	var r leadRow
	var tenant, id uuid.UUID
	var profile, times []byte
	_, err = pgx.ForEachRow(rows, []any{&tenant, &id, &r.number, &r.status, &r.archived, &profile, &r.createdAt,
		&r.updatedAt, &r.statusChangedAt, &times}, func() error {
		row := r
		row.profile, row.interactions = domain.LeadProfile{}, nil
		if err := json.Unmarshal(profile, &row.profile); err != nil {
			return err
		}
		if err := json.Unmarshal(times, &row.interactions); err != nil {
			return err
		}
		row.present, row.tenantID, row.id = true, tenant, id
		got(projections.StreamKey{Tenant: tenant, Stream: id}, row)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load leads: %w", err)
	}
	return nil
}
