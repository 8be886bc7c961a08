package overplane

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
)

// patch is a decoded create or update body: each param sent becomes an edit
// of the profile, so a create is a patch of an empty lead and an update
// changes only what it was sent. An explicit null, like a blank string,
// resets a param to its default.
type patch struct {
	sent   map[string]bool
	edits  []func(*domain.LeadProfile)
	status domain.Status // "" when not sent; set by resolveStatus
	// statusName is the status as sent, statusNull whether it was null:
	// resolveStatus finds it in the tenant's pipeline.
	statusName string
	statusNull bool
	// phoneGiven and mobileGiven say which params brought a phone number,
	// so a phone another lead owns is blamed on the right one.
	phoneGiven, mobileGiven bool
}

// invalidParam is a 400 for a param whose value the API does not accept.
func invalidParam(param, reason string) *api.BadInput {
	return &api.BadInput{Status: http.StatusBadRequest, Code: "parameter_invalid", Field: param, Reason: reason}
}

// missingParam is a 400 for a lead left without something it needs.
func missingParam(param, reason string) *api.BadInput {
	return &api.BadInput{Status: http.StatusBadRequest, Code: "parameter_missing", Field: param, Reason: reason}
}

// decodePatch reads a lead body, answering its first fault in the order
// Overplane always has: the text params' types, the flags', then email_id,
// phone, mobile_no, lead_owner, annual_revenue and status, each its type
// then its value. Its contact params are normalized by
// domain.NormalizeProfile, national phone numbers read in region.
func decodePatch(r io.Reader, region string) (patch, *api.BadInput) {
	pt := patch{sent: map[string]bool{}}
	body, bad := api.DecodeObject(r, bodyParams...)
	if bad != nil {
		return pt, bad
	}
	// An explicit null resets a param; a param not sent is kept.
	for _, k := range body.Keys() {
		pt.sent[k] = true
	}
	str := func(name string) (string, *api.BadInput) {
		v, _, bad := api.Field[string](body, name, "a string or null")
		return strings.TrimSpace(v), bad
	}
	for _, f := range textFields {
		if !pt.sent[f.param] {
			continue
		}
		v, bad := str(f.param)
		if bad != nil {
			return pt, bad
		}
		pt.edits = append(pt.edits, func(p *domain.LeadProfile) { *f.field(p) = v })
	}
	for _, f := range flagFields {
		if !pt.sent[f.param] {
			continue
		}
		v, _, bad := api.Field[bool](body, f.param, "a boolean or null")
		if bad != nil {
			return pt, bad
		}
		pt.edits = append(pt.edits, func(p *domain.LeadProfile) { *f.field(p) = v })
	}
	// The params below are read first and judged after, once the contact
	// params are normalized together (domain.NormalizeProfile).
	var email, phone, mobile, owner string
	read := func(param string, dst *string) *api.BadInput {
		if !pt.sent[param] {
			return nil
		}
		v, _, bad := api.Field[string](body, param, "a string or null")
		*dst = v
		return bad
	}
	emailType, phoneType, mobileType, ownerType := read("email_id", &email), read("phone", &phone), read("mobile_no", &mobile), read("lead_owner", &owner)
	var revenueType, statusType *api.BadInput
	var revenue float64
	revenueSent := false
	if pt.sent["annual_revenue"] {
		revenue, revenueSent, revenueType = api.Field[float64](body, "annual_revenue", "a number or null")
	}
	if pt.sent["status"] {
		var name string
		var sent bool
		name, sent, statusType = api.Field[string](body, "status", "a string or null")
		pt.statusName, pt.statusNull = name, !sent
	}
	contact, err := domain.NormalizeProfile(domain.LeadProfile{Emails: api.ListOf(email), Phones: api.ListOf(phone), MobileNo: mobile}, region)
	bad = api.FirstBad(emailType, refused.For(err, "emails"), phoneType, refused.For(err, "phones"),
		mobileType, refused.For(err, "mobile_no"), ownerType,
		revenueType, api.When(revenueSent && revenue < 0, invalidParam("annual_revenue", "must not be negative")),
		statusType, refused.First(err))
	if bad != nil {
		return pt, bad
	}
	if pt.sent["lead_owner"] {
		if owner = strings.TrimSpace(owner); owner == defaultOwner {
			owner = "" // the default is stored as no owner, so other APIs see none
		}
		pt.edits = append(pt.edits, func(p *domain.LeadProfile) { p.LeadOwner = owner })
	}
	if pt.sent["annual_revenue"] {
		pt.edits = append(pt.edits, func(p *domain.LeadProfile) {
			p.AnnualRevenue = nil
			if revenueSent {
				p.AnnualRevenue = &revenue
			}
		})
	}
	pt.phoneGiven, pt.mobileGiven = len(contact.Phones) > 0, contact.MobileNo != ""
	if pt.sent["email_id"] {
		v := only(contact.Emails)
		pt.edits = append(pt.edits, func(p *domain.LeadProfile) { p.Emails = setPrimary(p.Emails, v) })
	}
	if pt.sent["phone"] {
		v := only(contact.Phones)
		pt.edits = append(pt.edits, func(p *domain.LeadProfile) { p.Phones = setPrimary(p.Phones, v) })
	}
	if pt.sent["mobile_no"] {
		pt.edits = append(pt.edits, func(p *domain.LeadProfile) { p.MobileNo = contact.MobileNo })
	}
	return pt, nil
}

