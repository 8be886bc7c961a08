// Package photos is the lead_photos projection: the photo files each lead
// has named, removed when the lead is permanently deleted.
package photos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// Files removes stored photo files.
type Files interface {
	// Remove removes the tenant's photo file called name; a file already
	// gone is no error, so an event applied again removes nothing more.
	Remove(ctx context.Context, tenantID uuid.UUID, name string) error
}

// Projection remembers every photo file a lead has named, and removes
// those files when the lead is permanently deleted. It is a projection so
// that the removal has a checkpoint of its own: a crash between the
// deletion's commit and the removal is caught up like any projector's
// batch, whichever API deleted the lead. The deletion redacts the lead's
// events in the same transaction, so the names cannot be read from the
// store then: they are kept here, in rm_lead_photos, as they are named.
type Projection struct {
	// Files removes the files; nil (replay, verify) touches no file.
	Files Files
}

// Name implements projections.Projection.
func (Projection) Name() string { return "lead_photos" }

// Tables implements projections.Projection.
func (Projection) Tables() []string { return []string{"rm_lead_photos"} }

// Setup implements projections.Projection.
func (Projection) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
create table if not exists rm_lead_photos (
	tenant_id uuid not null,
	lead_id   uuid not null,
	name      text not null,
	primary key (tenant_id, lead_id, name)
);
create index if not exists rm_lead_photos_name on rm_lead_photos (tenant_id, name);`)
	return err
}

// photoField is the profile field that names a lead's photo file, as
// lead.updated names it.
const photoField = "photo"

// Apply implements projections.Projection.
func (p Projection) Apply(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	if e.StreamType != domain.LeadStream {
		return nil
	}
	switch e.Type {
	case domain.LeadCreated, domain.LeadUpdated, domain.LeadMerged:
		names, err := photosNamed(e)
		if err != nil {
			return err
		}
		for _, name := range names {
			if _, err := tx.Exec(ctx, `insert into rm_lead_photos (tenant_id, lead_id, name) values ($1, $2, $3)
				on conflict do nothing`, e.TenantID, e.StreamID, name); err != nil {
				return err
			}
		}
	case domain.LeadDeleted:
		return p.removeLeadPhotos(ctx, tx, e)
	}
	return nil
}

// photosNamed returns the photo file a lead.created or lead.updated names
// (none once redacted).
func photosNamed(e eventstore.Event) ([]string, error) {
	if e.SchemaVersion == domain.SchemaVersion && !bytes.Contains(e.Data, []byte(`"photo"`)) {
		// Names no photo (today's data names one as "photo", a profile
		// field or a change's field): most leads, not worth decoding.
		return nil, nil
	}
	ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return nil, err
	}
	var names []string
	switch d := ev.Data.(type) {
	case domain.LeadCreatedData:
		if d.Profile.Photo != "" {
			names = append(names, d.Profile.Photo)
		}
	case domain.LeadUpdatedData:
		for _, c := range d.Changes {
			var name *string
			if c.Field != photoField || json.Unmarshal(c.New, &name) != nil || name == nil || *name == "" {
				continue
			}
			names = append(names, *name)
		}
	}
	return names, nil
}

// removeLeadPhotos forgets the deleted lead's photos and removes their
// files, but for a file another lead of the tenant has named too.
func (p Projection) removeLeadPhotos(ctx context.Context, tx pgx.Tx, e eventstore.Event) error {
	rows, err := tx.Query(ctx, `with gone as (
			delete from rm_lead_photos where tenant_id = $1 and lead_id = $2 returning name)
		select distinct g.name from gone g where not exists (select 1 from rm_lead_photos o
			where o.tenant_id = $1 and o.name = g.name and o.lead_id <> $2)`, e.TenantID, e.StreamID)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if p.Files == nil {
		return nil
	}
	for _, name := range names {
		if err := p.Files.Remove(ctx, e.TenantID, name); err != nil {
			return fmt.Errorf("remove photo %s of lead %s: %w", name, e.StreamID, err)
		}
	}
	return nil
}
