package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/domain"
)

// ErrNotFound is returned when a read model has no row for the tenant and id.
var ErrNotFound = errors.New("not found")

// Reader answers queries on the read models.
type Reader struct {
	pool *pgxpool.Pool
}

// NewReader returns a Reader over the read-model tables.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

// Lead is a row of the lead list.
type Lead struct {
	ID        uuid.UUID
	Number    int64
	Status    string
	Archived  bool
	Profile   domain.LeadProfile
	CreatedAt time.Time
	UpdatedAt time.Time
}

// LeadFilter selects leads of one tenant; zero fields do not filter.
type LeadFilter struct {
	TenantID        uuid.UUID
	CreatedFrom     time.Time // inclusive
	CreatedTo       time.Time // exclusive
	Status          string
	Source          string
	Priority        string
	AssignedTo      string
	IncludeArchived bool
	OnlyArchived    bool
	Limit, Offset   int
}

// where builds a SQL condition and its arguments; every clause is a bound
// parameter, never spliced input.
type where struct {
	clauses []string
	args    []any
}

func (w *where) add(clause string, arg any) {
	w.args = append(w.args, arg)
	w.clauses = append(w.clauses, strings.ReplaceAll(clause, "?", "$"+strconv.Itoa(len(w.args))))
}

func (w *where) String() string { return strings.Join(w.clauses, " and ") }

const leadColumns = `id, number, status, archived, profile, created_at, updated_at`

func scanLead(row pgx.Row) (Lead, error) {
	var l Lead
	var profile []byte
	if err := row.Scan(&l.ID, &l.Number, &l.Status, &l.Archived, &profile, &l.CreatedAt, &l.UpdatedAt); err != nil {
		return Lead{}, err
	}
	if err := json.Unmarshal(profile, &l.Profile); err != nil {
		return Lead{}, fmt.Errorf("profile of lead %s: %w", l.ID, err)
	}
	return l, nil
}

// ListLeads returns a page of leads, newest first, and the total that match.
// The total comes from the lead counts where the filter allows (see
// lead_counts.go); both statements go in one round trip.
func (r *Reader) ListLeads(ctx context.Context, f LeadFilter) ([]Lead, int64, error) {
	span, err := r.countsSpan(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	countSQL, countArgs := countLeadsSQL(f, span)
	_, _, pageSQL, pageArgs := LeadListSQL(f)
	var b pgx.Batch
	var total int64
	b.Queue(countSQL, countArgs...).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(&total); err != nil {
			return fmt.Errorf("count leads: %w", err)
		}
		return nil
	})
	var leads []Lead
	b.Queue(pageSQL, pageArgs...).Query(
		func(rows pgx.Rows) (err error) {
			leads, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Lead, error) { return scanLead(row) })
			if err != nil {
				return fmt.Errorf("list leads: %w", err)
			}
			return nil
		})
	if err := r.pool.SendBatch(ctx, &b).Close(); err != nil {
		return nil, 0, err
	}
	return leads, total, nil
}

// GetLead returns one lead of the tenant, or ErrNotFound.
func (r *Reader) GetLead(ctx context.Context, tenantID, id uuid.UUID) (Lead, error) {
	l, err := scanLead(r.pool.QueryRow(ctx, `select `+leadColumns+` from rm_leads where tenant_id=$1 and id=$2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Lead{}, ErrNotFound
	}
	return l, err
}

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

// CallLogFilter selects call logs of one tenant; zero fields do not filter.
type CallLogFilter struct {
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
func (r *Reader) ListCallLogs(ctx context.Context, f CallLogFilter) ([]CallLog, int64, error) {
	var w where
	w.add("tenant_id = ?", f.TenantID)
	if !f.CalledFrom.IsZero() {
		w.add("called_at >= ?", f.CalledFrom)
	}
	if !f.CalledTo.IsZero() {
		w.add("called_at < ?", f.CalledTo)
	}
	if f.LeadID != uuid.Nil {
		w.add("lead_id = ?", f.LeadID)
	}
	if f.CallType != "" {
		w.add("call_type = ?", f.CallType)
	}
	var total int64
	if err := r.pool.QueryRow(ctx, `select count(*) from rm_call_logs where `+w.String(), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count call logs: %w", err)
	}
	args := append(w.args, f.Limit, f.Offset)
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

// GetCallLog returns one call log of the tenant, or ErrNotFound.
func (r *Reader) GetCallLog(ctx context.Context, tenantID, id uuid.UUID) (CallLog, error) {
	c, err := scanCallLog(r.pool.QueryRow(ctx, `select `+callLogColumns+` from rm_call_logs where tenant_id=$1 and id=$2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return CallLog{}, ErrNotFound
	}
	return c, err
}
