package projections

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"golang.org/x/sync/errgroup"

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
	b       *build
	snap    *eventstore.Snapshot
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
func (bb *BulkBuild) CopyStreams(ctx context.Context, table string, columns []string, filter eventstore.ScanFilter, newFold func() StreamFold) error {
	// Only the tables copied into lose their indexes: a table kept by a
	// trigger or written by Exec may need its own (on conflict).
	idx, err := bb.b.dropIndexes(table)
	if err != nil {
		return fmt.Errorf("copy %s: drop indexes: %w", table, err)
	}
	bb.deferred = append(bb.deferred, idx...)

	g, gctx := errgroup.WithContext(ctx)
	streams := make(chan []eventstore.Event, 64)
	batches := make(chan [][]any, 8)
	g.Go(func() error {
		defer close(streams)
		var stream []eventstore.Event
		send := func() error {
			select {
			case streams <- stream:
				stream = nil
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		err := bb.snap.ScanStreams(gctx, filter, func(e eventstore.Event) error {
			if bb.scanned++; bb.b.progress != nil && bb.scanned%10000 == 0 {
				bb.b.progress(bb.b.p.Name(), bb.scanned, max(bb.b.total, bb.scanned))
			}
			if len(stream) > 0 && stream[0].StreamID != e.StreamID {
				if err := send(); err != nil {
					return err
				}
			}
			stream = append(stream, e)
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
			fold := newFold()
			batch := make([][]any, 0, copyBatchRows)
			send := func() error {
				select {
				case batches <- batch:
					batch = make([][]any, 0, copyBatchRows)
					return nil
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			emit := func(row []any) error {
				if batch = append(batch, row); len(batch) == copyBatchRows {
					return send()
				}
				return nil
			}
			for events := range streams {
				for _, e := range events {
					if err := fold.Fold(e); err != nil {
						return fmt.Errorf("apply %s %s at %s: %w", e.Type, e.ID, e.Position, err)
					}
				}
				if err := fold.End(emit); err != nil {
					return fmt.Errorf("stream %s: %w", events[0].StreamID, err)
				}
			}
			if len(batch) > 0 {
				return send()
			}
			return nil
		})
	}
	go func() {
		folders.Wait()
		close(batches)
	}()
	g.Go(func() error {
		src := &chunkSource{batches: batches}
		for !src.done {
			src.left = copyChunkRows
			if err := bb.b.inBuild(func(tx pgx.Tx) error {
				_, err := tx.CopyFrom(gctx, pgx.Identifier{table}, columns, src)
				return err
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		for range batches {
			// drain, so that no folder is left blocked
		}
		return fmt.Errorf("copy %s: %w", table, err)
	}
	return nil
}

// foldWorkers is how many goroutines fold streams side by side: decoding
// the events' JSON is most of a rebuild's work in Go.
func foldWorkers() int { return max(1, min(runtime.GOMAXPROCS(0), 4)) }

// copyUUID is id as pgx encodes it directly: a uuid.UUID goes through its
// driver.Valuer (a string, parsed back), a good part of a COPY's work.
func copyUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

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
}

// dropIndexes drops the indexes of the build's table and returns them, the
// slowest to build (not btree) first.
func (b *build) dropIndexes(table string) ([]index, error) {
	var idx []index
	err := b.inSchema(func(tx pgx.Tx) error {
		rows, err := tx.Query(b.ctx, `select ic.relname, pg_get_indexdef(i.indexrelid),
				case c.contype when 'p' then 'PRIMARY KEY' when 'u' then 'UNIQUE' else '' end
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
			x := index{table: b.schema + "." + pgx.Identifier{table}.Sanitize()}
			if err := rows.Scan(&name, &x.def, &x.constraint); err != nil {
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

// createIndexes makes the indexes dropIndexes dropped, a few side by side,
// one transaction each (a transaction building an index holds the relay
// back while it runs). A constraint's index is built as a plain unique
// index first, then attached to its constraint: ALTER TABLE would wait for
// every index build on the table to end.
func (b *build) createIndexes(idx []index) error {
	g, ctx := errgroup.WithContext(b.ctx)
	g.SetLimit(indexWorkers)
	for _, x := range idx {
		g.Go(func() error {
			err := pgx.BeginFunc(ctx, b.store.Pool(), func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `select set_config('search_path', $1, true), set_config('synchronous_commit', 'off', true)`,
					b.name+", public"); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, x.def)
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
		if err := b.inBuild(func(tx pgx.Tx) error {
			_, err := tx.Exec(b.ctx, attach)
			return err
		}); err != nil {
			return fmt.Errorf("%s: %w", attach, err)
		}
	}
	return nil
}

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
	if err := b.createIndexes(bb.deferred); err != nil {
		return fmt.Errorf("rebuild %s: create indexes: %w", b.p.Name(), err)
	}
	b.cursor = snap.Head()
	// Progress counts the events the projection read: the rest of the log
	// cannot change its tables.
	b.applied = bb.scanned
	b.total = max(b.total, b.applied)
	if b.progress != nil {
		b.progress(b.p.Name(), b.applied, b.total)
	}
	return nil
}
