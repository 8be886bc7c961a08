package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// DuplicatePolicy says what creating a lead whose email or phone belongs to
// an existing lead does: Cratio merges, the Leads API rejects.
type DuplicatePolicy int

const (
	// MergeDuplicates merges the new values into the existing lead.
	MergeDuplicates DuplicatePolicy = iota
	// RejectDuplicates refuses the create with a *DuplicateError.
	RejectDuplicates
)

// CreateLead is the command to create (or, by policy, merge into) a lead.
type CreateLead struct {
	// Profile is the lead's profile as the client sent it, normalized by
	// the command (domain.NormalizeProfile) unless Normalized says it is.
	Profile domain.LeadProfile
	// Normalized says Profile is domain.NormalizeProfile's result already:
	// the API dialects normalize while decoding, to answer a bad value in
	// their own words before anything is read, and the command does not do
	// it a second time (the domain still validates it).
	Normalized bool
	Status     domain.Status
	// StatusName, when set, is the status by name instead: the tenant's
	// status so called (case ignored), created at the end of the pipeline
	// in the same commit when it has none (the /dev/crm API's negotiation
	// and converted, which are not default statuses).
	StatusName  string
	OnDuplicate DuplicatePolicy
	// Archived creates the lead archived, in the same commit.
	Archived bool
}

// LeadResult says which lead a create landed on.
type LeadResult struct {
	Result
	LeadID uuid.UUID
	Number int64
	Merged bool // the values went into an existing lead
	// Profile and Status are the lead's state after the command.
	Profile domain.LeadProfile
	Status  domain.Status
}

// CreateLead creates a lead, or merges into the lead that already owns its
// normalized email or phone. Errors: domain.ValidationError (a
// *domain.NormalizeError for input that cannot be normalized),
// *DuplicateError (RejectDuplicates), ErrBusy.
func (h *Handler) CreateLead(ctx context.Context, c Context, cmd CreateLead) (LeadResult, error) {
	p, err := h.normalized(cmd.Profile, cmd.Normalized)
	if err != nil {
		return LeadResult{}, err
	}
	// Creates with one email or phone take turns (that is how they find
	// their lead), and a merge also takes the lead's turn.
	return run(ctx, h, c, write[LeadResult]{
		values: reservations(p), byNote: true,
		decide: func(u *unit) (LeadResult, error) {
			owner, field, err := h.owner(ctx, c.TenantID, p)
			switch {
			case err != nil:
				return LeadResult{}, err
			case owner != uuid.Nil && cmd.OnDuplicate == RejectDuplicates:
				return LeadResult{}, &DuplicateError{Field: field, LeadID: owner}
			}
			status, err := h.namedStatus(u, cmd.Status, cmd.StatusName)
			if err != nil {
				return LeadResult{}, err
			}
			if owner == uuid.Nil {
				return h.createNew(u, p, status, cmd.Archived)
			}
			return h.mergeInto(u, owner, p, status)
		},
		replay: func(prior eventstore.CommitResult) (LeadResult, error) { return h.replayLead(ctx, c, prior) },
		failed: func(err error) error {
			var taken *eventstore.ReservationError
			if errors.As(err, &taken) || errors.Is(err, domain.ErrLeadNotFound) {
				return fmt.Errorf("%w: %w", errLostRace, err) // look the owners up again
			}
			return err
		},
	})
}

// normalized is p in the form the domain stores: as it is when the caller
// normalized it, else through domain.NormalizeProfile in the handler's region.
func (h *Handler) normalized(p domain.LeadProfile, already bool) (domain.LeadProfile, error) {
	if already {
		return p, nil
	}
	return domain.NormalizeProfile(p, h.region)
}

// leadNote is what a lead create keeps with its idempotency key.
type leadNote struct {
	LeadID uuid.UUID `json:"lead_id"`
	Number int64     `json:"number"`
	Merged bool      `json:"merged"`
}

