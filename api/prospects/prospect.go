package prospects

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/nyaruka/phonenumbers"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections"
)

// partnerType is the prospect type of a partner, the one partner data is for.
const partnerType = 3

// number reads a numeric path id; anything else names nothing.
func pathNumber(c *gin.Context, name string) (int64, bool) {
	n, err := strconv.ParseInt(c.Param(name), 10, 64)
	return n, err == nil && n > 0
}

// leadOf resolves the prospect id of the path (the lead number) inside the
// caller's tenant; a 404 otherwise.
func (h *handlers) leadOf(c *gin.Context) (uuid.UUID, bool) {
	n, ok := pathNumber(c, "id")
	if !ok {
		h.fail(c, notFound("Prospect"))
		return uuid.Nil, false
	}
	row, err := h.d.Leads.GetLeadByNumber(c.Request.Context(), api.Principal(c).TenantID, n)
	if errors.Is(err, projections.ErrNotFound) {
		h.fail(c, notFound("Prospect"))
		return uuid.Nil, false
	}
	if err != nil {
		h.fail(c, err)
		return uuid.Nil, false
	}
	return row.ID, true
}

// prospectBody is the answer of a prospect write: the prospect as the
// command left it, in the detail's shape.
type prospectBody struct {
	Prospect    prospectCore `json:"prospect"`
	FollowData  followData   `json:"follow_data"`
	PartnerData *partnerData `json:"partner_data"`
}

type prospectCore struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	CompanyName *string `json:"company_name"`
	Email       *string `json:"email"`
	PhoneCode   *string `json:"phone_code"`
	Phone       *string `json:"phone"`
	CompanyID   *int64  `json:"company_id"`
	FollowUpID  *int64  `json:"follow_up_id"`
	FollowName  string  `json:"follow_name"`
	LocaleID    *int    `json:"locale_id"`
	Type        int     `json:"type"`
	CreatedBy   *int64  `json:"created_by"`
}

type followData struct {
	Channel            *string  `json:"channel"`
	AccountValue       *float64 `json:"account_value"`
	MonthlyShipments   *string  `json:"monthly_shipments"`
	EcommerceTypeID    *int     `json:"ecommerce_type_id"`
	WeightID           *int     `json:"weight_id"`
	ContentID          *int     `json:"content_id"`
	AccountType        *string  `json:"account_type"`
	EstimatedCloseDate *string  `json:"estimated_close_date"`
	Annotations        *string  `json:"annotations"`
}

