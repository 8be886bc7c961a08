package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The /dev/crm API's orders and feedback through real HTTP, Postgres and
// NATS, every answer checked against its OpenAPI document.

type dcOrder struct {
	ID              string  `json:"id"`
	CustomerID      string  `json:"customer_id"`
	ProductID       string  `json:"product_id"`
	Quantity        int     `json:"quantity"`
	Status          string  `json:"status"`
	OrderDate       string  `json:"order_date"`
	ShippingAddress *string `json:"shipping_address"`
	BillingAddress  *string `json:"billing_address"`
	Notes           *string `json:"notes"`
}

type dcFeedback struct {
	ID         string  `json:"id"`
	CustomerID string  `json:"customer_id"`
	Status     string  `json:"status"`
	Rating     *int    `json:"rating"`
	Comment    *string `json:"comment"`
	Category   *string `json:"category"`
	ClosedAt   *string `json:"closed_at"`
}

type dcRatings struct {
	Count      int64            `json:"count"`
	MeanRating float64          `json:"mean_rating"`
	ByRating   map[string]int64 `json:"by_rating"`
	Category   *string          `json:"category"`
}

// dcOrderCreate creates an order through /dev/crm.
func (s *stack) dcOrderCreate(key string, body map[string]any) dcOrder {
	s.t.Helper()
	var o dcOrder
	s.dcWant(s.do(key, "POST", "/dev/crm/orders", body), http.StatusCreated, &o)
	return o
}

// dcFeedbackRequest asks a customer for feedback through /dev/crm.
func (s *stack) dcFeedbackRequest(key, customerID string) dcFeedback {
	s.t.Helper()
	var f dcFeedback
	s.dcWant(s.do(key, "POST", "/dev/crm/customers/"+customerID+"/feedback/request", nil), http.StatusCreated, &f)
	return f
}

