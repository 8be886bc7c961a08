package prospects

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
)

// ownerKind is whose records a route writes: a prospect's (a lead's) or a
// client's (a customer's).
type ownerKind struct {
	stream string // domain.LeadStream or domain.CustomerStream
	what   string // as a 404 names it
	origin string // the note origin that names it
}

var (
	prospectOwner = ownerKind{stream: domain.LeadStream, what: "Prospect", origin: "prospect"}
	clientOwner   = ownerKind{stream: domain.CustomerStream, what: "Client", origin: "company"}
)

// ownerOf resolves the path's {id} of kind k inside the caller's tenant.
func (h *handlers) ownerOf(c *gin.Context, k ownerKind) (commands.RecordOwner, int64, bool) {
	n, _ := pathNumber(c, "id")
	if k.stream == domain.LeadStream {
		id, ok := h.leadOf(c)
		return commands.RecordOwner{Stream: k.stream, ID: id}, n, ok
	}
	if n <= 0 {
		h.fail(c, notFound(k.what))
		return commands.RecordOwner{}, 0, false
	}
	id, err := h.d.Commands.CustomerByNumber(c.Request.Context(), api.Principal(c).TenantID, n)
	if errors.Is(err, domain.ErrCustomerNotFound) {
		h.fail(c, notFound(k.what))
		return commands.RecordOwner{}, 0, false
	}
	if err != nil {
		h.fail(c, err)
		return commands.RecordOwner{}, 0, false
	}
	return commands.RecordOwner{Stream: k.stream, ID: id}, n, true
}

// recordIn resolves the record number in path param name as one of kind
// k's records: a record of the other kind of owner is not found here.
func recordIn[T domain.Record](h *handlers, c *gin.Context, k ownerKind, name, what string) (commands.RecordOwner, int64, bool) {
	n, ok := pathNumber(c, name)
	if !ok {
		h.fail(c, notFound(what))
		return commands.RecordOwner{}, 0, false
	}
	owner, err := commands.RecordOwnerOf[T](c.Request.Context(), h.d.Commands, api.Principal(c).TenantID, n)
	if errors.Is(err, domain.ErrRecordNotFound) || (err == nil && owner.Stream != k.stream) {
		h.fail(c, notFound(what))
		return commands.RecordOwner{}, 0, false
	}
	if err != nil {
		h.fail(c, err)
		return commands.RecordOwner{}, 0, false
	}
	return owner, n, true
}

// recordFailed renders a record command's error: a record gone since it
// was looked up is the thing not found.
func (h *handlers) recordFailed(c *gin.Context, err error, what string) {
	if errors.Is(err, domain.ErrRecordNotFound) {
		err = notFound(what)
	}
	h.fail(c, err)
}

// contact is a contact as the API shows it.
type contact struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	Email     *string `json:"email"`
	PhoneCode *string `json:"phone_code"`
	Phone     *string `json:"phone"`
	Position  *string `json:"position"`
}

func contactOf(ct domain.Contact) contact {
	out := contact{ID: ct.Number, Name: ct.Name, Email: optional(ct.Email), Position: optional(ct.Position)}
	if ct.Phone != "" {
		out.PhoneCode, out.Phone = splitPhone(ct.Phone)
	}
	return out
}

// contactFields are a contact body's fields; isDefault only on PUT.
var contactFields = []string{"name", "email", "phone_code", "phone", "position"}

// contactBody is a decoded contact body: the fields sent, trimmed.
type contactBody struct {
	sent                               map[string]bool
	name, email, code, phone, position string
	isDefault                          bool
}

// decodeContact reads a contact body; required lists the fields that
// must be sent and not blank (all but position on POST, none on PUT).
func decodeContact(r io.Reader, required bool, fields ...string) (contactBody, *api.BadInput) {
	b := contactBody{sent: map[string]bool{}}
	o, bad := api.DecodeObject(r, fields...)
	if bad != nil {
		return b, bad
	}
	for _, k := range o.Keys() {
		b.sent[k] = true
	}
	var isDefault bool
	if o.Sent("isDefault") {
		v, _, bad := api.Field[bool](o, "isDefault", "a boolean")
		if bad != nil {
			return b, bad
		}
		isDefault = v
	}
	b.isDefault = isDefault
	bad = api.FirstBad(text(o, "name", &b.name), text(o, "email", &b.email), text(o, "phone_code", &b.code),
		text(o, "phone", &b.phone), text(o, "position", &b.position))
	if bad != nil {
		return b, bad
	}
	if required {
		for _, f := range []struct{ name, v string }{{"name", b.name}, {"email", b.email}, {"phone_code", b.code}, {"phone", b.phone}} {
			if f.v == "" {
				return b, &api.BadInput{Status: http.StatusBadRequest, Code: "missing_field", Field: f.name, Reason: "is required"}
			}
		}
	}
	return b, nil
}

