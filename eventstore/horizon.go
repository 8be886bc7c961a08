package eventstore

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
// above it had ended when the snapshot was taken). The declaration takes a
// transaction id and an exclusive advisory lock keyed by it, held until the
// transaction ends; the horizon probes the lock of each transaction the
// snapshot saw in progress with a shared try-lock: it fails only while a
// declared transaction holds it. The probe's lock is the reader's
// transaction's, never its session's, so a statement cancelled between a
// probe and its release cannot leave it behind on a pooled connection (where
// it would block that transaction's declaration for as long as the
// connection lived); a reader's statement is short, and Snapshot drops its
// probes at once. The declaration also sets a setting that the events
// table's insert trigger refuses, so a transaction that declared it can
// never append, and it is refused in a transaction that has a transaction
// id already (it wrote before declaring).
//
// Why nothing is skipped: rows below the horizon are read in the statement's
// own snapshot, the one pg_current_snapshot returns, taken before the
// probes. A transaction below the horizon either had ended when the
// snapshot was taken (its rows are in it), or was in progress then and its
// probe failed: it held its declaration's lock, so it writes no events. Any
// other transaction in progress bounds the horizon: one that never declared,
// one that ended between the snapshot and its probe, and one caught between
// taking its id and its lock (a probe that fails wrongly is impossible; one
// that succeeds wrongly only makes the horizon lower). One that starts later
// gets a transaction id above the snapshot's xmax. Probes of concurrent
// readers share the lock and do not conflict; each is a single lock-table
// entry, where reading pg_locks would take every partition of the lock
// table on every read.
const horizon = `coalesce((select min(x) from pg_snapshot_xip(pg_current_snapshot()) as x
		where pg_try_advisory_xact_lock_shared(` + declaredKey + `)),
	pg_snapshot_xmax(pg_current_snapshot()))`

// declaredKey is the advisory lock key of transaction x's declaration: a
// namespace and x's low 32 bits (transactions in progress at once are less
// than 2^31 apart, so no two share one). The function NoEvents calls
// (migration 00006) takes the same key.
const declaredKey = `1668441453, ((x::text::bigint & 4294967295) - 2147483648)::int4`

// visible restricts a query on events to transactions below the horizon: no
// event can ever appear before the last one it returns.
const visible = `transaction_id < ` + horizon

// NoEvents is a select-list item that declares the transaction it runs in
// writes no events, so readers of the store do not wait for it to end (see
// horizon). It takes the transaction's id. It must run before the
// transaction writes anything, and is refused (SQLSTATE 25001) in a
// transaction that has a transaction id already: make it part of the
// transaction's first statement, as in "select set_config('synchronous_commit',
// 'off', true), " + NoEvents. The transaction can then not append events:
// the events table refuses it.
const NoEvents = `events_declare_no_events()`
