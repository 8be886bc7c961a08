package devcrm

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections/feedback"
)

// feedbackModels are the read models a feedback write waits for.
var feedbackModels = []string{feedback.Projection{}.Name()}

// recentAnswers is how many answers the dashboard shows.
const recentAnswers = 10

// feedbackShown is a feedback request as the API shows it: the answer's
// fields are null until it is received (comment and category also when
// not given), closed_at is when it was received or expired; reminders
// counts the reminders sent (0 to 2), last_reminded_at the last one's time
// (null before the first).
type feedbackShown struct {
	ID             uuid.UUID  `json:"id"`
	CustomerID     uuid.UUID  `json:"customer_id"`
	Status         string     `json:"status"`
	Rating         *int       `json:"rating"`
	Comment        *string    `json:"comment"`
	Category       *string    `json:"category"`
	RequestedAt    time.Time  `json:"requested_at"`
	ClosedAt       *time.Time `json:"closed_at"`
	Reminders      int        `json:"reminders"`
	LastRemindedAt *time.Time `json:"last_reminded_at"`
}

func feedbackOf(f feedback.Feedback) feedbackShown {
	out := feedbackShown{ID: f.ID, CustomerID: f.CustomerID, Status: string(f.Status), Comment: optional(f.Comment),
		Category: optional(f.Category), RequestedAt: f.RequestedAt.UTC(), ClosedAt: utcOrNil(f.ClosedAt),
		Reminders: f.Reminders, LastRemindedAt: utcOrNil(f.LastRemindedAt)}
	if f.Rating != 0 {
		r := f.Rating
		out.Rating = &r
	}
	return out
}

// utcOrNil is t in UTC, or nil for the zero time.
func utcOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// answerFeedback answers a feedback write.
func (h *handlers) answerFeedback(c *gin.Context, status int, res commands.FeedbackResult) {
	now := time.Now()
	made := feedback.Feedback{ID: res.FeedbackID, CustomerID: res.CustomerID, Status: res.Status, Rating: res.Answer.Rating,
		Comment: res.Answer.Comment, Category: res.Answer.Category, RequestedAt: now}
	if res.Status != domain.FeedbackStatusRequested {
		made.ClosedAt = now
	}
	answerRead(h, c, status, res.Position, feedbackModels, res.FeedbackID, h.d.Feedback.Get, feedbackOf, made)
}

// requestFeedback asks the path's customer for feedback (201); a
// blocked customer is a 409.
func (h *handlers) requestFeedback(c *gin.Context) {
	id, ok := h.pathIn(c, "customerId", "customer")
	if !ok {
		return
	}
	res, err := h.d.Commands.RequestFeedbackAt(c.Request.Context(), api.CommandContext(c, Name), id, h.d.Now())
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answerFeedback(c, http.StatusCreated, res)
}

// feedbackFields are an answer's fields, the document's.
var feedbackFields = []string{"rating", "comment", "category"}

// decodeAnswer reads an answer: rating a whole number from 1 to 5,
// required; comment and category optional texts (the domain bounds and
// lower-cases the category).
func decodeAnswer(o api.Object) (domain.FeedbackAnswer, *api.BadInput) {
	var a domain.FeedbackAnswer
	const want = "an integer from 1 to 5"
	rating, _, bad := sentNumber(o, "rating", want, true, domain.MaxRating)
	switch {
	case bad != nil:
	case rating == nil:
		bad = missing("rating")
	case *rating < domain.MinRating:
		bad = badField("rating", "must be "+want)
	default:
		a.Rating = int(*rating)
	}
	if bad = api.FirstBad(bad, text(o, "comment", &a.Comment), text(o, "category", &a.Category)); bad != nil {
		return domain.FeedbackAnswer{}, bad
	}
	return a, nil
}

// receiveFeedback records the customer's answer to the path's request
// (200 with the request); a request answered or expired before is a 409.
func (h *handlers) receiveFeedback(c *gin.Context) {
	id, ok := h.pathIn(c, "feedbackId", "feedback")
	if !ok {
		return
	}
	a, ok := readBody(h, c, feedbackFields, decodeAnswer)
	if !ok {
		return
	}
	res, err := h.d.Commands.ReceiveFeedback(c.Request.Context(), api.CommandContext(c, Name), id, a)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answerFeedback(c, http.StatusOK, res)
}

