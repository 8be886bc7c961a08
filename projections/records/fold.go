package records

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// op is what an event does to the records of one table.
type op int

const (
	opAdd    op = iota + 1 // *.interaction_logged, *_added: a new record
	opChange               // *_changed: the record's whole form again
	opRemove               // *_deleted, *_removed
	opClear                // the owner's delete: every record goes with it
)

// table is one of the three record tables: which events change it and the
// row an added or changed event leaves. Every table's columns are
// tenant_id, owner_type, owner_id, number, then the record's own (body),
// then created_at, updated_at.
type table struct {
	name string
	body []string // the record's own columns, in the order of form's values
	ops  map[string]op
	// form is the number of the record an added or changed event holds
	// (0: redacted) and its body columns' values.
	form func(ev domain.Event) (int64, []any)
}

// columns are the table's columns, in its rows' order.
func (t *table) columns() []string {
	out := append([]string{"tenant_id", "owner_type", "owner_id", "number"}, t.body...)
	return append(out, "created_at", "updated_at")
}

// eventTypes are the event types that change the table.
func (t *table) eventTypes() []string { return slices.Sorted(maps.Keys(t.ops)) }

// opsOf maps the three event types of a record kind in each owner's stream,
// and the owners' deletes, to what they do.
func opsOf(lead, customer [3]string) map[string]op {
	m := map[string]op{domain.LeadDeleted: opClear, domain.CustomerDeleted: opClear}
	for _, kind := range [][3]string{lead, customer} {
		m[kind[0]], m[kind[1]], m[kind[2]] = opAdd, opChange, opRemove
	}
	return m
}

var (
	interactions = &table{
		name: "rm_interactions",
		body: []string{"id", "kind", "subject", "notes", "outcome", "next_action", "next_action_at", "occurred_at", "author"},
		ops: opsOf([3]string{domain.LeadInteractionLogged, domain.LeadInteractionChanged, domain.LeadInteractionDeleted},
			[3]string{domain.CustomerInteractionLogged, domain.CustomerInteractionChanged, domain.CustomerInteractionDeleted}),
		form: func(ev domain.Event) (int64, []any) {
			i := ev.Data.(domain.InteractionData).Interaction
			if i.ID == uuid.Nil {
				return 0, nil // redacted
			}
			return i.Number, []any{projections.CopyUUID(i.ID), string(i.Kind), i.Subject, i.Notes, i.Outcome, i.NextAction,
				i.NextActionAt, i.OccurredAt, i.Author}
		},
	}
	contacts = &table{
		name: "rm_contacts",
		body: []string{"name", "email", "phone", "position"},
		ops: opsOf([3]string{domain.LeadContactAdded, domain.LeadContactChanged, domain.LeadContactRemoved},
			[3]string{domain.CustomerContactAdded, domain.CustomerContactChanged, domain.CustomerContactRemoved}),
		form: func(ev domain.Event) (int64, []any) {
			c := ev.Data.(domain.ContactData).Contact
			return c.Number, []any{c.Name, c.Email, c.Phone, c.Position}
		},
	}
	locations = &table{
		name: "rm_locations",
		body: []string{"name", "link", "type"},
		ops: opsOf([3]string{domain.LeadLocationAdded, domain.LeadLocationChanged, domain.LeadLocationRemoved},
			[3]string{domain.CustomerLocationAdded, domain.CustomerLocationChanged, domain.CustomerLocationRemoved}),
		form: func(ev domain.Event) (int64, []any) {
			l := ev.Data.(domain.LocationData).Location
			return l.Number, []any{l.Name, l.Link, string(l.Type)}
		},
	}
	tables = []*table{interactions, contacts, locations}
)

// ownerRecords are the live records of one table of one owner's stream (a
// lead's or a customer's), folded from its events: the one statement of what
// an owner event means to the table, used by the bulk rebuild and by Apply.
// A record's events all live in its owner's stream, so one stream folds on
// its own. Like the owner's state (domain.records), it takes a record's form
// from its last added or changed event, ignores an add of a number it holds
// and a change of one it does not (redacted history among them), and drops
// them all with the owner.
type ownerRecords struct {
	t    *table
	recs []record
}

// record is one record of ownerRecords; row is its row, nil for one Apply
// loaded and left as it is.
type record struct {
	number  int64
	created time.Time
	row     []any
}

// Fold folds one event of the owner's stream into its records.
func (o *ownerRecords) Fold(e eventstore.Event) error {
	var ev domain.Event
	if o.t.ops[e.Type] != opClear {
		var err error
		if ev, err = domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data); err != nil {
			return err
		}
	}
	o.fold(e, ev)
	return nil
}

// fold is Fold of e decoded as ev (an owner's delete need not be decoded).
func (o *ownerRecords) fold(e eventstore.Event, ev domain.Event) {
	switch o.t.ops[e.Type] {
	case opAdd:
		number, body := o.t.form(ev)
		if number == 0 || o.index(number) >= 0 {
			return
		}
		o.recs = append(o.recs, record{number: number, created: e.RecordedAt, row: o.row(e, number, body, e.RecordedAt)})
	case opChange:
		number, body := o.t.form(ev)
		if i := o.index(number); number != 0 && i >= 0 {
			o.recs[i].row = o.row(e, number, body, o.recs[i].created)
		}
	case opRemove:
		number := ev.Data.(domain.RecordRemovedData).Number
		o.recs = slices.DeleteFunc(o.recs, func(r record) bool { return r.number == number })
	case opClear:
		o.recs = nil
	}
}

// row is the full row of the record numbered number with body, made at
// created and last changed by e.
func (o *ownerRecords) row(e eventstore.Event, number int64, body []any, created time.Time) []any {
	out := append([]any{projections.CopyUUID(e.TenantID), e.StreamType, projections.CopyUUID(e.StreamID), number}, body...)
	return append(out, created, e.RecordedAt)
}

// index is the position of the record numbered number, or -1.
func (o *ownerRecords) index(number int64) int {
	return slices.IndexFunc(o.recs, func(r record) bool { return r.number == number })
}

// End emits the owner's live records.
func (o *ownerRecords) End(emit func([]any) error) error {
	recs := o.recs
	o.recs = nil // emitted rows are COPY's now
	for _, r := range recs {
		if err := emit(r.row); err != nil {
			return err
		}
	}
	return nil
}

// Rebuild implements projections.Rebuilder: for each table, it folds each
// owner's stream into its live records and copies them in. A fold holds one
// owner's records of one table at a time.
func (Projection) Rebuild(ctx context.Context, b *projections.BulkBuild) error {
	for _, t := range tables {
		err := b.CopyStreams(ctx, t.name, t.columns(),
			eventstore.ScanFilter{StreamTypes: []string{domain.LeadStream, domain.CustomerStream}, EventTypes: t.eventTypes(), NoMetadata: true},
			func() projections.StreamFold { return &ownerRecords{t: t} })
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}
