package commands

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// loadPipeline rebuilds the tenant's pipeline; a tenant that never changed
// it has the default one.
func (h *Handler) loadPipeline(ctx context.Context, tenantID uuid.UUID) (*domain.Pipeline, error) {
	p, _, err := load(ctx, h.store, pipelines, tenantID, domain.PipelineID(tenantID))
	return p, err
}

// PipelineResult is a pipeline command's outcome.
type PipelineResult struct {
	Result
	Status   domain.PipelineStatus   // the status created or changed
	Statuses []domain.PipelineStatus // the whole pipeline after the command
}

func (r PipelineResult) at(p eventstore.Position) PipelineResult { r.Position = p; return r }

// onPipeline runs one pipeline decision and commits it.
func (h *Handler) onPipeline(ctx context.Context, c Context, decide func(*domain.Pipeline) ([]domain.Event, domain.PipelineStatus, error)) (PipelineResult, error) {
	return run(ctx, h, c, write[PipelineResult]{
		streams: []uuid.UUID{domain.PipelineID(c.TenantID)},
		decide: func(u *unit) (PipelineResult, error) {
			p, err := u.pipeline()
			if err != nil {
				return PipelineResult{}, err
			}
			decided, s, err := decide(p)
			if err != nil {
				return PipelineResult{}, err
			}
			u.append(p, decided)
			u.keep(pipelineNote{Status: s})
			return PipelineResult{Status: s, Statuses: p.Statuses()}, nil
		},
		replay: func(prior eventstore.CommitResult) (PipelineResult, error) { return h.replayPipeline(ctx, c, prior) },
	})
}

// pipelineNote is what a pipeline command keeps with its idempotency key:
// the status it created or changed.
type pipelineNote struct {
	Status domain.PipelineStatus `json:"status"`
}

// replayPipeline answers a retried pipeline command with the status the
// first one created or changed and the pipeline as it is now.
func (h *Handler) replayPipeline(ctx context.Context, c Context, prior eventstore.CommitResult) (PipelineResult, error) {
	var n pipelineNote
	if err := json.Unmarshal(prior.Note, &n); err != nil {
		return PipelineResult{}, keyReused(c)
	}
	p, err := h.loadPipeline(ctx, c.TenantID)
	if err != nil {
		return PipelineResult{}, err
	}
	return PipelineResult{Result: Result{Position: prior.Position}, Status: n.Status, Statuses: p.Statuses()}, nil
}

// PipelineStatuses returns the tenant's statuses in order, from the write side.
func (h *Handler) PipelineStatuses(ctx context.Context, tenantID uuid.UUID) ([]domain.PipelineStatus, error) {
	p, err := h.loadPipeline(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return p.Statuses(), nil
}

// CreateStatus adds a status at the end of the pipeline. Errors:
// domain.ErrStatusExists, domain.ValidationError.
func (h *Handler) CreateStatus(ctx context.Context, c Context, name, color string) (PipelineResult, error) {
	return h.onPipeline(ctx, c, func(p *domain.Pipeline) ([]domain.Event, domain.PipelineStatus, error) {
		return p.CreateStatus(name, color)
	})
}

// ChangeStatusDefinition renames and/or recolours status id (empty keeps).
// Errors: domain.ErrStatusNotFound, domain.ErrStatusExists, domain.ValidationError.
func (h *Handler) ChangeStatusDefinition(ctx context.Context, c Context, id int64, name, color string) (PipelineResult, error) {
	return h.onPipeline(ctx, c, func(p *domain.Pipeline) ([]domain.Event, domain.PipelineStatus, error) {
		return p.ChangeStatus(id, name, color)
	})
}

// DeleteStatus removes status id; inUse tells whether leads hold its key.
// Errors: domain.ErrStatusNotFound, domain.ErrStatusInUse.
func (h *Handler) DeleteStatus(ctx context.Context, c Context, id int64, inUse func(domain.Status) (bool, error)) (PipelineResult, error) {
	return h.onPipeline(ctx, c, func(p *domain.Pipeline) ([]domain.Event, domain.PipelineStatus, error) {
		s, ok := p.Status(id)
		if !ok {
			return nil, s, domain.ErrStatusNotFound
		}
		used, err := inUse(s.Key)
		if err != nil {
			return nil, s, err
		}
		events, err := p.DeleteStatus(id, used)
		return events, s, err
	})
}

// ReorderStatuses moves statuses to the given 1-based places.
func (h *Handler) ReorderStatuses(ctx context.Context, c Context, places map[int64]int) (PipelineResult, error) {
	return h.onPipeline(ctx, c, func(p *domain.Pipeline) ([]domain.Event, domain.PipelineStatus, error) {
		events, err := p.Reorder(places)
		return events, domain.PipelineStatus{}, err
	})
}

// StatusByID returns the tenant's status id; domain.ErrStatusNotFound if none.
func (h *Handler) StatusByID(ctx context.Context, tenantID uuid.UUID, id int64) (domain.PipelineStatus, error) {
	p, err := h.loadPipeline(ctx, tenantID)
	if err != nil {
		return domain.PipelineStatus{}, err
	}
	s, ok := p.Status(id)
	if !ok {
		return s, domain.ErrStatusNotFound
	}
	return s, nil
}
