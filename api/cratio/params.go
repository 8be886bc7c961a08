package cratio

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
)

// ist is India Standard Time: Cratio's dates are IST calendar days. A fixed
// zone: IST has no daylight saving, and the tz database may be absent.
var ist = time.FixedZone("IST", 5*3600+1800)

const (
	defaultLimit = 50
	maxLimit     = 500
	defaultDays  = 30
)

// page reads limit (1..500, default 50) and offset (0..api.MaxOffset,
// default 0).
func page(c *gin.Context) (limit, offset int, bad *api.BadInput) {
	limit, offset = defaultLimit, 0
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, 0, api.BadParam("limit", "must be an integer")
		}
		if n < 1 || n > maxLimit {
			return 0, 0, api.BadParam("limit", "must be between 1 and 500")
		}
		limit = n
	}
	if s, ok := c.GetQuery("offset"); ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, 0, api.BadParam("offset", "must be an integer")
		}
		if n < 0 {
			return 0, 0, api.BadParam("offset", "must not be negative")
		}
		if n > api.MaxOffset {
			return 0, 0, api.BadParam("offset", "must be at most "+strconv.Itoa(api.MaxOffset)+"; narrow the list with filters")
		}
		offset = n
	}
	return limit, offset, nil
}

// dateRange reads from_date and to_date (YYYY-MM-DD, IST calendar days, both
// inclusive) as [from, to). With neither, it is the last 30 IST days,
// today included; with one, the other side is open.
func dateRange(c *gin.Context, now time.Time) (from, to time.Time, bad *api.BadInput) {
	fromS, to1 := c.Query("from_date"), c.Query("to_date")
	if fromS == "" && to1 == "" {
		today := day(now.In(ist))
		return today.AddDate(0, 0, 1-defaultDays), today.AddDate(0, 0, 1), nil
	}
	if fromS != "" {
		d, err := time.ParseInLocation(time.DateOnly, fromS, ist)
		if err != nil {
			return from, to, api.BadParam("from_date", "must be a date as YYYY-MM-DD")
		}
		from = d
	}
	if to1 != "" {
		d, err := time.ParseInLocation(time.DateOnly, to1, ist)
		if err != nil {
			return from, to, api.BadParam("to_date", "must be a date as YYYY-MM-DD")
		}
		to = d.AddDate(0, 0, 1)
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, api.BadParam("from_date", "must not be after to_date")
	}
	return from, to, nil
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// uuidParam parses a UUID from a query or path parameter.
func uuidParam(name, s string) (uuid.UUID, *api.BadInput) {
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, api.BadParam(name, "must be a UUID")
	}
	return id, nil
}

// oneOf checks an optional enum query parameter.
func oneOf(c *gin.Context, name string, allowed ...string) (string, *api.BadInput) {
	v, ok := c.GetQuery(name)
	if !ok || v == "" {
		return "", nil
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", api.BadParam(name, "must be one of "+joinOr(allowed))
}

func joinOr(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " | "
		}
		out += v
	}
	return out
}
