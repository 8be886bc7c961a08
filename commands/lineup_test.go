package commands

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLineupTakesTurnsInArrivalOrder: commands on one key run one at a time,
// in the order they came; one that cannot get its turn by its deadline gets
// ErrBusy, and one whose context ends gets the context's error.
func TestLineupTakesTurnsInArrivalOrder(t *testing.T) {
	var l lineup
	ctx := t.Context()
	far := time.Now().Add(time.Minute)
	leave, err := l.enter(ctx, far, []string{"b", "a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 3)
	for i := range 3 {
		go func() {
			next, err := l.enter(ctx, far, []string{"a"})
			if err != nil {
				t.Error(err)
				return
			}
			order <- i
			next()
		}()
		// Arrival order: each waits before the next comes.
		for tries := 0; !l.waiting("a", i+1); tries++ {
			if tries == 10000 {
				t.Fatalf("command %d never queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}

	if _, err := l.enter(ctx, time.Now().Add(10*time.Millisecond), []string{"b"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("past the deadline: err = %v, want ErrBusy", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.enter(cancelled, far, []string{"b"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v, want context.Canceled", err)
	}

	leave()
	for want := range 3 {
		if got := <-order; got != want {
			t.Fatalf("turn %d went to command %d", want, got)
		}
	}
	empty := func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.turns) == 0
	}
	for tries := 0; !empty(); tries++ {
		if tries == 10000 {
			t.Fatal("turns left behind after everyone left")
		}
		time.Sleep(time.Millisecond)
	}
}

// waiting reports whether n commands wait for key's turn.
func (l *lineup) waiting(key string, n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.turns[key]
	return t != nil && len(t.waiting) == n
}
