package leads

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/projections"
)

// The prospects API shows every lead as a prospect: its Kanban (a page of
// prospects per status, with the status's total), its list (a data table)
// and its KPIs (count and deal value per status) read rm_leads' prospect
// columns and rm_prospect_counts (counts.go). A total or a KPI whose filter
// is only on what the counts hold (status, prospect type, source) is a read
// of a few count rows; any other filter counts the matching rows of
// rm_leads. Archived leads are never prospects.

// ProspectSource is the prospects API's source filter: which prospect
// types a list shows.
type ProspectSource string

// The sources: company (types 1 prospect and 2 client, any but partner;
// the default) and partner (type 3).
const (
	SourceCompany ProspectSource = "company"
	SourcePartner ProspectSource = "partner"
)

// ProspectFilter selects prospects of one tenant: every filter of the
// prospects API's lists that rm_leads can answer. Zero fields do not
// filter, and the conditions of set fields all hold. Filters it has no
// field for (onboarding, planTypeId, commercialOfferDate, hasRecharge)
// are of data no event writes yet: the caller decides what they mean.
type ProspectFilter struct {
	TenantID uuid.UUID
	// Category is the category filter: one status key.
	Category string
	// Follow are the follow filter's status keys: any of them.
	Follow []string
	// Types are prospect types (1 prospect, 2 client, 3 partner): any of them.
	Types []int
	// Source is company (also the zero value) or partner.
	Source ProspectSource
	// Search is free text found in the name, email, phone or company.
	Search string
	// Ecommerce, WeightIDs and ContentIDs are profile ids (ecommerce,
	// weightRange, contentId): any of them.
	Ecommerce  []int64
	WeightIDs  []int64
	ContentIDs []int64
	// Campaigns are campaign ids (campaing): any of them.
	Campaigns []string
	// Salesmen are assignees (salesman): any of them.
	Salesmen []string
	// LeadStatuses are qualification statuses (leadStatus): any of them.
	LeadStatuses []string
	// RoleFilter says a role filter (kae … parapaquetes) was given: no
	// event writes roles yet, so it matches nothing.
	RoleFilter bool
	// MinShipments is the least monthly shipments (the number the
	// profile's text starts with).
	MinShipments *int64
	// Ranges: From is inclusive, To exclusive (a caller with an inclusive
	// last day passes the day after). CreatedFrom/To are startDate and
	// endDate; EstimatedClose compares dates only.
	CreatedFrom, CreatedTo               time.Time
	NextContactFrom, NextContactTo       time.Time
	EstimatedCloseFrom, EstimatedCloseTo time.Time
	// EstimatedCloseMonth is "YYYY-MM".
	EstimatedCloseMonth string
}

// ProspectSort orders prospects by one of the shown columns (By, as the
// API names it; "" is newest first), ascending unless Desc. Ties go by
// number in the same direction.
type ProspectSort struct {
	By   string
	Desc bool
}

// sortKey is what a shown column sorts on: an expression of rm_leads, the
// other way round when inverted (days since a time sorts as the time).
type sortKey struct {
	expr     string
	inverted bool
}

// estimatedClose is the profile's estimated_close_date as a date text: the
// field is not in domain.LeadProfile yet, and comes in the profile once it is.
const estimatedClose = `left(profile->>'estimated_close_date', 10)`

// kanbanSorts are the Kanban records' columns. Those the same for every
// record of a category (follow_up_id, follow_name) or for every record
// (balance, verified, tier, services: no event writes them) sort by number.
var kanbanSorts = map[string]sortKey{
	"id": {expr: "number"}, "company_name": {expr: "company"}, "name": {expr: "name"}, "email": {expr: "email"},
	"account_value": {expr: "deal_value"}, "last_contact": {expr: "last_contact"},
	"monthly_shipments": {expr: "monthly_shipments"}, "salesman_name": {expr: "assigned_to"},
	"follow_up_id": {expr: "number"}, "follow_name": {expr: "number"}, "balance": {expr: "number"},
	"verified": {expr: "number"}, "tier": {expr: "number"}, "services": {expr: "number"},
}

