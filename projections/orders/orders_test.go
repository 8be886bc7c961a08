package orders_test

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
	"github.com/crmcore/crm/projections/orders"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// world is a store with the order read model and two tenants' customers.
type world struct {
	t       *testing.T
	ctx     context.Context
	store   *eventstore.Store
	h       *commands.Handler
	tenants []commands.Context
	// customers are each tenant's customers, by tenant index.
	customers [][]uuid.UUID
}

func newWorld(t *testing.T, customers int) *world {
	t.Helper()
	ctx := context.Background()
	store := storetest.Store(t)
	if err := projections.SetupAll(ctx, store.Pool(), []projections.Projection{orders.Projection{}}); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, store: store, h: commands.New(store, "IN")}
	for range 2 {
		c := commands.Context{TenantID: uuid.New(), Metadata: eventstore.Metadata{Actor: "test", API: "test"}}
		w.tenants = append(w.tenants, c)
		var ids []uuid.UUID
		for j := range customers {
			res, err := w.h.CreateCustomer(ctx, c, commands.CreateCustomer{Profile: domain.CustomerProfile{
				Name: fmt.Sprintf("Customer %d", j), Emails: []string{fmt.Sprintf("c%d@example.com", j)}}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.CustomerID)
		}
		w.customers = append(w.customers, ids)
	}
	return w
}

