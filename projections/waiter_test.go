package projections

import (
	"context"
	"log/slog"
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
