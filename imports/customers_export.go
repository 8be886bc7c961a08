package imports

import (
	"context"
	"io"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CustomerFilter narrows a customer export as the customer list narrows
// (empty: no filter).
type CustomerFilter struct {
	Status string
	Type   string
	Search string // in the name, email, phone or company
}

// customerExportColumns are the customer export's columns from
// rm_customers, named as the import reads them.
const customerExportColumns = `id, lead_id, nullif(name, '') as name, nullif(email, '') as email,
	nullif(phone, '') as phone, nullif(company, '') as company, nullif(type, '') as type, nullif(status, '') as status,
	nullif(profile->>'billing_address', '') as billing_address, nullif(profile->>'shipping_address', '') as shipping_address,
	nullif(profile->>'payment_terms', '') as payment_terms, profile->>'credit_limit' as credit_limit,
	nullif(profile->>'tax_id', '') as tax_id, nullif(profile->>'notes', '') as notes,
	profile->>'custom_fields' as custom_fields, nullif(assigned_to, '') as assigned_to`

// customerExportWhere selects the customers of an export (see exportWhere).
const customerExportWhere = `tenant_id = current_setting('crm.export_tenant')::uuid
	and (current_setting('crm.export_status') = '' or status = current_setting('crm.export_status'))
	and (current_setting('crm.export_type') = '' or type = current_setting('crm.export_type'))
	and (current_setting('crm.export_search') = '' or
		lower(name || ' ' || email || ' ' || phone || ' ' || company) like current_setting('crm.export_search'))`

// ExportCustomers writes the tenant's customers to w as CSV, as Export
// writes leads: a header row, then one row per customer in number order,
// id and lead_id first (an import skips both), streamed by Postgres a page
// at a time. The file imports back unchanged.
func ExportCustomers(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, f CustomerFilter, w io.Writer) (int64, error) {
	return exportPages(ctx, pool, "rm_customers", customerExportColumns, customerExportWhere, w, map[string]string{
		"crm.export_tenant": tenant.String(), "crm.export_status": f.Status, "crm.export_type": f.Type,
		"crm.export_search": likePattern(f.Search),
	})
}

// ExportCustomers is the package's ExportCustomers on im's store.
func (im *Importer) ExportCustomers(ctx context.Context, tenant uuid.UUID, f CustomerFilter, w io.Writer) (int64, error) {
	return ExportCustomers(ctx, im.store.Pool(), tenant, f, w)
}
