package api

import (
	"errors"
	"strings"

	"github.com/crmcore/crm/domain"
)

// Refusals is a dialect's table of answers to what domain.NormalizeProfile
// refuses: for each profile field ("phones", "assigned_to"), the dialect's
// own field and words for a refused entry of it. The domain normalizes
// every dialect's input in one place; this table is all a dialect keeps of
// it. The "" row answers a field the table does not list.
type Refusals map[string]func(domain.EntryError) *BadInput

// For is the answer to the first refused entry of field in err, nil when
// err (NormalizeProfile's) refused none: a dialect asks field by field, in
// the order its API has always checked its fields.
func (r Refusals) For(err error, field string) *BadInput {
	var refused *domain.NormalizeError
	if !errors.As(err, &refused) {
		return nil
	}
	e, ok := refused.Entry(field)
	if !ok {
		return nil
	}
	return r.answer(e)
}

// First is the answer to the first entry err refused, nil for a nil err.
// An error that is not NormalizeProfile's is an invalid "" field.
func (r Refusals) First(err error) *BadInput {
	if err == nil {
		return nil
	}
	var refused *domain.NormalizeError
	if !errors.As(err, &refused) {
		return r.answer(domain.EntryError{Reason: err.Error()})
	}
	return r.answer(refused.Entries[0])
}

func (r Refusals) answer(e domain.EntryError) *BadInput {
	if answer, ok := r[e.Field]; ok {
		return answer(e)
	}
	return r[""](e)
}

// ListOf is a list field holding the one value v a dialect sends as a
// single field (Cratio's phone, Overplane's email_id), or none when v is
// blank.
func ListOf(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	return []string{v}
}

// FirstBad is the first refusal of steps, nil when there is none. A
// dialect reads a whole body, normalizes it once (domain.NormalizeProfile)
// and then lists each field's type refusal and value checks in the order
// its API has always judged them, so a body with several faults is still
// answered with the one it always was.
func FirstBad(steps ...*BadInput) *BadInput {
	for _, bad := range steps {
		if bad != nil {
			return bad
		}
	}
	return nil
}

// When is bad when cond holds, else nil: a value check for FirstBad.
func When(cond bool, bad *BadInput) *BadInput {
	if cond {
		return bad
	}
	return nil
}
