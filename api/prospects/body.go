package prospects

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/domain"
)

// maxRows bounds a batch of prospects (process and create alike).
const maxRows = 1000

// rowFields are the fields of a prospect row; process takes the create's
// fields too, so a preview judges exactly what the create would.
var rowFields = []string{"name", "company", "email", "phone", "code", "locale", "type", "monthly_shipments", "follow_up_id"}

// row is one prospect of a batch as sent.
type row struct {
	Name, Company, Email string
	Phone, Code          *int64 // JSON numbers, as the document sends them
	Locale               int
	Type                 int // 1 prospect (default), 2 client, 3 partner
	MonthlyShipments     string
	FollowUpID           int64 // 0: the pipeline's default status
	Raw                  json.RawMessage
}

// readBody reads a whole body: too large is 413, invalid UTF-8 400.
func readBody(r io.Reader) ([]byte, *api.BadInput) {
	raw, err := io.ReadAll(r)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, &api.BadInput{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Reason: fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit)}
	}
	if err != nil {
		return nil, &api.BadInput{Status: http.StatusBadRequest, Code: "invalid_body", Reason: "could not read the request body"}
	}
	if !utf8.Valid(raw) {
		return nil, &api.BadInput{Status: http.StatusBadRequest, Code: "invalid_json", Reason: "request body is not valid UTF-8"}
	}
	return raw, nil
}

// at prefixes a refusal of row i's field with the row: "[3].phone".
func at(i int, bad *api.BadInput) *api.BadInput {
	out := *bad
	out.Field = fmt.Sprintf("[%d]", i)
	if bad.Field != "" {
		out.Field += "." + bad.Field
	}
	return &out
}

// decodeRows reads a batch: a JSON array of 1 to maxRows objects with only
// rowFields, each of its JSON type. A fault anywhere refuses the whole
// batch (400 naming "[i].field"); what the values mean is judged per row.
func decodeRows(r io.Reader) ([]row, *api.BadInput) {
	raw, bad := readBody(r)
	if bad != nil {
		return nil, bad
	}
	var items []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&items); err != nil || items == nil {
		return nil, &api.BadInput{Status: http.StatusBadRequest, Code: "invalid_json", Reason: "request body must be a JSON array of prospects"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &api.BadInput{Status: http.StatusBadRequest, Code: "invalid_json", Reason: "unexpected data after the JSON array"}
	}
	if len(items) == 0 || len(items) > maxRows {
		return nil, &api.BadInput{Status: http.StatusBadRequest, Code: "invalid_body",
			Reason: fmt.Sprintf("request body must hold 1 to %d prospects", maxRows)}
	}
	rows := make([]row, len(items))
	for i, item := range items {
		rw, bad := decodeRow(item)
		if bad != nil {
			return nil, at(i, bad)
		}
		rows[i] = rw
	}
	return rows, nil
}

func decodeRow(raw json.RawMessage) (row, *api.BadInput) {
	rw := row{Raw: raw, Type: 1}
	o, bad := api.DecodeObject(bytes.NewReader(raw), rowFields...)
	if bad != nil {
		return rw, bad
	}
	var locale, typ, follow int64
	var typeSent bool
	bad = api.FirstBad(
		text(o, "name", &rw.Name), text(o, "company", &rw.Company), text(o, "email", &rw.Email),
		number(o, "phone", &rw.Phone), number(o, "code", &rw.Code),
		integer(o, "locale", &locale, 0), integer(o, "follow_up_id", &follow, 1),
		shipments(o, &rw.MonthlyShipments))
	if bad != nil {
		return rw, bad
	}
	if typ, typeSent, bad = api.Field[int64](o, "type", "an integer"); bad != nil {
		return rw, bad
	}
	if typeSent {
		if typ < 1 || typ > 3 {
			return rw, badField("type", "must be one of 1 (prospect), 2 (client), 3 (partner)")
		}
		rw.Type = int(typ)
	}
	rw.Locale, rw.FollowUpID = int(locale), follow
	return rw, nil
}

// text reads a string field (null: unset) into dst, trimmed.
func text(o api.Object, name string, dst *string) *api.BadInput {
	v, _, bad := api.Field[string](o, name, "a string")
	*dst = strings.TrimSpace(v)
	return bad
}

// number reads a JSON integer field (null: unset).
func number(o api.Object, name string, dst **int64) *api.BadInput {
	v, ok, bad := api.Field[int64](o, name, "a number")
	if ok {
		*dst = &v
	}
	return bad
}

// maxID bounds the numeric ids of the document's catalogues (locale,
// ecommerce type, weight, content, partner type and origin).
const maxID = 1 << 31

// integer reads an integer field of at least least (null: unset, 0).
func integer(o api.Object, name string, dst *int64, least int64) *api.BadInput {
	v, ok, bad := api.Field[int64](o, name, "an integer")
	if bad != nil {
		return bad
	}
	if ok && (v < least || v > maxID) {
		return badField(name, fmt.Sprintf("must be an integer from %d to %d", least, int64(maxID)))
	}
	*dst = v
	return nil
}

// shipments reads monthly_shipments: a string ("100-500") or a number.
func shipments(o api.Object, dst *string) *api.BadInput {
	if !o.Has("monthly_shipments") {
		return nil
	}
	if s, _, bad := api.Field[string](o, "monthly_shipments", ""); bad == nil {
		*dst = strings.TrimSpace(s)
		return nil
	}
	n, _, bad := api.Field[float64](o, "monthly_shipments", "a string or a number")
	if bad != nil {
		return bad
	}
	if n < 0 {
		return badField("monthly_shipments", "must not be negative")
	}
	*dst = strconv.FormatFloat(n, 'f', -1, 64)
	return nil
}

// phoneOf is the E.164 form of a number and its country code: "+code"
// then the number; without a code the number is read in region.
func phoneOf(code, number, region string) (string, error) {
	raw := strings.TrimSpace(number)
	if c := strings.TrimPrefix(strings.TrimSpace(code), "+"); c != "" {
		raw = "+" + c + raw
	}
	return domain.NormalizePhone(raw, region)
}

// dateOf reads an ISO date: RFC 3339 or YYYY-MM-DD (00:00 UTC).
func dateOf(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}
