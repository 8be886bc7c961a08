package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
	Profile     domain.LeadProfile
	Status      domain.Status
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
// normalized email or phone. Errors: *domain.ValidationError,
// *DuplicateError (RejectDuplicates), ErrBusy.
func (h *Handler) CreateLead(ctx context.Context, c Context, cmd CreateLead) (LeadResult, error) {
	p, err := domain.NormalizeProfile(cmd.Profile, h.region)
	if err != nil {
		return LeadResult{}, err
	}
	if prior, ok, err := h.replayed(ctx, c); err != nil || ok {
		if err != nil {
			return LeadResult{}, err
		}
		return h.replayLead(ctx, c, prior)
	}
	// Creates with one email or phone take turns (that is how they find
	// their lead), and a merge also takes the lead's turn.
	deadline := time.Now().Add(busyFor)
	var keys []string
	for _, r := range reservations(p) {
		keys = append(keys, valueKey(c.TenantID, r))
	}
	return retryUntil(ctx, h, deadline, keys, func() (LeadResult, error) {
		owner, field, err := h.owner(ctx, c.TenantID, p)
		if err != nil {
			return LeadResult{}, err
		}
		var res LeadResult
		switch {
		case owner == uuid.Nil:
			res, err = h.createNew(ctx, c, p, cmd.Status, cmd.Archived)
		case cmd.OnDuplicate == RejectDuplicates:
			return LeadResult{}, &DuplicateError{Field: field, LeadID: owner}
		default:
			res, err = h.mergeTurn(ctx, c, deadline, owner, p, cmd.Status)
		}
		var taken *eventstore.ReservationError
		if errors.As(err, &taken) || errors.Is(err, domain.ErrLeadNotFound) {
			return res, fmt.Errorf("%w: %w", errLostRace, err) // look the owners up again
		}
		return res, err
	})
}

// mergeTurn is mergeInto with the turn on lead id: creates that find the
// lead through different values still take turns with each other and with
// the other commands on the lead.
func (h *Handler) mergeTurn(ctx context.Context, c Context, deadline time.Time, id uuid.UUID, p domain.LeadProfile, status domain.Status) (LeadResult, error) {
	leave, err := h.lineup.enter(ctx, deadline, streamKeys(c.TenantID, id))
	if err != nil {
		return LeadResult{}, err
	}
	defer leave()
	return h.mergeInto(ctx, c, id, p, status)
}

// leadNote is what a lead create keeps with its idempotency key.
type leadNote struct {
	LeadID uuid.UUID `json:"lead_id"`
	Number int64     `json:"number"`
	Merged bool      `json:"merged"`
}

// replayLead answers a retried create with what the first one did.
func (h *Handler) replayLead(ctx context.Context, c Context, prior eventstore.CommitResult) (LeadResult, error) {
	var n leadNote
	if err := json.Unmarshal(prior.Note, &n); err != nil || n.LeadID == uuid.Nil {
		return LeadResult{}, fmt.Errorf("idempotency key %q was used by another kind of request: %w", c.IdempotencyKey, ErrKeyReused)
	}
	// The lead as it is now: a deleted one is not found, never an empty success.
	lead, _, err := h.loadLead(ctx, c, n.LeadID)
	if err != nil {
		return LeadResult{}, err
	}
	return LeadResult{Result: Result{Position: prior.Position}, LeadID: n.LeadID, Number: n.Number, Merged: n.Merged,
		Profile: lead.Profile(), Status: lead.Status()}, nil
}

// owner finds the lead that owns one of p's emails (first) or phones.
func (h *Handler) owner(ctx context.Context, tenantID uuid.UUID, p domain.LeadProfile) (uuid.UUID, string, error) {
	id, r, ok, err := h.store.FirstOwner(ctx, tenantID, reservations(p))
	if err != nil || !ok {
		return uuid.Nil, "", err
	}
	if r.Kind == domain.ReserveEmail {
		return id, "email", nil
	}
	return id, "phone", nil
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

func (h *Handler) createNew(ctx context.Context, c Context, p domain.LeadProfile, status domain.Status, archived bool) (LeadResult, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return LeadResult{}, err
	}
	number, err := h.store.NextNumber(ctx, c.TenantID, "lead")
	if err != nil {
		return LeadResult{}, fmt.Errorf("number lead: %w", err)
	}
	decided, err := domain.CreateLead(id, number, p, status)
	if err != nil {
		return LeadResult{}, err
	}
	if archived {
		lead := domain.NewLeadFromHistory(decided)
		archive, err := lead.Archive()
		if err != nil {
			return LeadResult{}, err
		}
		decided = append(decided, archive...)
	}
	events, err := toNew(decided)
	if err != nil {
		return LeadResult{}, err
	}
	res, replayed, err := h.commit(ctx, c, leadNote{LeadID: id, Number: number}, eventstore.StreamAppend{
		StreamType: domain.LeadStream, StreamID: id, ExpectedVersion: eventstore.NoStream,
		Events: events, Reserve: reservations(p),
	})
	if err != nil {
		return LeadResult{}, err
	}
	if replayed {
		return h.replayLead(ctx, c, res)
	}
	if status == "" {
		status = domain.DefaultStatus
	}
	return LeadResult{Result: Result{Position: res.Position}, LeadID: id, Number: number, Profile: p, Status: status}, nil
}

