package customers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
)

// A customer's health is a score from 0 to 100, the sum of four factors'
// points, computed at read time from its rows: the recency of its last
// interaction (rm_interactions), its orders of the last RecentDays
// (rm_orders, cancelled ones aside), its mean feedback rating (rm_feedback)
// and its status. Its level: healthy from HealthyScore, at_risk from
// AtRiskScore, else critical.

// Health factors, levels and their bounds.
const (
	FactorRecency = "interaction_recency"
	FactorOrders  = "recent_orders"
	FactorRating  = "mean_rating"
	FactorStatus  = "status"

	LevelHealthy  = "healthy"
	LevelAtRisk   = "at_risk"
	LevelCritical = "critical"

	HealthyScore = 70
	AtRiskScore  = 40
	// RecentDays is the window of the orders that count.
	RecentDays = 90
)

// HealthLevels are the levels, best first.
var HealthLevels = []string{LevelHealthy, LevelAtRisk, LevelCritical}

// HealthInputs are what a customer's health is computed from.
type HealthInputs struct {
	Status domain.CustomerStatus
	// DaysSinceInteraction is the whole days since the customer's last
	// interaction dated up to now; nil: none.
	DaysSinceInteraction *int
	// RecentOrders counts its orders dated in the last RecentDays, not
	// cancelled.
	RecentOrders int
	// MeanRating is the mean of its received feedback's ratings, rounded
	// to one decimal; nil: none received.
	MeanRating *float64
}

// Factor is one factor's points of at most Max.
type Factor struct {
	Name        string
	Points, Max int
}

// Health is a customer's score, level and the factors that sum to it.
type Health struct {
	Score   int
	Level   string
	Factors []Factor
}

// Score computes a health from its inputs: recency up to 30 points (within
// 7 days 30, 30 days 20, 90 days 10, else or never 0), recent orders up to
// 30 (none 0, one 15, two 22, three or more 30), mean rating up to 20
// ((mean − 1) / 4 of 20, rounded; none received: 10, neutral) and status
// up to 20 (active 20, none given 10, inactive 5, blocked 0).
func Score(in HealthInputs) Health {
	recency := 0
	if d := in.DaysSinceInteraction; d != nil {
		switch {
		case *d <= 7:
			recency = 30
		case *d <= 30:
			recency = 20
		case *d <= RecentDays:
			recency = 10
		}
	}
	orders := [...]int{0, 15, 22, 30}[min(max(in.RecentOrders, 0), 3)]
	rating := 10
	if m := in.MeanRating; m != nil {
		rating = int(math.Round((min(max(*m, domain.MinRating), domain.MaxRating) - domain.MinRating) /
			(domain.MaxRating - domain.MinRating) * 20))
	}
	status := map[domain.CustomerStatus]int{domain.CustomerActive: 20, "": 10, domain.CustomerInactive: 5}[in.Status]
	h := Health{Factors: []Factor{{FactorRecency, recency, 30}, {FactorOrders, orders, 30}, {FactorRating, rating, 20},
		{FactorStatus, status, 20}}}
	for _, f := range h.Factors {
		h.Score += f.Points
	}
	h.Level = LevelOf(h.Score)
	return h
}

// LevelOf is the level of a score.
func LevelOf(score int) string {
	switch {
	case score >= HealthyScore:
		return LevelHealthy
	case score >= AtRiskScore:
		return LevelAtRisk
	}
	return LevelCritical
}

// healthFrom joins each customer to its health's inputs at $2 (now): the
// last interaction, the recent orders and the received feedback, each an
// index range of the customer's own rows (rm_interactions_owner,
// rm_orders_by_customer, rm_feedback_by_customer).
var healthFrom = fmt.Sprintf(`rm_customers c
	left join lateral (select max(occurred_at) as at from rm_interactions i
		where i.tenant_id = c.tenant_id and i.owner_id = c.id and i.occurred_at <= $2::timestamptz) last on true
	left join lateral (select count(*)::int as n from rm_orders o where o.tenant_id = c.tenant_id and o.customer_id = c.id
		and o.status <> '%s' and o.order_date > $2::timestamptz - interval '%d days' and o.order_date <= $2::timestamptz) recent on true
	left join lateral (select round(avg(rating), 1)::float8 as mean, count(*) as n from rm_feedback f
		where f.tenant_id = c.tenant_id and f.customer_id = c.id and f.status = '%s') fb on true`,
	domain.OrderCancelled, RecentDays, domain.FeedbackStatusReceived)

// daysSince is the whole days from the last interaction to $2, null for none.
const daysSince = `floor(extract(epoch from $2::timestamptz - last.at) / 86400)::int`

// CustomerHealth is one customer's health with its inputs.
type CustomerHealth struct {
	Health
	HealthInputs
	// LastInteractionAt is when its last interaction up to now was dated
	// (zero: none); Ratings counts its received feedback.
	LastInteractionAt time.Time
	Ratings           int64
}

// Health computes the customer's health at now from its rows; an unknown
// customer (or another tenant's) is projections.ErrNotFound.
func (r *Reader) Health(ctx context.Context, tenantID, id uuid.UUID, now time.Time) (CustomerHealth, error) {
	var h CustomerHealth
	var last *time.Time
	err := r.pool.QueryRow(ctx, `select c.status, last.at, `+daysSince+`, recent.n, fb.mean, fb.n from `+healthFrom+`
		where c.tenant_id = $1 and c.id = $3`, tenantID, now, id).
		Scan(&h.Status, &last, &h.DaysSinceInteraction, &h.RecentOrders, &h.MeanRating, &h.Ratings)
	if errors.Is(err, pgx.ErrNoRows) {
		return CustomerHealth{}, projections.ErrNotFound
	}
	if err != nil {
		return CustomerHealth{}, fmt.Errorf("health of customer %s: %w", id, err)
	}
	if last != nil {
		h.LastInteractionAt = *last
	}
	h.Health = Score(h.HealthInputs)
	return h, nil
}

// HealthLevels counts the tenant's customers by health level at now. It
// is one aggregate statement over every customer of the tenant (three
// index probes each, grouped by the inputs' few distinct values, each group
// scored by Score): its cost grows with the tenant's customers, unlike the
// counts' reads.
func (r *Reader) HealthLevels(ctx context.Context, tenantID uuid.UUID, now time.Time) (map[string]int64, error) {
	rows, err := r.pool.Query(ctx, `select c.status, least(`+daysSince+`, `+fmt.Sprint(RecentDays+1)+`), least(recent.n, 3), fb.mean, count(*)
		from `+healthFrom+` where c.tenant_id = $1 group by 1, 2, 3, 4`, tenantID, now)
	if err != nil {
		return nil, fmt.Errorf("health levels: %w", err)
	}
	levels := map[string]int64{}
	var in HealthInputs
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&in.Status, &in.DaysSinceInteraction, &in.RecentOrders, &in.MeanRating, &n}, func() error {
		levels[Score(in).Level] += n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("health levels: %w", err)
	}
	return levels, nil
}
