package eventstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/crmcore/crm/eventstore"
)

// receive waits for a delivery on ch equal to want, ignoring others.
func receive(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got, ok := <-ch:
			if !ok {
				t.Fatal("subscription closed")
			}
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("no delivery %q within 10s", want)
		}
	}
}

func TestListener(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	l := eventstore.NewListener(s.Pool(), nil)
	events, stop := l.Subscribe(eventstore.NotifyChannel)
	defer stop()

	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	// The wakeup after connecting says LISTEN is in effect.
	receive(t, events, "")
	res := mustCommit(t, s, appendTo(newID(t), newID(t), eventstore.NoStream, ev("a", 1)))
	receive(t, events, res.Position.String())

	// A channel subscribed while running is listened to, then woken.
	other, stopOther := l.Subscribe("other")
	receive(t, other, "")
	if _, err := s.Pool().Exec(ctx, "select pg_notify('other', 'hello')"); err != nil {
		t.Fatal(err)
	}
	receive(t, other, "hello")

	// After losing its connection, the listener reconnects and wakes everyone.
	if _, err := s.Pool().Exec(ctx, `select pg_terminate_backend(pid) from pg_stat_activity
		where datname = current_database() and pid <> pg_backend_pid() and query ilike 'listen%'`); err != nil {
		t.Fatal(err)
	}
	receive(t, other, "")
	receive(t, events, "")
	res = mustCommit(t, s, appendTo(newID(t), newID(t), eventstore.NoStream, ev("b", 2)))
	receive(t, events, res.Position.String())

	stopOther()
	if _, ok := <-other; ok {
		// A pending wakeup may still be buffered; the channel closes after it.
		if _, ok := <-other; ok {
			t.Fatal("subscription not closed by its stop function")
		}
	}
	if err := l.Run(ctx); err == nil {
		t.Fatal("second Run while running succeeded")
	}
}

func TestListenerSlowSubscriberDoesNotBlock(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	l := eventstore.NewListener(s.Pool(), nil)
	slow, stopSlow := l.Subscribe("ch")
	defer stopSlow()
	fast, stopFast := l.Subscribe("ch")
	defer stopFast()
	queued, stopQueued := l.SubscribeQueued("ch", 4)
	defer stopQueued()
	short, stopShort := l.SubscribeQueued("ch", 2)
	defer stopShort()
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()

	receive(t, fast, "")
	for _, p := range []string{"1", "2", "3"} {
		if _, err := s.Pool().Exec(ctx, "select pg_notify('ch', $1)", p); err != nil {
			t.Fatal(err)
		}
		receive(t, fast, p)
	}
	// The listener hands a payload to its subscribers one after another
	// (in no set order): fast having "3" does not mean the others have it
	// yet. Wait (bounded) until both queued ones hold all they will.
	for deadline := time.Now().Add(5 * time.Second); (len(queued) < 4 || len(short) < 2) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	// The slow one never read: it holds one pending wakeup, the rest dropped.
	if len(slow) != 1 {
		t.Fatalf("slow subscriber has %d pending, want 1", len(slow))
	}
	// One with room for everything (the wakeup after LISTEN and three
	// payloads) gets each, in order.
	if got := drain(queued); !slices.Equal(got, []string{"", "1", "2", "3"}) {
		t.Fatalf("queued subscriber holds %q, want the wakeup and 1, 2, 3", got)
	}
	// One that fell behind at "2" is never left with a partial set of
	// payloads: what it had pending became one empty wakeup, its cue to
	// re-read, and what came after follows it.
	if got := drain(short); !slices.Equal(got, []string{"", "3"}) {
		t.Fatalf("subscriber that fell behind holds %q, want an empty wakeup, then 3", got)
	}
}

// drain returns what ch holds now.
func drain(ch <-chan string) []string {
	var got []string
	for {
		select {
		case p := <-ch:
			got = append(got, p)
		default:
			return got
		}
	}
}
