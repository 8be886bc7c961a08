package projections

import (
	"errors"
	"strconv"
	"strings"
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
