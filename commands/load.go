package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// aggregate is the state of one stream that commands decide on (a Lead, a
// Pipeline): it counts the events applied, and applies one.
type aggregate interface {
	Version() int
	Apply(domain.Event)
}

// kind says how to rebuild one kind of aggregate from its stream. A new
// aggregate is one more kind, and every command on it gets the write path
// of run (write.go) as it is.
type kind[A aggregate] struct {
	stream string                                                           // the stream type
	blank  func() A                                                         // the state before the first event
	decode func(eventType string, v int, data []byte) (domain.Event, error) // one stored event
	// missing is the error for a stream that does not exist, is another
	// kind's, or is not live; nil: a missing stream is the blank state.
	missing error
	live    func(A) bool // nil: always
	snap    *snapshotForm[A]
	// quoted: an answer may quote the stream's (personal) data, so a
	// request that loads it notes it as touched (its stored response is
	// purged when the stream is erased), and a command that changes
	// nothing answers at its position. The pipeline is neither.
	quoted bool
}

// snapshotForm stores an aggregate's state as its stream's snapshot, so a
// load folds only the events after it.
type snapshotForm[A aggregate] struct {
	version   int // the form's version: a snapshot of another is ignored
	id        func(A) uuid.UUID
	marshal   func(A) ([]byte, error)
	unmarshal func([]byte) (A, error)
}

// jsonForm is the snapshot form of an aggregate whose state the domain
// exports as S (state) and restores from it (restore), stored as JSON.
func jsonForm[A aggregate, S any](version int, id func(A) uuid.UUID, state func(A) S, restore func(S) (A, error)) *snapshotForm[A] {
	return &snapshotForm[A]{version: version, id: id,
		marshal: func(a A) ([]byte, error) { return json.Marshal(state(a)) },
		unmarshal: func(b []byte) (A, error) {
			var s S
			if err := json.Unmarshal(b, &s); err != nil {
				var zero A
				return zero, err
			}
			return restore(s)
		},
	}
}

// leads are Lead streams: snapshotted, and domain.ErrLeadNotFound when
// missing or deleted.
var leads = &kind[*domain.Lead]{
	stream:  domain.LeadStream,
	blank:   func() *domain.Lead { return domain.NewLeadFromHistory(nil) },
	decode:  domain.DecodeLeadEvent,
	missing: domain.ErrLeadNotFound,
	live:    func(l *domain.Lead) bool { return l.Exists() && !l.Deleted() },
	quoted:  true,
	snap:    jsonForm(domain.LeadSnapshotVersion, (*domain.Lead).ID, (*domain.Lead).Snapshot, domain.UnmarshalLeadFromSnapshot),
}

// customers are Customer streams: snapshotted (their records make them
// long), and domain.ErrCustomerNotFound when missing or deleted.
var customers = &kind[*domain.Customer]{
	stream:  domain.CustomerStream,
	blank:   func() *domain.Customer { return domain.NewCustomerFromHistory(nil) },
	decode:  domain.DecodeEvent,
	missing: domain.ErrCustomerNotFound,
	live:    func(c *domain.Customer) bool { return c.Exists() && !c.Deleted() },
	quoted:  true,
	snap: jsonForm(domain.CustomerSnapshotVersion, (*domain.Customer).ID, (*domain.Customer).Snapshot,
		domain.UnmarshalCustomerFromSnapshot),
}

// pipelines is the tenant's Pipeline stream; a tenant that never changed
// it has the default one.
var pipelines = &kind[*domain.Pipeline]{
	stream: domain.PipelineStream,
	blank:  func() *domain.Pipeline { return domain.NewPipelineFromHistory(nil) },
	decode: domain.DecodeEvent,
}

// snapshotEvery is how many events past its snapshot an aggregate is folded
// before a load writes a new snapshot: a command folds at most about this
// many events, and a snapshot is written once per this many.
const snapshotEvery = 500

// load rebuilds stream id of k from its newest snapshot and the events
// after it (the whole stream when there is no usable snapshot), holding
// one event in memory at a time. It also returns the position of the
// stream's last event. Having folded snapshotEvery events or more past the
// snapshot, it writes a new one, so the next load folds fewer.
func load[A aggregate](ctx context.Context, s Store, k *kind[A], tenantID, id uuid.UUID) (A, eventstore.Position, error) {
	var zero A
	agg, from, err := restore(ctx, s, k, tenantID, id)
	if err != nil {
		return zero, eventstore.Position{}, err
	}
	var last eventstore.Position
	folded := 0
	// From the snapshot's own event: its position is the answer when
	// nothing came after it, and it proves the stream is this tenant's.
	err = s.FoldStream(ctx, tenantID, id, max(from, 1), func(e eventstore.Event) error {
		if e.StreamType != k.stream {
			if k.missing != nil {
				return k.missing
			}
			return fmt.Errorf("load %s %s: a %s stream", k.stream, id, e.StreamType)
		}
		last = e.Position
		if e.StreamVersion <= from {
			return nil
		}
		event, err := k.decode(e.Type, e.SchemaVersion, e.Data)
		if err != nil {
			return fmt.Errorf("load %s %s: %w", k.stream, id, err)
		}
		agg.Apply(event)
		folded++
		return nil
	})
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		if k.missing != nil {
			return zero, eventstore.Position{}, k.missing
		}
		return k.blank(), eventstore.Position{}, nil
	}
	if err != nil {
		return zero, eventstore.Position{}, err
	}
	if k.live != nil && !k.live(agg) {
		return zero, eventstore.Position{}, k.missing
	}
	if k.snap != nil && folded >= snapshotEvery {
		saveSnapshot(ctx, s, k, tenantID, agg)
	}
	return agg, last, nil
}

