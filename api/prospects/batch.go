package prospects

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// Row error codes of process and create.
const (
	codeInvalidEmail   = "INVALID_EMAIL"
	codeInvalidPhone   = "INVALID_PHONE"
	codeMissingContact = "MISSING_CONTACT"
	codeDuplicateEmail = "DUPLICATE_EMAIL"
	codeDuplicatePhone = "DUPLICATE_PHONE"
	codeDuplicateBatch = "DUPLICATE_IN_BATCH"
)

// rowError is one refused row: its index in the batch, the code, what it
// was refused for, and the prospect (existing_id) or row (existing_index)
// that already has its email or phone.
type rowError struct {
	Index         int    `json:"index"`
	Code          string `json:"code"`
	Message       string `json:"message"`
	Email         string `json:"email,omitempty"`
	Phone         string `json:"phone,omitempty"`
	ExistingID    int64  `json:"existing_id,omitempty"`
	ExistingIndex *int   `json:"existing_index,omitempty"`
}

func (e rowError) duplicate() bool {
	return e.Code == codeDuplicateEmail || e.Code == codeDuplicatePhone || e.Code == codeDuplicateBatch
}

// judged is a row as the create would write it, or why it would not.
type judged struct {
	profile domain.LeadProfile
	status  domain.Status
	err     *rowError
}

// judge decides every row of a batch without writing: normalized contact
// (INVALID_EMAIL, INVALID_PHONE, MISSING_CONTACT), not the email or phone
// of an earlier row (DUPLICATE_IN_BATCH) or of an existing lead
// (DUPLICATE_EMAIL, DUPLICATE_PHONE with its number). A follow_up_id that
// names no status of the tenant's pipeline refuses the whole batch.
func (h *handlers) judge(ctx context.Context, tenantID uuid.UUID, rows []row) ([]judged, error) {
	out := make([]judged, len(rows))
	seen := map[string]int{}
	statuses := map[int64]domain.Status{}
	for i, r := range rows {
		j := &out[i]
		p := domain.LeadProfile{Name: r.Name, Company: r.Company, Locale: r.Locale, ProspectType: r.Type,
			MonthlyShipments: r.MonthlyShipments}
		refuse := func(code, msg string) { j.err = &rowError{Index: i, Code: code, Message: msg, Email: r.Email} }
		if r.FollowUpID != 0 {
			key, ok := statuses[r.FollowUpID]
			if !ok {
				s, err := h.d.Commands.StatusByID(ctx, tenantID, r.FollowUpID)
				if errors.Is(err, domain.ErrStatusNotFound) {
					return nil, at(i, badField("follow_up_id", "names no follow-up status"))
				}
				if err != nil {
					return nil, err
				}
				key, statuses[r.FollowUpID] = s.Key, s.Key
			}
			j.status = key
		}
		if r.Email != "" {
			email, err := domain.NormalizeEmail(r.Email)
			if err != nil {
				refuse(codeInvalidEmail, "email is not a valid email address")
				continue
			}
			p.Emails = []string{email}
		}
		if r.Phone != nil {
			code := ""
			if r.Code != nil {
				code = fmt.Sprint(*r.Code)
			}
			phone, err := phoneOf(code, fmt.Sprint(*r.Phone), h.d.Commands.Region())
			if err != nil || *r.Phone < 0 || (r.Code != nil && *r.Code < 1) {
				refuse(codeInvalidPhone, "phone and code are not a valid phone number")
				continue
			}
			p.Phones = []string{phone}
		}
		if len(p.Emails) == 0 && len(p.Phones) == 0 {
			refuse(codeMissingContact, "a prospect needs an email or a phone")
			continue
		}
		// The name falls back to the company, then the email.
		if p.Name == "" {
			p.Name = p.Company
		}
		if p.Name == "" && len(p.Emails) > 0 {
			p.Name = p.Emails[0]
		}
		if p.Name == "" {
			p.Name = p.Phones[0]
		}
		normal, err := domain.NormalizeProfile(p, h.d.Commands.Region())
		if err == nil {
			err = normal.Validate()
		}
		if err != nil {
			var v domain.ValidationError
			if errors.As(err, &v) {
				return nil, at(i, badField(fieldOf(v.Field), v.Reason))
			}
			return nil, err
		}
		j.profile = normal
		if e := inBatch(seen, i, normal); e != nil {
			j.err = e
			continue
		}
		owner, field, err := h.d.Commands.LeadOwning(ctx, tenantID, normal)
		if err != nil {
			return nil, err
		}
		if owner != uuid.Nil {
			j.err = h.duplicateRow(ctx, tenantID, i, normal, &commands.DuplicateError{Field: field, LeadID: owner})
		}
	}
	return out, nil
}