// applyAll applies every committed event after *from to the read model,
// event by event, as the live projector does.
func (w *world) applyAll(from *eventstore.Position) {
	w.t.Helper()
	err := pgx.BeginFunc(w.ctx, w.store.Pool(), func(tx pgx.Tx) error {
		for _, e := range storetest.Committed(w.t, w.store, time.Minute) {
			if !from.Less(e.Position) {
				continue
			}
			if err := (orders.Projection{}).Apply(w.ctx, tx, e); err != nil {
				return err
			}
			*from = e.Position
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// verify checks the live tables equal a rebuild from scratch.
func (w *world) verify() {
	w.t.Helper()
	diffs, err := projections.Verify(w.ctx, w.store, orders.Projection{})
	if err != nil {
		w.t.Fatal(err)
	}
	for table, n := range diffs {
		if n != 0 {
			w.t.Errorf("%s: %d rows differ between live apply and the rebuild", table, n)
		}
	}
}

func (w *world) order(c commands.Context, customer uuid.UUID, status domain.OrderStatus, date time.Time) commands.OrderResult {
	w.t.Helper()
	res, err := w.h.CreateOrder(w.ctx, c, commands.CreateOrder{CustomerID: customer, Status: status,
		Order: domain.OrderDetails{ProductID: uuid.New(), Quantity: 1, OrderDate: date, ShippingAddress: "1 Main St"}})
	if err != nil {
		w.t.Fatal(err)
	}
	return res
}

// A random history of orders (creates at any status, partial updates,
// status moves, deletes that redact) applied event by event equals the
// rebuild from scratch, applied in two halves and at the end.
func TestLiveApplyEqualsRebuild(t *testing.T) {
	w := newWorld(t, 4)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, seed))
	live := map[uuid.UUID]commands.Context{}
	var ids []uuid.UUID
	var from eventstore.Position
	var deleted int
	for step := range 200 {
		ti := rnd.IntN(2)
		c := w.tenants[ti]
		switch k := rnd.IntN(10); {
		case k < 4 || len(ids) == 0:
			status := domain.OrderStatuses[rnd.IntN(len(domain.OrderStatuses))]
			res := w.order(c, w.customers[ti][rnd.IntN(4)], status, time.Date(2025, 1, 1+rnd.IntN(300), 0, 0, 0, 0, time.UTC))
			live[res.OrderID] = c
			ids = append(ids, res.OrderID)
		case k < 8:
			id := ids[rnd.IntN(len(ids))]
			to := domain.OrderStatuses[rnd.IntN(len(domain.OrderStatuses))]
			_, err := w.h.UpdateOrder(w.ctx, live[id], id, commands.UpdateOrder{Status: to,
				Edit: func(d domain.OrderDetails) (domain.OrderDetails, error) {
					d.Quantity = 1 + rnd.IntN(9)
					if rnd.IntN(2) == 0 {
						d.Notes = fmt.Sprintf("note %d", step)
					} else {
						d.Notes = ""
					}
					return d, nil
				}})
			var te domain.OrderTransitionError
			if err != nil && !errors.As(err, &te) && !errors.Is(err, domain.ErrOrderNotFound) {
				t.Fatal(err)
			}
		default:
			i := rnd.IntN(len(ids))
			if _, err := w.h.DeleteOrder(w.ctx, live[ids[i]], ids[i]); err != nil {
				t.Fatal(err)
			}
			delete(live, ids[i])
			ids = append(ids[:i], ids[i+1:]...)
			deleted++
		}
		if step == 100 {
			w.applyAll(&from)
			w.verify()
		}
	}
	w.applyAll(&from)
	w.verify()
	var rows int
	if err := w.store.Pool().QueryRow(w.ctx, `select count(*) from rm_orders`).Scan(&rows); err != nil || rows != len(ids) || rows == 0 || deleted == 0 {
		t.Fatalf("%d rows (%v) for %d live orders, %d deleted", rows, err, len(ids), deleted)
	}
}

// The order queries: get, the list's filters, paging and total, counts per
// customer; another tenant's orders are never returned.
func TestOrderQueries(t *testing.T) {
	w := newWorld(t, 2)
	a, b := w.tenants[0], w.tenants[1]
	asha, bala := w.customers[0][0], w.customers[0][1]
	day := func(d int) time.Time { return time.Date(2025, 3, d, 9, 0, 0, 0, time.UTC) }
	o1 := w.order(a, asha, "", day(1))
	o2 := w.order(a, asha, domain.OrderShipped, day(2))
	o3 := w.order(a, bala, "", day(3))
	o4 := w.order(a, asha, "", day(4))
	other := w.order(b, w.customers[1][0], "", day(5))
	if _, err := w.h.UpdateOrder(w.ctx, a, o1.OrderID, commands.UpdateOrder{Status: domain.OrderProcessing,
		Edit: func(d domain.OrderDetails) (domain.OrderDetails, error) { d.Notes = "express"; return d, nil }}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.h.DeleteOrder(w.ctx, a, o4.OrderID); err != nil {
		t.Fatal(err)
	}
	var from eventstore.Position
	w.applyAll(&from)
	r := orders.NewReader(w.store.Pool())

	got, err := r.Get(w.ctx, a.TenantID, o1.OrderID)
	if err != nil || got.CustomerID != asha || got.Status != domain.OrderProcessing || got.Notes != "express" || got.Quantity != 1 ||
		!got.OrderDate.Equal(day(1)) || got.ShippingAddress != "1 Main St" || got.ProductID != o1.Order.ProductID || got.UpdatedAt.Before(got.CreatedAt) {
		t.Fatalf("get: %+v %v", got, err)
	}
	for name, id := range map[string]struct{ tenant, id uuid.UUID }{
		"deleted": {a.TenantID, o4.OrderID}, "another tenant's": {a.TenantID, other.OrderID}, "unknown": {a.TenantID, uuid.New()},
		"seen from the other tenant": {b.TenantID, o1.OrderID},
	} {
		if _, err := r.Get(w.ctx, id.tenant, id.id); !errors.Is(err, projections.ErrNotFound) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, tc := range []struct {
		f     orders.Filter
		want  []uuid.UUID
		total int64
	}{
		{orders.Filter{TenantID: a.TenantID, Limit: 50}, []uuid.UUID{o3.OrderID, o2.OrderID, o1.OrderID}, 3},
		{orders.Filter{TenantID: a.TenantID, Limit: 1, Offset: 1}, []uuid.UUID{o2.OrderID}, 3},
		{orders.Filter{TenantID: a.TenantID, CustomerID: asha, Limit: 50}, []uuid.UUID{o2.OrderID, o1.OrderID}, 2},
		{orders.Filter{TenantID: a.TenantID, Status: domain.OrderPending, Limit: 50}, []uuid.UUID{o3.OrderID}, 1},
		{orders.Filter{TenantID: a.TenantID, CustomerID: asha, Status: domain.OrderShipped, Limit: 50}, []uuid.UUID{o2.OrderID}, 1},
		{orders.Filter{TenantID: a.TenantID, CustomerID: w.customers[1][0], Limit: 50}, nil, 0},
		{orders.Filter{TenantID: b.TenantID, Limit: 50}, []uuid.UUID{other.OrderID}, 1},
	} {
		list, total, err := r.List(w.ctx, tc.f)
		var ids []uuid.UUID
		for _, o := range list {
			ids = append(ids, o.ID)
		}
		if err != nil || total != tc.total || fmt.Sprint(ids) != fmt.Sprint(tc.want) {
			t.Errorf("list %+v: %v total %d (%v), want %v total %d", tc.f, ids, total, err, tc.want, tc.total)
		}
	}
	counts, err := r.OrdersOfCustomers(w.ctx, a.TenantID, []uuid.UUID{asha, bala, w.customers[1][0]}, day(2))
	if err != nil || len(counts) != 2 || counts[asha] != (orders.CustomerOrders{Total: 2, Since: 1, Newest: day(2)}) ||
		counts[bala] != (orders.CustomerOrders{Total: 1, Since: 1, Newest: day(3)}) {
		t.Fatalf("orders of customers: %+v %v", counts, err)
	}
}