// refused is Overplane's answer to the contact params the domain cannot
// normalize.
var refused = api.Refusals{
	"emails":    func(domain.EntryError) *api.BadInput { return invalidParam("email_id", "is not a valid email address") },
	"phones":    func(domain.EntryError) *api.BadInput { return invalidParam("phone", "is not a valid phone number") },
	"mobile_no": func(domain.EntryError) *api.BadInput { return invalidParam("mobile_no", "is not a valid phone number") },
	"":          func(e domain.EntryError) *api.BadInput { return invalidParam(paramOf(e.Field), e.Reason) },
}

// only is the one entry of a list api.ListOf made, "" for none.
func only(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

// resolveStatus maps the status sent onto the core's, through the tenant's
// pipeline: "Lead" (and null, the default) is the first default status
// "New"; any other pipeline status is found by name, ignoring case.
func (pt *patch) resolveStatus(book domain.StatusBook) *api.BadInput {
	if !pt.sent["status"] {
		return nil
	}
	if !pt.statusNull && strings.TrimSpace(pt.statusName) == "" {
		return invalidParam("status", "must not be blank (null resets it to Lead)")
	}
	name := strings.TrimSpace(pt.statusName)
	if pt.statusNull || strings.EqualFold(name, overplaneDefaultStatus) {
		pt.status = domain.DefaultStatus
		return nil
	}
	key, ok := book.KeyByName(name)
	if !ok {
		if domain.IsDefaultStatus(domain.Status(name)) {
			key, ok = domain.Status(name), true // a default status known by its Cratio name
		}
	}
	if !ok {
		names := []string{overplaneDefaultStatus}
		for _, s := range book {
			if s.Key != domain.DefaultStatus {
				names = append(names, s.Name)
			}
		}
		return invalidParam("status", "must be one of "+strings.Join(names, ", ")+" (the tenant's pipeline)")
	}
	pt.status = key
	return nil
}

// setPrimary makes v the first entry of list in place of the old first,
// keeping the others; an empty v drops the first entry.
func setPrimary(list []string, v string) []string {
	var rest []string
	if len(list) > 1 {
		rest = list[1:]
	}
	if v == "" {
		return slices.Clone(rest)
	}
	out := []string{v}
	for _, x := range rest {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// apply returns cur with the patch's edits. The name follows its parts when
// it was made from them and no lead_name came; a lead left without an email
// and a phone gets its mobile_no as its phone. A lead left without a name or
// a way to reach it is a 400 naming the param to send.
func (pt patch) apply(cur domain.LeadProfile) (domain.LeadProfile, error) {
	next := cur
	for _, edit := range pt.edits {
		edit(&next)
	}
	partsSent := pt.sent["first_name"] || pt.sent["middle_name"] || pt.sent["last_name"]
	if partsSent && !pt.sent["lead_name"] && cur.Name == domain.FullName(cur.FirstName, cur.MiddleName, cur.LastName) {
		if n := domain.FullName(next.FirstName, next.MiddleName, next.LastName); n != "" {
			next.Name = n
		}
	}
	if strings.TrimSpace(next.Name) == "" {
		next.Name = domain.FullName(next.FirstName, next.MiddleName, next.LastName)
	}
	if next.Name == "" {
		return next, missingParam("lead_name", "a lead needs a lead_name, or a first_name, middle_name or last_name")
	}
	if len(next.Emails) == 0 && len(next.Phones) == 0 && next.MobileNo != "" {
		next.Phones = []string{next.MobileNo}
	}
	if len(next.Emails) == 0 && len(next.Phones) == 0 {
		return next, missingParam("email_id", "a lead needs an email_id, a phone or a mobile_no")
	}
	return next, nil
}

// blame names the param a duplicate email or phone came in through.
func (pt patch) blame(err error) error {
	var dup *commands.DuplicateError
	if !errors.As(err, &dup) {
		return err
	}
	param := "email_id"
	if dup.Field == "phone" {
		param = "phone"
		if !pt.phoneGiven && pt.mobileGiven {
			param = "mobile_no"
		}
	}
	return duplicate(dup, param)
}
