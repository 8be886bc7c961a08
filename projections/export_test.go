package projections

import (
	"context"
	"testing"

	"github.com/crmcore/crm/eventstore"
)

// This file lends the external tests (package projections_test, which
// rebuild the concrete read models: those import projections) what they
// check of the runtime's internals.

// Build is a rebuild's tables in a schema of their own.
type Build = build

// Rebuild builds p's tables into schema, in bulk or event by event.
func Rebuild(ctx context.Context, store *eventstore.Store, p Projection, schema string, bulk bool) (*Build, error) {
	return rebuild(ctx, store, p, schema, 0, nil, bulk)
}

// RebuildBatched builds p's tables into schema from the store batchSize
// events at a time, each batch applied as the projectors apply it.
func RebuildBatched(ctx context.Context, store *eventstore.Store, p Projection, schema string, batchSize int) (*Build, error) {
	b, err := newBuild(ctx, store, p, schema, batchSize, nil, false)
	if err != nil {
		return b, err
	}
	b.batched = true
	return b, b.catchUp()
}

// RebuildAll is rebuildAll.
func RebuildAll(ctx context.Context, store *eventstore.Store, ps []Projection, prefix string, progress Progress) ([]*Build, error) {
	return rebuildAll(ctx, store, ps, prefix, 0, progress)
}

// ReplayOne is Replay, in bulk or event by event.
func ReplayOne(ctx context.Context, store *eventstore.Store, p Projection, bulk bool) error {
	return replay(ctx, store, p, 0, nil, bulk)
}

// LiveBuild is the live tables of p as a build at checkpoint cp, to catch up.
func LiveBuild(ctx context.Context, store *eventstore.Store, p Projection, cp eventstore.Position) *Build {
	return &build{ctx: ctx, store: store, p: p, schema: "public", name: "public", batchSize: 100, cursor: cp}
}

// CompareTables is compareTables.
var CompareTables = compareTables

// NewStoreWith is newStoreWith.
func NewStoreWith(t *testing.T, ps ...Projection) (*eventstore.Store, context.Context) {
	t.Helper()
	return newStoreWith(t, ps...)
}

func (b *build) Drop()                       { b.drop() }
func (b *build) CatchUp() error              { return b.catchUp() }
func (b *build) Schema() string              { return b.schema }
func (b *build) Name() string                { return b.name }
func (b *build) Cursor() eventstore.Position { return b.cursor }
func (b *build) Applied() int64              { return b.applied }