// listSorts are the list's columns.
var listSorts = map[string]sortKey{
	"id": {expr: "number"}, "company_name": {expr: "company"}, "follow_name": {expr: "status"},
	"salesman_name": {expr: "assigned_to"}, "balance": {expr: "number"}, "account_value": {expr: "deal_value"},
	"first_contact": {expr: "first_contact"}, "last_contact": {expr: "last_contact"},
	"days_uc": {expr: "status_changed_at", inverted: true}, "days_without_contact": {expr: "last_contact", inverted: true},
	"next_contact": {expr: "next_contact"}, "monthly_shipments_desc": {expr: "monthly_shipments"},
	"campaign": {expr: "campaign_id"}, "lead_status": {expr: "qualification_status"},
	"estimated_close_date": {expr: estimatedClose},
}

// kanbanIndexes make a Kanban page an index scan: for each order a
// category's page may take, its status and source (partner, always
// filtered on: a category of many partners and few companies must not be
// read through to find the companies) then that order. Partial: archived
// leads are never prospects.
var kanbanIndexes = func() string {
	var sql string
	for _, c := range []string{"number", "company", "name", "email", "deal_value", "last_contact", "monthly_shipments", "assigned_to"} {
		cols := "tenant_id, status, partner, number"
		if c != "number" {
			cols = "tenant_id, status, partner, " + c + ", number"
		}
		sql += fmt.Sprintf("\ncreate index if not exists rm_leads_kanban_%s on rm_leads (%s) where not archived;", c, cols)
	}
	return sql
}()

// ValidKanbanSort reports whether by is a column the Kanban's records
// sort by ("" is). Queries given another fail: the caller answers 400
// first.
func ValidKanbanSort(by string) bool { _, ok := kanbanSorts[by]; return ok || by == "" }

// ValidListSort reports whether by is a column the list's rows sort by
// ("" is).
func ValidListSort(by string) bool { _, ok := listSorts[by]; return ok || by == "" }

// orderBy is the ORDER BY of s among the columns sorts.
func orderBy(sorts map[string]sortKey, s ProspectSort) (string, error) {
	if s.By == "" {
		return "number desc", nil
	}
	k, ok := sorts[s.By]
	if !ok {
		return "", fmt.Errorf("sort prospects: unknown column %q", s.By)
	}
	// The tie goes the same way, so that an index on (expr, number) serves
	// both directions.
	dir := "asc"
	if k.inverted != s.Desc {
		dir = "desc"
	}
	if k.expr == "number" {
		return "number " + dir, nil
	}
	return k.expr + " " + dir + ", number " + dir, nil
}

// prospectDims adds the filter's conditions on what rm_leads and
// rm_prospect_counts share (written for rm_prospect_counts if counts),
// and reports whether that is all of them.
func prospectDims(w *projections.Where, f ProspectFilter, counts bool) bool {
	w.Add("tenant_id = ?", f.TenantID)
	w.Add("archived = ?", false)
	if f.Category != "" {
		w.Add("status = ?", f.Category)
	}
	if len(f.Follow) > 0 {
		w.Add("status = any(?)", f.Follow)
	}
	if counts {
		// rm_prospect_counts has prospect_type, not partner.
		if f.Source == SourcePartner {
			w.Add("prospect_type = ?", 3)
		} else {
			w.Add("prospect_type <> ?", 3)
		}
	} else {
		w.Add("partner = ?", f.Source == SourcePartner)
	}
	if len(f.Types) > 0 {
		w.Add("prospect_type = any(?)", f.Types)
	}
	return f.Search == "" && len(f.Ecommerce)+len(f.WeightIDs)+len(f.ContentIDs)+len(f.Campaigns)+
		len(f.Salesmen)+len(f.LeadStatuses) == 0 && !f.RoleFilter && f.MinShipments == nil &&
		f.CreatedFrom.IsZero() && f.CreatedTo.IsZero() && f.NextContactFrom.IsZero() && f.NextContactTo.IsZero() &&
		f.EstimatedCloseFrom.IsZero() && f.EstimatedCloseTo.IsZero() && f.EstimatedCloseMonth == ""
}