// ratings are answers' figures as the API shows them: by_rating counts
// each rating, keyed "1" to "5".
type ratings struct {
	Count      int64            `json:"count"`
	MeanRating float64          `json:"mean_rating"`
	ByRating   map[string]int64 `json:"by_rating"`
}

func ratingsOf(r feedback.Ratings) ratings {
	out := ratings{Count: r.Count, MeanRating: r.Mean, ByRating: make(map[string]int64, len(r.ByRating))}
	for i, n := range r.ByRating {
		out.ByRating[string(rune('1'+i))] = n
	}
	return out
}

// theme is the answers of one category; null gathers those given none.
type theme struct {
	Category *string `json:"category"`
	ratings
}

func themesOf(ts []feedback.Theme) []theme {
	out := make([]theme, len(ts))
	for i, t := range ts {
		out[i] = theme{Category: optional(t.Category), ratings: ratingsOf(t.Ratings)}
	}
	return out
}

// analytics are the figures of the tenant's received feedback.
type analytics struct {
	ratings
	Themes []theme `json:"themes"`
}

func (h *handlers) feedbackAnalytics(c *gin.Context) {
	a, err := h.d.Feedback.Analytics(c.Request.Context(), api.Principal(c).TenantID)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, analytics{ratings: ratingsOf(a.Ratings), Themes: themesOf(a.Themes)})
}

func (h *handlers) feedbackThemes(c *gin.Context) {
	ts, err := h.d.Feedback.Themes(c.Request.Context(), api.Principal(c).TenantID)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, struct {
		Themes []theme `json:"themes"`
	}{themesOf(ts)})
}

// dashboard is the tenant's feedback at a glance.
type dashboard struct {
	Requested    int64           `json:"requested"`
	Received     int64           `json:"received"`
	Expired      int64           `json:"expired"`
	ResponseRate float64         `json:"response_rate"`
	Recent       []feedbackShown `json:"recent"`
}

func (h *handlers) feedbackDashboard(c *gin.Context) {
	d, err := h.d.Feedback.Dashboard(c.Request.Context(), api.Principal(c).TenantID, recentAnswers)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := dashboard{Requested: d.Requested, Received: d.Received, Expired: d.Expired, ResponseRate: d.ResponseRate,
		Recent: make([]feedbackShown, len(d.Recent))}
	for i, f := range d.Recent {
		out.Recent[i] = feedbackOf(f)
	}
	c.JSON(http.StatusOK, out)
}

// feedbackTimerKinds are the timers process-reminders fires.
var feedbackTimerKinds = []string{commands.FeedbackRemindTimer, commands.FeedbackExpireTimer}

// errNoScheduler answers process-reminders in a server built without timers.
var errNoScheduler = crmerr.New(crmerr.Unavailable, "the timer scheduler is not configured")

// processedReminder is one feedback timer process-reminders fired: a
// reminder sent (reminder 1 or 2) or the request expired.
type processedReminder struct {
	FeedbackID uuid.UUID `json:"feedback_id"`
	CustomerID uuid.UUID `json:"customer_id"`
	Action     string    `json:"action"`
	Reminder   int       `json:"reminder,omitempty"`
}

// processReminders fires the tenant's due feedback timers now, in due
// order (decision 22: run due work now, idempotently), answering 200 with
// what it fired; a timer fired before (by the scheduler or an earlier call)
// is not fired again, so a second call answers an empty list. It answers
// once the feedback read model shows what it fired.
func (h *handlers) processReminders(c *gin.Context) {
	if h.d.Timers == nil {
		h.fail(c, errNoScheduler)
		return
	}
	fired, err := h.d.Timers.FireDue(c.Request.Context(), api.Principal(c).TenantID, feedbackTimerKinds, h.d.Now())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := struct {
		Processed []processedReminder `json:"processed"`
	}{Processed: make([]processedReminder, 0, len(fired))}
	var last eventstore.Position
	for _, f := range fired {
		p, err := commands.FeedbackTimerOf(f.Timer)
		if err != nil {
			h.fail(c, err)
			return
		}
		shown := processedReminder{FeedbackID: f.StreamID, CustomerID: p.CustomerID, Action: "reminded", Reminder: p.Reminder}
		if f.Kind == commands.FeedbackExpireTimer {
			shown.Action, shown.Reminder = "expired", 0
		}
		out.Processed = append(out.Processed, shown)
		if last.Less(f.Position) {
			last = f.Position
		}
	}
	h.d.AwaitReadModels(c, last, feedbackModels...)
	c.JSON(http.StatusOK, out)
}
