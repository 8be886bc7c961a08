package imports

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// KindCustomers is the kind of a customer import.
const KindCustomers = "customers"

// kind is what a job's rows become: leads or customers. The job machinery
// (batches, claims, progress, error rows) is the same for both.
type kind struct {
	name    string
	cols    *columns
	stream  string // the stream type of a new record
	counter string // the tenant counter that numbers new records
	noun    string // what a duplicate row repeats, in its message
	// decode checks a row and returns what its record reserves and how
	// its creation is decided, or why the row is refused.
	decode func(rec Record, status func(string) (domain.Status, error)) (row, []RowError)
}

// row is a decoded row: the values its record reserves (checked for
// duplicates in the batch and claimed in the store) and its creation,
// decided once the record has an id and a number, with any values the
// number adds to reserve.
type row struct {
	reserve []eventstore.Reservation
	create  func(id uuid.UUID, number int64) ([]domain.Event, []eventstore.Reservation, error)
}

// kindOf is the kind named name.
func (im *Importer) kindOf(name string) (*kind, error) {
	switch name {
	case KindLeads:
		return im.leads, nil
	case KindCustomers:
		return im.customers, nil
	}
	return nil, fmt.Errorf("import: no kind %q", name)
}

// leadKind is the lead import of im's options.
func (im *Importer) leadKind() *kind {
	return &kind{name: KindLeads, cols: leadColumns, stream: domain.LeadStream, counter: "lead", noun: "lead",
		decode: func(rec Record, status func(string) (domain.Status, error)) (row, []RowError) {
			p, st, bad := decode(rec, im.opts.Region, status, im.opts.Sources)
			if len(bad) > 0 {
				return row{}, bad
			}
			return row{reserve: leadReservations(p), create: func(id uuid.UUID, number int64) ([]domain.Event, []eventstore.Reservation, error) {
				decided, err := domain.CreateLead(id, number, p, st)
				return decided, nil, err
			}}, nil
		}}
}
