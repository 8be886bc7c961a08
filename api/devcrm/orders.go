package devcrm

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections/orders"
)

// orderStatuses are the API's order statuses, the domain's.
var orderStatuses = func() []string {
	out := make([]string, len(domain.OrderStatuses))
	for i, s := range domain.OrderStatuses {
		out[i] = string(s)
	}
	return out
}()

// orderModels are the read models an order write waits for.
var orderModels = []string{orders.Projection{}.Name()}

// order is an order as the API shows it; unset texts are null.
type order struct {
	ID              uuid.UUID `json:"id"`
	CustomerID      uuid.UUID `json:"customer_id"`
	ProductID       uuid.UUID `json:"product_id"`
	Quantity        int       `json:"quantity"`
	Status          string    `json:"status"`
	OrderDate       time.Time `json:"order_date"`
	ShippingAddress *string   `json:"shipping_address"`
	BillingAddress  *string   `json:"billing_address"`
	Notes           *string   `json:"notes"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

func orderOf(r orders.Order) order {
	return order{ID: r.ID, CustomerID: r.CustomerID, ProductID: r.ProductID, Quantity: r.Quantity, Status: string(r.Status),
		OrderDate: r.OrderDate.UTC(), ShippingAddress: optional(r.ShippingAddress), BillingAddress: optional(r.BillingAddress),
		Notes: optional(r.Notes), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func (h *handlers) listOrders(c *gin.Context) {
	f := orders.Filter{TenantID: api.Principal(c).TenantID}
	var status, customer string
	var bad *api.BadInput
	f.Limit, f.Offset, bad = page(c)
	if bad == nil {
		status, bad = oneOf(c, "status", orderStatuses)
	}
	if bad == nil {
		customer, bad = query(c, "customer_id")
	}
	if bad == nil && customer != "" {
		id, ok := parseUUID(customer)
		if !ok {
			bad = api.BadParam("customer_id", "must be a UUID")
		}
		f.CustomerID = id
	}
	if bad != nil {
		h.fail(c, bad)
		return
	}
	f.Status = domain.OrderStatus(status)
	rows, total, err := h.d.Orders.List(c.Request.Context(), f)
	answerPage(h, c, f.Limit, f.Offset, rows, total, err, orderOf)
}

// answerPage answers a page of a list read (or its error), each row shown
// with show.
func answerPage[R, T any](h *handlers, c *gin.Context, limit, offset int, rows []R, total int64, err error, show func(R) T) {
	if err != nil {
		h.fail(c, err)
		return
	}
	out := list[T]{Data: make([]T, len(rows)), Total: total, Limit: limit, Offset: offset}
	for i, r := range rows {
		out.Data[i] = show(r)
	}
	c.JSON(http.StatusOK, out)
}

func (h *handlers) getOrder(c *gin.Context) {
	if row, ok := found(h, c, "orderId", "order", h.d.Orders.Get); ok {
		c.JSON(http.StatusOK, orderOf(row))
	}
}

// answerOrder answers an order write.
func (h *handlers) answerOrder(c *gin.Context, status int, res commands.OrderResult) {
	now := time.Now()
	answerRead(h, c, status, res.Position, orderModels, res.OrderID, h.d.Orders.Get, orderOf,
		orders.Order{ID: res.OrderID, CustomerID: res.CustomerID, Status: res.Status, OrderDetails: res.Order, CreatedAt: now, UpdatedAt: now})
}

// answerRead answers a write of row id as the read model shows it once
// models caught up to pos (read with get, shown with show), else as the
// command left it (made).
func answerRead[R, T any](h *handlers, c *gin.Context, status int, pos eventstore.Position, models []string, id uuid.UUID,
	get func(context.Context, uuid.UUID, uuid.UUID) (R, error), show func(R) T, made R) {
	if h.d.AwaitReadModels(c, pos, models...) {
		if row, err := get(c.Request.Context(), api.Principal(c).TenantID, id); err == nil {
			made = row
		}
	}
	c.JSON(status, show(made))
}

// pathIn is the UUID of path parameter param, or false with a 404 naming
// what answered.
func (h *handlers) pathIn(c *gin.Context, param, what string) (uuid.UUID, bool) {
	id, bad := pathID(c, param, what)
	if bad != nil {
		h.fail(c, bad)
	}
	return id, bad == nil
}

// orderFields are an order body's fields, the document's.
var orderFields = []string{"customer_id", "product_id", "quantity", "status", "order_date", "shipping_address",
	"billing_address", "notes"}

// orderEdit is a decoded order body.
type orderEdit struct {
	edits[domain.OrderDetails]
	customerID uuid.UUID          // create only
	status     domain.OrderStatus // "" keeps (update) or pending (create)
}

// decodeOrder reads an order body: on create customer_id, product_id and
// quantity are required; on update every field is optional (absent keeps,
// null clears a text; product_id, quantity, status and order_date cannot
// be null there) and customer_id is refused: an order stays its
// customer's. quantity is a whole number from 1 (the domain bounds it
// above), status one of orderStatuses, order_date a date.
func decodeOrder(o api.Object, create bool) (orderEdit, *api.BadInput) {
	var e orderEdit
	type D = domain.OrderDetails
	str := func(f func(*D, string)) func(string, bool, *api.BadInput) *api.BadInput { return take(&e.edits, f) }
	customer, _, customerBad := sentUUID(o, "customer_id")
	switch {
	case customerBad != nil:
	case !create && o.Sent("customer_id"):
		customerBad = badField("customer_id", "cannot change: an order stays its customer's")
	case create && customer == "":
		customerBad = missing("customer_id")
	case create:
		e.customerID = uuid.MustParse(customer)
	}
	product, productSent, productBad := sentUUID(o, "product_id")
	if productBad == nil && (create || productSent) && product == "" {
		productBad = missing("product_id")
	}
	quantity, quantitySent, quantityBad := sentNumber(o, "quantity", "an integer from 1 to 1000000", true, 1_000_000)
	if quantityBad == nil && (create || quantitySent) && quantity == nil {
		quantityBad = missing("quantity")
	}
	if quantityBad == nil && quantity != nil && *quantity < 1 {
		quantityBad = badField("quantity", "must be an integer from 1 to 1000000")
	}
	status, _, statusBad := sentEnum(o, "status", orderStatuses, create)
	e.status = domain.OrderStatus(status)
	date, dateSent, dateBad := sentDate(o, "order_date")
	if dateBad == nil && !create && dateSent && date == nil {
		dateBad = badField("order_date", "cannot be null")
	}
	bad := api.FirstBad(
		customerBad,
		str(func(d *D, v string) { d.ProductID = uuid.MustParse(v) })(product, productSent, productBad),
		take(&e.edits, func(d *D, v *float64) { d.Quantity = int(*v) })(quantity, quantitySent, quantityBad),
		statusBad,
		take(&e.edits, func(d *D, v *time.Time) {
			if v != nil {
				d.OrderDate = *v
			}
		})(date, dateSent, dateBad),
		str(func(d *D, v string) { d.ShippingAddress = v })(sentText(o, "shipping_address", false)),
		str(func(d *D, v string) { d.BillingAddress = v })(sentText(o, "billing_address", false)),
		str(func(d *D, v string) { d.Notes = v })(sentText(o, "notes", false)),
	)
	if bad != nil {
		return orderEdit{}, bad
	}
	return e, nil
}

func (h *handlers) createOrder(c *gin.Context) {
	e, ok := readBody(h, c, orderFields, func(o api.Object) (orderEdit, *api.BadInput) { return decodeOrder(o, true) })
	if !ok {
		return
	}
	res, err := h.d.Commands.CreateOrder(c.Request.Context(), api.CommandContext(c, Name),
		commands.CreateOrder{CustomerID: e.customerID, Order: e.apply(domain.OrderDetails{}), Status: e.status})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answerOrder(c, http.StatusCreated, res)
}

// updateOrder changes the fields sent; the command judges the status
// move against the order as stored (409 naming both statuses).
func (h *handlers) updateOrder(c *gin.Context) {
	id, ok := h.pathIn(c, "orderId", "order")
	if !ok {
		return
	}
	e, ok := readBody(h, c, orderFields, func(o api.Object) (orderEdit, *api.BadInput) { return decodeOrder(o, false) })
	if !ok {
		return
	}
	res, err := h.d.Commands.UpdateOrder(c.Request.Context(), api.CommandContext(c, Name), id, commands.UpdateOrder{
		Edit:   func(cur domain.OrderDetails) (domain.OrderDetails, error) { return e.apply(cur), nil },
		Status: e.status})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answerOrder(c, http.StatusOK, res)
}
