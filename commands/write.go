package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// Handler executes commands against the event store.
type Handler struct {
	store  Store
	region string // default region for phone numbers without a country code
	lineup lineup // this process's commands on one lead take turns
}

// New returns a Handler; region is the default phone region (e.g. "IN").
func New(store Store, region string) *Handler {
	if region == "" {
		region = "IN"
	}
	return &Handler{store: store, region: region}
}

// Region is the default phone region the handler normalizes numbers with.
func (h *Handler) Region() string { return h.region }

// The write path. Every command is one write: the handler says which
// streams it writes, what it decides, and what it answers; run owns the
// rest, the same for every aggregate (wild-workouts' repository with an
// update function):
//
//  1. a retried request whose first attempt committed (same idempotency
//     key) gets that attempt's answer, and does nothing again;
//  2. the command takes its turn on its streams in this process (lineup.go),
//     and tries again when it loses a race to another process;
//  3. each attempt loads what it needs (snapshot and fold), decides, and
//     stages its appends on a unit;
//  4. run commits the unit's appends in one transaction with the command's
//     tenant, metadata, idempotency key and note, notes the streams touched,
//     and answers at the commit's position.

// write is one command as its handler describes it.
type write[T outcome[T]] struct {
	// streams are the streams the command writes, known before it loads:
	// it takes turns on them, and an earlier commit with the key must have
	// written only these (nil: any).
	streams []uuid.UUID
	// values are reserved values the command takes turns on (a create's
	// normalized emails and phones, which find its lead).
	values []eventstore.Reservation
	// byNote: an earlier commit with the key is known by its note, which
	// replay reads, not by its streams (a create names a new stream or a
	// new event each attempt).
	byNote bool
	// prepare, when set, runs once after the replay check and before the
	// turn: a lookup that finds the streams, or work no attempt may repeat
	// (numbering). The streams it returns join streams.
	prepare func() ([]uuid.UUID, error)
	// decide is one attempt: it loads through the unit, decides, stages
	// the appends and returns the answer as of what it loaded.
	decide func(u *unit) (T, error)
	// replay answers from an earlier commit with the key (nil: the zero
	// answer at that commit's position).
	replay func(prior eventstore.CommitResult) (T, error)
	// failed, when set, maps an attempt's error (a lost race: wrap errLostRace).
	failed func(error) error
}

// outcome is a command's answer: it can be placed at the position its
// events landed at.
type outcome[T any] interface {
	at(eventstore.Position) T
}

// run executes w for c (see write).
func run[T outcome[T]](ctx context.Context, h *Handler, c Context, w write[T]) (T, error) {
	var zero T
	if prior, ok, err := h.replayed(ctx, c, w.streams, w.byNote); err != nil || ok {
		if err != nil {
			return zero, err
		}
		return w.answer(prior)
	}
	if w.prepare != nil {
		more, err := w.prepare()
		if err != nil {
			return zero, err
		}
		w.streams = append(slices.Clip(w.streams), more...)
	}
	deadline := time.Now().Add(busyFor)
	keys := streamKeys(c.TenantID, w.streams...)
	for _, r := range w.values {
		keys = append(keys, valueKey(c.TenantID, r))
	}
	return retryUntil(ctx, h, deadline, keys, func() (T, error) {
		u := &unit{ctx: ctx, h: h, c: c, deadline: deadline}
		defer u.leave()
		res, err := w.attempt(u)
		if err != nil && w.failed != nil {
			err = w.failed(err)
		}
		return res, err
	})
}

// attempt runs one decision and commits what it staged.
func (w write[T]) attempt(u *unit) (T, error) {
	var zero T
	res, err := w.decide(u)
	if err == nil {
		err = u.err
	}
	if err != nil {
		return zero, err
	}
	if len(u.appends) == 0 {
		return res.at(u.last), nil
	}
	commit, replayed, err := u.h.commit(u.ctx, u.c, u.note, u.appends...)
	if err != nil {
		return zero, err
	}
	if replayed { // a concurrent retry committed first: its effect is the one
		return w.answer(commit)
	}
	return res.at(commit.Position), nil
}

// answer is the answer to a request whose commit was prior.
func (w write[T]) answer(prior eventstore.CommitResult) (T, error) {
	if w.replay != nil {
		return w.replay(prior)
	}
	var zero T
	return zero.at(prior.Position), nil
}

// replayed returns the result of an earlier commit made with c's
// idempotency key: a retry whose first attempt committed (and whose answer
// was lost) must get that attempt's result, not redo its work nor fail on
// the state it left (a second delete is a 404). Unless the command is known
// by its note (byNote), the earlier commit must have written only streams among
// targets (nil: any), or the key is refused.
func (h *Handler) replayed(ctx context.Context, c Context, targets []uuid.UUID, byNote bool) (eventstore.CommitResult, bool, error) {
	if c.IdempotencyKey == "" {
		return eventstore.CommitResult{}, false, nil
	}
	prior, ok, err := h.store.IdempotentResult(ctx, c.TenantID, c.IdempotencyKey)
	if err != nil || !ok {
		return prior, false, err
	}
	if !byNote && (len(prior.StreamIDs) == 0 || (targets != nil && !within(prior, targets))) {
		return prior, false, keyReused(c)
	}
	return prior, true, nil
}