// TestDevcrmOrders: create, get, list with every filter, partial update
// moving the status forward only, a customer with orders kept, delete.
func TestDevcrmOrders(t *testing.T) {
	s := newStack(t)
	ann := s.dcCustomerCreate(s.key, map[string]any{"name": "Ann", "email": "ann@example.com"})
	bob := s.dcCustomerCreate(s.key, map[string]any{"name": "Bob", "email": "bob@example.com"})
	product := uuid.NewString()
	first := s.dcOrderCreate(s.key, map[string]any{"customer_id": ann.ID, "product_id": product, "quantity": 2,
		"status": "pending", "order_date": "2024-01-15T10:00:00Z", "shipping_address": "123 Main St",
		"billing_address": "123 Main St", "notes": "Rush delivery"})
	if first.CustomerID != ann.ID || first.ProductID != product || first.Quantity != 2 || first.Status != "pending" ||
		first.OrderDate != "2024-01-15T10:00:00Z" || *first.ShippingAddress != "123 Main St" || *first.Notes != "Rush delivery" {
		t.Fatalf("created %+v", first)
	}
	before := time.Now().Add(-time.Minute)
	second := s.dcOrderCreate(s.key, map[string]any{"customer_id": bob.ID, "product_id": uuid.NewString(), "quantity": 1})
	if at, err := time.Parse(time.RFC3339, second.OrderDate); err != nil || at.Before(before) || second.Status != "pending" ||
		second.Notes != nil || second.BillingAddress != nil {
		t.Fatalf("created %+v (%v)", second, err)
	}
	third := s.dcOrderCreate(s.key, map[string]any{"customer_id": ann.ID, "product_id": product, "quantity": 5,
		"status": "shipped", "order_date": "2024-02-01"})

	var got dcOrder
	s.dcWant(s.do(s.key, "GET", "/dev/crm/orders/"+first.ID, nil), http.StatusOK, &got)
	if !reflect.DeepEqual(got, first) {
		t.Fatalf("get %+v, created %+v", got, first)
	}
	list := func(query string, total int64, want ...string) {
		t.Helper()
		var l dcList[dcOrder]
		s.dcWant(s.do(s.key, "GET", "/dev/crm/orders"+query, nil), http.StatusOK, &l)
		var ids []string
		for _, d := range l.Data {
			ids = append(ids, d.ID)
		}
		if l.Total != total || strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Fatalf("GET /dev/crm/orders%s: total %d %v, want %d %v", query, l.Total, ids, total, want)
		}
	}
	list("", 3, second.ID, third.ID, first.ID)
	list("?limit=1&offset=1", 3, third.ID)
	list("?customer_id="+ann.ID, 2, third.ID, first.ID)
	list("?status=shipped", 1, third.ID)
	list("?status=pending&customer_id="+bob.ID, 1, second.ID)
	list("?customer_id="+uuid.NewString(), 0)

	// Partial: what is not sent stays, null clears; the status moves forward.
	var up dcOrder
	s.dcWant(s.do(s.key, "PUT", "/dev/crm/orders/"+first.ID, map[string]any{"status": "processing", "notes": nil, "quantity": 3}),
		http.StatusOK, &up)
	if up.Status != "processing" || up.Notes != nil || up.Quantity != 3 || *up.ShippingAddress != "123 Main St" ||
		up.OrderDate != first.OrderDate {
		t.Fatalf("updated %+v", up)
	}
	s.dcWant(s.do(s.key, "PUT", "/dev/crm/orders/"+first.ID, map[string]any{"status": "shipped", "notes": "Order shipped via express"}),
		http.StatusOK, &up)
	if up.Status != "shipped" || *up.Notes != "Order shipped via express" {
		t.Fatalf("updated %+v", up)
	}
	s.dcFails(s.do(s.key, "PUT", "/dev/crm/orders/"+first.ID, map[string]any{"status": "pending"}), http.StatusConflict,
		"status", "cannot move from shipped to pending")
	s.dcFails(s.do(s.key, "PUT", "/dev/crm/orders/"+first.ID, map[string]any{"status": "cancelled"}), http.StatusConflict,
		"status", "cannot move from shipped to cancelled")
	s.dcWant(s.do(s.key, "PUT", "/dev/crm/orders/"+second.ID, map[string]any{"status": "cancelled"}), http.StatusOK, &up)
	s.dcFails(s.do(s.key, "PUT", "/dev/crm/orders/"+second.ID, map[string]any{"status": "delivered"}), http.StatusConflict,
		"status", "cannot move from cancelled to delivered")
	s.dcWant(s.do(s.key, "GET", "/dev/crm/orders/"+first.ID, nil), http.StatusOK, &got)
	if got.Status != "shipped" || got.Quantity != 3 {
		t.Fatalf("after the refusals %+v", got)
	}

	// A customer with orders stays; once its orders are deleted it goes.
	s.dcFails(s.do(s.key, "DELETE", "/dev/crm/customers/"+bob.ID, nil), http.StatusConflict, "", "customer has orders")
	s.dcWant(s.do(s.key, "DELETE", "/dev/crm/orders/"+second.ID, nil), http.StatusNoContent, nil)
	s.dcFails(s.do(s.key, "GET", "/dev/crm/orders/"+second.ID, nil), http.StatusNotFound, "", "order not found")
	s.dcFails(s.do(s.key, "DELETE", "/dev/crm/orders/"+second.ID, nil), http.StatusNotFound, "", "order not found")
	s.dcFails(s.do(s.key, "PUT", "/dev/crm/orders/"+second.ID, map[string]any{"notes": "x"}), http.StatusNotFound, "", "order not found")
	list("", 2, third.ID, first.ID)
	s.dcWant(s.do(s.key, "DELETE", "/dev/crm/customers/"+bob.ID, nil), http.StatusNoContent, nil)
	s.dcFails(s.do(s.key, "POST", "/dev/crm/orders", map[string]any{"customer_id": bob.ID, "product_id": product, "quantity": 1}),
		http.StatusNotFound, "customer_id", "names no customer")
	for _, e := range s.events() {
		if e.StreamID.String() == second.ID && e.Type != "order.deleted" && !strings.Contains(string(e.Data), "redacted") {
			t.Fatalf("event %s of the deleted order keeps %s", e.Type, e.Data)
		}
	}
	s.assertReplayEqual()
}

