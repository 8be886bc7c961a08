package devcrm

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/records"
)

// side is whose interactions a route serves: a lead's or a customer's,
// each with its own vocabulary of types and fields.
type side struct {
	stream string // domain.LeadStream or domain.CustomerStream
	param  string // the path parameter of the owner's id
	what   string // as a 404 names the owner
	kinds  []domain.InteractionKind
	// shownAs is the type a kind outside kinds shows as (one written
	// through another API).
	shownAs domain.InteractionKind
	fields  []string
}

var (
	leadSide = side{stream: domain.LeadStream, param: "leadId", what: "lead",
		kinds:   []domain.InteractionKind{domain.KindCall, domain.KindEmail, domain.KindMeeting, domain.KindNote},
		shownAs: domain.KindNote, fields: []string{"type", "notes", "next_action", "next_action_date"}}
	customerSide = side{stream: domain.CustomerStream, param: "customerId", what: "customer",
		kinds: []domain.InteractionKind{domain.KindEmail, domain.KindCall, domain.KindMeeting, domain.KindSupport,
			domain.KindPurchase, domain.KindOther},
		shownAs: domain.KindOther,
		fields:  []string{"type", "subject", "date", "description", "outcome", "next_action", "next_action_date"}}
)

func (s side) kindNames() []string {
	out := make([]string, len(s.kinds))
	for i, k := range s.kinds {
		out[i] = string(k)
	}
	return out
}

// shown is the type kind shows as on this side.
func (s side) shown(k domain.InteractionKind) string {
	if slices.Contains(s.kinds, k) {
		return string(k)
	}
	return string(s.shownAs)
}