// replayLead answers a retried create with what the first one did.
func (h *Handler) replayLead(ctx context.Context, c Context, prior eventstore.CommitResult) (LeadResult, error) {
	n, err := noted(c, prior, func(n leadNote) bool { return n.LeadID != uuid.Nil })
	if err != nil {
		return LeadResult{}, err
	}
	// The lead as it is now: a deleted one is not found, never an empty success.
	lead, err := h.loadLead(ctx, c, n.LeadID)
	if err != nil {
		return LeadResult{}, err
	}
	return LeadResult{Result: Result{Position: prior.Position}, LeadID: n.LeadID, Number: n.Number, Merged: n.Merged,
		Profile: lead.Profile(), Status: lead.Status()}, nil
}

// owner finds the lead that owns one of p's emails (first) or phones.
// LeadOwning is the lead that owns one of p's normalized emails or phones
// (uuid.Nil for none) and which of them it owns ("email" or "phone"): the
// duplicate check a create with RejectDuplicates makes, for an API that
// previews a create without writing.
func (h *Handler) LeadOwning(ctx context.Context, tenantID uuid.UUID, p domain.LeadProfile) (uuid.UUID, string, error) {
	return h.owner(ctx, tenantID, p)
}

func (h *Handler) owner(ctx context.Context, tenantID uuid.UUID, p domain.LeadProfile) (uuid.UUID, string, error) {
	id, r, ok, err := h.store.FirstOwner(ctx, tenantID, reservations(p))
	if err != nil || !ok {
		return uuid.Nil, "", err
	}
	return id, reservationField(r.Kind), nil
}

func reservations(p domain.LeadProfile) []eventstore.Reservation {
	var rs []eventstore.Reservation
	for _, e := range p.Emails {
		rs = append(rs, eventstore.Reservation{Kind: domain.ReserveEmail, Value: e})
	}
	for _, ph := range p.Phones {
		rs = append(rs, eventstore.Reservation{Kind: domain.ReservePhone, Value: ph})
	}
	return rs
}

// reservationField names the field a reservation kind reserves a value of.
func reservationField(kind string) string {
	if kind == domain.ReservePhone {
		return "phone"
	}
	return "email"
}

func (h *Handler) createNew(u *unit, p domain.LeadProfile, status domain.Status, archived bool) (LeadResult, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return LeadResult{}, err
	}
	number, err := h.store.NextNumber(u.ctx, u.c.TenantID, "lead")
	if err != nil {
		return LeadResult{}, fmt.Errorf("number lead: %w", err)
	}
	decided, err := domain.CreateLead(id, number, p, status)
	if err != nil {
		return LeadResult{}, err
	}
	if archived {
		archive, err := domain.NewLeadFromHistory(decided).Archive()
		if err != nil {
			return LeadResult{}, err
		}
		decided = append(decided, archive...)
	}
	u.create(domain.LeadStream, id, decided, reserving(reservations(p)...))
	u.keep(leadNote{LeadID: id, Number: number})
	if status == "" {
		status = domain.DefaultStatus
	}
	return LeadResult{LeadID: id, Number: number, Profile: p, Status: status}, nil
}

// mergeInto merges p into lead id, with the turn on the lead: creates that
// find it through different values still take turns with each other and
// with the other commands on it. Emails and phones that belong to yet
// another lead stay with that lead. A status given with the create moves
// the lead to it in the same commit.
func (h *Handler) mergeInto(u *unit, id uuid.UUID, p domain.LeadProfile, status domain.Status) (LeadResult, error) {
	if err := u.turn(id); err != nil {
		return LeadResult{}, err
	}
	lead, err := u.lead(id)
	if err != nil {
		return LeadResult{}, err
	}
	if p.Emails, err = h.ownedBy(u.ctx, u.c.TenantID, id, domain.ReserveEmail, p.Emails); err != nil {
		return LeadResult{}, err
	}
	if p.Phones, err = h.ownedBy(u.ctx, u.c.TenantID, id, domain.ReservePhone, p.Phones); err != nil {
		return LeadResult{}, err
	}
	decided, err := lead.Merge(p)
	if err != nil {
		return LeadResult{}, err
	}
	if status != "" {
		moved, err := lead.ChangeStatus(status)
		if err != nil {
			return LeadResult{}, err
		}
		decided = append(decided, moved...)
	}
	u.append(lead, decided, reserving(reservations(p)...))
	u.keep(leadNote{LeadID: id, Number: lead.Number(), Merged: true})
	return leadResult(lead, true), nil
}

