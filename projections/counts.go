package projections

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Counts is a counts table of a read model: its rows counted per tenant by
// a few group columns,
//
//	table (tenant_id, columns...) -> n   primary key (tenant_id, columns...)
//
// holding exactly the non-empty groups, so that a report is a sum over a
// tenant's few groups instead of a count over its rows. Apply moves a row
// between groups (Move); a rebuild counts the rows it copied (Rebuild).
// The projection that owns the table creates it.
type Counts struct {
	table   string
	columns []string
	add     string // adds $n+2 to the group, returning its n
	drop    string // deletes the group
}

// NewCounts is the counts table table grouped by columns (after tenant_id).
func NewCounts(table string, columns ...string) Counts {
	keys := append([]string{"tenant_id"}, columns...)
	params := make([]string, len(keys))
	where := make([]string, len(keys))
	for i, k := range keys {
		params[i] = fmt.Sprintf("$%d", i+1)
		where[i] = fmt.Sprintf("%s = $%d", k, i+1)
	}
	key := strings.Join(keys, ", ")
	return Counts{table: table, columns: columns,
		add: fmt.Sprintf(`insert into %s as c (%s, n) values (%s, $%d)
			on conflict (%s) do update set n = c.n + excluded.n returning n`,
			table, key, strings.Join(params, ", "), len(keys)+1, key),
		drop: fmt.Sprintf("delete from %s where %s", table, strings.Join(where, " and ")),
	}
}

// Move moves one of the tenant's rows from group from to group to (the
// values of the group columns, in their order): nil from is a new row, nil
// to a row gone. The same group both ways changes nothing.
func (c Counts) Move(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, from, to []any) error {
	if from != nil && to != nil && slices.Equal(from, to) {
		return nil
	}
	if from != nil {
		if err := c.add1(ctx, tx, tenant, from, -1); err != nil {
			return err
		}
	}
	if to != nil {
		return c.add1(ctx, tx, tenant, to, 1)
	}
	return nil
}

// add1 adds by to the group, and deletes a group left empty.
func (c Counts) add1(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, group []any, by int64) error {
	if len(group) != len(c.columns) {
		return fmt.Errorf("count %s: %d group values for %d columns", c.table, len(group), len(c.columns))
	}
	args := append(append([]any{CopyUUID(tenant)}, group...), by)
	var n int64
	err := tx.QueryRow(ctx, c.add, args...).Scan(&n)
	if err == nil && n == 0 {
		_, err = tx.Exec(ctx, c.drop, args[:len(args)-1]...)
	}
	if err != nil {
		return fmt.Errorf("count %s %v: %w", c.table, group, err)
	}
	return nil
}

// Rebuild counts the rows of from, the read model's table just copied, into
// the (empty) counts table: exprs are the SQL of the group columns over
// from's columns, in their order (none: the columns of the same names).
func (c Counts) Rebuild(ctx context.Context, b *BulkBuild, from string, exprs ...string) error {
	if err := b.Exec(ctx, c.rebuildSQL(from, exprs...)); err != nil {
		return fmt.Errorf("count %s: %w", c.table, err)
	}
	return nil
}

// rebuildSQL is the statement of Rebuild.
func (c Counts) rebuildSQL(from string, exprs ...string) string {
	if len(exprs) == 0 {
		exprs = c.columns
	}
	groups := make([]string, len(c.columns)+1)
	for i := range groups {
		groups[i] = fmt.Sprint(i + 1)
	}
	return fmt.Sprintf("insert into %s (tenant_id, %s, n) select tenant_id, %s, count(*) from %s group by %s",
		c.table, strings.Join(c.columns, ", "), strings.Join(exprs, ", "), from, strings.Join(groups, ", "))
}
