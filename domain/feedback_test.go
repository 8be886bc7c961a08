package domain

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
)

var feedbackID = uuid.MustParse("01956c1e-7a00-7000-8000-0000000000f1")

func feedbackRequested() Event {
	return Event{Type: FeedbackRequested, Data: FeedbackRequestedData{FeedbackID: feedbackID, CustomerID: customerID}}
}

func feedbackReceived(rating int, comment, category string) Event {
	return Event{Type: FeedbackReceived, Data: FeedbackReceivedData{FeedbackID: feedbackID, CustomerID: customerID,
		Rating: rating, Comment: comment, Category: category}}
}

func TestRequestFeedback(t *testing.T) {
	c := NewCustomerFromHistory([]Event{customerCreated(uuid.Nil, ashaCustomer())})
	ofCustomer, got, err := RequestFeedback(feedbackID, c)
	if err != nil || !reflect.DeepEqual(got, []Event{feedbackRequested()}) ||
		!reflect.DeepEqual(ofCustomer, []Event{{Type: CustomerFeedbackRequested, Data: CustomerFeedbackData{FeedbackID: feedbackID}}}) {
		t.Fatalf("request: %s %s %v", dump(ofCustomer), dump(got), err)
	}
	f := NewFeedbackFromHistory(got)
	if f.Status() != FeedbackStatusRequested || f.CustomerID() != customerID || f.ID() != feedbackID {
		t.Fatalf("requested: %+v", f)
	}
	// The customer knows its requests, through a snapshot too.
	for _, e := range ofCustomer {
		c.Apply(e)
	}
	restored, err := UnmarshalCustomerFromSnapshot(c.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if got := restored.FeedbackRequests(); !reflect.DeepEqual(got, []uuid.UUID{feedbackID}) || !reflect.DeepEqual(c.FeedbackRequests(), got) {
		t.Fatalf("the customer's requests: %v, after a snapshot %v", c.FeedbackRequests(), got)
	}
	// Deleted with its customer, in any status; then it is not found.
	for _, history := range [][]Event{{feedbackRequested()}, {feedbackRequested(), feedbackReceived(4, "fine", "")}} {
		f := NewFeedbackFromHistory(history)
		deleted, err := f.Delete()
		if err != nil || !reflect.DeepEqual(deleted, []Event{{Type: FeedbackDeleted, Data: FeedbackDeletedData{FeedbackID: feedbackID, CustomerID: customerID}}}) {
			t.Fatalf("delete: %s %v", dump(deleted), err)
		}
		f.Apply(deleted[0])
		if _, err := f.Receive(FeedbackAnswer{Rating: 5}); !errors.Is(err, ErrFeedbackNotFound) {
			t.Errorf("answering a deleted request: %v", err)
		}
		if _, err := f.Delete(); !errors.Is(err, ErrFeedbackNotFound) {
			t.Errorf("deleting twice: %v", err)
		}
	}
	// A blocked customer is a conflict; a deleted or unknown one not found.
	blocked := ashaCustomer()
	blocked.Status = CustomerBlocked
	if _, _, err := RequestFeedback(feedbackID, NewCustomerFromHistory([]Event{customerCreated(uuid.Nil, blocked)})); !errors.Is(err, ErrCustomerBlocked) {
		t.Errorf("blocked: %v", err)
	}
	gone := NewCustomerFromHistory([]Event{customerCreated(uuid.Nil, ashaCustomer()), {Type: CustomerDeleted, Data: CustomerDeletedData{CustomerID: customerID}}})
	for name, c := range map[string]*Customer{"never created": NewCustomerFromHistory(nil), "deleted": gone} {
		if _, _, err := RequestFeedback(feedbackID, c); !errors.Is(err, ErrCustomerNotFound) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// feedbackAt checks the feedback's status.
func feedbackAt(s FeedbackStatus) func(*testing.T, *Feedback) {
	return func(t *testing.T, f *Feedback) {
		if f.Status() != s {
			t.Errorf("status %q, want %q", f.Status(), s)
		}
	}
}

func TestFeedbackDecisions(t *testing.T) {
	receive := func(a FeedbackAnswer) func(f *Feedback) ([]Event, error) {
		return func(f *Feedback) ([]Event, error) { return f.Receive(a) }
	}
	requested := []Event{feedbackRequested()}
	received := []Event{feedbackRequested(), feedbackReceived(4, "", "")}
	expired := []Event{feedbackRequested(), {Type: FeedbackExpired, Data: FeedbackExpiredData{FeedbackID: feedbackID, CustomerID: customerID}}}
	scenarios := []decision[*Feedback]{
		{name: "receive", given: requested, when: receive(FeedbackAnswer{Rating: 5, Comment: " Great service! ", Category: " Support "}),
			then: []Event{feedbackReceived(5, "Great service!", "support")}, check: feedbackAt(FeedbackStatusReceived)},
		{name: "receive a bare rating", given: requested, when: receive(FeedbackAnswer{Rating: 1}),
			then: []Event{feedbackReceived(1, "", "")}, check: feedbackAt(FeedbackStatusReceived)},
		{name: "receive twice", given: received, when: receive(FeedbackAnswer{Rating: 5}),
			err: FeedbackClosedError{Status: FeedbackStatusReceived}, check: feedbackAt(FeedbackStatusReceived)},
		{name: "receive expired", given: expired, when: receive(FeedbackAnswer{Rating: 5}),
			err: FeedbackClosedError{Status: FeedbackStatusExpired}, check: feedbackAt(FeedbackStatusExpired)},
		{name: "receive unknown", when: receive(FeedbackAnswer{Rating: 5}), err: ErrFeedbackNotFound},
		{name: "rating 0", given: requested, when: receive(FeedbackAnswer{}), field: "rating", check: feedbackAt(FeedbackStatusRequested)},
		{name: "rating 6", given: requested, when: receive(FeedbackAnswer{Rating: 6}), field: "rating", check: feedbackAt(FeedbackStatusRequested)},
		{name: "long category", given: requested, when: receive(FeedbackAnswer{Rating: 3, Category: strings.Repeat("é", 65)}),
			field: "category", check: feedbackAt(FeedbackStatusRequested)},
		{name: "long comment", given: requested, when: receive(FeedbackAnswer{Rating: 3, Comment: strings.Repeat("a", maxLongTextLen+1)}),
			field: "comment", check: feedbackAt(FeedbackStatusRequested)},
		{name: "expire", given: requested, when: (*Feedback).Expire, then: expired[1:], check: feedbackAt(FeedbackStatusExpired)},
		{name: "expire received", given: received, when: (*Feedback).Expire,
			err: FeedbackClosedError{Status: FeedbackStatusReceived}, check: feedbackAt(FeedbackStatusReceived)},
	}
	runDecisions(t, NewFeedbackFromHistory, scenarios)
	f := NewFeedbackFromHistory([]Event{feedbackRequested(), feedbackReceived(5, "Great service!", "support")})
	if f.Answer() != (FeedbackAnswer{Rating: 5, Comment: "Great service!", Category: "support"}) {
		t.Errorf("answer %+v", f.Answer())
	}
	var closed FeedbackClosedError
	if _, err := f.Receive(FeedbackAnswer{Rating: 2}); !errors.As(err, &closed) || closed.ErrorCode() != "conflict" ||
		err.Error() != "feedback already received" {
		t.Errorf("closed: %v", err)
	}
}