type partnerData struct {
	URL             *string `json:"url"`
	PartnerTypeID   *int    `json:"partner_type_id"`
	PartnerOriginID *int    `json:"partner_origin_id"`
	Rating          *int    `json:"rating"`
	LocaleID        *int    `json:"locale_id"`
	SocialNetwork   *string `json:"social_network"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// splitPhone shows an E.164 number as the document does: country code and
// national number, digits only.
func splitPhone(e164 string) (code, national *string) {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return nil, optional(strings.TrimPrefix(e164, "+"))
	}
	c := strconv.Itoa(int(num.GetCountryCode()))
	n := phonenumbers.GetNationalSignificantNumber(num)
	return &c, &n
}

// snake is a status name as follow_name shows it: lower-case, words
// joined by underscores.
func snake(name string) string {
	return strings.Join(strings.Fields(strings.ToLower(name)), "_")
}

// render is the prospect body of lead number n with profile p and status.
func (h *handlers) render(c *gin.Context, res commands.LeadResult) (prospectBody, error) {
	statuses, err := h.d.Commands.PipelineStatuses(c.Request.Context(), api.Principal(c).TenantID)
	if err != nil {
		return prospectBody{}, err
	}
	p := res.Profile
	out := prospectBody{Prospect: coreOf(res.Number, p, res.Status, statuses), FollowData: followDataOf(p)}
	if p.ProspectType == partnerType {
		out.PartnerData = &partnerData{URL: optional(p.Website), PartnerTypeID: optionalInt(p.PartnerTypeID),
			PartnerOriginID: optionalInt(p.PartnerOriginID), Rating: optionalInt(p.Rating),
			LocaleID: optionalInt(p.Locale), SocialNetwork: optional(p.Social["network"])}
	}
	return out, nil
}

// coreOf is the core fields of lead number n with profile p in status.
func coreOf(n int64, p domain.LeadProfile, status domain.Status, statuses []domain.PipelineStatus) prospectCore {
	core := prospectCore{ID: n, Name: p.Name, CompanyName: optional(p.Company), Email: optional(first1(p.Emails)),
		LocaleID: optionalInt(p.Locale), Type: max(p.ProspectType, 1)}
	if len(p.Phones) > 0 {
		core.PhoneCode, core.Phone = splitPhone(p.Phones[0])
	}
	core.FollowUpID, core.FollowName = followStatus(statuses, status)
	if by, err := strconv.ParseInt(p.LeadOwner, 10, 64); err == nil {
		core.CreatedBy = &by
	}
	return core
}

// followStatus is the id and follow_name of status key in the pipeline.
func followStatus(statuses []domain.PipelineStatus, key domain.Status) (*int64, string) {
	for _, s := range statuses {
		if s.Key == key {
			id := s.ID
			return &id, snake(s.Name)
		}
	}
	return nil, ""
}

// followDataOf is the follow-up data of a profile.
func followDataOf(p domain.LeadProfile) followData {
	return followData{Channel: optional(p.Source), AccountValue: p.DealValue, MonthlyShipments: optional(p.MonthlyShipments),
		EcommerceTypeID: optionalInt(p.EcommerceTypeID), WeightID: optionalInt(p.WeightID), ContentID: optionalInt(p.ContentID),
		AccountType: optional(string(p.AccountType)), EstimatedCloseDate: optional(p.EstimatedCloseDate),
		Annotations: optional(p.Notes)}
}

// edits are a decoded PATCH body: each field sent is an edit of the profile.
type edits []func(*domain.LeadProfile) error

func (e edits) apply(cur domain.LeadProfile) (domain.LeadProfile, error) {
	next := cur
	for _, edit := range e {
		if err := edit(&next); err != nil {
			return cur, err
		}
	}
	return domain.NormalizeProfile(next, "")
}

// update runs a PATCH of the prospect in the path with the edits decode
// makes of its body, and answers the prospect after it.
func (h *handlers) update(c *gin.Context, decode func(api.Object) (edits, *api.BadInput), fields ...string) {
	id, ok := h.leadOf(c)
	if !ok {
		return
	}
	o, bad := api.DecodeObject(c.Request.Body, fields...)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	e, bad := decode(o)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	res, err := h.d.Commands.UpdateLead(c.Request.Context(), api.CommandContext(c, Name), id,
		commands.UpdateLead{Edit: e.apply, Normalized: true})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answerProspect(c, res)
}

func (h *handlers) answerProspect(c *gin.Context, res commands.LeadResult) {
	h.d.AwaitReadModels(c, res.Position, readModels...)
	body, err := h.render(c, res)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, body)
}

// setText is the edit of a string field sent (null or blank clears it).
func setText(o api.Object, name string, max int, set func(*domain.LeadProfile, string)) (func(*domain.LeadProfile) error, *api.BadInput) {
	var v string
	if bad := text(o, name, &v); bad != nil {
		return nil, bad
	}
	if max > 0 && utf8.RuneCountInString(v) > max {
		return nil, badField(name, fmt.Sprintf("must be at most %d characters", max))
	}
	return func(p *domain.LeadProfile) error { set(p, v); return nil }, nil
}

// setInt is the edit of a catalogue id field sent (null clears it).
func setInt(o api.Object, name string, set func(*domain.LeadProfile, int)) (func(*domain.LeadProfile) error, *api.BadInput) {
	var v int64
	if bad := integer(o, name, &v, 0); bad != nil {
		return nil, bad
	}
	return func(p *domain.LeadProfile) error { set(p, int(v)); return nil }, nil
}

// coreFields are PATCH /prospects/{id}'s fields.
var coreFields = []string{"company_name", "name", "email", "phone_code", "phone", "created_by"}

func (h *handlers) updateProspect(c *gin.Context) {
	region := h.d.Commands.Region()
	h.update(c, func(o api.Object) (edits, *api.BadInput) { return decodeCore(o, region) }, coreFields...)
}

// decodeCore reads a core fields body; a phone is read in region when no
// phone_code comes with it.
func decodeCore(o api.Object, region string) (edits, *api.BadInput) {
	var e edits
	add := func(f func(*domain.LeadProfile) error, bad *api.BadInput) *api.BadInput {
		if bad == nil && f != nil {
			e = append(e, f)
		}
		return bad
	}
	var code, phone string
	bad := api.FirstBad(
		when(o, "company_name", func() *api.BadInput {
			return add(setText(o, "company_name", 0, func(p *domain.LeadProfile, v string) { p.Company = v }))
		}),
		when(o, "name", func() *api.BadInput {
			return add(setText(o, "name", 0, func(p *domain.LeadProfile, v string) { p.Name = v }))
		}),
		when(o, "email", func() *api.BadInput {
			var v string
			if bad := text(o, "email", &v); bad != nil {
				return bad
			}
			email := ""
			if v != "" {
				var err error
				if email, err = domain.NormalizeEmail(v); err != nil {
					return badField("email", "must be a valid email")
				}
			}
			e = append(e, func(p *domain.LeadProfile) error { p.Emails = primary(p.Emails, email); return nil })
			return nil
		}),
		text(o, "phone_code", &code), text(o, "phone", &phone),
		when(o, "created_by", func() *api.BadInput {
			var n int64
			if bad := integer(o, "created_by", &n, 1); bad != nil {
				return bad
			}
			owner := ""
			if n > 0 {
				owner = strconv.FormatInt(n, 10)
			}
			e = append(e, func(p *domain.LeadProfile) error { p.LeadOwner = owner; return nil })
			return nil
		}))
	if bad != nil {
		return nil, bad
	}
	if o.Sent("phone") {
		e164 := ""
		if phone != "" {
			var err error
			if e164, err = phoneOf(code, phone, region); err != nil {
				return nil, badField("phone", "with phone_code must be a valid phone number")
			}
		}
		e = append(e, func(p *domain.LeadProfile) error { p.Phones = primary(p.Phones, e164); return nil })
	} else if o.Sent("phone_code") {
		return nil, badField("phone_code", "needs phone")
	}
	return e, nil
}

// when runs read when field was sent.
func when(o api.Object, field string, read func() *api.BadInput) *api.BadInput {
	if !o.Sent(field) {
		return nil
	}
	return read()
}

// primary makes v the first entry of list in place of the old first; an
// empty v drops the first entry.
func primary(list []string, v string) []string {
	var out []string
	if v != "" {
		out = append(out, v)
	}
	for i, x := range list {
		if i > 0 && x != v {
			out = append(out, x)
		}
	}
	return out
}

// dataFields are PATCH /prospects/{id}/data's (and /clients/{id}/data's) fields.
var dataFields = []string{"name", "ecommerce_type_id", "channel", "account_value", "locale", "monthly_shipments",
	"weight_id", "content_id", "annotations", "account_type", "estimated_close_date"}

// decodeData reads a follow-up data body.
func decodeData(o api.Object) (edits, *api.BadInput) {
	var e edits
	add := func(f func(*domain.LeadProfile) error, bad *api.BadInput) *api.BadInput {
		if bad == nil && f != nil {
			e = append(e, f)
		}
		return bad
	}
	ints := []struct {
		name string
		set  func(*domain.LeadProfile, int)
	}{
		{"ecommerce_type_id", func(p *domain.LeadProfile, v int) { p.EcommerceTypeID = v }},
		{"locale", func(p *domain.LeadProfile, v int) { p.Locale = v }},
		{"weight_id", func(p *domain.LeadProfile, v int) { p.WeightID = v }},
		{"content_id", func(p *domain.LeadProfile, v int) { p.ContentID = v }},
	}
	steps := []*api.BadInput{
		when(o, "name", func() *api.BadInput {
			return add(setText(o, "name", 0, func(p *domain.LeadProfile, v string) { p.Name = v }))
		}),
		when(o, "channel", func() *api.BadInput {
			return add(setText(o, "channel", 0, func(p *domain.LeadProfile, v string) { p.Source = v }))
		}),
		when(o, "annotations", func() *api.BadInput {
			return add(setText(o, "annotations", 0, func(p *domain.LeadProfile, v string) { p.Notes = v }))
		}),
	}
	for _, f := range ints {
		steps = append(steps, when(o, f.name, func() *api.BadInput { return add(setInt(o, f.name, f.set)) }))
	}
	steps = append(steps,
		when(o, "account_value", func() *api.BadInput {
			v, ok, bad := api.Field[float64](o, "account_value", "a number")
			if bad != nil {
				return bad
			}
			if ok && v < 0 {
				return badField("account_value", "must not be negative")
			}
			e = append(e, func(p *domain.LeadProfile) error {
				p.DealValue = nil
				if ok {
					p.DealValue = &v
				}
				return nil
			})
			return nil
		}),
		when(o, "monthly_shipments", func() *api.BadInput {
			var v string
			if bad := shipments(o, &v); bad != nil {
				return bad
			}
			e = append(e, func(p *domain.LeadProfile) error { p.MonthlyShipments = v; return nil })
			return nil
		}),
		when(o, "account_type", func() *api.BadInput {
			var v string
			if bad := text(o, "account_type", &v); bad != nil {
				return bad
			}
			if v != "" && !validAccountType(v) {
				return badField("account_type", "must be one of individual, startup, sme, enterprise, corporate")
			}
			e = append(e, func(p *domain.LeadProfile) error { p.AccountType = domain.AccountType(v); return nil })
			return nil
		}),
		when(o, "estimated_close_date", func() *api.BadInput {
			var v string
			if bad := text(o, "estimated_close_date", &v); bad != nil {
				return bad
			}
			date := ""
			if v != "" {
				t, ok := dateOf(v)
				if !ok {
					return badField("estimated_close_date", "must be an ISO date (YYYY-MM-DD or RFC 3339)")
				}
				date = t.Format("2006-01-02")
			}
			e = append(e, func(p *domain.LeadProfile) error { p.EstimatedCloseDate = date; return nil })
			return nil
		}))
	return e, api.FirstBad(steps...)
}

func validAccountType(v string) bool {
	for _, t := range domain.AccountTypes {
		if string(t) == v {
			return true
		}
	}
	return false
}

func (h *handlers) updateData(c *gin.Context) { h.update(c, decodeData, dataFields...) }

// partnerFields are PATCH /prospects/{id}/partner-data's fields.
var partnerFields = []string{"url", "partner_type_id", "partner_origin_id", "rating", "locale_id", "social_network"}

// maxSocial bounds social_network, as the document does.
const maxSocial = 150

// decodePartner reads a partner data body: every field but social_network
// required; the edit refuses a prospect that is not a partner (type 3).
func decodePartner(o api.Object) (edits, *api.BadInput) {
	for _, f := range partnerFields[:5] {
		if !o.Has(f) {
			return nil, &api.BadInput{Status: http.StatusBadRequest, Code: "missing_field", Field: f, Reason: "is required"}
		}
	}
	var url, social string
	var typ, origin, rating, locale int64
	bad := api.FirstBad(text(o, "url", &url), integer(o, "partner_type_id", &typ, 1),
		integer(o, "partner_origin_id", &origin, 1), integer(o, "rating", &rating, 1), integer(o, "locale_id", &locale, 1),
		text(o, "social_network", &social))
	switch {
	case bad != nil:
		return nil, bad
	case url == "":
		return nil, badField("url", "must not be empty")
	case rating > 5:
		return nil, badField("rating", "must be an integer from 1 to 5")
	case utf8.RuneCountInString(social) > maxSocial:
		return nil, badField("social_network", fmt.Sprintf("must be at most %d characters", maxSocial))
	}
	return edits{func(p *domain.LeadProfile) error {
		if p.ProspectType != partnerType {
			return badField("id", "not a partner: partner data is for type 3 prospects")
		}
		p.Website, p.PartnerTypeID, p.PartnerOriginID, p.Rating, p.Locale = url, int(typ), int(origin), int(rating), int(locale)
		social := social
		next := map[string]string{}
		for k, v := range p.Social {
			next[k] = v
		}
		delete(next, "network")
		if social != "" {
			next["network"] = social
		}
		p.Social = next
		return nil
	}}, nil
}

func (h *handlers) updatePartnerData(c *gin.Context) { h.update(c, decodePartner, partnerFields...) }