// e164 is the body's phone in E.164 ("" when it sent none), a 400 naming
// phone when phone_code and phone are no number.
func (b contactBody) e164(region string) (string, *api.BadInput) {
	if b.phone == "" {
		return "", nil
	}
	p, err := phoneOf(b.code, b.phone, region)
	if err != nil {
		return "", badField("phone", "with phone_code must be a valid phone number")
	}
	return p, nil
}

func (h *handlers) addContact(k ownerKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		owner, _, ok := h.ownerOf(c, k)
		if !ok {
			return
		}
		b, bad := decodeContact(c.Request.Body, true, contactFields...)
		if bad != nil {
			h.fail(c, bad)
			return
		}
		phone, bad := b.e164(h.d.Commands.Region())
		if bad != nil {
			h.fail(c, bad)
			return
		}
		res, err := commands.AddRecord(c.Request.Context(), h.d.Commands, api.CommandContext(c, Name), owner,
			domain.Contact{Name: b.name, Email: b.email, Phone: phone, Position: b.position})
		if err != nil {
			h.fail(c, err)
			return
		}
		h.d.AwaitReadModels(c, res.Position, readModels...)
		c.JSON(http.StatusCreated, contactOf(res.Record))
	}
}

// changeContact is PUT /prospects/{id}/contacts: {id} is the contact's
// number, or with isDefault the prospect's, whose own name, email, phone
// and position (job title) change.
func (h *handlers) changeContact(c *gin.Context) {
	b, bad := decodeContact(c.Request.Body, false, append(contactFields, "isDefault")...)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	phone, bad := b.e164(h.d.Commands.Region())
	if bad != nil {
		h.fail(c, bad)
		return
	}
	email := b.email
	if email != "" {
		var err error
		if email, err = domain.NormalizeEmail(email); err != nil {
			h.fail(c, badField("email", "must be a valid email"))
			return
		}
	}
	if b.isDefault {
		id, ok := h.leadOf(c)
		if !ok {
			return
		}
		edit := func(cur domain.LeadProfile) (domain.LeadProfile, error) {
			next := cur
			if b.sent["name"] && b.name != "" {
				next.Name = b.name
			}
			if b.sent["email"] {
				next.Emails = primary(next.Emails, email)
			}
			if b.sent["phone"] {
				next.Phones = primary(next.Phones, phone)
			}
			if b.sent["position"] {
				next.JobTitle = b.position
			}
			return domain.NormalizeProfile(next, "")
		}
		res, err := h.d.Commands.UpdateLead(c.Request.Context(), api.CommandContext(c, Name), id,
			commands.UpdateLead{Edit: edit, Normalized: true})
		if err != nil {
			h.fail(c, err)
			return
		}
		h.answerProspect(c, res)
		return
	}
	if _, _, ok := recordIn[domain.Contact](h, c, prospectOwner, "id", "Contact"); !ok {
		return
	}
	n, _ := pathNumber(c, "id")
	changeRecord(h, c, n, "Contact", contactOf,
		func(cur domain.Contact) (domain.Contact, error) {
			if b.sent["name"] && b.name != "" {
				cur.Name = b.name
			}
			if b.sent["email"] {
				cur.Email = email
			}
			if b.sent["phone"] {
				cur.Phone = phone
			}
			if b.sent["position"] {
				cur.Position = b.position
			}
			return cur, nil
		})
}

// changeRecord changes record n of type T with edit and answers 200 with
// the record after it, as show renders it.
func changeRecord[T domain.Record, V any](h *handlers, c *gin.Context, n int64, what string, show func(T) V, edit func(T) (T, error)) {
	res, err := commands.ChangeRecord(c.Request.Context(), h.d.Commands, api.CommandContext(c, Name), n, edit)
	if err != nil {
		h.recordFailed(c, err, what)
		return
	}
	h.d.AwaitReadModels(c, res.Position, readModels...)
	c.JSON(http.StatusOK, show(res.Record))
}

// removeContact is DELETE /prospects/{id}/contacts: {id} is the contact's
// number (as the document says).
func (h *handlers) removeContact(c *gin.Context) {
	removeRecord[domain.Contact](h, c, prospectOwner, "Contact")
}

// removeRecord removes the record of type T the path's {id} names, when
// it is one of kind k's, answering 204.
func removeRecord[T domain.Record](h *handlers, c *gin.Context, k ownerKind, what string) {
	_, n, ok := recordIn[T](h, c, k, "id", what)
	if !ok {
		return
	}
	res, err := commands.RemoveRecord[T](c.Request.Context(), h.d.Commands, api.CommandContext(c, Name), n)
	if err != nil {
		h.recordFailed(c, err, what)
		return
	}
	h.d.AwaitReadModels(c, res.Position, readModels...)
	c.Status(http.StatusNoContent)
}

