package domain

import (
	"errors"
	"reflect"
	"testing"
)

func feedbackReminded(n int) Event {
	return Event{Type: FeedbackReminded, Data: FeedbackRemindedData{FeedbackID: feedbackID, CustomerID: customerID, Reminder: n}}
}

func feedbackExpired() Event {
	return Event{Type: FeedbackExpired, Data: FeedbackExpiredData{FeedbackID: feedbackID, CustomerID: customerID}}
}

// TestFeedbackReminders: given a request's history, when a reminder is
// decided, then feedback.reminded with its number, or the refusal: at most
// two reminders, each once, none after the request was answered, expired
// or deleted.
func TestFeedbackReminders(t *testing.T) {
	var closed FeedbackClosedError
	cases := []struct {
		name    string
		given   []Event
		n       int
		then    []Event
		refused func(error) bool
	}{
		{"first", []Event{feedbackRequested()}, 1, []Event{feedbackReminded(1)}, nil},
		{"second", []Event{feedbackRequested(), feedbackReminded(1)}, 2, []Event{feedbackReminded(2)}, nil},
		{"second when the first never went", []Event{feedbackRequested()}, 2, []Event{feedbackReminded(2)}, nil},
		{"first twice", []Event{feedbackRequested(), feedbackReminded(1)}, 1, nil,
			func(err error) bool { return errors.Is(err, ErrFeedbackReminded) }},
		{"first after the second", []Event{feedbackRequested(), feedbackReminded(2)}, 1, nil,
			func(err error) bool { return errors.Is(err, ErrFeedbackReminded) }},
		{"a third", []Event{feedbackRequested(), feedbackReminded(1), feedbackReminded(2)}, 3, nil,
			func(err error) bool { return fieldOf(err) == "reminder" }},
		{"a zeroth", []Event{feedbackRequested()}, 0, nil, func(err error) bool { return fieldOf(err) == "reminder" }},
		{"after the answer", []Event{feedbackRequested(), feedbackReceived(5, "", "")}, 1, nil,
			func(err error) bool { return errors.As(err, &closed) && closed.Status == FeedbackStatusReceived }},
		{"after expiry", []Event{feedbackRequested(), feedbackReminded(1), feedbackReminded(2), feedbackExpired()}, 2, nil,
			func(err error) bool { return errors.As(err, &closed) && closed.Status == FeedbackStatusExpired }},
		{"after the delete", []Event{feedbackRequested(), {Type: FeedbackDeleted, Data: FeedbackDeletedData{FeedbackID: feedbackID, CustomerID: customerID}}}, 1, nil,
			func(err error) bool { return errors.Is(err, ErrFeedbackNotFound) }},
		{"never requested", nil, 1, nil, func(err error) bool { return errors.Is(err, ErrFeedbackNotFound) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := NewFeedbackFromHistory(c.given)
			got, err := f.Remind(c.n)
			if c.refused != nil {
				if err == nil || !c.refused(err) || got != nil {
					t.Fatalf("remind %d: %s %v, want a refusal", c.n, dump(got), err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.then) {
				t.Fatalf("remind %d: %s %v, want %s", c.n, dump(got), err, dump(c.then))
			}
			f.Apply(got[0])
			if f.Reminders() != c.n || f.Status() != FeedbackStatusRequested {
				t.Fatalf("after reminder %d: %d reminders, %s", c.n, f.Reminders(), f.Status())
			}
		})
	}
}

// TestFeedbackExpiryAfterReminders: a reminded request still expires, once;
// an expired one is neither answered nor reminded.
func TestFeedbackExpiryAfterReminders(t *testing.T) {
	f := NewFeedbackFromHistory([]Event{feedbackRequested(), feedbackReminded(1), feedbackReminded(2)})
	got, err := f.Expire()
	if err != nil || !reflect.DeepEqual(got, []Event{feedbackExpired()}) {
		t.Fatalf("expire: %s %v", dump(got), err)
	}
	f.Apply(got[0])
	var closed FeedbackClosedError
	if _, err := f.Expire(); !errors.As(err, &closed) {
		t.Errorf("expire twice: %v", err)
	}
	if _, err := f.Receive(FeedbackAnswer{Rating: 3}); !errors.As(err, &closed) {
		t.Errorf("answer after expiry: %v", err)
	}
	if FeedbackReminders[0] >= FeedbackReminders[1] || FeedbackReminders[1] >= FeedbackExpiry {
		t.Errorf("the schedule is out of order: %v then expiry %v", FeedbackReminders, FeedbackExpiry)
	}
}

// fieldOf is the field a ValidationError names ("" for another error).
func fieldOf(err error) string {
	var v ValidationError
	if errors.As(err, &v) {
		return v.Field
	}
	return ""
}
