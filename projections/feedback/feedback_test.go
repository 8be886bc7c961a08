package feedback_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/feedback"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// newStore is a store with the feedback read model, a handler, and a
// customer in each of two tenants.
func newStore(t *testing.T) (context.Context, *eventstore.Store, *commands.Handler, []commands.Context, []uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	store := storetest.Store(t)
	if err := projections.SetupAll(ctx, store.Pool(), []projections.Projection{feedback.Projection{}}); err != nil {
		t.Fatal(err)
	}
	h := commands.New(store, "IN")
	var tenants []commands.Context
	var customers []uuid.UUID
	for range 2 {
		c := commands.Context{TenantID: uuid.New(), Metadata: eventstore.Metadata{Actor: "test", API: "test"}}
		res, err := h.CreateCustomer(ctx, c, commands.CreateCustomer{Profile: domain.CustomerProfile{Name: "Asha", Emails: []string{"asha@example.com"}}})
		if err != nil {
			t.Fatal(err)
		}
		tenants, customers = append(tenants, c), append(customers, res.CustomerID)
	}
	return ctx, store, h, tenants, customers
}

// applyAll applies every committed event after *from to the read model,
// event by event, as the live projector does.
func applyAll(t *testing.T, ctx context.Context, store *eventstore.Store, from *eventstore.Position) {
	t.Helper()
	err := pgx.BeginFunc(ctx, store.Pool(), func(tx pgx.Tx) error {
		for _, e := range storetest.Committed(t, store, time.Minute) {
			if from.Less(e.Position) {
				if err := (feedback.Projection{}).Apply(ctx, tx, e); err != nil {
					return err
				}
				*from = e.Position
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A random history of requests, answers and expiries applied event by
// event equals the rebuild from scratch, rows and counts alike, and the
// counts are the groups of the rows.
func TestLiveApplyEqualsRebuild(t *testing.T) {
	ctx, store, h, tenants, customers := newStore(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, seed))
	categories := []string{"", "Support", "delivery", "price"}
	type request struct {
		c  commands.Context
		id uuid.UUID
	}
	var waiting []request
	var from eventstore.Position
	for step := range 150 {
		switch k := rnd.IntN(10); {
		case k < 4 || len(waiting) == 0:
			i := rnd.IntN(2)
			res, err := h.RequestFeedback(ctx, tenants[i], customers[i])
			if err != nil {
				t.Fatal(err)
			}
			waiting = append(waiting, request{tenants[i], res.FeedbackID})
		default:
			i := rnd.IntN(len(waiting))
			r := waiting[i]
			var err error
			if k < 9 {
				_, err = h.ReceiveFeedback(ctx, r.c, r.id, domain.FeedbackAnswer{Rating: 1 + rnd.IntN(5),
					Comment: fmt.Sprintf("answer %d", step), Category: categories[rnd.IntN(len(categories))]})
			} else {
				_, err = h.ExpireFeedback(ctx, r.c, r.id)
			}
			if err != nil {
				t.Fatal(err)
			}
			waiting = append(waiting[:i], waiting[i+1:]...)
		}
		if step == 75 {
			applyAll(t, ctx, store, &from)
			verify(t, ctx, store)
		}
	}
	applyAll(t, ctx, store, &from)
	verify(t, ctx, store)
}

// verify checks the live tables equal a rebuild from scratch, and the
// counts the groups of the rows.
func verify(t *testing.T, ctx context.Context, store *eventstore.Store) {
	t.Helper()
	diffs, err := projections.Verify(ctx, store, feedback.Projection{})
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range diffs {
		if n != 0 {
			t.Errorf("%s: %d rows differ between live apply and the rebuild", table, n)
		}
	}
	const groups = `select tenant_id, status, category, rating, count(*) from rm_feedback group by 1, 2, 3, 4`
	const counts = `select tenant_id, status, category, rating, n from rm_feedback_counts`
	var n, rows int
	if err := store.Pool().QueryRow(ctx, `select (select count(*) from (`+groups+` except all `+counts+`) a)
		+ (select count(*) from (`+counts+` except all `+groups+`) b), (select count(*) from rm_feedback_counts)`).Scan(&n, &rows); err != nil || n != 0 || rows == 0 {
		t.Errorf("%d count rows differ from rm_feedback's groups, %d count rows (%v)", n, rows, err)
	}
}

// The analytics, themes and dashboard of a known history; another
// tenant's feedback never counts.
func TestFeedbackQueries(t *testing.T) {
	ctx, store, h, tenants, customers := newStore(t)
	a, b := tenants[0], tenants[1]
	answer := func(c commands.Context, customer uuid.UUID, ans *domain.FeedbackAnswer) uuid.UUID {
		t.Helper()
		req, err := h.RequestFeedback(ctx, c, customer)
		if err != nil {
			t.Fatal(err)
		}
		if ans != nil {
			if _, err := h.ReceiveFeedback(ctx, c, req.FeedbackID, *ans); err != nil {
				t.Fatal(err)
			}
		}
		return req.FeedbackID
	}
	answer(a, customers[0], &domain.FeedbackAnswer{Rating: 5, Comment: "Great service!", Category: "Support"})
	answer(a, customers[0], &domain.FeedbackAnswer{Rating: 3, Category: "support"})
	answer(a, customers[0], &domain.FeedbackAnswer{Rating: 4, Category: "delivery"})
	last := answer(a, customers[0], &domain.FeedbackAnswer{Rating: 1})
	waiting := answer(a, customers[0], nil)
	expired := answer(a, customers[0], nil)
	if _, err := h.ExpireFeedback(ctx, a, expired); err != nil {
		t.Fatal(err)
	}
	answer(b, customers[1], &domain.FeedbackAnswer{Rating: 2, Category: "support"})
	var from eventstore.Position
	applyAll(t, ctx, store, &from)
	r := feedback.NewReader(store.Pool())

	an, err := r.Analytics(ctx, a.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	want := feedback.Analytics{
		Ratings: feedback.Ratings{Count: 4, Mean: 13.0 / 4, ByRating: [5]int64{1, 0, 1, 1, 1}},
		Themes: []feedback.Theme{
			{Category: "support", Ratings: feedback.Ratings{Count: 2, Mean: 4, ByRating: [5]int64{0, 0, 1, 0, 1}}},
			{Category: "", Ratings: feedback.Ratings{Count: 1, Mean: 1, ByRating: [5]int64{1, 0, 0, 0, 0}}},
			{Category: "delivery", Ratings: feedback.Ratings{Count: 1, Mean: 4, ByRating: [5]int64{0, 0, 0, 1, 0}}},
		},
	}
	if fmt.Sprint(an) != fmt.Sprint(want) {
		t.Errorf("analytics\n got %+v\nwant %+v", an, want)
	}
	if themes, err := r.Themes(ctx, a.TenantID); err != nil || fmt.Sprint(themes) != fmt.Sprint(want.Themes) {
		t.Errorf("themes %+v %v", themes, err)
	}
	d, err := r.Dashboard(ctx, a.TenantID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if d.Requested != 1 || d.Received != 4 || d.Expired != 1 || d.ResponseRate != 4.0/6 || len(d.Recent) != 2 ||
		d.Recent[0].ID != last || d.Recent[0].Rating != 1 || d.Recent[1].Category != "delivery" || d.Recent[0].ClosedAt.IsZero() {
		t.Errorf("dashboard %+v", d)
	}
	got, err := r.Get(ctx, a.TenantID, waiting)
	if err != nil || got.Status != domain.FeedbackStatusRequested || got.CustomerID != customers[0] || !got.ClosedAt.IsZero() || got.Rating != 0 {
		t.Errorf("get waiting: %+v %v", got, err)
	}
	if _, err := r.Get(ctx, b.TenantID, waiting); !errors.Is(err, projections.ErrNotFound) {
		t.Errorf("another tenant's: %v", err)
	}
	// A tenant without feedback has empty figures, not an error.
	empty, err := r.Dashboard(ctx, uuid.New(), 5)
	if err != nil || empty.Requested+empty.Received+empty.Expired != 0 || empty.ResponseRate != 0 || len(empty.Recent) != 0 {
		t.Errorf("empty dashboard %+v %v", empty, err)
	}
}
