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

// decodeLead reads a lead body; national phone numbers are read in region.
func decodeLead(r io.Reader, region string) (leadInput, *api.BadInput) {
	var in leadInput
	body, bad := api.DecodeObject(r, leadFields...)
	if bad != nil {
		return in, bad
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"firstName", &in.first}, {"lastName", &in.last}, {"photo", &in.photo}, {"state", &in.state},
		{"source", &in.source}, {"description", &in.description}, {"location", &in.location},
		{"position", &in.position}, {"company", &in.company}, {"email", &in.email}} {
		v, _, bad := api.Field[string](body, f.name, "a string or null")
		if bad != nil {
			return in, bad
		}
		*f.dst = strings.TrimSpace(v)
	}
	if in.state != "" && in.state != stateActive && in.state != stateArchived {
		return in, badRequest("state", "state must be one of Active, Archived")
	}
	if in.photo != "" && !validPhotoName(in.photo) {
		return in, badRequest("photo", "photo must be the name of a photo uploaded with POST /leads/upload-photo")
	}
	if in.email != "" {
		norm, err := domain.NormalizeEmail(in.email)
		if err != nil {
			return in, badRequest("email", "email must be an email address")
		}
		in.email = norm
	}
	phones, _, bad := api.Field[[]string](body, "phoneNumber", "an array of strings or null")
	if bad != nil {
		return in, bad
	}
	for _, raw := range phones {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		e164, err := domain.NormalizePhone(raw, region)
		if err != nil {
			return in, badRequest("phoneNumber", "phoneNumber must hold valid phone numbers; "+quote(raw)+" is not one")
		}
		if !slices.Contains(in.phones, e164) {
			in.phones = append(in.phones, e164)
		}
	}
	ids, _, bad := api.Field[[]int64](body, "business", "an array of integers or null")
	if bad != nil {
		return in, bad
	}
	for _, id := range ids {
		if id < 1 {
			return in, badRequest("business", "business must hold positive integer ids")
		}
		if !slices.Contains(in.business, id) {
			in.business = append(in.business, id)
		}
	}
	status, ok, bad := api.Field[int64](body, "statusId", "an integer or null")
	if bad != nil {
		return in, bad
	}
	if ok && status < 1 {
		return in, badRequest("statusId", "statusId must be a positive integer")
	}
	in.statusID = status
	if in.social, bad = decodeSocial(body); bad != nil {
		return in, bad
	}
	if in.email == "" && len(in.phones) == 0 {
		return in, badRequest("email", "email or phoneNumber is required")
	}
	return in, nil
}

// decodeSocial reads socialMedia: an object of the four networks, or null.
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
		if v = strings.TrimSpace(v); v != "" {
			out[n] = v
		}
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
