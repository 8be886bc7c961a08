package leads

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
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
	domain.LeadInteractionLogged, domain.LeadInteractionChanged, domain.LeadInteractionDeleted,
}

// leadCopyColumns are the columns of rm_leads, in the order of leadRow.values.
var leadCopyColumns = []string{"tenant_id", "id", "number", "name", "email", "phone", "emails", "phones",
	"company", "source", "status", "priority", "assigned_to", "archived", "profile", "created_at", "updated_at",
	"deal_value", "prospect_type", "monthly_shipments", "campaign_id", "qualification_status",
	"first_contact", "last_contact", "next_contact", "status_changed_at", "interactions"}

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
	// statusChangedAt is when the status last changed (the creation at
	// first): the prospects list's days_uc.
	statusChangedAt time.Time
	// interactions are the times of the lead's live interactions by
	// number: what the contact columns are recomputed from when one
	// changes or is deleted, stored in the row (a small jsonb) so live
	// Apply folds on from exactly what the bulk rebuild had.
	interactions map[int64]contactTimes
}

// contactTimes is what the lead's row keeps of one live interaction.
type contactTimes struct {
	Occurred time.Time  `json:"o"`
	Next     *time.Time `json:"n,omitempty"`
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
			profile: d.Profile, status: string(d.Status), createdAt: e.RecordedAt, updatedAt: e.RecordedAt,
			statusChangedAt: e.RecordedAt}
	case domain.LeadUpdatedData:
		if !r.present {
			return nil // redacted history of a lead deleted later
		}
		r.profile, r.updatedAt = r.profile.WithChanges(d.Changes), e.RecordedAt
	case domain.LeadStatusChangedData:
		if r.present {
			r.status, r.updatedAt, r.statusChangedAt = string(d.To), e.RecordedAt, e.RecordedAt
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
	case domain.InteractionData:
		// An interaction is not an edit of the lead: updated_at stays.
		// As the lead's own fold does: a change of an interaction that is
		// not live changes nothing; number 0 is a redacted event.
		_, live := r.interactions[d.Interaction.Number]
		if r.present && d.Interaction.Number != 0 && (live || e.Type == domain.LeadInteractionLogged) {
			i := d.Interaction
			t := contactTimes{Occurred: i.OccurredAt.UTC()}
			if i.NextActionAt != nil {
				next := i.NextActionAt.UTC()
				t.Next = &next
			}
			if r.interactions == nil {
				r.interactions = map[int64]contactTimes{}
			}
			r.interactions[i.Number] = t
		}
	case domain.RecordRemovedData:
		if r.present && e.Type == domain.LeadInteractionDeleted {
			delete(r.interactions, d.Number)
		}
	}
	return nil
}

// contacts are the lead's first, last and next contact: the earliest and
// latest of its live interactions' times and the profile's last_contact
// (a contact recorded without an interaction, Cratio's and /dev/crm's),
// and the earliest next action of a live interaction. Each is nil if
// there is none.
func (r *leadRow) contacts() (first, last, next *time.Time) {
	times := make([]time.Time, 0, len(r.interactions)+1)
	if lc := r.profile.LastContact; lc != nil {
		times = append(times, *lc)
	}
	var nexts []time.Time
	for _, t := range r.interactions {
		times = append(times, t.Occurred)
		if t.Next != nil {
			nexts = append(nexts, *t.Next)
		}
	}
	earliest := func(ts []time.Time, later bool) *time.Time {
		if len(ts) == 0 {
			return nil
		}
		out := ts[0]
		for _, t := range ts[1:] {
			if t.After(out) == later && !t.Equal(out) {
				out = t
			}
		}
		return &out
	}
	return earliest(times, false), earliest(times, true), earliest(nexts, false)
}

// prospectType is the lead's prospect type as the prospects API shows
// it: a lead made through another API has none, and is a prospect (1).
func prospectType(p domain.LeadProfile) int {
	if p.ProspectType == 0 {
		return 1
	}
	return p.ProspectType
}

// shipments is the number a monthly_shipments text starts with ("150",
// "100-500" → 100), for sorting and the minShipments filter; nil if it
// starts with none.
func shipments(s string) *int64 {
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, err := strconv.ParseInt(s[:end], 10, 64)
	if err != nil {
		return nil
	}
	return &n
}

// values is the row in leadCopyColumns order, for COPY and for Apply's
// insert and update alike.
func (r *leadRow) values() ([]any, error) {
	p := r.profile
	profile, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	interactions := r.interactions
	if interactions == nil {
		interactions = map[int64]contactTimes{}
	}
	times, err := json.Marshal(interactions)
	if err != nil {
		return nil, err
	}
	var value float64
	if p.DealValue != nil {
		value = *p.DealValue
	}
	firstContact, lastContact, nextContact := r.contacts()
	return []any{projections.CopyUUID(r.tenantID), projections.CopyUUID(r.id), r.number, p.Name, first(p.Emails), first(p.Phones),
		nonNil(p.Emails), nonNil(p.Phones), p.Company, p.Source, r.status, string(p.Priority), p.AssignedTo,
		r.archived, profile, r.createdAt, r.updatedAt,
		value, prospectType(p), shipments(p.MonthlyShipments), p.CampaignID, p.QualificationState,
		firstContact, lastContact, nextContact, r.statusChangedAt, times}, nil
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