// leadInteraction is a lead's interaction as the API shows it.
type leadInteraction struct {
	ID             uuid.UUID  `json:"id"`
	LeadID         uuid.UUID  `json:"lead_id"`
	Type           string     `json:"type"`
	Notes          *string    `json:"notes"`
	NextAction     *string    `json:"next_action"`
	NextActionDate *time.Time `json:"next_action_date"`
	Date           time.Time  `json:"date"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// customerInteraction is a customer's interaction as the API shows it.
type customerInteraction struct {
	ID             uuid.UUID  `json:"id"`
	CustomerID     uuid.UUID  `json:"customer_id"`
	Type           string     `json:"type"`
	Subject        string     `json:"subject"`
	Description    *string    `json:"description"`
	Date           time.Time  `json:"date"`
	Outcome        *string    `json:"outcome"`
	NextAction     *string    `json:"next_action"`
	NextActionDate *time.Time `json:"next_action_date"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// show is an interaction row as this side shows it.
func (s side) show(r records.Interaction) any {
	at := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	if s.stream == domain.LeadStream {
		return leadInteraction{ID: r.ID, LeadID: r.Owner.ID, Type: s.shown(r.Kind), Notes: optional(r.Notes),
			NextAction: optional(r.NextAction), NextActionDate: at(r.NextActionAt), Date: r.OccurredAt.UTC(),
			CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	}
	subject := r.Subject
	if subject == "" { // written through another API, which has no subject
		subject = s.shown(r.Kind)
	}
	return customerInteraction{ID: r.ID, CustomerID: r.Owner.ID, Type: s.shown(r.Kind), Subject: subject,
		Description: optional(r.Notes), Date: r.OccurredAt.UTC(), Outcome: optional(r.Outcome),
		NextAction: optional(r.NextAction), NextActionDate: at(r.NextActionAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// owner resolves the path's owner id inside the caller's tenant (a 404
// answered otherwise).
func (h *handlers) owner(c *gin.Context, s side) (commands.RecordOwner, bool) {
	if s.stream == domain.LeadStream {
		row, ok := h.leadIn(c)
		return commands.RecordOwner{Stream: s.stream, ID: row.ID}, ok
	}
	row, ok := h.customerIn(c)
	return commands.RecordOwner{Stream: s.stream, ID: row.ID}, ok
}

func (h *handlers) listInteractions(s side) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit, offset, bad := page(c)
		if bad != nil {
			h.fail(c, bad)
			return
		}
		owner, ok := h.owner(c, s)
		if !ok {
			return
		}
		// An owner holds at most domain.MaxInteractionsPerOwner: the page
		// is cut here.
		rows, err := h.d.Records.Interactions(c.Request.Context(), api.Principal(c).TenantID, owner.ID)
		if err != nil {
			h.fail(c, err)
			return
		}
		out := list[any]{Data: []any{}, Total: int64(len(rows)), Limit: limit, Offset: offset}
		for i := offset; i < len(rows) && i < offset+limit; i++ {
			out.Data = append(out.Data, s.show(rows[i]))
		}
		c.JSON(http.StatusOK, out)
	}
}

// interactionEdit is a decoded interaction body.
type interactionEdit = edits[domain.Interaction]

// decodeInteraction reads an interaction body of side s: on create type
// (and a customer's subject and date) is required; on update absent keeps
// and null clears the optional fields (not type, subject or date).
func decodeInteraction(o api.Object, s side, create bool) (interactionEdit, *api.BadInput) {
	var e interactionEdit
	type I = domain.Interaction
	customer := s.stream == domain.CustomerStream
	str := func(f func(*I, string)) func(string, bool, *api.BadInput) *api.BadInput { return take(&e, f) }
	kind, kindSent, kindBad := sentEnum(o, "type", s.kindNames(), false)
	if kindBad == nil && !kindSent && create {
		kindBad = missing("type")
	}
	steps := []*api.BadInput{
		take(&e, func(i *I, v string) { i.Kind = domain.InteractionKind(v) })(kind, kindSent, kindBad),
	}
	notes := "notes"
	if customer {
		notes = "description"
		at, atSent, atBad := sentDate(o, "date")
		if atBad == nil && at == nil && (atSent || create) {
			atBad = missing("date")
		}
		steps = append(steps,
			str(func(i *I, v string) { i.Subject = v })(sentText(o, "subject", create || o.Sent("subject"))),
			take(&e, func(i *I, v *time.Time) { i.OccurredAt = *v })(at, atSent, atBad))
	}
	steps = append(steps, str(func(i *I, v string) { i.Notes = v })(sentText(o, notes, false)))
	if customer {
		steps = append(steps, str(func(i *I, v string) { i.Outcome = v })(sentText(o, "outcome", false)))
	}
	steps = append(steps,
		str(func(i *I, v string) { i.NextAction = v })(sentText(o, "next_action", false)),
		take(&e, func(i *I, v *time.Time) { i.NextActionAt = v })(sentDate(o, "next_action_date")))
	if bad := api.FirstBad(steps...); bad != nil {
		return nil, bad
	}
	return e, nil
}

// answerInteraction answers an interaction write with the interaction as
// the read model shows it once caught up, else as the command left it.
func (h *handlers) answerInteraction(c *gin.Context, s side, status int, res commands.RecordResult[domain.Interaction]) {
	if h.d.AwaitReadModels(c, res.Position, readModels...) {
		row, err := h.d.Records.InteractionByID(c.Request.Context(), api.Principal(c).TenantID, res.Record.ID)
		if err == nil {
			c.JSON(status, s.show(row))
			return
		}
		if !errors.Is(err, projections.ErrNotFound) {
			h.fail(c, err)
			return
		}
	}
	now := time.Now()
	c.JSON(status, s.show(records.Interaction{Interaction: res.Record, Owner: records.Owner{Type: s.stream, ID: res.Owner.ID},
		CreatedAt: now, UpdatedAt: now}))
}

func (h *handlers) addInteraction(s side) gin.HandlerFunc {
	return func(c *gin.Context) {
		owner, ok := h.owner(c, s)
		if !ok {
			return
		}
		e, ok := readBody(h, c, s.fields, func(o api.Object) (interactionEdit, *api.BadInput) { return decodeInteraction(o, s, true) })
		if !ok {
			return
		}
		rec := e.apply(domain.Interaction{OccurredAt: time.Now(), Author: "api_key:" + api.Principal(c).KeyID.String()})
		res, err := commands.AddRecord(c.Request.Context(), h.d.Commands, api.CommandContext(c, Name), owner, rec)
		if err != nil {
			h.fail(c, err)
			return
		}
		h.answerInteraction(c, s, http.StatusCreated, res)
	}
}

// interactionIn resolves the path's interaction id as one of the path
// owner's; anything else is a 404.
func (h *handlers) interactionIn(c *gin.Context, s side) (int64, bool) {
	ownerID, bad := pathID(c, s.param, s.what)
	var id uuid.UUID
	if bad == nil {
		id, bad = pathID(c, "interactionId", "interaction")
	}
	if bad != nil {
		h.fail(c, bad)
		return 0, false
	}
	owner, n, err := h.d.Commands.InteractionByID(c.Request.Context(), api.Principal(c).TenantID, id)
	if errors.Is(err, domain.ErrRecordNotFound) || (err == nil && (owner.ID != ownerID || owner.Stream != s.stream)) {
		h.fail(c, notFound("interaction"))
		return 0, false
	}
	if err != nil {
		h.fail(c, err)
		return 0, false
	}
	return n, true
}

// recordFailed renders a record command's error: a record gone since it
// was looked up is the interaction not found.
func (h *handlers) recordFailed(c *gin.Context, err error) {
	if errors.Is(err, domain.ErrRecordNotFound) {
		err = notFound("interaction")
	}
	h.fail(c, err)
}

func (h *handlers) changeInteraction(s side) gin.HandlerFunc {
	return func(c *gin.Context) {
		n, ok := h.interactionIn(c, s)
		if !ok {
			return
		}
		e, ok := readBody(h, c, s.fields, func(o api.Object) (interactionEdit, *api.BadInput) { return decodeInteraction(o, s, false) })
		if !ok {
			return
		}
		res, err := commands.ChangeRecord(c.Request.Context(), h.d.Commands, api.CommandContext(c, Name), n,
			func(cur domain.Interaction) (domain.Interaction, error) { return e.apply(cur), nil })
		if err != nil {
			h.recordFailed(c, err)
			return
		}
		h.answerInteraction(c, s, http.StatusOK, res)
	}
}

func (h *handlers) removeInteraction(s side) gin.HandlerFunc {
	return func(c *gin.Context) {
		n, ok := h.interactionIn(c, s)
		if !ok {
			return
		}
		res, err := commands.RemoveRecord[domain.Interaction](c.Request.Context(), h.d.Commands, api.CommandContext(c, Name), n)
		if err != nil {
			h.recordFailed(c, err)
			return
		}
		h.d.AwaitReadModels(c, res.Position, readModels...)
		c.Status(http.StatusNoContent)
	}
}
