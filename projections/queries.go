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
