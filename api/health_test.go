package api

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestHealthAsksAtMostOncePerInterval: however often /healthz is called,
// the readiness check (a database ping) runs at most once per interval, and
// its answer, good or bad, is what the callers in between get.
func TestHealthAsksAtMostOncePerInterval(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	calls := 0
	var answer error
	h := health(func(context.Context) error { calls++; return answer }, func() time.Time { return now })
	for range 100 {
		if err := h.check(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Fatalf("100 checks within the interval asked %d times, want 1", calls)
	}
	answer = errors.New("database down")
	now = now.Add(healthInterval)
	for range 100 {
		if err := h.check(t.Context()); !errors.Is(err, answer) {
			t.Fatalf("after the interval: %v, want the new answer", err)
		}
	}
	if calls != 2 {
		t.Fatalf("asked %d times over two intervals, want 2", calls)
	}
}