// prospectWhere is the condition of f on rm_leads; counted says the
// counts hold all of it.
func prospectWhere(f ProspectFilter) (w *projections.Where, counted bool) {
	w = &projections.Where{}
	return w, addProspectWhere(w, f)
}

// addProspectWhere adds the condition of f on rm_leads to w; counted says
// the counts hold all of it.
func addProspectWhere(w *projections.Where, f ProspectFilter) (counted bool) {
	counted = prospectDims(w, f, false)
	if f.RoleFilter {
		w.Clauses = append(w.Clauses, "false")
	}
	if f.Search != "" {
		w.Add(`lower(name || ' ' || email || ' ' || phone || ' ' || company) like ?`, likePattern(f.Search))
	}
	for _, c := range []struct {
		field string
		ids   []int64
	}{{"ecommerce_type_id", f.Ecommerce}, {"weight_id", f.WeightIDs}, {"content_id", f.ContentIDs}} {
		if len(c.ids) > 0 {
			// Not in domain.LeadProfile yet: read from the profile, as text.
			texts := make([]string, len(c.ids))
			for i, id := range c.ids {
				texts[i] = strconv.FormatInt(id, 10)
			}
			w.Add("profile->>'"+c.field+"' = any(?)", texts)
		}
	}
	for _, c := range []struct {
		col  string
		vals []string
	}{{"campaign_id", f.Campaigns}, {"assigned_to", f.Salesmen}, {"qualification_status", f.LeadStatuses}} {
		if len(c.vals) > 0 {
			w.Add(c.col+" = any(?)", c.vals)
		}
	}
	if f.MinShipments != nil {
		w.Add("monthly_shipments >= ?", *f.MinShipments)
	}
	for _, c := range []struct {
		cond string
		at   time.Time
	}{{"created_at >= ?", f.CreatedFrom}, {"created_at < ?", f.CreatedTo},
		{"next_contact >= ?", f.NextContactFrom}, {"next_contact < ?", f.NextContactTo}} {
		if !c.at.IsZero() {
			w.Add(c.cond, c.at)
		}
	}
	if !f.EstimatedCloseFrom.IsZero() {
		w.Add(estimatedClose+" >= ?", f.EstimatedCloseFrom.Format(time.DateOnly))
	}
	if !f.EstimatedCloseTo.IsZero() {
		w.Add(estimatedClose+" < ?", f.EstimatedCloseTo.Format(time.DateOnly))
	}
	if f.EstimatedCloseMonth != "" {
		w.Add(`left(profile->>'estimated_close_date', 7) = ?`, f.EstimatedCloseMonth)
	}
	return counted
}

// Prospect is a lead as the prospects API shows it: its row of the lead
// list and the prospect columns.
type Prospect struct {
	Lead
	ProspectType     int        // 1 prospect (also a lead with none), 2 client, 3 partner
	DealValue        float64    // account_value
	MonthlyShipments *int64     // the number the profile's monthly_shipments starts with
	FirstContact     *time.Time // earliest contact: interactions and the profile's last_contact
	LastContact      *time.Time // latest of those
	NextContact      *time.Time // earliest next action of a live interaction
	StatusChangedAt  time.Time  // when the status last changed (days_uc)
	// EstimatedCloseDate is the profile's estimated_close_date, "" if none.
	EstimatedCloseDate string
}

const prospectColumns = leadColumns + `, prospect_type, deal_value, monthly_shipments, first_contact, last_contact,
	next_contact, status_changed_at, coalesce(` + estimatedClose + `, '')`

func scanProspect(row pgx.CollectableRow) (Prospect, error) { return scanProspectAnd(row) }

// scanProspectAnd scans prospectColumns, then the row's further columns
// into extra.
func scanProspectAnd(row pgx.CollectableRow, extra ...any) (Prospect, error) {
	var p Prospect
	var profile []byte
	if err := row.Scan(append([]any{&p.ID, &p.Number, &p.Status, &p.Archived, &profile, &p.CreatedAt, &p.UpdatedAt,
		&p.ProspectType, &p.DealValue, &p.MonthlyShipments, &p.FirstContact, &p.LastContact, &p.NextContact,
		&p.StatusChangedAt, &p.EstimatedCloseDate}, extra...)...); err != nil {
		return Prospect{}, err
	}
	if err := unmarshalProfile(p.ID, profile, &p.Profile); err != nil {
		return Prospect{}, err
	}
	return p, nil
}

