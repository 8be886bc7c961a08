package volume

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// volumeEvents are the lead events that change the lead volume.
var volumeEvents = []string{domain.LeadCreated, domain.LeadStatusChanged, domain.LeadDeleted}

// volumeLeadRow is a lead's row of rm_lead_volume_leads, folded from the
// lead's own events: the one statement of what a lead event means to the
// volume, used by the bulk rebuild and by Apply (which moves the counts by
// the row's change).
type volumeLeadRow struct {
	present  bool
	tenantID uuid.UUID
	id       uuid.UUID
	day      time.Time
	status   string
}

// createdHead is the part of lead.created's data the volume reads: decoding
// the whole profile only to drop it would be most of the volume's work.
type createdHead struct {
	LeadID uuid.UUID     `json:"lead_id"`
	Status domain.Status `json:"status"`
}

// decodeCreatedHead decodes the lead id and status of lead.created e as
// domain.DecodeLeadEvent does: data of today's schema version is decoded
// directly (redacted data has no lead id either way); older versions go
// through the domain's upcasting.
func decodeCreatedHead(e eventstore.Event) (createdHead, error) {
	if e.SchemaVersion != domain.SchemaVersion {
		ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
		if err != nil {
			return createdHead{}, err
		}
		d := ev.Data.(domain.LeadCreatedData)
		return createdHead{LeadID: d.LeadID, Status: d.Status}, nil
	}
	var d createdHead
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return createdHead{}, fmt.Errorf("decode %s: %w", e.Type, err)
	}
	return d, nil
}

// Fold folds one event of the lead's stream into its row, decoding no more
// of it than the row needs.
func (r *volumeLeadRow) Fold(e eventstore.Event) error {
	var created createdHead
	var to domain.Status
	switch e.Type {
	case domain.LeadCreated:
		var err error
		if created, err = decodeCreatedHead(e); err != nil {
			return err
		}
	case domain.LeadStatusChanged:
		ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
		if err != nil {
			return err
		}
		to = ev.Data.(domain.LeadStatusChangedData).To
	}
	return r.fold(e, created, to)
}

// FoldLead is Fold of e decoded whole as ev (by DecodeLeadEvent, as
// decodeCreatedHead decodes the data of other versions): the same lead id
// and status as Fold reads.
func (r *volumeLeadRow) FoldLead(e eventstore.Event, ev domain.Event) error {
	var created createdHead
	var to domain.Status
	switch d := ev.Data.(type) {
	case domain.LeadCreatedData:
		created = createdHead{LeadID: d.LeadID, Status: d.Status}
	case domain.LeadStatusChangedData:
		to = d.To
	}
	return r.fold(e, created, to)
}

// fold folds e, given what the row takes of it: a lead.created's lead id and
// status, a lead.status_changed's new status.
func (r *volumeLeadRow) fold(e eventstore.Event, created createdHead, to domain.Status) error {
	switch e.Type {
	case domain.LeadCreated:
		if created.LeadID == uuid.Nil {
			return nil // redacted: deleted later
		}
		if r.present {
			return fmt.Errorf("lead %s created twice", e.StreamID)
		}
		*r = volumeLeadRow{present: true, tenantID: e.TenantID, id: e.StreamID, day: volumeDay(e), status: string(created.Status)}
	case domain.LeadStatusChanged:
		if r.present {
			r.status = string(to)
		}
	case domain.LeadDeleted:
		r.present = false
	}
	return nil
}

// End emits the lead's row if it exists.
func (r *volumeLeadRow) End(emit func([]any) error) error {
	done := *r
	*r = volumeLeadRow{}
	if !done.present {
		return nil
	}
	return emit([]any{projections.CopyUUID(done.tenantID), projections.CopyUUID(done.id), done.day, done.status})
}

// Rebuild implements projections.Rebuilder: it folds each lead's stream into its row of
// rm_lead_volume_leads, copies those in, and derives rm_lead_volume from
// them with one GROUP BY. Apply keeps each count equal to the number of
// leads of its day and status, and deletes the counts that reach zero, so
// the counts are exactly that aggregate.
func (Projection) Rebuild(ctx context.Context, b *projections.BulkBuild) error {
	err := b.CopyStreams(ctx, "rm_lead_volume_leads", []string{"tenant_id", "lead_id", "day", "status"},
		eventstore.ScanFilter{StreamTypes: []string{domain.LeadStream}, EventTypes: volumeEvents, NoMetadata: true},
		func() projections.StreamFold { return &volumeLeadRow{} })
	if err != nil {
		return err
	}
	return b.Exec(ctx, `insert into rm_lead_volume (tenant_id, day, status, leads)
		select tenant_id, day, status, count(*) from rm_lead_volume_leads group by tenant_id, day, status`)
}
