package projections

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrNotFound is returned when a read model has no row for the tenant and id.
var ErrNotFound = errors.New("not found")

// Where builds a SQL condition and its arguments for the read models'
// queries; every clause is a bound parameter, never spliced input.
type Where struct {
	Clauses []string
	Args    []any
}

// Add adds clause, whose ? stands for arg.
func (w *Where) Add(clause string, arg any) {
	w.Args = append(w.Args, arg)
	w.Clauses = append(w.Clauses, strings.ReplaceAll(clause, "?", "$"+strconv.Itoa(len(w.Args))))
}

// String is the condition: every clause, and-ed.
func (w *Where) String() string { return strings.Join(w.Clauses, " and ") }

// LikePattern escapes q for a case-insensitive LIKE match anywhere in a
// lower-cased text (the trigram-indexed search expressions).
func LikePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(q)) + "%"
}

// Page is the limit and offset clause of a query whose conditions took n
// arguments, with the two arguments it adds.
func Page(n, limit, offset int) (string, []any) {
	return " limit $" + strconv.Itoa(n+1) + " offset $" + strconv.Itoa(n+2), []any{limit, offset}
}

// PageWithTotal returns the page [offset, offset+limit) of table's rows
// matching w in order, scanned by scan from columns, with the total of
// rows that match; both statements go in one round trip.
func PageWithTotal[T any](ctx context.Context, db interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, table, columns string, w *Where, order string, limit, offset int,
	scan func(pgx.CollectableRow) (T, error)) ([]T, int64, error) {
	page, pageArgs := Page(len(w.Args), limit, offset)
	var b pgx.Batch
	var total int64
	b.Queue(`select count(*) from `+table+` where `+w.String(), w.Args...).QueryRow(func(row pgx.Row) error {
		return row.Scan(&total)
	})
	var out []T
	b.Queue(`select `+columns+` from `+table+` where `+w.String()+` order by `+order+page,
		append(slices.Clip(w.Args), pageArgs...)...).Query(func(rows pgx.Rows) (err error) {
		out, err = pgx.CollectRows(rows, scan)
		return err
	})
	if err := db.SendBatch(ctx, &b).Close(); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}