// unit is one attempt of a command: what it loaded, at which versions, and
// the appends it stages.
type unit struct {
	ctx      context.Context
	h        *Handler
	c        Context
	deadline time.Time
	loaded   []loaded
	last     eventstore.Position // the newest event loaded
	appends  []eventstore.StreamAppend
	note     any // kept with the idempotency key
	leaves   []func()
	err      error // staging failed
}

// loaded is a stream the unit loaded.
type loaded struct {
	agg     aggregate
	stream  string
	id      uuid.UUID
	version int // the commit expects it
}

// create stages decided as the first events of a new stream.
func (u *unit) create(stream string, id uuid.UUID, decided []domain.Event, opts ...func(*eventstore.StreamAppend)) {
	u.stage(eventstore.StreamAppend{StreamType: stream, StreamID: id, ExpectedVersion: eventstore.NoStream}, decided, opts)
}

func (u *unit) stage(sa eventstore.StreamAppend, decided []domain.Event, opts []func(*eventstore.StreamAppend)) {
	events, err := toNew(decided)
	if err != nil {
		u.err = err
		return
	}
	sa.Events = events
	for _, opt := range opts {
		opt(&sa)
	}
	u.appends = append(u.appends, sa)
}

// keep keeps note with the idempotency key: what a retry answers from.
func (u *unit) keep(note any) { u.note = note }

// turn takes the turn on more streams for the rest of the attempt (a
// create that found its lead).
func (u *unit) turn(ids ...uuid.UUID) error {
	leave, err := u.h.lineup.enter(u.ctx, u.deadline, streamKeys(u.c.TenantID, ids...))
	if err != nil {
		return err
	}
	u.leaves = append(u.leaves, leave)
	return nil
}

func (u *unit) leave() {
	for _, leave := range slices.Backward(u.leaves) {
		leave()
	}
}

// Append options.

// reserving reserves rs for the stream.
func reserving(rs ...eventstore.Reservation) func(*eventstore.StreamAppend) {
	return func(sa *eventstore.StreamAppend) { sa.Reserve = rs }
}

// toNew encodes domain events for the store.
func toNew(events []domain.Event) ([]eventstore.NewEvent, error) {
	out := make([]eventstore.NewEvent, len(events))
	for i, e := range events {
		data, err := e.MarshalData()
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.Type, err)
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		out[i] = eventstore.NewEvent{ID: id, Type: e.Type, SchemaVersion: domain.SchemaVersion, Data: data}
	}
	return out, nil
}

// commit appends with the command's tenant, metadata and idempotency key,
// keeping note with the key. A retried request (same key) gets the first
// commit's result, with its note, and replayed true.
func (h *Handler) commit(ctx context.Context, c Context, note any, streams ...eventstore.StreamAppend) (res eventstore.CommitResult, replayed bool, err error) {
	var raw json.RawMessage
	if note != nil && c.IdempotencyKey != "" {
		if raw, err = json.Marshal(note); err != nil {
			return res, false, err
		}
	}
	ids := make([]uuid.UUID, len(streams))
	creates := false
	for i, sa := range streams {
		c.Touched.add(sa.StreamID, sa.Redact)
		ids[i] = sa.StreamID
		creates = creates || sa.ExpectedVersion == eventstore.NoStream
	}
	res, err = h.store.Commit(ctx, eventstore.Commit{
		TenantID: c.TenantID, Metadata: c.Metadata, IdempotencyKey: c.IdempotencyKey, Note: raw, Streams: streams,
	})
	var dup *eventstore.DuplicateCommitError
	if errors.As(err, &dup) {
		// A create names a new stream each attempt (its note says what the
		// first made); any other command must have written these streams.
		if !creates && !within(dup.Result, ids) {
			return res, false, keyReused(c)
		}
		return dup.Result, true, nil
	}
	return res, false, err
}

// within reports whether res wrote at least one stream and only streams
// among ids.
func within(res eventstore.CommitResult, ids []uuid.UUID) bool {
	for _, id := range res.StreamIDs {
		if !slices.Contains(ids, id) {
			return false
		}
	}
	return len(res.StreamIDs) > 0
}

// keyReused is ErrKeyReused naming c's key.
func keyReused(c Context) error {
	return fmt.Errorf("idempotency key %q was used by another request: %w", c.IdempotencyKey, ErrKeyReused)
}

// Touched collects the streams a request's commands loaded or wrote. The
// HTTP layer stores them with the request's idempotent response, so that a
// permanent delete of one of them purges the response, which may quote the
// stream's personal data. A nil *Touched collects nothing.
type Touched struct {
	mu sync.Mutex
	// ids holds every stream touched; true marks one the request itself
	// deleted permanently (its response quotes nothing of it any more).
	ids map[uuid.UUID]bool
}

// add notes that the request loaded or wrote stream id.
func (t *Touched) add(id uuid.UUID, redacted bool) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids == nil {
		t.ids = map[uuid.UUID]bool{}
	}
	t.ids[id] = t.ids[id] || redacted
}

// Streams returns the streams touched and not deleted by the request, in
// id order.
func (t *Touched) Streams() []uuid.UUID {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []uuid.UUID
	for id, redacted := range t.ids {
		if !redacted {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return out
}
