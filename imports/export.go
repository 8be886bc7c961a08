package imports

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/projections"
)

// Filter narrows an export as the lead list narrows (empty: no filter).
type Filter struct {
	Status     string // a pipeline status key
	Source     string
	AssignedTo string
	// Search is free text found in the name, email, phone or company, as
	// the list's search finds it.
	Search string
	// Archived includes archived leads.
	Archived bool
	// Statuses, when set, is how the status column shows each status key
	// (the /dev/crm vocabulary); a key it lacks is written as it is.
	Statuses map[string]string
}

// exportPage is the rows one COPY of an export reads.
const exportPage = 10000

// exportColumns are the export's columns from rm_leads, named as the
// import reads them; an empty value is NULL, which CSV writes bare. The
// status map is parsed once per page (an uncorrelated subquery), not per row.
const exportColumns = `id, nullif(name, '') as name, nullif(email, '') as email, nullif(phone, '') as phone,
	nullif(company, '') as company, nullif(source, '') as source,
	nullif(coalesce((select current_setting('crm.export_statuses')::jsonb)->>status, status), '') as status,
	profile->>'score' as score, nullif(profile->>'notes', '') as notes, nullif(campaign_id, '') as campaign_id,
	nullif(assigned_to, '') as assigned_to, profile->>'last_contact' as last_contact,
	profile->>'custom_fields' as custom_fields`

// exportWhere selects the leads of an export: COPY takes no parameters, so
// the tenant and the filters come from settings of the page's transaction
// (set_config), never from text spliced into the statement.
const exportWhere = `tenant_id = current_setting('crm.export_tenant')::uuid
	and (current_setting('crm.export_archived')::boolean or not archived)
	and (current_setting('crm.export_status') = '' or status = current_setting('crm.export_status'))
	and (current_setting('crm.export_source') = '' or source = current_setting('crm.export_source'))
	and (current_setting('crm.export_assigned') = '' or assigned_to = current_setting('crm.export_assigned'))
	and (current_setting('crm.export_search') = '' or
		lower(name || ' ' || email || ' ' || phone || ' ' || company) like current_setting('crm.export_search'))`

// Export writes the tenant's leads to w as CSV — a header row, then one row
// per lead in number order with the import's columns and the id first — and
// returns how many it wrote. Postgres writes the CSV itself (COPY), a page
// of lead numbers at a time (a keyset on the lead number), so memory stays
// flat and no statement runs long, whatever the tenant's size. The file
// imports back unchanged.
func Export(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, f Filter, w io.Writer) (int64, error) {
	statuses := "{}"
	if len(f.Statuses) > 0 {
		b, err := json.Marshal(f.Statuses)
		if err != nil {
			return 0, fmt.Errorf("export: %w", err)
		}
		statuses = string(b)
	}
	return exportPages(ctx, pool, "rm_leads", exportColumns, exportWhere, w, map[string]string{
		"crm.export_tenant": tenant.String(), "crm.export_archived": strconv.FormatBool(f.Archived),
		"crm.export_status": f.Status, "crm.export_source": f.Source, "crm.export_assigned": f.AssignedTo,
		"crm.export_search": likePattern(f.Search), "crm.export_statuses": statuses,
	})
}

// Export is the package's Export on im's store.
func (im *Importer) Export(ctx context.Context, tenant uuid.UUID, f Filter, w io.Writer) (int64, error) {
	return Export(ctx, im.store.Pool(), tenant, f, w)
}

// likePattern is the LIKE pattern of a search ("" for none), as the read
// models' lists build it.
func likePattern(q string) string {
	if q == "" {
		return ""
	}
	return projections.LikePattern(q)
}

// exportPages writes table's rows matching where to w as CSV with columns,
// a page of numbers at a time, each page in a read-only transaction whose
// settings are those given (where reads them) — see Export. A page is the
// next exportPage numbers of the tenant's rows, whatever the filters (an
// index-only probe finds its end; where filters within it), so no page
// scans more than its own rows.
func exportPages(ctx context.Context, pool *pgxpool.Pool, table, columns, where string, w io.Writer, settings map[string]string) (int64, error) {
	tenant := settings["crm.export_tenant"]
	var total, after int64
	for page := 0; ; page++ {
		var last int64 // the page's last number; 0: the last page
		err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			names, values := make([]string, 0, len(settings)), make([]string, 0, len(settings))
			for k, v := range settings {
				names, values = append(names, k), append(values, v)
			}
			if _, err := tx.Exec(ctx, `select set_config(n, v, true) from unnest($1::text[], $2::text[]) as s(n, v)`,
				names, values); err != nil {
				return err
			}
			err := tx.QueryRow(ctx, `select coalesce((select number from `+table+` where tenant_id = $1 and number > $2
				order by number offset $3 limit 1), 0)`, tenant, after, exportPage-1).Scan(&last)
			if err != nil {
				return err
			}
			header, upTo := "", ""
			if page == 0 {
				header = ", header true"
			}
			if last != 0 {
				upTo = " and number <= " + strconv.FormatInt(last, 10)
			}
			tag, err := tx.Conn().PgConn().CopyTo(ctx, w, `copy (select `+columns+` from `+table+` where `+where+`
				and number > `+strconv.FormatInt(after, 10)+upTo+` order by number) to stdout with (format csv`+header+`)`)
			total += tag.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("export: %w", err)
		}
		if last == 0 {
			return total, nil
		}
		after = last
	}
}

// ErrorCSV writes the rows job did not import as CSV: row, line, field and
// message, then the row's own columns under the file's header, one line per
// error, so the file can be fixed and imported again (its good rows are
// duplicates by then, and reported as such).
func (im *Importer) ErrorCSV(ctx context.Context, tenant, id uuid.UUID, w io.Writer) error {
	job, err := im.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"row", "line", "field", "message"}, job.header...)); err != nil {
		return fmt.Errorf("error csv: %w", err)
	}
	rows, err := im.store.Pool().Query(ctx, `select e.row::text, e.line::text, e.field, e.message, e.record
		from import_errors e where e.job_id = $1 order by e.row, e.seq`, id)
	if err != nil {
		return fmt.Errorf("error csv: %w", err)
	}
	var row, line, field, msg string
	var record []string
	if _, err := pgx.ForEachRow(rows, []any{&row, &line, &field, &msg, &record}, func() error {
		return cw.Write(append([]string{row, line, field, msg}, record...))
	}); err != nil {
		return fmt.Errorf("error csv: %w", err)
	}
	cw.Flush()
	return cw.Error()
}

// RowErrors returns up to limit of job's row errors after row after, in
// row order: the JSON answer's errors list, paged.
func (im *Importer) RowErrors(ctx context.Context, tenant, id uuid.UUID, after int64, limit int) ([]RowError, error) {
	if _, err := im.Get(ctx, tenant, id); err != nil {
		return nil, err
	}
	rows, err := im.store.Pool().Query(ctx, `select row, line, field, message from import_errors
		where job_id = $1 and row > $2 order by row, seq limit $3`, id, after, limit)
	if err != nil {
		return nil, fmt.Errorf("import errors: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[RowError])
}
