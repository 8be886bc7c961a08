package leadsapi

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/domain"
)

var leadFields = []string{"firstName", "lastName", "business", "photo", "state", "statusId", "source",
	"phoneNumber", "email", "description", "location", "socialMedia", "position", "company"}

// leadInput is a decoded create or replace body. Absent and null fields are
// zero: a create leaves them unset, a replace clears them.
type leadInput struct {
	first, last string
	email       string   // normalized; "" for none
	phones      []string // E.164
	business    []int64
	photo       string
	state       string // "" when not sent
	statusID    int64  // 0 when not sent
	source      string
	description string
	location    string
	position    string
	company     string
	social      map[string]string // the four networks this API knows
}

// refused is the Leads API's answer to the contact values the domain
// cannot normalize.
var refused = api.Refusals{
	"emails": func(domain.EntryError) *api.BadInput { return badRequest("email", "email must be an email address") },
	"phones": func(e domain.EntryError) *api.BadInput {
		return badRequest("phoneNumber", "phoneNumber must hold valid phone numbers; "+quote(e.Value)+" is not one")
	},
	"": func(e domain.EntryError) *api.BadInput {
		return badRequest(fieldOf(e.Field), fieldOf(e.Field)+" "+e.Reason)
	},
}

// decodeLead reads a lead body, its profile normalized by
// domain.NormalizeProfile (national phone numbers read in region), and
// answers its first fault in the order this API always has: the text
// fields' types, state, photo, email, phoneNumber, business, statusId (each
// its type then its value), socialMedia, then email or phoneNumber.
func decodeLead(r io.Reader, region string) (leadInput, *api.BadInput) {
	var in leadInput
	var raw domain.LeadProfile
	body, bad := api.DecodeObject(r, leadFields...)
	if bad != nil {
		return in, bad
	}
	var email string
	for _, f := range []struct {
		name string
		dst  *string
	}{{"firstName", &raw.FirstName}, {"lastName", &raw.LastName}, {"photo", &raw.Photo}, {"state", &in.state},
		{"source", &raw.Source}, {"description", &raw.Description}, {"location", &raw.Location},
		{"position", &raw.JobTitle}, {"company", &raw.Company}, {"email", &email}} {
		v, _, bad := api.Field[string](body, f.name, "a string or null")
		if bad != nil {
			return in, bad
		}
		*f.dst = v
	}
	var phonesType, businessType, socialBad *api.BadInput
	raw.Emails = api.ListOf(email)
	raw.Phones, _, phonesType = api.Field[[]string](body, "phoneNumber", "an array of strings or null")
	raw.BusinessIDs, _, businessType = api.Field[[]int64](body, "business", "an array of integers or null")
	status, statusSent, statusType := api.Field[int64](body, "statusId", "an integer or null")
	raw.Social, socialBad = decodeSocial(body)
	p, err := domain.NormalizeProfile(raw, region)
	in.state = strings.TrimSpace(in.state)
	photo := strings.TrimSpace(raw.Photo)
	bad = api.FirstBad(
		api.When(in.state != "" && in.state != stateActive && in.state != stateArchived,
			badRequest("state", "state must be one of Active, Archived")),
		api.When(photo != "" && !validPhotoName(photo),
			badRequest("photo", "photo must be the name of a photo uploaded with POST /leads/upload-photo")),
		refused.For(err, "emails"),
		phonesType, refused.For(err, "phones"),
		businessType, api.When(slices.ContainsFunc(raw.BusinessIDs, func(id int64) bool { return id < 1 }),
			badRequest("business", "business must hold positive integer ids")),
		statusType, api.When(statusSent && status < 1, badRequest("statusId", "statusId must be a positive integer")),
		socialBad, refused.First(err),
		api.When(len(p.Emails) == 0 && len(p.Phones) == 0, badRequest("email", "email or phoneNumber is required")))
	if bad != nil {
		return in, bad
	}
	in.first, in.last, in.photo, in.source, in.description = p.FirstName, p.LastName, p.Photo, p.Source, p.Description
	in.location, in.position, in.company, in.statusID = p.Location, p.JobTitle, p.Company, status
	in.phones, in.business, in.social = p.Phones, p.BusinessIDs, p.Social
	if len(p.Emails) > 0 {
		in.email = p.Emails[0]
	}
	return in, nil
}

// decodeSocial reads socialMedia: an object of the four networks, or null.
// Blank values are left for the domain's normalizing to drop.
func decodeSocial(body api.Object) (map[string]string, *api.BadInput) {
	raw, ok, bad := api.Field[json.RawMessage](body, "socialMedia", "an object or null")
	if bad != nil || !ok {
		return nil, bad
	}
	obj, bad := api.DecodeObject(bytes.NewReader(raw), socialNetworks...)
	if bad != nil {
		return nil, badRequest("socialMedia", "socialMedia must be an object with only youtube, facebook, instagram and twitter")
	}
	out := map[string]string{}
	for _, n := range socialNetworks {
		v, _, bad := api.Field[string](obj, n, "a string or null")
		if bad != nil {
			return nil, badRequest("socialMedia."+n, "socialMedia."+n+" must be a string or null")
		}
		out[n] = v
	}
	return out, nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// apply returns p with every field this API shows replaced by the input's.
// Fields only other APIs show (priority, tags, city, ...) are kept, and so
// are a lead's further emails: email replaces the primary one, and a blank
// email removes them all.
func (in leadInput) apply(p domain.LeadProfile) domain.LeadProfile {
	p.FirstName, p.LastName = in.first, in.last
	p.Name = domain.FullName(in.first, p.MiddleName, in.last)
	switch {
	case in.email == "":
		p.Emails = nil
	case len(p.Emails) == 0:
		p.Emails = []string{in.email}
	default:
		rest := slices.DeleteFunc(slices.Clone(p.Emails[1:]), func(e string) bool { return e == in.email })
		p.Emails = append([]string{in.email}, rest...)
	}
	p.Phones = slices.Clone(in.phones)
	p.BusinessIDs = slices.Clone(in.business)
	p.Photo, p.Source, p.Description, p.Location = in.photo, in.source, in.description, in.location
	p.JobTitle, p.Company = in.position, in.company
	social := maps.Clone(p.Social)
	for _, n := range socialNetworks {
		delete(social, n)
	}
	for k, v := range in.social {
		if social == nil {
			social = map[string]string{}
		}
		social[k] = v
	}
	if len(social) == 0 {
		social = nil
	}
	p.Social = social
	return p
}