// inBatch refuses a row whose email or phone an earlier row has, and
// remembers its own.
func inBatch(seen map[string]int, i int, p domain.LeadProfile) *rowError {
	values := append(append([]string{}, p.Emails...), p.Phones...)
	for _, v := range values {
		if first, ok := seen[v]; ok {
			return &rowError{Index: i, Code: codeDuplicateBatch, Message: "an earlier row has the same email or phone",
				Email: first1(p.Emails), Phone: first1(p.Phones), ExistingIndex: &first}
		}
	}
	for _, v := range values {
		seen[v] = i
	}
	return nil
}

// duplicateRow is the row error of a lead's email or phone another lead
// owns, naming that lead's number.
func (h *handlers) duplicateRow(ctx context.Context, tenantID uuid.UUID, i int, p domain.LeadProfile, dup *commands.DuplicateError) *rowError {
	e := &rowError{Index: i, Code: codeDuplicateEmail, Message: "a prospect with this email exists", Email: first1(p.Emails)}
	if dup.Field == "phone" {
		e.Code, e.Message, e.Phone = codeDuplicatePhone, "a prospect with this phone exists", first1(p.Phones)
	}
	if row, err := h.d.Leads.GetLead(ctx, tenantID, dup.LeadID); err == nil {
		e.ExistingID = row.Number
	}
	return e
}

func first1(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// processed is the answer of process: the rows a create would insert (as
// sent), updates (always empty: a create never updates) and the refused.
type processed struct {
	Inserts []json.RawMessage `json:"inserts"`
	Updates []json.RawMessage `json:"updates"`
	Errors  []rowError        `json:"errors"`
}

// judged reads a batch and judges its rows, answering a refusal itself.
func (h *handlers) judged(c *gin.Context) ([]row, []judged, bool) {
	rows, bad := decodeRows(c.Request.Body)
	if bad != nil {
		h.fail(c, bad)
		return nil, nil, false
	}
	out, err := h.judge(c.Request.Context(), api.Principal(c).TenantID, rows)
	if err != nil {
		h.fail(c, err)
		return nil, nil, false
	}
	return rows, out, true
}

func (h *handlers) process(c *gin.Context) {
	rows, out, ok := h.judged(c)
	if !ok {
		return
	}
	res := processed{Inserts: []json.RawMessage{}, Updates: []json.RawMessage{}, Errors: []rowError{}}
	for i, j := range out {
		if j.err != nil {
			res.Errors = append(res.Errors, *j.err)
			continue
		}
		res.Inserts = append(res.Inserts, rows[i].Raw)
	}
	c.JSON(http.StatusOK, res)
}

// inserted is a prospect a create made.
type inserted struct {
	Index int    `json:"index"`
	ID    int64  `json:"id"`
	Email string `json:"email,omitempty"`
}

// created is the answer of a batch create.
type created struct {
	Inserts []inserted `json:"inserts"`
	Errors  []rowError `json:"errors"`
}

// allDuplicates is the 409 of a batch whose every row is a duplicate.
type allDuplicates struct {
	boom
	Errors []rowError `json:"errors"`
}

func (h *handlers) createProspects(c *gin.Context) {
	_, out, ok := h.judged(c)
	if !ok {
		return
	}
	ctx, tenantID := c.Request.Context(), api.Principal(c).TenantID
	res := created{Inserts: []inserted{}, Errors: []rowError{}}
	var last eventstore.Position
	for i, j := range out {
		if j.err != nil {
			res.Errors = append(res.Errors, *j.err)
			continue
		}
		// One command per row, each with a key of its own under the
		// request's, so a retried batch replays each row's commit.
		cc := api.CommandContext(c, Name)
		if cc.IdempotencyKey != "" {
			cc.IdempotencyKey += fmt.Sprintf(" row %d", i)
		}
		lr, err := h.d.Commands.CreateLead(ctx, cc, commands.CreateLead{Profile: j.profile, Normalized: true,
			Status: j.status, OnDuplicate: commands.RejectDuplicates})
		var dup *commands.DuplicateError
		if errors.As(err, &dup) {
			res.Errors = append(res.Errors, *h.duplicateRow(ctx, tenantID, i, j.profile, dup))
			continue
		}
		if err != nil {
			h.fail(c, err)
			return
		}
		last = lr.Position
		res.Inserts = append(res.Inserts, inserted{Index: i, ID: lr.Number, Email: first1(lr.Profile.Emails)})
	}
	h.d.AwaitReadModels(c, last, readModels...)
	if len(res.Inserts) == 0 && allDup(res.Errors) {
		c.JSON(http.StatusConflict, allDuplicates{boomOf(http.StatusConflict, "every prospect is a duplicate", ""), res.Errors})
		return
	}
	c.JSON(http.StatusOK, res)
}

func allDup(errs []rowError) bool {
	for _, e := range errs {
		if !e.duplicate() {
			return false
		}
	}
	return len(errs) > 0
}
