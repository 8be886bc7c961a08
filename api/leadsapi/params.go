package leadsapi

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
)

// Paging limits of the list endpoints.
const (
	defaultLimit = 20
	maxLimit     = 100
	maxLogLimit  = 200
	recentLimit  = 5
	maxRecent    = 50
	volumeDays   = 30  // the lead-volume default range and the total-leads comparison window
	maxRangeDays = 366 // the longest lead-volume range
)

// positiveInt parses a decimal integer of at least 1, nothing else: no
// sign, no spaces, no fraction.
func positiveInt(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 1
}

// leadID reads the lead number in the path parameter id.
func leadID(c *gin.Context) (int64, *api.BadInput) {
	n, ok := positiveInt(c.Param("id"))
	if !ok {
		return 0, badRequest("id", "Invalid lead ID")
	}
	return n, nil
}

// pathID reads a positive integer path parameter id; what names the entity
// in the message ("status", "comment").
func pathID(c *gin.Context, what string) (int64, *api.BadInput) {
	n, ok := positiveInt(c.Param("id"))
	if !ok {
		return 0, badRequest("id", "Invalid "+what+" ID")
	}
	return n, nil
}

// intQuery reads an optional integer query parameter in [lo, hi].
func intQuery(c *gin.Context, name string, def, lo, hi int) (int, *api.BadInput) {
	s, ok := c.GetQuery(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, badRequest(name, name+" must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
	}
	return n, nil
}

// page reads page (1-based, default 1) and limit (1..max, default def); a
// page starting past api.MaxOffset rows is refused, naming page.
func page(c *gin.Context, def, max int) (limit, offset int, bad *api.BadInput) {
	return pageWithin(c, def, max, api.MaxOffset)
}

// maxHistoryOffset bounds the pages of one lead's audit log and timeline:
// they are read by stream version, a page costing its own rows whatever its
// depth, so the oldest entries of a long history stay reachable.
const maxHistoryOffset = 1<<31 - 1

// pageWithin is page with the deepest row a page may start at.
func pageWithin(c *gin.Context, def, max, maxOffset int) (limit, offset int, bad *api.BadInput) {
	if limit, bad = intQuery(c, "limit", def, 1, max); bad != nil {
		return 0, 0, bad
	}
	p, bad := intQuery(c, "page", 1, 1, maxOffset/limit+1)
	if bad != nil {
		return 0, 0, bad
	}
	return limit, (p - 1) * limit, nil
}

// dayRange reads from and to (YYYY-MM-DD, UTC days, both inclusive); either
// missing defaults to the last 30 days, today included.
func dayRange(c *gin.Context, now time.Time) (from, to time.Time, bad *api.BadInput) {
	to = utcDay(now)
	from = to.AddDate(0, 0, 1-volumeDays)
	if s, ok := c.GetQuery("to"); ok {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return from, to, badRequest("to", "to must be a date as YYYY-MM-DD")
		}
		to = d
		if _, ok := c.GetQuery("from"); !ok {
			from = to.AddDate(0, 0, 1-volumeDays)
		}
	}
	if s, ok := c.GetQuery("from"); ok {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return from, to, badRequest("from", "from must be a date as YYYY-MM-DD")
		}
		from = d
	}
	if from.After(to) {
		return from, to, badRequest("from", "from must not be after to")
	}
	if to.Sub(from) >= maxRangeDays*24*time.Hour {
		return from, to, badRequest("from", "the range must be at most 366 days")
	}
	return from, to, nil
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