// pageSQL is the statement of a page of f's prospects in order, with
// LIMIT and OFFSET as its last two arguments.
func pageSQL(f ProspectFilter, order string, limit, offset int) (string, []any) {
	w, _ := prospectWhere(f)
	args := append(w.Args, limit, offset)
	return `select ` + prospectColumns + ` from rm_leads where ` + w.String() +
		fmt.Sprintf(` order by %s limit $%d offset $%d`, order, len(args)-1, len(args)), args
}

// kanbanSQL is the Kanban in one statement: per status with any of f's
// prospects, their count (from rm_prospect_counts when it holds all of f),
// and the page [offset, offset+limit) of them in order — a row per record,
// or one with null record columns for a status whose page is empty. One
// statement, so the Kanban is one round trip, planned once (planning among
// rm_leads' many indexes costs more than a page's index scan), one index
// scan per status whose count exceeds offset.
//
// LIMIT and OFFSET are in the text, not parameters: after five runs
// Postgres may keep a generic plan of a prepared statement, and one made
// for an unknown limit sorts whole categories.
func kanbanSQL(f ProspectFilter, order string, limit, offset int) (string, []any) {
	w := &projections.Where{}
	counted := addProspectWhere(w, f)
	counts := `select status, count(*) as n from rm_leads where ` + w.String() + ` group by status`
	if counted {
		cw := &projections.Where{Args: slices.Clip(w.Args)}
		prospectDims(cw, f, true)
		counts = `select status, sum(n)::bigint as n from rm_prospect_counts where ` + cw.String() + ` group by status`
		w.Args = cw.Args
	}
	limit, offset = max(limit, 0), max(offset, 0)
	return fmt.Sprintf(`with c as materialized (%s)
		select c.status, c.n, p.* from c left join lateral (
			select %s, row_number() over (order by %s) as rn from rm_leads where %s and status = c.status and c.n > %d
			order by %s limit %d offset %d) p on true
		order by c.status, p.rn`, counts, kanbanColumns, order, w.String(), offset, order, limit, offset), w.Args
}

// kanbanColumns are the columns of a KanbanRecord, in scan order. The
// float is named apart from deal_value, which the pages order by.
const kanbanColumns = `number, name, email, company, assigned_to, deal_value::float8 as account_value, last_contact, monthly_shipments`

// countByStatusSQL counts f's prospects and sums their deal value per
// status: from rm_prospect_counts when it holds all of f, else on rm_leads.
func countByStatusSQL(f ProspectFilter) (string, []any) {
	if w, counted := prospectWhere(f); !counted {
		return `select status, count(*), coalesce(sum(deal_value), 0)::float8 from rm_leads where ` + w.String() +
			` group by status order by status`, w.Args
	}
	var w projections.Where
	prospectDims(&w, f, true)
	return `select status, sum(n)::bigint, sum(value)::float8 from rm_prospect_counts where ` + w.String() +
		` group by status order by status`, w.Args
}

// ProspectKPI is one status's prospects: how many and their total deal value.
type ProspectKPI struct {
	Status string
	Count  int64
	Value  float64
}

// KPIs returns, per status with any prospect matching f, their count and
// total deal value, by status key. The caller adds the pipeline's empty
// statuses and names them.
func (r *Reader) KPIs(ctx context.Context, f ProspectFilter) ([]ProspectKPI, error) {
	sql, args := countByStatusSQL(f)
	rows, err := r.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("prospect kpis: %w", err)
	}
	kpis, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ProspectKPI, error) {
		var k ProspectKPI
		return k, row.Scan(&k.Status, &k.Count, &k.Value)
	})
	if err != nil {
		return nil, fmt.Errorf("prospect kpis: %w", err)
	}
	return kpis, nil
}

// KanbanCategory is one status of the Kanban: how many prospects match
// in it, and the requested page of them.
type KanbanCategory struct {
	Status  string
	Count   int64
	Records []KanbanRecord
}