// TestDevcrmOrdersAndFeedbackBadInput: every documented refusal of the
// order and feedback routes, in the API's shape naming the field.
func TestDevcrmOrdersAndFeedbackBadInput(t *testing.T) {
	s := newStack(t)
	cust := s.dcCustomerCreate(s.key, map[string]any{"name": "Cust", "email": "cust@example.com"})
	blocked := s.dcCustomerCreate(s.key, map[string]any{"name": "Blocked", "email": "blocked@example.com", "status": "blocked"})
	ord := s.dcOrderCreate(s.key, map[string]any{"customer_id": cust.ID, "product_id": uuid.NewString(), "quantity": 1})
	fb := s.dcFeedbackRequest(s.key, cust.ID)
	ok := map[string]any{"customer_id": cust.ID, "product_id": uuid.NewString(), "quantity": 1}
	with := func(k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range ok {
			out[kk] = vv
		}
		if v == nil && k != "" {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		field, words string
	}{
		{"POST", "/dev/crm/orders", `{"quantity": }`, 400, "", "malformed JSON"},
		{"POST", "/dev/crm/orders", with("color", "red"), 400, "color", "unknown field"},
		{"POST", "/dev/crm/orders", with("customer_id", nil), 400, "customer_id", "is required"},
		{"POST", "/dev/crm/orders", with("customer_id", "uuid-here"), 400, "customer_id", "must be a UUID"},
		{"POST", "/dev/crm/orders", with("product_id", nil), 400, "product_id", "is required"},
		{"POST", "/dev/crm/orders", with("product_id", "p-1"), 400, "product_id", "must be a UUID"},
		{"POST", "/dev/crm/orders", with("quantity", nil), 400, "quantity", "is required"},
		{"POST", "/dev/crm/orders", with("quantity", 0), 400, "quantity", "1 to 1000000"},
		{"POST", "/dev/crm/orders", with("quantity", -2), 400, "quantity", "1 to 1000000"},
		{"POST", "/dev/crm/orders", with("quantity", 1.5), 400, "quantity", "1 to 1000000"},
		{"POST", "/dev/crm/orders", with("quantity", "2"), 400, "quantity", "1 to 1000000"},
		{"POST", "/dev/crm/orders", with("quantity", 1000001), 400, "quantity", "1 to 1000000"},
		{"POST", "/dev/crm/orders", with("status", "lost"), 400, "status", "must be one of"},
		{"POST", "/dev/crm/orders", with("order_date", "yesterday"), 400, "order_date", "must be a date"},
		{"POST", "/dev/crm/orders", with("notes", 7), 400, "notes", "string"},
		{"POST", "/dev/crm/orders", with("customer_id", uuid.NewString()), 404, "customer_id", "names no customer"},
		{"PUT", "/dev/crm/orders/" + ord.ID, map[string]any{"status": "gone"}, 400, "status", "must be one of"},
		{"PUT", "/dev/crm/orders/" + ord.ID, map[string]any{"status": nil}, 400, "status", "must be one of"},
		{"PUT", "/dev/crm/orders/" + ord.ID, map[string]any{"quantity": 0}, 400, "quantity", "1 to 1000000"},
		{"PUT", "/dev/crm/orders/" + ord.ID, map[string]any{"quantity": nil}, 400, "quantity", "is required"},
		{"PUT", "/dev/crm/orders/" + ord.ID, map[string]any{"order_date": nil}, 400, "order_date", "cannot be null"},
		{"PUT", "/dev/crm/orders/" + ord.ID, map[string]any{"customer_id": cust.ID}, 400, "customer_id", "cannot change"},
		{"PUT", "/dev/crm/orders/" + ord.ID, map[string]any{"sku": "x"}, 400, "sku", "unknown field"},
		{"PUT", "/dev/crm/orders/" + uuid.NewString(), map[string]any{"notes": "x"}, 404, "", "order not found"},
		{"PUT", "/dev/crm/orders/not-a-uuid", map[string]any{"notes": "x"}, 404, "", "order not found"},
		{"GET", "/dev/crm/orders/" + uuid.NewString(), nil, 404, "", "order not found"},
		{"GET", "/dev/crm/orders/" + cust.ID, nil, 404, "", "order not found"},
		{"GET", "/dev/crm/orders/123", nil, 404, "", "order not found"},
		{"DELETE", "/dev/crm/orders/" + uuid.NewString(), nil, 404, "", "order not found"},
		{"GET", "/dev/crm/orders?status=lost", nil, 400, "status", "must be one of"},
		{"GET", "/dev/crm/orders?customer_id=bob", nil, 400, "customer_id", "must be a UUID"},
		{"GET", "/dev/crm/orders?limit=501", nil, 400, "limit", "1 to 500"},
		{"DELETE", "/dev/crm/customers/" + cust.ID, nil, 409, "", "customer has orders"},
		{"POST", "/dev/crm/customers/" + blocked.ID + "/feedback/request", nil, 409, "", "customer is blocked"},
		{"POST", "/dev/crm/customers/" + uuid.NewString() + "/feedback/request", nil, 404, "", "customer not found"},
		{"POST", "/dev/crm/customers/" + ord.ID + "/feedback/request", nil, 404, "", "customer not found"},
		{"POST", "/dev/crm/customers/x/feedback/request", nil, 404, "", "customer not found"},
		{"POST", "/dev/crm/feedback/" + fb.ID, map[string]any{"rating": 6}, 400, "rating", "1 to 5"},
		{"POST", "/dev/crm/feedback/" + fb.ID, map[string]any{"rating": 0}, 400, "rating", "1 to 5"},
		{"POST", "/dev/crm/feedback/" + fb.ID, map[string]any{"rating": 4.5}, 400, "rating", "1 to 5"},
		{"POST", "/dev/crm/feedback/" + fb.ID, map[string]any{"rating": "5"}, 400, "rating", "1 to 5"},
		{"POST", "/dev/crm/feedback/" + fb.ID, map[string]any{"comment": "no rating"}, 400, "rating", "is required"},
		{"POST", "/dev/crm/feedback/" + fb.ID, map[string]any{"rating": 5, "category": strings.Repeat("c", 65)}, 400, "category", "64"},
		{"POST", "/dev/crm/feedback/" + fb.ID, map[string]any{"rating": 5, "mood": "happy"}, 400, "mood", "unknown field"},
		{"POST", "/dev/crm/feedback/" + fb.ID, `[]`, 400, "", "JSON object"},
		{"POST", "/dev/crm/feedback/" + uuid.NewString(), map[string]any{"rating": 5}, 404, "", "feedback not found"},
		{"POST", "/dev/crm/feedback/" + cust.ID, map[string]any{"rating": 5}, 404, "", "feedback not found"},
		{"POST", "/dev/crm/feedback/nope", map[string]any{"rating": 5}, 404, "", "feedback not found"},
	} {
		s.dcFails(s.do(s.key, c.method, c.path, c.body), c.status, c.field, c.words)
	}
	for _, key := range []string{"", "le_live_unknown"} {
		for _, r := range []struct{ method, path string }{{"GET", "/dev/crm/orders"}, {"POST", "/dev/crm/orders"},
			{"GET", "/dev/crm/orders/" + ord.ID}, {"PUT", "/dev/crm/orders/" + ord.ID}, {"DELETE", "/dev/crm/orders/" + ord.ID},
			{"POST", "/dev/crm/customers/" + cust.ID + "/feedback/request"}, {"POST", "/dev/crm/feedback/" + fb.ID},
			{"GET", "/dev/crm/feedback/analytics"}, {"GET", "/dev/crm/feedback/themes"}, {"GET", "/dev/crm/feedback/dashboard"}} {
			s.dcFails(s.do(key, r.method, r.path, ok), http.StatusUnauthorized, "", "Invalid or missing API key")
		}
	}
	// Nothing refused was written.
	var orders dcList[dcOrder]
	s.dcWant(s.do(s.key, "GET", "/dev/crm/orders", nil), http.StatusOK, &orders)
	var f dashboardShape
	s.dcWant(s.do(s.key, "GET", "/dev/crm/feedback/dashboard", nil), http.StatusOK, &f)
	if orders.Total != 1 || orders.Data[0].Quantity != 1 || f.Requested != 1 || f.Received != 0 {
		t.Fatalf("after the refusals: orders %+v, feedback %+v", orders, f)
	}
	s.assertReplayEqual()
}

type dashboardShape struct {
	Requested    int64        `json:"requested"`
	Received     int64        `json:"received"`
	Expired      int64        `json:"expired"`
	ResponseRate float64      `json:"response_rate"`
	Recent       []dcFeedback `json:"recent"`
}

// TestDevcrmFeedback: requests, answers (once), analytics, themes and
// the dashboard; the customer's delete takes its feedback along.
func TestDevcrmFeedback(t *testing.T) {
	s := newStack(t)
	ann := s.dcCustomerCreate(s.key, map[string]any{"name": "Ann", "email": "ann@example.com"})
	bob := s.dcCustomerCreate(s.key, map[string]any{"name": "Bob", "email": "bob@example.com"})

	var empty struct {
		dcRatings
		Themes []dcRatings `json:"themes"`
	}
	s.dcWant(s.do(s.key, "GET", "/dev/crm/feedback/analytics", nil), http.StatusOK, &empty)
	if empty.Count != 0 || empty.MeanRating != 0 || len(empty.Themes) != 0 || len(empty.ByRating) != 5 {
		t.Fatalf("analytics with no feedback %+v", empty)
	}

	a1, a2, b1 := s.dcFeedbackRequest(s.key, ann.ID), s.dcFeedbackRequest(s.key, ann.ID), s.dcFeedbackRequest(s.key, bob.ID)
	s.dcFeedbackRequest(s.key, bob.ID) // stays unanswered
	if a1.Status != "requested" || a1.CustomerID != ann.ID || a1.Rating != nil || a1.ClosedAt != nil || a1.ID == a2.ID {
		t.Fatalf("requested %+v %+v", a1, a2)
	}
	var got dcFeedback
	s.dcWant(s.do(s.key, "POST", "/dev/crm/feedback/"+a1.ID, map[string]any{"rating": 5, "comment": "Great service!", "category": " Support "}),
		http.StatusOK, &got)
	if got.Status != "received" || *got.Rating != 5 || *got.Comment != "Great service!" || *got.Category != "support" || got.ClosedAt == nil {
		t.Fatalf("received %+v", got)
	}
	s.dcFails(s.do(s.key, "POST", "/dev/crm/feedback/"+a1.ID, map[string]any{"rating": 1}), http.StatusConflict, "", "feedback already received")
	s.dcWant(s.do(s.key, "POST", "/dev/crm/feedback/"+a2.ID, map[string]any{"rating": 2, "category": "support"}), http.StatusOK, &got)
	s.dcWant(s.do(s.key, "POST", "/dev/crm/feedback/"+b1.ID, map[string]any{"rating": 4}), http.StatusOK, &got)
	if got.Comment != nil || got.Category != nil {
		t.Fatalf("received without comment and category %+v", got)
	}

	var an struct {
		dcRatings
		Themes []dcRatings `json:"themes"`
	}
	s.dcWant(s.do(s.key, "GET", "/dev/crm/feedback/analytics", nil), http.StatusOK, &an)
	if an.Count != 3 || an.MeanRating != 11.0/3 || an.ByRating["5"] != 1 || an.ByRating["2"] != 1 || an.ByRating["4"] != 1 ||
		len(an.Themes) != 2 || *an.Themes[0].Category != "support" || an.Themes[0].Count != 2 || an.Themes[0].MeanRating != 3.5 ||
		an.Themes[1].Category != nil || an.Themes[1].Count != 1 {
		t.Fatalf("analytics %+v", an)
	}
	var th struct {
		Themes []dcRatings `json:"themes"`
	}
	s.dcWant(s.do(s.key, "GET", "/dev/crm/feedback/themes", nil), http.StatusOK, &th)
	if len(th.Themes) != 2 || *th.Themes[0].Category != "support" || th.Themes[0].ByRating["5"] != 1 {
		t.Fatalf("themes %+v", th)
	}
	var d dashboardShape
	s.dcWant(s.do(s.key, "GET", "/dev/crm/feedback/dashboard", nil), http.StatusOK, &d)
	if d.Requested != 1 || d.Received != 3 || d.Expired != 0 || d.ResponseRate != 0.75 || len(d.Recent) != 3 || d.Recent[0].ID != b1.ID {
		t.Fatalf("dashboard %+v", d)
	}

	// Ann's delete takes her requests and answers along.
	s.dcWant(s.do(s.key, "DELETE", "/dev/crm/customers/"+ann.ID, nil), http.StatusNoContent, nil)
	s.dcFails(s.do(s.key, "POST", "/dev/crm/feedback/"+a2.ID, map[string]any{"rating": 1}), http.StatusNotFound, "", "feedback not found")
	s.dcFails(s.do(s.key, "POST", "/dev/crm/customers/"+ann.ID+"/feedback/request", nil), http.StatusNotFound, "", "customer not found")
	s.dcWant(s.do(s.key, "GET", "/dev/crm/feedback/dashboard", nil), http.StatusOK, &d)
	if d.Requested != 1 || d.Received != 1 || len(d.Recent) != 1 || d.Recent[0].ID != b1.ID {
		t.Fatalf("dashboard after the delete %+v", d)
	}
	s.dcWant(s.do(s.key, "GET", "/dev/crm/feedback/analytics", nil), http.StatusOK, &an)
	if an.Count != 1 || an.MeanRating != 4 || len(an.Themes) != 1 {
		t.Fatalf("analytics after the delete %+v", an)
	}
	for _, e := range s.events() {
		if strings.Contains(string(e.Data), "Great service!") {
			t.Fatalf("event %s keeps the deleted customer's comment: %s", e.Type, e.Data)
		}
	}
	s.assertReplayEqual()
}

// TestDevcrmOrdersRandomAndHostileInput: random bodies at the order and
// feedback writes and SQL metacharacters in the order filters are answered
// 2xx or 4xx, never a 5xx, and the read models still equal a replay.
func TestDevcrmOrdersRandomAndHostileInput(t *testing.T) {
	s := newStack(t)
	c := s.dcCustomerCreate(s.key, map[string]any{"name": "Cust", "email": "cust@example.com"})
	o := s.dcOrderCreate(s.key, map[string]any{"customer_id": c.ID, "product_id": uuid.NewString(), "quantity": 1})
	orderFields := []string{"customer_id", "product_id", "quantity", "status", "order_date", "shipping_address", "billing_address", "notes"}
	answerFields := []string{"rating", "comment", "category"}
	rng := rand.New(rand.NewPCG(7, 3))
	for i := range 60 {
		method, path, fields := "POST", "/dev/crm/orders", orderFields
		switch i % 3 {
		case 1:
			method, path = "PUT", "/dev/crm/orders/"+o.ID
		case 2:
			path, fields = "/dev/crm/feedback/"+s.dcFeedbackRequest(s.key, c.ID).ID, answerFields
		}
		var body any = randomObject(rng, fields, 0)
		if i%5 == 0 {
			body = randomJSON(rng, 0)
		}
		raw, _ := json.Marshal(body)
		if r := s.settled(s.do(s.key, method, path, raw)); r.Status >= 500 {
			t.Errorf("%s %s with %s: %d %s", method, path, raw, r.Status, r.Body)
		}
	}
	for _, name := range []string{"status", "customer_id", "limit", "offset"} {
		for _, h := range []string{"'", "';--", "' or '1'='1", "1; drop table events; --", "%", `\`, "$1", "::uuid"} {
			if r := s.do(s.key, "GET", "/dev/crm/orders?"+name+"="+url.QueryEscape(h), nil); r.Status != 400 {
				t.Errorf("GET /dev/crm/orders?%s=%q: %d %s", name, h, r.Status, r.Body)
			}
		}
	}
	s.assertReplayEqual()
}

// TestDevcrmOrdersAndFeedbackRaces: a customer's delete racing orders for
// it either wins (the orders then name no customer: 404) or loses (409),
// never leaving an order of a deleted customer; answers racing on one
// feedback request record exactly one.
func TestDevcrmOrdersAndFeedbackRaces(t *testing.T) {
	s := newStack(t)
	for round := range 3 {
		c := s.dcCustomerCreate(s.key, map[string]any{"name": "Racer", "email": fmt.Sprintf("racer%d@example.com", round)})
		f := s.dcFeedbackRequest(s.key, c.ID)
		const writers = 4
		statuses := make([]int, writers+1)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var r response
				if i%2 == 0 {
					r = s.do(s.key, "POST", "/dev/crm/orders", map[string]any{"customer_id": c.ID, "product_id": uuid.NewString(), "quantity": 1})
				} else {
					r = s.do(s.key, "POST", "/dev/crm/feedback/"+f.ID, map[string]any{"rating": i, "comment": "race"})
				}
				statuses[i] = r.Status
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[writers] = s.do(s.key, "DELETE", "/dev/crm/customers/"+c.ID, nil).Status
		}()
		wg.Wait()
		s.caughtUp()
		var orders dcList[dcOrder]
		s.dcWant(s.do(s.key, "GET", "/dev/crm/orders?customer_id="+c.ID, nil), http.StatusOK, &orders)
		customerStatus := s.do(s.key, "GET", "/dev/crm/customers/"+c.ID, nil).Status
		answered := 0
		for i, st := range statuses[:writers] {
			if i%2 == 1 && st == http.StatusOK {
				answered++
			}
		}
		deleted := statuses[writers] == http.StatusNoContent
		switch {
		case deleted && (orders.Total != 0 || customerStatus != http.StatusNotFound):
			t.Fatalf("round %d: the customer was deleted (%v) yet %d orders name it, GET %d", round, statuses, orders.Total, customerStatus)
		case !deleted && (statuses[writers] != http.StatusConflict || orders.Total == 0 || customerStatus != http.StatusOK):
			t.Fatalf("round %d: the delete answered %d with %d orders, GET %d (%v)", round, statuses[writers], orders.Total, customerStatus, statuses)
		case answered > 1 || (!deleted && answered != 1):
			t.Fatalf("round %d: %d answers recorded to one request (%v)", round, answered, statuses)
		}
		for i, st := range statuses[:writers] {
			want := []int{http.StatusCreated, http.StatusOK}[i%2]
			if st != want && st != http.StatusNotFound && st != http.StatusConflict {
				t.Fatalf("round %d: writer %d answered %d (%v)", round, i, st, statuses)
			}
		}
	}
	s.assertReplayEqual()
}
