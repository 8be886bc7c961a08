package feedback

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
)

// Reader answers queries on the feedback (rm_feedback, rm_feedback_counts).
type Reader struct {
	pool *pgxpool.Pool
}

// NewReader returns a Reader over those tables.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

// Feedback is one feedback request as the read model holds it.
type Feedback struct {
	ID          uuid.UUID
	CustomerID  uuid.UUID
	Status      domain.FeedbackStatus
	Rating      int    // 0 until received
	Comment     string // "" until received, or none given
	Category    string // lower case; "" when none was given
	RequestedAt time.Time
	ClosedAt    time.Time // when received or expired; zero while requested
	// Reminders counts the reminders sent (0 to 2), LastRemindedAt the
	// last one's time (zero before the first).
	Reminders      int
	LastRemindedAt time.Time
}

const feedbackColumns = `id, customer_id, status, rating, comment, category, requested_at, closed_at, reminders, last_reminded_at`

func scanFeedback(row pgx.Row) (Feedback, error) {
	var f Feedback
	var rating, reminders int16
	var closed, reminded pgtype.Timestamptz
	err := row.Scan(&f.ID, &f.CustomerID, &f.Status, &rating, &f.Comment, &f.Category, &f.RequestedAt, &closed,
		&reminders, &reminded)
	f.Rating, f.ClosedAt, f.Reminders, f.LastRemindedAt = int(rating), closed.Time, int(reminders), reminded.Time
	return f, err
}

// Get returns one feedback request of the tenant, or projections.ErrNotFound.
func (r *Reader) Get(ctx context.Context, tenantID, id uuid.UUID) (Feedback, error) {
	f, err := scanFeedback(r.pool.QueryRow(ctx, `select `+feedbackColumns+` from rm_feedback where tenant_id=$1 and id=$2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Feedback{}, projections.ErrNotFound
	}
	if err != nil {
		return Feedback{}, fmt.Errorf("get feedback: %w", err)
	}
	return f, nil
}

// Ratings are the answers' figures: how many, their mean rating (0 when
// there are none) and how many gave each rating.
type Ratings struct {
	Count int64
	Mean  float64
	// ByRating[i] counts the answers rated i+1 (domain.MinRating to MaxRating).
	ByRating [domain.MaxRating]int64
}

// add counts n answers rated rating.
func (s *Ratings) add(rating int, n int64) {
	if rating < domain.MinRating || rating > domain.MaxRating {
		return
	}
	s.ByRating[rating-1] += n
	s.Count += n
	var sum int64
	for i, c := range s.ByRating {
		sum += int64(i+1) * c
	}
	s.Mean = float64(sum) / float64(s.Count)
}

// Theme is the answers of one category (themes group on it): "" gathers
// those given none.
type Theme struct {
	Category string
	Ratings
}

// Analytics are the figures of a tenant's received feedback: all answers,
// and per category, most answered first.
type Analytics struct {
	Ratings
	Themes []Theme
}

// Dashboard is a tenant's feedback at a glance: requests by status, the
// response rate (received of all requests; 0 when there are none) and the
// newest answers.
type Dashboard struct {
	Requested, Received, Expired int64
	ResponseRate                 float64
	Recent                       []Feedback
}

// Analytics returns the figures of the tenant's received feedback, from
// its counts.
func (r *Reader) Analytics(ctx context.Context, tenantID uuid.UUID) (Analytics, error) {
	var a Analytics
	themes := map[string]*Theme{}
	err := r.eachCount(ctx, tenantID, func(status domain.FeedbackStatus, category string, rating int, n int64) {
		if status != domain.FeedbackStatusReceived {
			return
		}
		a.add(rating, n)
		t, ok := themes[category]
		if !ok {
			t = &Theme{Category: category}
			themes[category] = t
		}
		t.add(rating, n)
	})
	if err != nil {
		return Analytics{}, err
	}
	for _, t := range themes {
		a.Themes = append(a.Themes, *t)
	}
	slices.SortFunc(a.Themes, func(x, y Theme) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Category, y.Category))
	})
	return a, nil
}

// Themes returns the tenant's answers per category, most answered first
// (Analytics' themes).
func (r *Reader) Themes(ctx context.Context, tenantID uuid.UUID) ([]Theme, error) {
	a, err := r.Analytics(ctx, tenantID)
	return a.Themes, err
}

// Dashboard returns the tenant's requests by status, from its counts, and
// its recent newest answers.
func (r *Reader) Dashboard(ctx context.Context, tenantID uuid.UUID, recent int) (Dashboard, error) {
	s, err := r.Summary(ctx, tenantID)
	if err != nil {
		return Dashboard{}, err
	}
	d := Dashboard{Requested: s.Requested, Received: s.Received, Expired: s.Expired, ResponseRate: s.ResponseRate}
	rows, err := r.pool.Query(ctx, `select `+feedbackColumns+` from rm_feedback where tenant_id = $1 and status = $2
		order by closed_at desc, id desc limit $3`, tenantID, string(domain.FeedbackStatusReceived), recent)
	if err != nil {
		return Dashboard{}, fmt.Errorf("recent feedback: %w", err)
	}
	if d.Recent, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Feedback, error) { return scanFeedback(row) }); err != nil {
		return Dashboard{}, fmt.Errorf("recent feedback: %w", err)
	}
	return d, nil
}

// CountsSQL is the statement that reads a tenant's ($1) feedback counts:
// Analytics, Dashboard and Summary read nothing else of them.
const CountsSQL = `select status, category, rating, n from rm_feedback_counts where tenant_id = $1`

// eachCount calls f with each of the tenant's groups of requests.
func (r *Reader) eachCount(ctx context.Context, tenantID uuid.UUID, f func(status domain.FeedbackStatus, category string, rating int, n int64)) error {
	rows, err := r.pool.Query(ctx, CountsSQL, tenantID)
	if err != nil {
		return fmt.Errorf("feedback counts: %w", err)
	}
	var status domain.FeedbackStatus
	var category string
	var rating int16
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&status, &category, &rating, &n}, func() error {
		f(status, category, int(rating), n)
		return nil
	})
	if err != nil {
		return fmt.Errorf("feedback counts: %w", err)
	}
	return nil
}

// Summary is a tenant's feedback in figures: requests by status, the
// response rate (as Dashboard's) and the received answers' ratings.
type Summary struct {
	Requested, Received, Expired int64
	ResponseRate                 float64
	Ratings
}

// Summary returns the tenant's feedback figures, from its counts alone.
func (r *Reader) Summary(ctx context.Context, tenantID uuid.UUID) (Summary, error) {
	var s Summary
	err := r.eachCount(ctx, tenantID, func(status domain.FeedbackStatus, _ string, rating int, n int64) {
		switch status {
		case domain.FeedbackStatusRequested:
			s.Requested += n
		case domain.FeedbackStatusReceived:
			s.Received += n
			s.add(rating, n)
		case domain.FeedbackStatusExpired:
			s.Expired += n
		}
	})
	if err != nil {
		return Summary{}, err
	}
	if all := s.Requested + s.Received + s.Expired; all > 0 {
		s.ResponseRate = float64(s.Received) / float64(all)
	}
	return s, nil
}