// actions are a note's actions; any other interaction kind shows as other.
var actions = []domain.InteractionKind{domain.KindCall, domain.KindWhatsapp, domain.KindEmail, domain.KindMeeting, domain.KindSMS, domain.KindOther}

// note is a note as the API shows it.
type note struct {
	ID            int64      `json:"id"`
	EntityType    string     `json:"entity_type"`
	EntityID      int64      `json:"entity_id"`
	Action        string     `json:"action"`
	Comment       string     `json:"comment"`
	ScheduledDate *time.Time `json:"scheduled_date"`
	FollowUpID    *int64     `json:"follow_up_id"`
	CreatedAt     time.Time  `json:"created_at"`
	CreatedBy     string     `json:"created_by"`
}

func noteOf(i domain.Interaction, k ownerKind, entity int64, follow *int64) note {
	action := string(domain.KindOther)
	for _, a := range actions {
		if i.Kind == a {
			action = string(a)
		}
	}
	return note{ID: i.Number, EntityType: k.origin, EntityID: entity, Action: action, Comment: i.Notes,
		ScheduledDate: i.NextActionAt, FollowUpID: follow, CreatedAt: i.OccurredAt, CreatedBy: i.Author}
}

// scheduled reads scheduled_date: an ISO date or null (none).
func scheduled(o api.Object) (*time.Time, *api.BadInput) {
	var s string
	if bad := text(o, "scheduled_date", &s); bad != nil || s == "" {
		return nil, bad
	}
	t, ok := dateOf(s)
	if !ok {
		return nil, badField("scheduled_date", "must be an ISO date (YYYY-MM-DD or RFC 3339)")
	}
	return &t, nil
}

// noteBody is a decoded note.
type noteBody struct {
	follow int64
	kind   domain.InteractionKind
	text   string
	at     *time.Time
}

// decodeNote reads a note body for an owner of kind k: note required,
// action one of actions (none: a plain note), follow only for a prospect.
func decodeNote(r io.Reader, k ownerKind) (noteBody, *api.BadInput) {
	nb := noteBody{kind: domain.KindNote}
	o, bad := api.DecodeObject(r, "follow", "action", "note", "scheduled_date")
	if bad != nil {
		return nb, bad
	}
	var action string
	bad = api.FirstBad(integer(o, "follow", &nb.follow, 1), text(o, "action", &action), text(o, "note", &nb.text))
	if bad == nil && nb.text == "" {
		bad = &api.BadInput{Status: http.StatusBadRequest, Code: "missing_field", Field: "note", Reason: "is required"}
	}
	if bad == nil && action != "" {
		nb.kind = domain.InteractionKind(action)
		if !slices.Contains(actions, nb.kind) {
			bad = badField("action", "must be one of call, whatsapp, email, meeting, sms, other")
		}
	}
	if bad == nil && nb.follow != 0 && k.stream != domain.LeadStream {
		bad = badField("follow", "a client's follow-up status does not change through a note")
	}
	at, atBad := scheduled(o)
	nb.at = at
	return nb, api.FirstBad(bad, atBad)
}

// addNote is POST …/{id}/notes: an interaction of the action's kind (note
// when none) with the scheduled date as its next action; a prospect's
// follow moves it to that pipeline status in the same commit as the note.
func (h *handlers) addNote(k ownerKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		owner, entity, ok := h.ownerOf(c, k)
		if !ok {
			return
		}
		nb, bad := decodeNote(c.Request.Body, k)
		if bad != nil {
			h.fail(c, bad)
			return
		}
		ctx, tenantID := c.Request.Context(), api.Principal(c).TenantID
		var status domain.PipelineStatus
		if nb.follow != 0 {
			s, err := h.d.Commands.StatusByID(ctx, tenantID, nb.follow)
			if errors.Is(err, domain.ErrStatusNotFound) {
				h.fail(c, badField("follow", "names no follow-up status"))
				return
			}
			if err != nil {
				h.fail(c, err)
				return
			}
			status = s
		}
		var moving []commands.RecordOption
		var followID *int64
		if nb.follow != 0 {
			moving, followID = append(moving, commands.MovingTo(status.Key)), &status.ID
		}
		res, err := commands.AddRecord(ctx, h.d.Commands, api.CommandContext(c, Name), owner, domain.Interaction{Kind: nb.kind,
			Notes: nb.text, NextActionAt: nb.at, OccurredAt: time.Now(), Author: api.TokenPrincipal(c).Subject}, moving...)
		if err != nil {
			h.fail(c, err)
			return
		}
		pos := res.Position
		h.d.AwaitReadModels(c, pos, readModels...)
		c.JSON(http.StatusCreated, noteOf(res.Record, k, entity, followID))
	}
}

