package imports

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Filter narrows an export as the lead list narrows (empty: no filter).
type Filter struct {
	Status     string
	Source     string
	AssignedTo string
	// Archived includes archived leads.
	Archived bool
}

// exportPage is the rows one statement of an export reads.
const exportPage = 10000

// exportSQL reads one page of the lead list read model after number $2, in
// the columns fieldNames lists: the file an import reads back.
const exportSQL = `select id::text, number, name, email, phone, company, source, status,
		coalesce(profile->>'score', ''), coalesce(profile->>'notes', ''), campaign_id, assigned_to,
		coalesce(profile->>'last_contact', ''), coalesce(profile->>'custom_fields', '')
	from rm_leads
	where tenant_id = $1 and number > $2 and ($4 or not archived)
		and ($5 = '' or status = $5) and ($6 = '' or source = $6) and ($7 = '' or assigned_to = $7)
	order by number limit $3`

// Export writes the tenant's leads to w as CSV — a header row, then one row
// per lead in number order with the import's columns and the id first — and
// returns how many it wrote. It reads the lead list read model page by page
// (a keyset on the lead number), so memory stays flat and no statement runs
// long, whatever the tenant's size. The file imports back unchanged.
func Export(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, f Filter, w io.Writer) (int64, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(fieldNames[:]); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	var (
		total, after, number int64
		rec                  = make([]string, numFields)
	)
	dest := []any{&rec[FieldID], &number}
	for f := FieldName; f < numFields; f++ {
		dest = append(dest, &rec[f])
	}
	for {
		rows, err := pool.Query(ctx, exportSQL, tenant, after, exportPage, f.Archived, f.Status, f.Source, f.AssignedTo)
		if err != nil {
			return total, fmt.Errorf("export: %w", err)
		}
		n := 0
		if _, err := pgx.ForEachRow(rows, dest, func() error {
			n++
			after = number
			return cw.Write(rec)
		}); err != nil {
			return total, fmt.Errorf("export: %w", err)
		}
		total += int64(n)
		cw.Flush()
		if err := cw.Error(); err != nil {
			return total, fmt.Errorf("export: %w", err)
		}
		if n < exportPage {
			return total, nil
		}
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
	rows, err := im.store.Pool().Query(ctx, `select row::text, line::text, field, message, record from import_errors
		where job_id = $1 order by row, seq`, id)
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
