package leads

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

// leadRowEvents are the lead events that change a row of rm_leads (Apply
// ignores the others).
var leadRowEvents = []string{
	domain.LeadCreated, domain.LeadUpdated, domain.LeadMerged, domain.LeadStatusChanged,
	domain.LeadArchived, domain.LeadRestored, domain.LeadDeleted,
}

// leadCopyColumns are the columns of rm_leads, in the order of leadRow.values.
var leadCopyColumns = []string{"tenant_id", "id", "number", "name", "email", "phone", "emails", "phones",
	"company", "source", "status", "priority", "assigned_to", "archived", "profile", "created_at", "updated_at"}

// leadRow is a lead's row of rm_leads, folded from the lead's own events (a
// row depends on nothing else): the one statement of what a lead event means
// to the lead list, used by the bulk rebuild and, row by row, by Apply.
type leadRow struct {
	present   bool // the row exists: created (not redacted) and not deleted
	tenantID  uuid.UUID
	id        uuid.UUID
	number    int64
	profile   domain.LeadProfile
	status    string
	archived  bool
	createdAt time.Time
	updatedAt time.Time
}

// Fold folds one event of the lead's stream into the row: an event for a
// row that does not exist (redacted history, or after a delete) changes
// nothing.
func (r *leadRow) Fold(e eventstore.Event) error {
	ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return err
	}
	return r.FoldLead(e, ev)
}

// FoldLead is Fold of e decoded as ev.
func (r *leadRow) FoldLead(e eventstore.Event, ev domain.Event) error {
	switch d := ev.Data.(type) {
	case domain.LeadCreatedData:
		if d.LeadID == uuid.Nil {
			return nil // redacted: the lead was permanently deleted later
		}
		if r.present {
			return fmt.Errorf("lead %s created twice", e.StreamID)
		}
		*r = leadRow{present: true, tenantID: e.TenantID, id: e.StreamID, number: d.Number,
			profile: d.Profile, status: string(d.Status), createdAt: e.RecordedAt, updatedAt: e.RecordedAt}
	case domain.LeadUpdatedData:
		if !r.present {
			return nil // redacted history of a lead deleted later
		}
		r.profile, r.updatedAt = r.profile.WithChanges(d.Changes), e.RecordedAt
	case domain.LeadStatusChangedData:
		if r.present {
			r.status, r.updatedAt = string(d.To), e.RecordedAt
		}
	case domain.LeadLifecycleData:
		switch e.Type {
		case domain.LeadArchived, domain.LeadRestored:
			if r.present {
				r.archived, r.updatedAt = e.Type == domain.LeadArchived, e.RecordedAt
			}
		case domain.LeadDeleted:
			r.present = false
		}
	}
	return nil
}

// values is the row in leadCopyColumns order, for COPY and for Apply's
// insert and update alike.
func (r *leadRow) values() ([]any, error) {
	p := r.profile
	profile, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return []any{projections.CopyUUID(r.tenantID), projections.CopyUUID(r.id), r.number, p.Name, first(p.Emails), first(p.Phones),
		nonNil(p.Emails), nonNil(p.Phones), p.Company, p.Source, r.status, string(p.Priority), p.AssignedTo,
		r.archived, profile, r.createdAt, r.updatedAt}, nil
}

// End emits the lead's row if it exists.
func (r *leadRow) End(emit func([]any) error) error {
	done := *r
	*r = leadRow{}
	if !done.present {
		return nil
	}
	v, err := done.values()
	if err != nil {
		return fmt.Errorf("lead %s: %w", done.id, err)
	}
	return emit(v)
}

// Rebuild implements projections.Rebuilder: it folds each lead's stream into its final
// row and copies the rows into rm_leads.
func (Projection) Rebuild(ctx context.Context, b *projections.BulkBuild) error {
	return b.CopyStreams(ctx, "rm_leads", leadCopyColumns,
		eventstore.ScanFilter{StreamTypes: []string{domain.LeadStream}, EventTypes: leadRowEvents, NoMetadata: true},
		func() projections.StreamFold { return &leadRow{} })
}