// decodeReschedule reads a reschedule body: scheduled_date (null: none)
// and origin, both required.
func decodeReschedule(r io.Reader) (string, *time.Time, *api.BadInput) {
	o, bad := api.DecodeObject(r, "scheduled_date", "origin")
	if bad != nil {
		return "", nil, bad
	}
	var origin string
	bad = text(o, "origin", &origin)
	if bad == nil && !o.Sent("scheduled_date") {
		bad = &api.BadInput{Status: http.StatusBadRequest, Code: "missing_field", Field: "scheduled_date", Reason: "is required (null removes it)"}
	}
	if bad == nil && origin != prospectOwner.origin && origin != clientOwner.origin {
		bad = badField("origin", "must be one of prospect, company")
	}
	at, atBad := scheduled(o)
	return origin, at, api.FirstBad(bad, atBad)
}

// rescheduleNote is PATCH /prospects/{id}/notes/{noteId}: origin says
// whose note it is (prospect: {id} is a prospect; company: a client), and
// a note that is not that owner's is not found.
func (h *handlers) rescheduleNote(c *gin.Context) {
	origin, at, bad := decodeReschedule(c.Request.Body)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	k := prospectOwner
	if origin == clientOwner.origin {
		k = clientOwner
	}
	owner, entity, ok := h.ownerOf(c, k)
	if !ok {
		return
	}
	held, n, ok := recordIn[domain.Interaction](h, c, k, "noteId", "Note")
	if !ok {
		return
	}
	if held.ID != owner.ID {
		h.fail(c, notFound("Note"))
		return
	}
	changeRecord(h, c, n, "Note", func(i domain.Interaction) note { return noteOf(i, k, entity, nil) },
		func(cur domain.Interaction) (domain.Interaction, error) { cur.NextActionAt = at; return cur, nil })
}

// location is a location as the API shows it.
type location struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Link string `json:"link"`
	Type string `json:"type"`
}

func locationOf(l domain.Location) location {
	return location{ID: l.Number, Name: l.Name, Link: l.Link, Type: string(l.Type)}
}

// decodeLocation reads a location body; on POST every field is required.
func decodeLocation(r io.Reader, required bool) (map[string]bool, domain.Location, *api.BadInput) {
	var l domain.Location
	o, bad := api.DecodeObject(r, "name", "link", "type")
	if bad != nil {
		return nil, l, bad
	}
	sent := map[string]bool{}
	for _, k := range o.Keys() {
		sent[k] = o.Has(k)
	}
	var typ string
	if bad := api.FirstBad(text(o, "name", &l.Name), text(o, "link", &l.Link), text(o, "type", &typ)); bad != nil {
		return nil, l, bad
	}
	l.Type = domain.LocationType(strings.ToLower(typ))
	if required {
		for _, f := range []string{"name", "link", "type"} {
			if !sent[f] {
				return nil, l, &api.BadInput{Status: http.StatusBadRequest, Code: "missing_field", Field: f, Reason: "is required"}
			}
		}
	}
	return sent, l, nil
}

func (h *handlers) addLocation(k ownerKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		owner, _, ok := h.ownerOf(c, k)
		if !ok {
			return
		}
		_, l, bad := decodeLocation(c.Request.Body, true)
		if bad != nil {
			h.fail(c, bad)
			return
		}
		res, err := commands.AddRecord(c.Request.Context(), h.d.Commands, api.CommandContext(c, Name), owner, l)
		if err != nil {
			h.fail(c, err)
			return
		}
		h.d.AwaitReadModels(c, res.Position, readModels...)
		c.JSON(http.StatusCreated, locationOf(res.Record))
	}
}

func (h *handlers) changeLocation(k ownerKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		sent, l, bad := decodeLocation(c.Request.Body, false)
		if bad != nil {
			h.fail(c, bad)
			return
		}
		_, n, ok := recordIn[domain.Location](h, c, k, "id", "Location")
		if !ok {
			return
		}
		changeRecord(h, c, n, "Location", locationOf,
			func(cur domain.Location) (domain.Location, error) {
				if sent["name"] {
					cur.Name = l.Name
				}
				if sent["link"] {
					cur.Link = l.Link
				}
				if sent["type"] {
					cur.Type = l.Type
				}
				return cur, nil
			})
	}
}

func (h *handlers) removeLocation(k ownerKind) gin.HandlerFunc {
	return func(c *gin.Context) { removeRecord[domain.Location](h, c, k, "Location") }
}
