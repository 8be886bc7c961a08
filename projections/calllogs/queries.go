package calllogs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/projections"
)

// Reader answers queries on the call logs.
type Reader struct {
	pool *pgxpool.Pool
}

// NewReader returns a Reader over rm_call_logs.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

// CallLog is a row of the call log list.
type CallLog struct {
	ID              uuid.UUID
	LeadID          uuid.UUID
	CallType        string
	DurationSeconds int
	Outcome         string
	Notes           string
	CalledAt        time.Time
	CreatedAt       time.Time
}

// Filter selects call logs of one tenant; zero fields do not filter.
type Filter struct {
	TenantID      uuid.UUID
	CalledFrom    time.Time // inclusive
	CalledTo      time.Time // exclusive
	LeadID        uuid.UUID
	CallType      string
	Limit, Offset int
}

const callLogColumns = `id, lead_id, call_type, duration_seconds, outcome, notes, called_at, created_at`

func scanCallLog(row pgx.Row) (CallLog, error) {
	var c CallLog
	err := row.Scan(&c.ID, &c.LeadID, &c.CallType, &c.DurationSeconds, &c.Outcome, &c.Notes, &c.CalledAt, &c.CreatedAt)
	return c, err
}

// ListCallLogs returns a page of call logs, latest call first, and the total.
func (r *Reader) ListCallLogs(ctx context.Context, f Filter) ([]CallLog, int64, error) {
	var w projections.Where
	w.Add("tenant_id = ?", f.TenantID)
	if !f.CalledFrom.IsZero() {
		w.Add("called_at >= ?", f.CalledFrom)
	}
	if !f.CalledTo.IsZero() {
		w.Add("called_at < ?", f.CalledTo)
	}
	if f.LeadID != uuid.Nil {
		w.Add("lead_id = ?", f.LeadID)
	}
	if f.CallType != "" {
		w.Add("call_type = ?", f.CallType)
	}
	var total int64
	if err := r.pool.QueryRow(ctx, `select count(*) from rm_call_logs where `+w.String(), w.Args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count call logs: %w", err)
	}
	args := append(w.Args, f.Limit, f.Offset)
	rows, err := r.pool.Query(ctx, `select `+callLogColumns+` from rm_call_logs where `+w.String()+
		fmt.Sprintf(` order by called_at desc, id desc limit $%d offset $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list call logs: %w", err)
	}
	logs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (CallLog, error) { return scanCallLog(row) })
	if err != nil {
		return nil, 0, fmt.Errorf("list call logs: %w", err)
	}
	return logs, total, nil
}

// GetCallLog returns one call log of the tenant, or projections.ErrNotFound.
func (r *Reader) GetCallLog(ctx context.Context, tenantID, id uuid.UUID) (CallLog, error) {
	c, err := scanCallLog(r.pool.QueryRow(ctx, `select `+callLogColumns+` from rm_call_logs where tenant_id=$1 and id=$2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return CallLog{}, projections.ErrNotFound
	}
	return c, err
}
