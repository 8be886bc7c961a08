package projections

import (
	"context"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/crmcore/crm/eventstore"
)

// Projectors announce their checkpoints on one channel, and the
// notifications of several often arrive in one packet. The Waiter must see
// every one of them, not only the first, without its periodic reload (set
// here to an hour): a response waiting for the second read model would
// otherwise wait for that model's next batch, or the reload.
func TestWaiterSeesNotificationsThatArriveTogether(t *testing.T) {
	store, ctx := newStore(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	listener := eventstore.NewListener(store.Pool(), nil)
	go func() { _ = listener.Run(ctx) }()
	w := NewWaiter(store, listener, slog.New(slog.DiscardHandler))
	w.reloadEvery = time.Hour
	go func() { _ = w.Run(ctx) }()

	// Wait until the Waiter listens: a first notification gets through.
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	ready := eventstore.Position{Tx: 1, Pos: 1}
	for !w.Reached(ready, "ready") {
		if _, err := store.Pool().Exec(ctx, `select pg_notify($1, $2)`, NotifyChannel, "ready "+ready.String()); err != nil {
			t.Fatal(err)
		}
		waitCtx, stop := context.WithTimeout(ctx, 100*time.Millisecond)
		w.Wait(waitCtx, ready, "ready")
		stop()
	}

	for round := range 50 {
		pos := eventstore.Position{Tx: uint64(round + 2), Pos: int64(round + 2)}
		// One transaction: Postgres delivers its notifications together.
		tx, err := store.Pool().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if _, err := tx.Exec(ctx, `select pg_notify($1, $2)`, NotifyChannel, n+" "+pos.String()); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		waitCtx, stop := context.WithTimeout(ctx, 10*time.Second)
		ok := w.Wait(waitCtx, pos, names...)
		stop()
		if !ok {
			var missing []string
			for _, n := range names {
				if !w.Reached(pos, n) {
					missing = append(missing, n)
				}
			}
			t.Fatalf("round %d: the Waiter never saw %v reach %s", round, missing, pos)
		}
	}
}

// TestAnnouncementNamesEveryReadModel: the projectors announce every read
// model in one NOTIFY; the waiter reads each back, and takes anything else
// for a wakeup.
func TestAnnouncementNamesEveryReadModel(t *testing.T) {
	want := map[string]eventstore.Position{"leads": {Tx: 7, Pos: 42}, "orders": {Tx: 7, Pos: 41}, "records": {Tx: 3, Pos: 9}}
	got, ok := parseAnnouncement(announcement(want))
	if !ok || !maps.Equal(got, want) {
		t.Fatalf("read back %v (%v), want %v", got, ok, want)
	}
	for _, bad := range []string{"", "leads", "leads x", "leads 7.42\n"} {
		if cps, ok := parseAnnouncement(bad); ok {
			t.Errorf("%q read as %v", bad, cps)
		}
	}
}