// restore returns the aggregate as of its stream's snapshot and the
// snapshot's version; the blank state at version 0 when there is no
// snapshot, or it is unreadable or of another form's version.
func restore[A aggregate](ctx context.Context, s Store, k *kind[A], tenantID, id uuid.UUID) (A, int, error) {
	if k.snap == nil {
		return k.blank(), 0, nil
	}
	snap, ok, err := s.ReadSnapshot(ctx, tenantID, id)
	if err != nil {
		var zero A
		return zero, 0, fmt.Errorf("load %s %s: %w", k.stream, id, err)
	}
	if !ok || snap.StreamType != k.stream || snap.SchemaVersion != k.snap.version {
		return k.blank(), 0, nil
	}
	agg, err := k.snap.unmarshal(snap.State)
	if err != nil || agg.Version() != snap.StreamVersion {
		return k.blank(), 0, nil // unreadable: fold from the start
	}
	return agg, snap.StreamVersion, nil
}

// saveSnapshot stores agg's state as its stream's snapshot. It is an
// optimization: a failure costs the next load a longer fold, not the
// command its answer, so it is not returned.
func saveSnapshot[A aggregate](ctx context.Context, s Store, k *kind[A], tenantID uuid.UUID, agg A) {
	state, err := k.snap.marshal(agg)
	if err != nil {
		return
	}
	_, _ = s.SaveSnapshot(ctx, eventstore.StreamSnapshot{TenantID: tenantID, StreamType: k.stream,
		StreamID: k.snap.id(agg), StreamVersion: agg.Version(), SchemaVersion: k.snap.version, State: state})
}

// use loads stream id of kind k for the attempt; a quoted kind's stream
// counts as touched by the request, and its position is the answer of a
// command that changes nothing.
func use[A aggregate](u *unit, k *kind[A], id uuid.UUID) (A, error) {
	if k.quoted {
		u.c.Touched.add(id, false)
	}
	agg, pos, err := load(u.ctx, u.h.store, k, u.c.TenantID, id)
	if err != nil {
		return agg, err
	}
	u.loaded = append(u.loaded, loaded{agg: agg, stream: k.stream, id: id, version: agg.Version()})
	if k.quoted && u.last.Less(pos) {
		u.last = pos
	}
	return agg, nil
}

// lead loads lead id (domain.ErrLeadNotFound when missing or deleted).
func (u *unit) lead(id uuid.UUID) (*domain.Lead, error) { return use(u, leads, id) }

// customer loads customer id (domain.ErrCustomerNotFound when missing or deleted).
func (u *unit) customer(id uuid.UUID) (*domain.Customer, error) { return use(u, customers, id) }

// pipeline loads the tenant's pipeline.
func (u *unit) pipeline() (*domain.Pipeline, error) {
	return use(u, pipelines, domain.PipelineID(u.c.TenantID))
}

// onLead loads lead id, decides on it and stages what was decided, with
// opts: the step most commands are made of. It returns the lead as it is
// after the decision.
func (u *unit) onLead(id uuid.UUID, decide func(*domain.Lead) ([]domain.Event, error), opts ...func(*eventstore.StreamAppend)) (*domain.Lead, error) {
	lead, err := u.lead(id)
	if err != nil {
		return nil, err
	}
	decided, err := decide(lead)
	if err != nil {
		return nil, err
	}
	u.append(lead, decided, opts...)
	return lead, nil
}

// append stages decided for the stream agg was loaded from, expecting the
// version it was loaded at, and applies them to agg, so the command answers
// with the state after them. The options run after that, so they can read
// the new state. Nothing decided stages nothing.
func (u *unit) append(agg aggregate, decided []domain.Event, opts ...func(*eventstore.StreamAppend)) {
	if len(decided) == 0 {
		return
	}
	// From the newest: a command appends to what it just loaded, so a bulk
	// command of n leads finds each at once, not in n steps.
	i := len(u.loaded) - 1
	for i >= 0 && u.loaded[i].agg != agg {
		i--
	}
	if i < 0 {
		u.err = errors.New("append to a stream the command did not load")
		return
	}
	for _, e := range decided {
		agg.Apply(e)
	}
	l := u.loaded[i]
	u.stage(eventstore.StreamAppend{StreamType: l.stream, StreamID: l.id, ExpectedVersion: l.version}, decided, opts)
}
