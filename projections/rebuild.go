package projections

import (
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"golang.org/x/sync/errgroup"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// Rebuilder is a Projection that can rebuild its tables in bulk: it folds
// the events of a consistent snapshot of the store into final rows in Go and
// writes them with COPY, instead of applying event after event with SQL.
// Replay and Verify use it when a projection implements it, then apply the
// events that came after the snapshot with Apply as before.
type Rebuilder interface {
	Projection
	// Rebuild fills the projection's tables, freshly set up and empty,
	// with exactly the rows that Apply would leave after applying every
	// event of b's snapshot in commit order.
	Rebuild(ctx context.Context, b *BulkBuild) error
}

// copyChunkRows is how many rows one COPY transaction writes. A rebuild's
// writes are spread over many short transactions because every open writing
// transaction holds back the relay and the projectors (see eventstore.ReadAll).
const copyChunkRows = 50000

// copyBatchRows is how many rows travel together from a folding goroutine
// to the COPY.
const copyBatchRows = 1000

// StreamFold folds the events of one stream at a time into rows of a table.
// A rebuild runs several folds side by side, each on whole streams.
type StreamFold interface {
	// Fold folds the next event of the current stream, in stream order.
	Fold(e eventstore.Event) error
	// End emits the rows of the stream just folded and starts afresh. A row
	// must not change once emitted.
	End(emit func(row []any) error) error
}

// BulkBuild is what a Rebuilder works with: the store's events up to a
// consistent cut, and the build's tables to copy rows into.
type BulkBuild struct {
	b    *build
	snap *eventstore.Snapshot
	// shared, if set, is the one scan of the snapshot that the rebuilds of
	// several read models share (rebuildAll).
	shared *sharedScan
	// joined says the build has joined shared's scan or left it: each build
	// counts once.
	joined  bool
	scanned int64
	// deferred holds the indexes dropped from the tables copied into, to
	// be made again once the rows are in.
	deferred []index
}

// CopyStreams folds the snapshot's events that filter picks, stream by
// stream, with folds made by newFold, and copies the rows they emit into
// table (unqualified: the build's own). One goroutine reads the events,
// foldWorkers fold whole streams side by side, and the rows go to Postgres
// with COPY meanwhile. The indexes of table are dropped first and made again
// once the rebuild is done. Memory holds the streams and rows in flight:
// at most a few channel buffers of them, whatever the size of the log.
//
// When several read models are rebuilt together (rebuildAll), the first
// CopyStreams of each joins one scan of the snapshot shared by all of them:
// each event is read once, and every rebuild folds and copies its own rows
// from it side by side.
func (bb *BulkBuild) CopyStreams(ctx context.Context, table string, columns []string, filter eventstore.ScanFilter, newFold func() StreamFold) error {
	// Only the tables copied into lose their indexes: a table kept by a
	// trigger or written by Exec may need its own (on conflict).
	idx, err := bb.b.dropIndexes(table)
	if err != nil {
		return fmt.Errorf("copy %s: drop indexes: %w", table, err)
	}
	bb.deferred = append(bb.deferred, idx...)
	req := &copyRequest{bb: bb, table: table, columns: columns, filter: filter, newFold: newFold}
	if bb.shared != nil {
		if err, ok := bb.shared.join(req); ok {
			return err
		}
		bb.shared.alone.Lock() // the snapshot's one connection
		defer bb.shared.alone.Unlock()
	}
	return copyStreams(ctx, bb.snap, []*copyRequest{req})
}

// copyRequest is one CopyStreams: what to fold and where the rows go.
type copyRequest struct {
	bb      *BulkBuild
	table   string
	columns []string
	filter  eventstore.ScanFilter
	newFold func() StreamFold
}

// picks says whether the request's filter picks e.
func (r *copyRequest) picks(e *eventstore.Event) bool {
	f := r.filter
	return (len(f.StreamTypes) == 0 || slices.Contains(f.StreamTypes, e.StreamType)) &&
		(len(f.EventTypes) == 0 || slices.Contains(f.EventTypes, e.Type))
}

// pickedEvent is an event of a scan with the requests that pick it, one bit
// each.
type pickedEvent struct {
	eventstore.Event
	picks uint64
}

// LeadFold is a StreamFold of lead streams that also folds an event
// decoded already, with domain.DecodeLeadEvent: when several folds of a
// shared scan take the same lead event, it is decoded once for all of them.
type LeadFold interface {
	StreamFold
	// FoldLead is Fold of e decoded as ev.
	FoldLead(e eventstore.Event, ev domain.Event) error
}

// decodedLead is a lead event decoded for the LeadFolds of a stream.
type decodedLead struct {
	done bool
	ev   domain.Event
	err  error
}

// copyStreams serves reqs (at most 64) from one scan of snap: one goroutine
// reads the events any of them picks, foldWorkers fold whole streams side by
// side (a fold per request each), and every request's rows go to its table
// with COPY of its own, meanwhile.
func copyStreams(ctx context.Context, snap *eventstore.Snapshot, reqs []*copyRequest) error {
	if len(reqs) > 64 {
		return fmt.Errorf("copy streams: %d tables in one scan", len(reqs))
	}
	g, gctx := errgroup.WithContext(ctx)
	streams := make(chan []pickedEvent, 64)
	batches := make([]chan [][]any, len(reqs))
	filters := make([]eventstore.ScanFilter, len(reqs))
	for i, r := range reqs {
		batches[i] = make(chan [][]any, 8)
		filters[i] = r.filter
	}
	g.Go(func() error {
		defer close(streams)
		var stream []pickedEvent
		send := func() error {
			select {
			case streams <- stream:
				stream = nil
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		err := snap.ScanStreamsAny(gctx, filters, func(e eventstore.Event) error {
			var picks uint64
			for i, r := range reqs {
				if !r.picks(&e) {
					continue
				}
				picks |= 1 << i
				b := r.bb.b
				if r.bb.scanned++; b.progress != nil && r.bb.scanned%10000 == 0 {
					b.progress(b.p.Name(), r.bb.scanned, max(b.total, r.bb.scanned))
				}
			}
			if len(stream) > 0 && stream[0].StreamID != e.StreamID {
				if err := send(); err != nil {
					return err
				}
			}
			stream = append(stream, pickedEvent{Event: e, picks: picks})
			return nil
		})
		if err == nil && len(stream) > 0 {
			err = send()
		}
		return err
	})
	var folders sync.WaitGroup
	for range foldWorkers() {
		folders.Add(1)
		g.Go(func() error {
			defer folders.Done()
			folds := make([]StreamFold, len(reqs))
			batch := make([][][]any, len(reqs))
			emits := make([]func([]any) error, len(reqs))
			for i, r := range reqs {
				folds[i] = r.newFold()
				batch[i] = make([][]any, 0, copyBatchRows)
				send := func() error {
					select {
					case batches[i] <- batch[i]:
						batch[i] = make([][]any, 0, copyBatchRows)
						return nil
					case <-gctx.Done():
						return gctx.Err()
					}
				}
				emits[i] = func(row []any) error {
					if batch[i] = append(batch[i], row); len(batch[i]) == copyBatchRows {
						return send()
					}
					return nil
				}
			}
			// The lead events that two or more LeadFolds take are decoded
			// once, for all of them.
			var shareMask uint64
			for i, fold := range folds {
				if _, ok := fold.(LeadFold); ok {
					shareMask |= 1 << i
				}
			}
			var decoded []decodedLead
			for events := range streams {
				decoded = slices.Grow(decoded[:0], len(events))[:len(events)]
				clear(decoded)
				for i, fold := range folds {
					bit, folded := uint64(1)<<i, false
					for j, e := range events {
						if e.picks&bit == 0 {
							continue
						}
						folded = true
						var err error
						if shared := e.picks & shareMask; shared&bit != 0 && bits.OnesCount64(shared) > 1 && e.StreamType == domain.LeadStream {
							d := &decoded[j]
							if !d.done {
								d.ev, d.err = domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
								d.done = true
							}
							if err = d.err; err == nil {
								err = fold.(LeadFold).FoldLead(e.Event, d.ev)
							}
						} else {
							err = fold.Fold(e.Event)
						}
						if err != nil {
							return fmt.Errorf("copy %s: apply %s %s at %s: %w", reqs[i].table, e.Type, e.ID, e.Position, err)
						}
					}
					if !folded {
						continue
					}
					if err := fold.End(emits[i]); err != nil {
						return fmt.Errorf("copy %s: stream %s: %w", reqs[i].table, events[0].StreamID, err)
					}
				}
			}
			for i := range reqs {
				if len(batch[i]) > 0 {
					select {
					case batches[i] <- batch[i]:
					case <-gctx.Done():
						return gctx.Err()
					}
				}
			}
			return nil
		})
	}
	go func() {
		folders.Wait()
		for _, ch := range batches {
			close(ch)
		}
	}()
	for i, r := range reqs {
		g.Go(func() error {
			// A connection of its own, not the pool's: every table's COPY
			// must go on for the shared scan to go on, whatever the size of
			// the pool and whoever else holds its connections.
			conn, err := pgx.ConnectConfig(gctx, r.bb.b.store.Pool().Config().ConnConfig)
			if err != nil {
				return fmt.Errorf("copy %s: connect: %w", r.table, err)
			}
			defer conn.Close(context.WithoutCancel(gctx))
			src := &chunkSource{batches: batches[i]}
			for !src.done {
				src.left = copyChunkRows
				if err := inSchemaTx(gctx, conn, r.bb.b.name, false, func(tx pgx.Tx) error {
					_, err := tx.CopyFrom(gctx, pgx.Identifier{r.table}, r.columns, src)
					return err
				}); err != nil {
					return fmt.Errorf("copy %s: %w", r.table, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		for _, ch := range batches {
			for range ch {
				// drain, so that no folder is left blocked
			}
		}
		return err
	}
	return nil
}

// foldWorkers is how many goroutines fold streams side by side: decoding
// the events' JSON is most of a rebuild's work in Go.
func foldWorkers() int { return max(1, min(runtime.GOMAXPROCS(0), 4)) }

// CopyUUID is id as pgx encodes it directly: a uuid.UUID goes through its
// driver.Valuer (a string, parsed back), a good part of a COPY's work.
func CopyUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

// Exec runs sql in a transaction of its own with the build's tables first on
// the search_path, for what is best derived in SQL from rows already copied
// (aggregates).
func (bb *BulkBuild) Exec(ctx context.Context, sql string, args ...any) error {
	return bb.b.inBuild(func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql, args...)
		return err
	})
}

// chunkSource is a pgx.CopyFromSource over the folders' batches that stops
// after left rows, so the next chunk continues where it ended.
type chunkSource struct {
	batches <-chan [][]any
	batch   [][]any
	i       int
	left    int
	done    bool
}

func (s *chunkSource) Next() bool {
	if s.left == 0 {
		return false
	}
	for s.i+1 >= len(s.batch) {
		b, ok := <-s.batches
		if !ok {
			s.done = true
			return false
		}
		s.batch, s.i = b, -1
	}
	s.i++
	s.left--
	return true
}

func (s *chunkSource) Values() ([]any, error) { return s.batch[s.i], nil }

func (s *chunkSource) Err() error { return nil }

// index is one index (or primary key or unique constraint) of a build's
// table, dropped before a bulk load and made again after it: building an
// index over the loaded rows at once is much cheaper than keeping it up to
// date row by row, above all the trigram one.
type index struct {
	table      string // sanitized, schema-qualified
	name       string // sanitized
	def        string // pg_get_indexdef
	constraint string // "PRIMARY KEY", "UNIQUE" or "" for a plain index
	schemaName string // the build's schema, unquoted: pg_get_indexdef leaves it out
	slow       bool   // not a btree
}

// dropIndexes drops the indexes of the build's table and returns them, the
// slowest to build (not btree) first.
func (b *build) dropIndexes(table string) ([]index, error) {
	var idx []index
	err := b.inSchema(func(tx pgx.Tx) error {
		rows, err := tx.Query(b.ctx, `select ic.relname, pg_get_indexdef(i.indexrelid),
				case c.contype when 'p' then 'PRIMARY KEY' when 'u' then 'UNIQUE' else '' end, am.amname <> 'btree'
			from pg_index i
			join pg_class t on t.oid = i.indrelid
			join pg_class ic on ic.oid = i.indexrelid
			join pg_am am on am.oid = ic.relam
			join pg_namespace n on n.oid = t.relnamespace
			left join pg_constraint c on c.conindid = i.indexrelid and c.conrelid = t.oid and c.contype in ('p', 'u')
			where n.nspname = $1 and t.relname = $2
			order by am.amname = 'btree', ic.relname`, b.name, table)
		if err != nil {
			return err
		}
		for rows.Next() {
			var name string
			x := index{table: b.schema + "." + pgx.Identifier{table}.Sanitize(), schemaName: b.name}
			if err := rows.Scan(&name, &x.def, &x.constraint, &x.slow); err != nil {
				return err
			}
			x.name = pgx.Identifier{name}.Sanitize()
			idx = append(idx, x)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, x := range idx {
			drop := `drop index ` + b.schema + `.` + x.name
			if x.constraint != "" {
				drop = `alter table ` + x.table + ` drop constraint ` + x.name
			}
			if _, err := tx.Exec(b.ctx, drop); err != nil {
				return fmt.Errorf("%s: %w", drop, err)
			}
		}
		return nil
	})
	return idx, err
}

// createIndexes makes the indexes dropIndexes dropped, a few side by side
// (the slowest first), one transaction each (a transaction building an
// index holds the relay back while it runs), with room to sort in memory.
// A constraint's index is built as a plain unique index first, then
// attached to its constraint: ALTER TABLE would wait for every index build
// on the table to end.
func createIndexes(ctx context.Context, store *eventstore.Store, idx []index) error {
	idx = slices.Clone(idx)
	slices.SortStableFunc(idx, func(a, b index) int {
		switch {
		case a.slow == b.slow:
			return 0
		case a.slow:
			return -1
		}
		return 1
	})
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(indexWorkers)
	for _, x := range idx {
		g.Go(func() error {
			err := inSchemaTx(gctx, store.Pool(), x.schemaName, false, func(tx pgx.Tx) error {
				if _, err := tx.Exec(gctx, `select set_config('maintenance_work_mem', $1, true)`, indexMemory); err != nil {
					return err
				}
				_, err := tx.Exec(gctx, x.def)
				return err
			})
			if err != nil {
				return fmt.Errorf("%s: %w", x.def, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, x := range idx {
		if x.constraint == "" {
			continue
		}
		attach := `alter table ` + x.table + ` add constraint ` + x.name + ` ` + x.constraint + ` using index ` + x.name
		err := pgx.BeginFunc(ctx, store.Pool(), func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, attach)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", attach, err)
		}
	}
	return nil
}

// indexMemory is the maintenance_work_mem of an index build: a trigram
// index built in the default 64MB flushes its entries to disk many times
// over, and each of indexWorkers builds has its own.
const indexMemory = "256MB"

// indexWorkers is how many indexes a rebuild makes at once.
const indexWorkers = 2

// bulkLoad rebuilds the build's tables from a snapshot of the store with the
// projection's Rebuild and moves the build's cursor to the snapshot's head.
func (b *build) bulkLoad(r Rebuilder) error {
	snap, err := b.store.Snapshot(b.ctx)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", b.p.Name(), err)
	}
	defer snap.Close(b.ctx)
	bb := &BulkBuild{b: b, snap: snap}
	if err := r.Rebuild(b.ctx, bb); err != nil {
		return fmt.Errorf("rebuild %s: %w", b.p.Name(), err)
	}
	snap.Close(b.ctx) // release the connection before the index builds
	if err := createIndexes(b.ctx, b.store, bb.deferred); err != nil {
		return fmt.Errorf("rebuild %s: create indexes: %w", b.p.Name(), err)
	}
	b.loaded(snap.Head(), bb.scanned)
	return nil
}

// loaded moves the build's cursor to head, the snapshot's it was loaded
// from, having read scanned events.
func (b *build) loaded(head eventstore.Position, scanned int64) {
	b.cursor = head
	// Progress counts the events the projection read: the rest of the log
	// cannot change its tables.
	b.applied = scanned
	b.total = max(b.total, b.applied)
	if b.progress != nil {
		b.progress(b.p.Name(), b.applied, b.total)
	}
}
