package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// loadPipeline rebuilds the tenant's pipeline; a tenant that never changed
// it has the default one.
func (h *Handler) loadPipeline(ctx context.Context, tenantID uuid.UUID) (*domain.Pipeline, error) {
	stored, err := h.store.ReadStream(ctx, tenantID, domain.PipelineID(tenantID))
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return domain.NewPipelineFromHistory(nil), nil
	}
	if err != nil {
		return nil, fmt.Errorf("load pipeline: %w", err)
	}
	events := make([]domain.Event, len(stored))
	for i, e := range stored {
		if events[i], err = domain.DecodeEvent(e.Type, e.SchemaVersion, e.Data); err != nil {
			return nil, fmt.Errorf("load pipeline: %w", err)
		}
	}
	return domain.NewPipelineFromHistory(events), nil
}

// PipelineResult is a pipeline command's outcome.
type PipelineResult struct {
	Result
	Status   domain.PipelineStatus   // the status created or changed
	Statuses []domain.PipelineStatus // the whole pipeline after the command
}

// onPipeline runs one pipeline decision and commits it.
func (h *Handler) onPipeline(ctx context.Context, c Context, decide func(*domain.Pipeline) ([]domain.Event, domain.PipelineStatus, error)) (PipelineResult, error) {
	prior, ok, err := h.replayedOn(ctx, c, []uuid.UUID{domain.PipelineID(c.TenantID)})
	if err != nil {
		return PipelineResult{}, err
	}
	if ok {
		return h.replayPipeline(ctx, c, prior)
	}
	return retry(ctx, h, streamKeys(c.TenantID, domain.PipelineID(c.TenantID)), func() (PipelineResult, error) {
		p, err := h.loadPipeline(ctx, c.TenantID)
		if err != nil {
			return PipelineResult{}, err
		}
		decided, s, err := decide(p)
		if err != nil {
			return PipelineResult{}, err
		}
		version := p.Version()
		for _, e := range decided {
			p.Apply(e)
		}
		res := PipelineResult{Status: s, Statuses: p.Statuses()}
		if len(decided) == 0 {
			return res, nil
		}
		events, err := toNew(decided)
		if err != nil {
			return PipelineResult{}, err
		}
		commit, replayed, err := h.commit(ctx, c, pipelineNote{Status: s}, eventstore.StreamAppend{
			StreamType: domain.PipelineStream, StreamID: domain.PipelineID(c.TenantID), ExpectedVersion: version, Events: events,
		})
		if err != nil {
			return PipelineResult{}, err
		}
		if replayed {
			return h.replayPipeline(ctx, c, commit)
		}
		res.Position = commit.Position
		return res, nil
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
