package eventstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The readers' horizon. Events are read in commit order, (transaction_id,
// position), and a reader may only return events below a horizon no later
// commit can land under: every transaction below it that may still write
// events has ended. Postgres's own xmin (the oldest transaction running
// anywhere on the cluster) is such a horizon, but it waits for every
// transaction, and most of crm's are not appends: each projector batch, a
// replay's loads and index builds (minutes), the lead-number bumps and the
// NOTIFYs all take a transaction id. With xmin, a commit reached the relay
// only once the projector batches that had started before it ended (relay
// p99 29 ms at half the peak write load, 12 ms with no horizon at all), and
// a replay stopped the relay for as long as it ran.
//
// So a transaction that writes no events says so, first thing (NoEvents),
// and the horizon skips it: it is the oldest transaction in progress that
// has not said so, or, with none, the snapshot's xmax (no transaction at or
// above it had ended when the snapshot was taken). The declaration is a
// shared advisory lock, held until the transaction ends and visible with
// its transaction id in pg_locks (the same virtual transaction), and a
// setting that the events table's insert trigger refuses, so a transaction
// that declared it can never append.
//
// Why nothing is skipped: rows below the horizon are read in the statement's
// own snapshot, the one pg_current_snapshot returns, taken before pg_locks
// is read. A transaction below the horizon either had ended when the
// snapshot was taken (its rows are in it), or was in progress then and was
// found in pg_locks (read once, grouped by virtual transaction) still
// running under the declaration (it writes no events). Any other
// transaction in progress bounds the horizon, including one that ended
// between the snapshot and the lock read, and one that starts later gets a
// transaction id above the snapshot's xmax.
const horizon = `coalesce((select min(x) from pg_snapshot_xip(pg_current_snapshot()) as x
		where x::xid not in (select declared.xid from (
			select (array_agg(transactionid) filter (where locktype = 'transactionid'))[1] as xid,
				bool_or(locktype = 'advisory' and classid = 1668441453 and objid = 1 and objsubid = 2 and granted) as no_events
			from pg_locks group by virtualtransaction) as declared
			where declared.no_events and declared.xid is not null)),
	pg_snapshot_xmax(pg_current_snapshot()))`

// visible restricts a query on events to transactions below the horizon: no
// event can ever appear before the last one it returns.
const visible = `transaction_id < ` + horizon

// NoEvents is a select-list item that declares the transaction it runs in
// writes no events, so readers of the store do not wait for it to end (see
// horizon). It must run before the transaction writes anything (before it
// has a transaction id): make it part of the transaction's first statement,
// as in "select set_config('synchronous_commit', 'off', true), " + NoEvents.
// The transaction can then not append events: the events table refuses it.
const NoEvents = `pg_advisory_xact_lock_shared(1668441453, 1), set_config('crm.no_events', 'on', true)`

// DeclareNoEvents runs NoEvents as tx's statement; see NoEvents.
func DeclareNoEvents(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `select `+NoEvents); err != nil {
		return fmt.Errorf("declare no events: %w", err)
	}
	return nil
}