// leadResult is the answer about lead as it is.
func leadResult(lead *domain.Lead, merged bool) LeadResult {
	return LeadResult{LeadID: lead.ID(), Number: lead.Number(), Merged: merged, Profile: lead.Profile(), Status: lead.Status()}
}

func (r LeadResult) at(p eventstore.Position) LeadResult { r.Position = p; return r }

// ownedBy keeps the values that are free or already lead id's.
func (h *Handler) ownedBy(ctx context.Context, tenantID, id uuid.UUID, kind string, values []string) ([]string, error) {
	var keep []string
	for _, v := range values {
		owner, ok, err := h.store.LookupReservation(ctx, tenantID, kind, v)
		if err != nil {
			return nil, err
		}
		if !ok || owner == id {
			keep = append(keep, v)
		}
	}
	return keep, nil
}

// ChangeStatus moves a lead to another pipeline status.
func (h *Handler) ChangeStatus(ctx context.Context, c Context, id uuid.UUID, status domain.Status) (Result, error) {
	return h.onLeads(ctx, c, []uuid.UUID{id}, func(l *domain.Lead) ([]domain.Event, error) { return l.ChangeStatus(status) })
}

// ChangeStatuses moves every lead in ids to status, or none: one unknown id
// fails the whole call with *LeadsNotFoundError.
func (h *Handler) ChangeStatuses(ctx context.Context, c Context, ids []uuid.UUID, status domain.Status) (Result, error) {
	return h.onLeads(ctx, c, ids, func(l *domain.Lead) ([]domain.Event, error) { return l.ChangeStatus(status) })
}

// DeleteLeads permanently deletes every lead in ids, or none, in one commit
// (see DeleteLead).
func (h *Handler) DeleteLeads(ctx context.Context, c Context, ids []uuid.UUID) (Result, error) {
	return h.onLeads(ctx, c, ids, (*domain.Lead).Delete, erasing)
}

// ArchiveLeads archives every lead in ids, or none: one unknown id fails the
// whole call with *LeadsNotFoundError.
func (h *Handler) ArchiveLeads(ctx context.Context, c Context, ids []uuid.UUID) (Result, error) {
	return h.onLeads(ctx, c, ids, (*domain.Lead).Archive)
}

// RestoreLeads restores every lead in ids, or none.
func (h *Handler) RestoreLeads(ctx context.Context, c Context, ids []uuid.UUID) (Result, error) {
	return h.onLeads(ctx, c, ids, (*domain.Lead).Restore)
}

// DeleteLead permanently deletes a lead with its call logs: its earlier
// events are redacted and its emails and phones released in the same
// transaction; the lead.deleted event keeps who deleted it and when.
func (h *Handler) DeleteLead(ctx context.Context, c Context, id uuid.UUID) (Result, error) {
	return run(ctx, h, c, write[Result]{streams: []uuid.UUID{id}, decide: func(u *unit) (Result, error) {
		_, err := u.onLead(id, (*domain.Lead).Delete, erasing)
		return Result{}, err
	}})
}

// onLeads applies one decision to several leads in one all-or-nothing
// commit; opts adjust each lead's append.
func (h *Handler) onLeads(ctx context.Context, c Context, ids []uuid.UUID, decide func(*domain.Lead) ([]domain.Event, error), opts ...func(*eventstore.StreamAppend)) (Result, error) {
	return run(ctx, h, c, write[Result]{streams: ids, decide: func(u *unit) (Result, error) {
		var missing []uuid.UUID
		seen := map[uuid.UUID]bool{}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			_, err := u.onLead(id, decide, opts...)
			if errors.Is(err, domain.ErrLeadNotFound) {
				missing = append(missing, id)
				continue
			}
			if err != nil {
				return Result{}, err
			}
		}
		if len(missing) > 0 {
			return Result{}, &LeadsNotFoundError{IDs: missing}
		}
		return Result{}, nil
	}})
}
