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
	// Status moves the lead when not empty.
	Status domain.Status
	// Archived, when set, archives (true) or restores (false) the lead in
	// the same commit.
	Archived *bool
}

// UpdateLead applies an edit to a lead. Emails and phones it adds are
// reserved for the lead and the ones it drops are released, in the same
// commit. Errors: domain.ErrLeadNotFound, domain.ValidationError,
// *DuplicateError (an email or phone of another lead), ErrBusy.
func (h *Handler) UpdateLead(ctx context.Context, c Context, id uuid.UUID, cmd UpdateLead) (LeadResult, error) {
	if prior, ok, err := h.replayedOn(ctx, c, []uuid.UUID{id}); err != nil || ok {
		if err != nil {
			return LeadResult{}, err
		}
		return h.leadAfter(ctx, c, id, prior.Position)
	}
	return retry(ctx, h, streamKeys(c.TenantID, id), func() (LeadResult, error) {
		lead, last, err := h.loadLead(ctx, c, id)
		if err != nil {
			return LeadResult{}, err
		}
		current := lead.Profile()
		next, err := cmd.Edit(current)
		if err != nil {
			return LeadResult{}, err
		}
		if next, err = domain.NormalizeProfile(next, h.region); err != nil {
			return LeadResult{}, err
		}
		if err := h.checkOwnership(ctx, c.TenantID, id, next); err != nil {
			return LeadResult{}, err
		}
		decided, err := lead.Update(next)
		if err != nil {
			return LeadResult{}, err
		}
		if cmd.Status != "" {
			moved, err := lead.ChangeStatus(cmd.Status)
			if err != nil {
				return LeadResult{}, err
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
				return LeadResult{}, err
			}
			decided = append(decided, moved...)
		}
		version := lead.Version()
		for _, e := range decided {
			lead.Apply(e)
		}
		res := LeadResult{Result: Result{Position: last}, LeadID: id, Number: lead.Number(),
			Profile: lead.Profile(), Status: lead.Status()}
		if len(decided) == 0 {
			return res, nil
		}
		events, err := toNew(decided)
		if err != nil {
			return LeadResult{}, err
		}
		commit, replayed, err := h.commit(ctx, c, nil, eventstore.StreamAppend{
			StreamType: domain.LeadStream, StreamID: id, ExpectedVersion: version, Events: events,
			Reserve: reservations(lead.Profile()), Release: released(current, lead.Profile()),
		})
		var taken *eventstore.ReservationError
		if errors.As(err, &taken) {
			return LeadResult{}, &DuplicateError{Field: reservationField(taken.Reservation.Kind), LeadID: taken.Owner}
		}
		if err != nil {
			return LeadResult{}, err
		}
		if replayed { // a concurrent retry committed first: its effect is the one
			return h.leadAfter(ctx, c, id, commit.Position)
		}
		res.Position = commit.Position
		return res, nil
	})
}

// leadAfter answers a retried update whose first attempt committed at pos:
// the lead as it is now (a lead deleted since is not found).
func (h *Handler) leadAfter(ctx context.Context, c Context, id uuid.UUID, pos eventstore.Position) (LeadResult, error) {
	lead, _, err := h.loadLead(ctx, c, id)
	if err != nil {
		return LeadResult{}, err
	}
	return LeadResult{Result: Result{Position: pos}, LeadID: id, Number: lead.Number(),
		Profile: lead.Profile(), Status: lead.Status()}, nil
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

func reservationField(kind string) string {
	if kind == domain.ReservePhone {
		return "phone"
	}
	return "email"
}
