package devcrm

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/projections/calllogs"
	"github.com/crmcore/crm/projections/leads"
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
		ctx, tenantID := c.Request.Context(), api.Principal(c).TenantID
		// An owner holds at most domain.MaxInteractionsPerOwner: the page
		// is cut here.
		rows, err := h.d.Records.Interactions(ctx, tenantID, owner.ID)
		if err != nil {
			h.fail(c, err)
			return
		}
		all := make([]dated, len(rows))
		for i, r := range rows {
			all[i] = dated{at: r.OccurredAt, shown: s.show(r)}
		}
		total := int64(len(rows))
		if s.stream == domain.LeadStream {
			more, n, err := h.leadReadOnly(ctx, tenantID, owner.ID, offset+limit)
			if err != nil {
				h.fail(c, err)
				return
			}
			all, total = append(all, more...), total+n
			// Each source is latest first; a tie keeps interactions, then
			// call logs, then comments.
			slices.SortStableFunc(all, func(a, b dated) int { return b.at.Compare(a.at) })
		}
		out := list[any]{Data: []any{}, Total: total, Limit: limit, Offset: offset}
		for i := offset; i < len(all) && i < offset+limit; i++ {
			out.Data = append(out.Data, all[i].shown)
		}
		c.JSON(http.StatusOK, out)
	}
}

// dated is an item of an interaction list and its date, the list's order.
type dated struct {
	at    time.Time
	shown any
}

// commentIDSpace is the UUID namespace of the ids a lead's comments show
// with among its interactions (written in openapi.json).
var commentIDSpace = uuid.MustParse("0b6d3f3e-5c2a-4d8e-9f7b-1a2c3d4e5f60")

// commentInteractionID is the interaction id comment commentID of the lead
// shows with: a name-based (SHA-1, version 5) UUID of
// "<lead id>/comments/<comment id>" in commentIDSpace, the same on every
// read.
func commentInteractionID(leadID uuid.UUID, commentID int64) uuid.UUID {
	return uuid.NewSHA1(commentIDSpace, []byte(leadID.String()+"/comments/"+strconv.FormatInt(commentID, 10)))
}

// leadComments returns the lead's comments, folded from its stream, the
// live ones (a redacted comment has id 0).
func (h *handlers) leadComments(ctx context.Context, tenantID, leadID uuid.UUID) ([]leads.Comment, error) {
	events, err := h.d.Commands.AllCommentEvents(ctx, tenantID, leadID)
	if err != nil {
		return nil, err
	}
	folded, err := leads.FoldComments(events)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(folded, func(c leads.Comment) bool { return c.ID == 0 }), nil
}

// leadReadOnly returns the lead's call logs (type call) and comments (type
// note) as its interactions show them, each source latest first, and how
// many there are: written through other APIs (decision 16), read-only
// here. Of the call logs only the first upTo are read (a page can show no
// more of them); a lead holds at most domain.MaxCommentsPerLead comments.
func (h *handlers) leadReadOnly(ctx context.Context, tenantID, leadID uuid.UUID, upTo int) ([]dated, int64, error) {
	calls, n, err := h.d.CallLogs.ListCallLogs(ctx, calllogs.Filter{TenantID: tenantID, LeadID: leadID, Limit: upTo})
	if err != nil {
		return nil, 0, err
	}
	comments, err := h.leadComments(ctx, tenantID, leadID)
	if err != nil {
		return nil, 0, err
	}
	out := make([]dated, 0, len(calls)+len(comments))
	for _, r := range calls {
		out = append(out, dated{at: r.CalledAt, shown: leadInteraction{ID: r.ID, LeadID: leadID, Type: string(domain.KindCall),
			Notes: optional(r.Notes), Date: r.CalledAt.UTC(), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.CreatedAt.UTC()}})
	}
	for i := len(comments) - 1; i >= 0; i-- {
		cm := comments[i]
		out = append(out, dated{at: cm.CreatedAt, shown: leadInteraction{ID: commentInteractionID(leadID, cm.ID), LeadID: leadID,
			Type: string(domain.KindNote), Notes: optional(cm.Content), Date: cm.CreatedAt.UTC(), CreatedAt: cm.CreatedAt.UTC(),
			UpdatedAt: cm.UpdatedAt.UTC()}})
	}
	return out, n + int64(len(comments)), nil
}

// readOnlyRefusal is the 409 of a write to id, the lead's call log or
// comment (read-only among its interactions), or nil when id is neither.
func (h *handlers) readOnlyRefusal(ctx context.Context, tenantID, leadID, id uuid.UUID) (*api.BadInput, error) {
	call, err := h.d.CallLogs.GetCallLog(ctx, tenantID, id)
	if err == nil && call.LeadID == leadID {
		return readOnly("a call log is changed through the Cratio API (/api/v1/call-logs), not here"), nil
	}
	if err != nil && !errors.Is(err, projections.ErrNotFound) {
		return nil, err
	}
	comments, err := h.leadComments(ctx, tenantID, leadID)
	if err != nil {
		return nil, err
	}
	for _, cm := range comments {
		if commentInteractionID(leadID, cm.ID) == id {
			return readOnly("a comment is changed through the Leads API (/leads/comments/{id}), not here"), nil
		}
	}
	return nil, nil
}

// readOnly is the 409 of a write to an interaction another API writes.
func readOnly(reason string) *api.BadInput {
	return &api.BadInput{Status: http.StatusConflict, Code: "read_only", Field: "interactionId", Reason: reason}
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
	ctx, tenantID := c.Request.Context(), api.Principal(c).TenantID
	owner, n, err := h.d.Commands.InteractionByID(ctx, tenantID, id)
	if errors.Is(err, domain.ErrRecordNotFound) || (err == nil && (owner.ID != ownerID || owner.Stream != s.stream)) {
		refusal := notFound("interaction")
		if s.stream == domain.LeadStream && errors.Is(err, domain.ErrRecordNotFound) {
			conflict, err := h.readOnlyRefusal(ctx, tenantID, ownerID, id)
			if err != nil {
				h.fail(c, err)
				return 0, false
			}
			if conflict != nil {
				refusal = conflict
			}
		}
		h.fail(c, refusal)
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