// KanbanRecord is a prospect on the Kanban: its columns of rm_leads the
// card shows, without the profile.
type KanbanRecord struct {
	Number           int64
	Name             string
	Email            string // the first
	Company          string
	AssignedTo       string
	DealValue        float64
	LastContact      *time.Time
	MonthlyShipments *int64
}

// Kanban returns, per status with any prospect matching f (by status
// key), their count and the page [offset, offset+limit) of them in
// order s, in one round trip (kanbanSQL). The caller adds the pipeline's
// empty statuses and orders and names the categories. Each page is a
// scan of one of kanbanIndexes when f has no filter beyond the counts'.
func (r *Reader) Kanban(ctx context.Context, f ProspectFilter, offset, limit int, s ProspectSort) ([]KanbanCategory, error) {
	order, err := orderBy(kanbanSorts, s)
	if err != nil {
		return nil, err
	}
	sql, args := kanbanSQL(f, order, limit, offset)
	rows, err := r.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("kanban: %w", err)
	}
	defer rows.Close()
	var cats []KanbanCategory
	for rows.Next() {
		var (
			status               string
			n                    int64
			number               *int64
			name, email, company *string
			assigned             *string
			value                *float64
			rec                  KanbanRecord
		)
		if err := rows.Scan(&status, &n, &number, &name, &email, &company, &assigned, &value, &rec.LastContact,
			&rec.MonthlyShipments, nil); err != nil {
			return nil, fmt.Errorf("kanban: %w", err)
		}
		if len(cats) == 0 || cats[len(cats)-1].Status != status {
			cats = append(cats, KanbanCategory{Status: status, Count: n, Records: make([]KanbanRecord, 0, min(n, int64(max(limit, 0))))})
		}
		if number == nil {
			continue // a status with no record on this page
		}
		rec.Number, rec.Name, rec.Email, rec.Company, rec.AssignedTo, rec.DealValue = *number, *name, *email, *company, *assigned, *value
		c := &cats[len(cats)-1]
		c.Records = append(c.Records, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("kanban: %w", err)
	}
	return cats, nil
}

// ProspectList returns the page [start, start+length) of f's prospects
// in order s, with total (the prospects of f's tenant and source, the
// list's recordsTotal) and filtered (those matching f). Both counts and
// the page go in one round trip.
func (r *Reader) ProspectList(ctx context.Context, f ProspectFilter, start, length int, s ProspectSort) (total, filtered int64, rows []Prospect, err error) {
	order, err := orderBy(listSorts, s)
	if err != nil {
		return 0, 0, nil, err
	}
	var b pgx.Batch
	for _, c := range []struct {
		f   ProspectFilter
		out *int64
	}{{ProspectFilter{TenantID: f.TenantID, Source: f.Source}, &total}, {f, &filtered}} {
		sql, args := countByStatusSQL(c.f)
		b.Queue(`select coalesce(sum(n), 0)::bigint from (`+sql+`) c (status, n, value)`, args...).QueryRow(func(row pgx.Row) error {
			return row.Scan(c.out)
		})
	}
	sql, args := pageSQL(f, order, length, start)
	b.Queue(sql, args...).Query(func(r pgx.Rows) (err error) {
		rows, err = pgx.CollectRows(r, scanProspect)
		return err
	})
	if err := r.pool.SendBatch(ctx, &b).Close(); err != nil {
		return 0, 0, nil, fmt.Errorf("prospect list: %w", err)
	}
	return total, filtered, rows, nil
}

// KPIStatement is the statement KPIs runs for f, with its arguments:
// for baselines that time the same SQL without the reader.
func KPIStatement(f ProspectFilter) (string, []any) { return countByStatusSQL(f) }

// KanbanStatement is the statement Kanban runs, with its arguments: for
// baselines that time the same SQL without the reader.
func KanbanStatement(f ProspectFilter, offset, limit int, s ProspectSort) (string, []any, error) {
	order, err := orderBy(kanbanSorts, s)
	if err != nil {
		return "", nil, err
	}
	sql, args := kanbanSQL(f, order, limit, offset)
	return sql, args, nil
}
