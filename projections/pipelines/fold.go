package pipelines

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// pipelineRow is a row of rm_pipeline_statuses.
type pipelineRow struct {
	status   domain.PipelineStatus
	position int
}

// tenantPipeline is a tenant's rows of rm_pipeline_statuses, folded from the
// tenant's one pipeline stream (its id is derived from the tenant:
// domain.PipelineID): the one statement of what a pipeline event means to
// the read model, used by the bulk rebuild and by Apply.
type tenantPipeline struct {
	tenantID uuid.UUID
	rows     []pipelineRow
}

func (t *tenantPipeline) find(id int64) int {
	for i, r := range t.rows {
		if r.status.ID == id {
			return i
		}
	}
	return -1
}

// Fold folds one event of the tenant's pipeline stream into its statuses.
func (t *tenantPipeline) Fold(e eventstore.Event) error {
	ev, err := domain.DecodeEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return err
	}
	t.tenantID = e.TenantID
	// The first change of a tenant's pipeline materializes the default one
	// (again, should every status have been deleted since).
	if len(t.rows) == 0 {
		for i, s := range domain.DefaultPipeline() {
			t.rows = append(t.rows, pipelineRow{status: s, position: i + 1})
		}
	}
	switch d := ev.Data.(type) {
	case domain.PipelineStatusData:
		i := t.find(d.Status.ID)
		if e.Type == domain.PipelineStatusDeleted {
			if i >= 0 {
				t.rows = append(t.rows[:i], t.rows[i+1:]...)
			}
			return nil
		}
		if i >= 0 {
			return fmt.Errorf("pipeline status %d created twice", d.Status.ID)
		}
		last := 0
		for _, r := range t.rows {
			last = max(last, r.position)
		}
		t.rows = append(t.rows, pipelineRow{status: d.Status, position: last + 1})
	case domain.PipelineStatusChangedData:
		if i := t.find(d.To.ID); i >= 0 {
			t.rows[i].status.Name, t.rows[i].status.Color = d.To.Name, d.To.Color
		}
	case domain.PipelineData:
		for p, s := range d.Statuses {
			if i := t.find(s.ID); i >= 0 {
				t.rows[i].position = p + 1
			}
		}
	}
	return nil
}

// End emits the tenant's statuses.
func (t *tenantPipeline) End(emit func([]any) error) error {
	done := *t
	*t = tenantPipeline{}
	for _, r := range done.rows {
		s := r.status
		if err := emit([]any{projections.CopyUUID(done.tenantID), s.ID, string(s.Key), s.Name, s.Color, r.position}); err != nil {
			return err
		}
	}
	return nil
}

// Rebuild implements projections.Rebuilder: it folds each tenant's pipeline stream into
// its statuses and copies them into rm_pipeline_statuses.
func (Projection) Rebuild(ctx context.Context, b *projections.BulkBuild) error {
	return b.CopyStreams(ctx, "rm_pipeline_statuses", []string{"tenant_id", "id", "key", "name", "color", "position"},
		eventstore.ScanFilter{StreamTypes: []string{domain.PipelineStream}, NoMetadata: true},
		func() projections.StreamFold { return &tenantPipeline{} })
}
