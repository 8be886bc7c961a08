package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// UpdateLead changes a lead's profile and, optionally, its status.
type UpdateLead struct {
	// Edit returns the new profile from the current one: a full
	// replacement (PUT) ignores current, a partial update (PATCH) changes
	// only the fields it was sent. Its error is returned as is.
	Edit func(current domain.LeadProfile) (domain.LeadProfile, error)
	// Normalized says Edit returns a normalized profile when given one
	// (it puts values domain.NormalizeProfile gave into the current
	// profile), so the command does not normalize it a second time.
	Normalized bool
	// Status moves the lead when not empty.
	Status domain.Status
	// StatusName moves the lead to the status so called instead, created
	// in the same commit when the tenant has none (see CreateLead).
	StatusName string
	// Archived, when set, archives (true) or restores (false) the lead in
	// the same commit.
	Archived *bool
}

// UpdateLead applies an edit to a lead. Emails and phones it adds are
// reserved for the lead and the ones it drops are released, in the same
// commit. Errors: domain.ErrLeadNotFound, domain.ValidationError,
// *DuplicateError (an email or phone of another lead), ErrBusy.
func (h *Handler) UpdateLead(ctx context.Context, c Context, id uuid.UUID, cmd UpdateLead) (LeadResult, error) {
	return run(ctx, h, c, write[LeadResult]{
		streams: []uuid.UUID{id},
		decide: func(u *unit) (LeadResult, error) {
			lead, err := u.lead(id)
			if err != nil {
				return LeadResult{}, err
			}
			current := lead.Profile()
			if cmd.Status, err = h.namedStatus(u, cmd.Status, cmd.StatusName); err != nil {
				return LeadResult{}, err
			}
			decided, err := h.decideUpdate(ctx, c.TenantID, lead, cmd)
			if err != nil {
				return LeadResult{}, err
			}
			u.append(lead, decided, func(sa *eventstore.StreamAppend) {
				sa.Reserve, sa.Release = reservations(lead.Profile()), released(current, lead.Profile())
			})
			return leadResult(lead, false), nil
		},
		// A retry whose first attempt committed, or a concurrent retry
		// that committed first: the lead as it is now (a lead deleted
		// since is not found).
		replay: func(prior eventstore.CommitResult) (LeadResult, error) {
			lead, err := h.loadLead(ctx, c, id)
			if err != nil {
				return LeadResult{}, err
			}
			return leadResult(lead, false).at(prior.Position), nil
		},
		failed: func(err error) error {
			var taken *eventstore.ReservationError
			if errors.As(err, &taken) {
				return &DuplicateError{Field: reservationField(taken.Reservation.Kind), LeadID: taken.Owner}
			}
			return err
		},
	})
}

// decideUpdate decides cmd on lead: the edited profile (normalized, its
// emails and phones not another lead's), then the status and the archive
// flag, each on the lead as loaded.
func (h *Handler) decideUpdate(ctx context.Context, tenantID uuid.UUID, lead *domain.Lead, cmd UpdateLead) ([]domain.Event, error) {
	next, err := cmd.Edit(lead.Profile())
	if err != nil {
		return nil, err
	}
	if next, err = h.normalized(next, cmd.Normalized); err != nil {
		return nil, err
	}
	if err := h.checkOwnership(ctx, tenantID, lead.ID(), next); err != nil {
		return nil, err
	}
	decided, err := lead.Update(next)
	if err != nil {
		return nil, err
	}
	if cmd.Status != "" {
		moved, err := lead.ChangeStatus(cmd.Status)
		if err != nil {
			return nil, err
		}
		decided = append(decided, moved...)
	}
	if cmd.Archived != nil {
		lifecycle := lead.Restore
		if *cmd.Archived {
			lifecycle = lead.Archive
		}
		moved, err := lifecycle()
		if err != nil {
			return nil, err
		}
		decided = append(decided, moved...)
	}
	return decided, nil
}

// checkOwnership refuses emails and phones that belong to another lead.
func (h *Handler) checkOwnership(ctx context.Context, tenantID, id uuid.UUID, p domain.LeadProfile) error {
	for _, r := range reservations(p) {
		owner, ok, err := h.store.LookupReservation(ctx, tenantID, r.Kind, r.Value)
		if err != nil {
			return err
		}
		if ok && owner != id {
			return &DuplicateError{Field: reservationField(r.Kind), LeadID: owner}
		}
	}
	return nil
}

// released lists the reservations of before that after no longer has.
func released(before, after domain.LeadProfile) []eventstore.Reservation {
	keep := map[eventstore.Reservation]bool{}
	for _, r := range reservations(after) {
		keep[r] = true
	}
	var out []eventstore.Reservation
	for _, r := range reservations(before) {
		if !keep[r] {
			out = append(out, r)
		}
	}
	return out
}