// mergeInto merges p into lead id. Emails and phones that belong to yet
// another lead stay with that lead.
// A status given with the create moves the lead to it in the same commit.
func (h *Handler) mergeInto(ctx context.Context, c Context, id uuid.UUID, p domain.LeadProfile, status domain.Status) (LeadResult, error) {
	lead, last, err := h.loadLead(ctx, c, id)
	if err != nil {
		return LeadResult{}, err
	}
	if p.Emails, err = h.ownedBy(ctx, c.TenantID, id, domain.ReserveEmail, p.Emails); err != nil {
		return LeadResult{}, err
	}
	if p.Phones, err = h.ownedBy(ctx, c.TenantID, id, domain.ReservePhone, p.Phones); err != nil {
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
	version := lead.Version() // the loaded version: the commit expects it
	for _, e := range decided {
		lead.Apply(e)
	}
	res := LeadResult{Result: Result{Position: last}, LeadID: id, Number: lead.Number(), Merged: true,
		Profile: lead.Profile(), Status: lead.Status()}
	if len(decided) == 0 {
		return res, nil
	}
	events, err := toNew(decided)
	if err != nil {
		return LeadResult{}, err
	}
	commit, replayed, err := h.commit(ctx, c, leadNote{LeadID: id, Number: lead.Number(), Merged: true}, eventstore.StreamAppend{
		StreamType: domain.LeadStream, StreamID: id, ExpectedVersion: version,
		Events: events, Reserve: reservations(p),
	})
	if err != nil {
		return LeadResult{}, err
	}
	if replayed {
		return h.replayLead(ctx, c, commit)
	}
	res.Position = commit.Position
	return res, nil
}

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
	return h.onLeadStreams(ctx, c, ids, (*domain.Lead).Delete, func(sa *eventstore.StreamAppend) {
		sa.Redact, sa.ReleaseAll = true, true
	})
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
	if prior, ok, err := h.replayedOn(ctx, c, []uuid.UUID{id}); err != nil || ok {
		return Result{Position: prior.Position}, err
	}
	return retry(ctx, h, streamKeys(c.TenantID, id), func() (Result, error) {
		lead, _, err := h.loadLead(ctx, c, id)
		if err != nil {
			return Result{}, err
		}
		decided, err := lead.Delete()
		if err != nil {
			return Result{}, err
		}
		events, err := toNew(decided)
		if err != nil {
			return Result{}, err
		}
		res, _, err := h.commit(ctx, c, nil, eventstore.StreamAppend{
			StreamType: domain.LeadStream, StreamID: id, ExpectedVersion: lead.Version(),
			Events: events, ReleaseAll: true, Redact: true,
		})
		return Result{Position: res.Position}, err
	})
}

// onLeads applies one decision to several leads in one all-or-nothing commit.
func (h *Handler) onLeads(ctx context.Context, c Context, ids []uuid.UUID, decide func(*domain.Lead) ([]domain.Event, error)) (Result, error) {
	return h.onLeadStreams(ctx, c, ids, decide, nil)
}

// onLeadStreams is onLeads with a hook that adjusts each stream's append.
func (h *Handler) onLeadStreams(ctx context.Context, c Context, ids []uuid.UUID, decide func(*domain.Lead) ([]domain.Event, error), adjust func(*eventstore.StreamAppend)) (Result, error) {
	if prior, ok, err := h.replayedOn(ctx, c, ids); err != nil || ok {
		return Result{Position: prior.Position}, err
	}
	return retry(ctx, h, streamKeys(c.TenantID, ids...), func() (Result, error) {
		var streams []eventstore.StreamAppend
		var missing []uuid.UUID
		var last eventstore.Position
		seen := map[uuid.UUID]bool{}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			lead, pos, err := h.loadLead(ctx, c, id)
			if errors.Is(err, domain.ErrLeadNotFound) {
				missing = append(missing, id)
				continue
			}
			if err != nil {
				return Result{}, err
			}
			if last.Less(pos) {
				last = pos
			}
			decided, err := decide(lead)
			if err != nil {
				return Result{}, err
			}
			if len(decided) == 0 {
				continue
			}
			events, err := toNew(decided)
			if err != nil {
				return Result{}, err
			}
			sa := eventstore.StreamAppend{
				StreamType: domain.LeadStream, StreamID: id, ExpectedVersion: lead.Version(), Events: events,
			}
			if adjust != nil {
				adjust(&sa)
			}
			streams = append(streams, sa)
		}
		if len(missing) > 0 {
			return Result{}, &LeadsNotFoundError{IDs: missing}
		}
		if len(streams) == 0 {
			return Result{Position: last}, nil
		}
		res, _, err := h.commit(ctx, c, nil, streams...)
		return Result{Position: res.Position}, err
	})
}
