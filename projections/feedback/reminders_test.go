package feedback_test

import (
	"testing"
	"time"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/timers"
)

// Reminders and expiries fired by the request's timers fold into
// rm_feedback (reminders, last_reminded_at, status) the same event by
// event as in a rebuild; an answered request gets no more reminders.
func TestRemindersFoldLikeARebuild(t *testing.T) {
	ctx, store, h, tenants, customers := newStore(t)
	sched := timers.NewScheduler(store.Pool(), nil, storetest.Logger())
	for kind, fire := range h.TimerHandlers() {
		sched.Handle(kind, fire)
	}
	at := time.Now()
	waiting, err := h.RequestFeedbackAt(ctx, tenants[0], customers[0], at)
	if err != nil {
		t.Fatal(err)
	}
	answered, err := h.RequestFeedbackAt(ctx, tenants[0], customers[0], at)
	if err != nil {
		t.Fatal(err)
	}
	var from eventstore.Position
	fire := func(after time.Duration, want int) {
		t.Helper()
		got, err := sched.FireDue(ctx, tenants[0].TenantID, nil, at.Add(after))
		if err != nil || len(got) != want {
			t.Fatalf("at +%s: fired %+v %v, want %d", after, got, err, want)
		}
		applyAll(t, ctx, store, &from)
		verify(t, ctx, store)
	}
	fire(domain.FeedbackFirstReminder, 2)
	if _, err := h.ReceiveFeedback(ctx, tenants[0], answered.FeedbackID, domain.FeedbackAnswer{Rating: 5}); err != nil {
		t.Fatal(err)
	}
	fire(domain.FeedbackSecondReminder, 1)
	var reminders int
	var last *time.Time
	if err := store.Pool().QueryRow(ctx, `select reminders, last_reminded_at from rm_feedback where id = $1`, waiting.FeedbackID).
		Scan(&reminders, &last); err != nil || reminders != 2 || last == nil {
		t.Fatalf("waiting request: %d reminders, last %v, %v", reminders, last, err)
	}
	if err := store.Pool().QueryRow(ctx, `select reminders from rm_feedback where id = $1`, answered.FeedbackID).
		Scan(&reminders); err != nil || reminders != 1 {
		t.Fatalf("answered request: %d reminders, %v", reminders, err)
	}
	fire(domain.FeedbackExpiry, 1)
	var status string
	if err := store.Pool().QueryRow(ctx, `select status from rm_feedback where id = $1`, waiting.FeedbackID).Scan(&status); err != nil ||
		status != string(domain.FeedbackStatusExpired) {
		t.Fatalf("after the expiry: %q %v", status, err)
	}
	fire(30*24*time.Hour, 0)
}
