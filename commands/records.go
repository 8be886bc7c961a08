package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// Records of leads and customers: interactions, contacts and locations,
// each in its owner's stream. A record's per-tenant number is reserved for
// the owner's stream (an interaction's UUID too), so a command naming only
// the record finds its owner, as a comment's does. The owner keeps a digest
// of each record; a change reads the record's form from the stream
// (ReadStreamMatching, never the whole stream) and the domain checks it
// against the digest.

// RecordOwner names the stream that holds records: a lead's or a customer's.
type RecordOwner struct {
	Stream string // domain.LeadStream or domain.CustomerStream
	ID     uuid.UUID
}

// RecordResult says which record a command wrote, and its form after it.
type RecordResult[T domain.Record] struct {
	Result
	Owner  RecordOwner
	Number int64
	Record T
}

func (r RecordResult[T]) at(p eventstore.Position) RecordResult[T] { r.Position = p; return r }

// recordNote is what adding a record keeps with its idempotency key.
type recordNote struct {
	Number int64 `json:"number"`
}

// recordSpec is what the commands know of one type of record.
type recordSpec struct {
	counter string // the NextNumber counter of its numbers
	reserve string // the reservation kind of its numbers
	// redacts: removing one redacts its earlier events, which hold
	// personal data (names, emails, phones, notes).
	redacts bool
}

func specOf[T domain.Record]() recordSpec {
	var zero T
	switch any(zero).(type) {
	case domain.Interaction:
		return recordSpec{counter: "interaction", reserve: domain.ReserveInteraction, redacts: true}
	case domain.Contact:
		return recordSpec{counter: "contact", reserve: domain.ReserveContact, redacts: true}
	}
	return recordSpec{counter: "location", reserve: domain.ReserveLocation}
}

// number is the reservation of record number n, owned by its owner's stream.
func (s recordSpec) number(n int64) eventstore.Reservation {
	return eventstore.Reservation{Kind: s.reserve, Value: strconv.FormatInt(n, 10)}
}

// recordOwner is a loaded lead or customer.
type recordOwner interface {
	aggregate
	domain.Owner
}

// owner loads o for the attempt (its kind's not-found error when missing
// or deleted).
func (u *unit) owner(o RecordOwner) (recordOwner, error) {
	switch o.Stream {
	case domain.LeadStream:
		l, err := u.lead(o.ID)
		if err != nil {
			return nil, err
		}
		return l, nil
	case domain.CustomerStream:
		c, err := u.customer(o.ID)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, fmt.Errorf("%s streams hold no records", o.Stream)
}

// ownLead is the lead whose emails a contact of o may have: the lead
// itself, or the lead a customer was converted from.
func ownLead(o recordOwner) uuid.UUID {
	switch v := o.(type) {
	case *domain.Lead:
		return v.ID()
	case *domain.Customer:
		return v.LeadID()
	}
	return uuid.Nil
}

// AddRecord adds rec (an Interaction, Contact or Location) to owner, with
// the next per-tenant number of its type (an interaction without an ID gets
// a new UUID). A contact's email and phone are normalized, and its email
// must be no other contact's and no other lead's. Errors:
// domain.ErrLeadNotFound or domain.ErrCustomerNotFound (the owner),
// domain.ValidationError, domain.LimitError, *DuplicateError (a contact's
// email), ErrBusy. Options commit more with the record (MovingTo).
func AddRecord[T domain.Record](ctx context.Context, h *Handler, c Context, owner RecordOwner, rec T, opts ...RecordOption) (RecordResult[T], error) {
	var with recordOptions
	for _, o := range opts {
		o(&with)
	}
	rec, err := normalizeRecord(rec, h.region)
	if err != nil {
		return RecordResult[T]{}, err
	}
	spec := specOf[T]()
	var number int64
	return run(ctx, h, c, write[RecordResult[T]]{
		streams: []uuid.UUID{owner.ID}, values: emailTurns(rec), byNote: true,
		// Numbered once, for an owner that exists, whatever the attempts.
		prepare: func() ([]uuid.UUID, error) {
			if err := h.ownerExists(ctx, c, owner); err != nil {
				return nil, err
			}
			n, err := h.store.NextNumber(ctx, c.TenantID, spec.counter)
			if err != nil {
				return nil, fmt.Errorf("number %s: %w", spec.counter, err)
			}
			number = n
			rec, err = numbered(rec, n)
			return nil, err
		},
		decide: func(u *unit) (RecordResult[T], error) {
			o, err := u.owner(owner)
			if err != nil {
				return RecordResult[T]{}, err
			}
			if err := h.contactEmailFree(ctx, c.TenantID, ownLead(o), contactEmail(rec)); err != nil {
				return RecordResult[T]{}, err
			}
			decided, err := domain.AddRecord(o, rec)
			if err != nil {
				return RecordResult[T]{}, err
			}
			if decided, err = with.more(o, decided); err != nil {
				return RecordResult[T]{}, err
			}
			u.append(o, decided, reserving(append(recordReservations(rec), spec.number(number))...))
			u.keep(recordNote{Number: number})
			added, _ := domain.RecordOf[T](decided, number)
			return RecordResult[T]{Owner: owner, Number: number, Record: added}, nil
		},
		replay: func(prior eventstore.CommitResult) (RecordResult[T], error) {
			n, err := noted(c, prior, func(n recordNote) bool { return n.Number != 0 })
			if err != nil {
				return RecordResult[T]{}, err
			}
			return replayRecord[T](ctx, h, c, owner, n.Number, prior)
		},
		failed: h.recordFailed(ctx, c.TenantID),
	})
}

// RecordOption is something AddRecord commits with the record, in the
// same commit: all of it or none.
type RecordOption func(*recordOptions)

type recordOptions struct {
	status domain.Status // move the owning lead to it ("": stay)
}

// MovingTo moves the owner, a lead, to pipeline status s with the record
// (the prospects API's note with a follow-up status). On a customer it is
// a domain.ValidationError naming "status".
func MovingTo(s domain.Status) RecordOption {
	return func(o *recordOptions) { o.status = s }
}

// more returns decided with what the options add for owner o.
func (w recordOptions) more(o domain.Owner, decided []domain.Event) ([]domain.Event, error) {
	if w.status == "" {
		return decided, nil
	}
	l, ok := o.(*domain.Lead)
	if !ok {
		return nil, domain.ValidationError{Field: "status", Reason: "is a lead's, not a customer's"}
	}
	moved, err := l.ChangeStatus(w.status)
	if err != nil {
		return nil, err
	}
	return append(decided, moved...), nil
}

// ChangeRecord changes record number of type T: edit returns the next form
// from the current one, read from the owner's stream (a partial update
// changes only what it was sent; its error is returned as is). A concurrent
// change that lands between the read and the commit makes the command read
// and edit again, so neither is lost. A contact's changed email moves its
// reservation in the same commit. Errors: domain.ErrRecordNotFound,
// domain.ValidationError, *DuplicateError (a contact's email), ErrBusy.
func ChangeRecord[T domain.Record](ctx context.Context, h *Handler, c Context, number int64, edit func(current T) (T, error)) (RecordResult[T], error) {
	spec := specOf[T]()
	var owner RecordOwner
	return run(ctx, h, c, write[RecordResult[T]]{
		prepare: h.recordHolder(ctx, c, spec.number(number), &owner),
		decide: func(u *unit) (RecordResult[T], error) {
			o, err := u.owner(owner)
			if err != nil {
				return RecordResult[T]{}, err
			}
			// Read after the owner: a change between the two shows as
			// domain.ErrRecordChanged, and the attempt runs again.
			current, live, _, err := recordNow[T](ctx, h.store, c.TenantID, owner, number)
			if err != nil {
				return RecordResult[T]{}, err
			}
			if !live {
				return RecordResult[T]{}, domain.ErrRecordNotFound
			}
			next, err := edit(current)
			if err != nil {
				return RecordResult[T]{}, err
			}
			if next, err = normalizeRecord(next, h.region); err != nil {
				return RecordResult[T]{}, err
			}
			if email := contactEmail(next); email != contactEmail(current) {
				if err := h.contactEmailFree(ctx, c.TenantID, ownLead(o), email); err != nil {
					return RecordResult[T]{}, err
				}
			}
			decided, err := domain.ChangeRecord(o, current, next)
			if err != nil {
				return RecordResult[T]{}, err
			}
			before, after := recordReservations(current), recordReservations(next)
			u.append(o, decided, func(sa *eventstore.StreamAppend) {
				sa.Reserve = after
				for _, r := range before {
					if !slices.Contains(after, r) {
						sa.Release = append(sa.Release, r)
					}
				}
			})
			if changed, ok := domain.RecordOf[T](decided, number); ok {
				current = changed
			}
			return RecordResult[T]{Owner: owner, Number: number, Record: current}, nil
		},
		replay: func(prior eventstore.CommitResult) (RecordResult[T], error) {
			owner, err := h.ownerOf(ctx, c.TenantID, prior.StreamIDs[0])
			if err != nil {
				return RecordResult[T]{}, err
			}
			return replayRecord[T](ctx, h, c, owner, number, prior)
		},
		failed: func(err error) error {
			if errors.Is(err, domain.ErrRecordChanged) {
				return fmt.Errorf("%w: %w", errLostRace, err)
			}
			return h.recordFailed(ctx, c.TenantID)(err)
		},
	})
}

// RemoveRecord removes record number of type T from its owner, releasing
// its number (and a contact's email, an interaction's UUID). Removing a
// contact or an interaction redacts the events that wrote it in the same
// transaction, keeping only its owner and number (domain.RecordRedactionKeeps).
// Errors: domain.ErrRecordNotFound, ErrBusy.
func RemoveRecord[T domain.Record](ctx context.Context, h *Handler, c Context, number int64) (Result, error) {
	spec := specOf[T]()
	var owner RecordOwner
	return run(ctx, h, c, write[Result]{
		// After the replay check: once removed, the number names no owner.
		prepare: h.recordHolder(ctx, c, spec.number(number), &owner),
		decide: func(u *unit) (Result, error) {
			o, err := u.owner(owner)
			if err != nil {
				return Result{}, err
			}
			decided, err := domain.RemoveRecord[T](o, number)
			if err != nil {
				return Result{}, err
			}
			// The events that wrote it may be older than the owner's
			// snapshot: ask the store, not the fold.
			current, _, written, err := recordNow[T](ctx, h.store, c.TenantID, owner, number)
			if err != nil {
				return Result{}, err
			}
			u.append(o, decided, func(sa *eventstore.StreamAppend) {
				sa.Release = append(recordReservations(current), spec.number(number))
				if spec.redacts {
					sa.RedactEvents, sa.RedactKeep = written, domain.RecordRedactionKeeps
				}
			})
			return Result{}, nil
		},
		failed: h.recordFailed(ctx, c.TenantID),
	})
}

// InteractionByID finds an interaction by its UUID: its owner and number,
// for the commands that take the number. Errors: domain.ErrRecordNotFound.
func (h *Handler) InteractionByID(ctx context.Context, tenantID, id uuid.UUID) (RecordOwner, int64, error) {
	ownerID, ok, err := h.store.LookupReservation(ctx, tenantID, domain.ReserveInteractionID, id.String())
	if err != nil {
		return RecordOwner{}, 0, fmt.Errorf("look up interaction %s: %w", id, err)
	}
	if !ok {
		return RecordOwner{}, 0, domain.ErrRecordNotFound
	}
	owner, err := h.ownerOf(ctx, tenantID, ownerID)
	if err != nil {
		return RecordOwner{}, 0, err
	}
	match, err := json.Marshal(map[string]any{"interaction": map[string]string{"id": id.String()}})
	if err != nil {
		return RecordOwner{}, 0, err
	}
	events, err := h.store.ReadStreamMatching(ctx, tenantID, ownerID, domain.RecordTypes[domain.Interaction](owner.Stream)[:1], []json.RawMessage{match})
	if err != nil {
		return RecordOwner{}, 0, fmt.Errorf("interaction %s: %w", id, err)
	}
	if len(events) == 0 {
		return RecordOwner{}, 0, domain.ErrRecordNotFound
	}
	var d struct {
		Number int64 `json:"number"`
	}
	if err := json.Unmarshal(events[0].Data, &d); err != nil {
		return RecordOwner{}, 0, fmt.Errorf("interaction %s: %w", id, err)
	}
	return owner, d.Number, nil
}

// RecordOf returns record number of type T of owner as its stream holds it
// now; live is false when it was removed or never was.
func RecordOf[T domain.Record](ctx context.Context, h *Handler, tenantID uuid.UUID, owner RecordOwner, number int64) (rec T, live bool, err error) {
	rec, live, _, err = recordNow[T](ctx, h.store, tenantID, owner, number)
	return rec, live, err
}

// recordNow reads record number's events from the owner's stream (without
// the rest of it) and folds them into its form now. written are the ids of
// the events that added or changed it, which hold its content.
func recordNow[T domain.Record](ctx context.Context, s Store, tenantID uuid.UUID, owner RecordOwner, number int64) (rec T, live bool, written []uuid.UUID, err error) {
	types := domain.RecordTypes[T](owner.Stream)
	match := json.RawMessage(`{"number":` + strconv.FormatInt(number, 10) + `}`)
	stored, err := s.ReadStreamMatching(ctx, tenantID, owner.ID, types, []json.RawMessage{match})
	if err != nil {
		return rec, false, nil, fmt.Errorf("record %d: %w", number, err)
	}
	events := make([]domain.Event, 0, len(stored))
	for _, e := range stored {
		event, err := domain.DecodeEvent(e.Type, e.SchemaVersion, e.Data)
		if err != nil {
			return rec, false, nil, fmt.Errorf("record %d: %w", number, err)
		}
		events = append(events, event)
		if e.Type != types[2] {
			written = append(written, e.ID)
		}
	}
	rec, live = domain.RecordOf[T](events, number)
	return rec, live, written, nil
}

// replayRecord answers a retried record command with the record as it is
// now (one removed since is not found).
func replayRecord[T domain.Record](ctx context.Context, h *Handler, c Context, owner RecordOwner, number int64, prior eventstore.CommitResult) (RecordResult[T], error) {
	c.Touched.add(owner.ID, false)
	rec, live, _, err := recordNow[T](ctx, h.store, c.TenantID, owner, number)
	if err != nil {
		return RecordResult[T]{}, err
	}
	if !live {
		return RecordResult[T]{}, domain.ErrRecordNotFound
	}
	return RecordResult[T]{Result: Result{Position: prior.Position}, Owner: owner, Number: number, Record: rec}, nil
}

// recordHolder is a write's prepare step for a command on a record named
// by its number: it finds the owner by the value reserved for it, into
// *owner, or fails with domain.ErrRecordNotFound.
func (h *Handler) recordHolder(ctx context.Context, c Context, r eventstore.Reservation, owner *RecordOwner) func() ([]uuid.UUID, error) {
	var id uuid.UUID
	find := h.holder(ctx, c, r.Kind, r.Value, domain.ErrRecordNotFound, &id)
	return func() ([]uuid.UUID, error) {
		streams, err := find()
		if err != nil {
			return nil, err
		}
		if *owner, err = h.ownerOf(ctx, c.TenantID, id); err != nil {
			return nil, err
		}
		return streams, nil
	}
}

// ownerOf names the stream id of the tenant: its type is that of its
// newest event (one row read).
func (h *Handler) ownerOf(ctx context.Context, tenantID, id uuid.UUID) (RecordOwner, error) {
	page, err := h.store.ReadStreamPage(ctx, tenantID, id, 0, 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) || (err == nil && len(page.Events) == 0) {
		return RecordOwner{}, domain.ErrRecordNotFound
	}
	if err != nil {
		return RecordOwner{}, fmt.Errorf("owner %s: %w", id, err)
	}
	return RecordOwner{Stream: page.Events[0].StreamType, ID: id}, nil
}

// ownerExists checks owner exists outside a command's attempt (before
// numbering); the stream counts as touched by c's request.
func (h *Handler) ownerExists(ctx context.Context, c Context, owner RecordOwner) error {
	switch owner.Stream {
	case domain.LeadStream:
		_, err := h.loadLead(ctx, c, owner.ID)
		return err
	case domain.CustomerStream:
		_, err := h.loadCustomer(ctx, c, owner.ID)
		return err
	}
	return fmt.Errorf("%s streams hold no records", owner.Stream)
}

// recordFailed maps a record command's attempt error: an owner gone since
// the number was looked up is the record not found; a contact's email
// taken by a concurrent commit is a duplicate naming its holder.
func (h *Handler) recordFailed(ctx context.Context, tenantID uuid.UUID) func(error) error {
	return func(err error) error {
		var taken *eventstore.ReservationError
		switch {
		case errors.As(err, &taken) && taken.Reservation.Kind == domain.ReserveContactEmail:
			return h.contactDuplicate(ctx, tenantID, taken.Owner)
		case errors.Is(err, domain.ErrLeadNotFound), errors.Is(err, domain.ErrCustomerNotFound):
			return domain.ErrRecordNotFound
		}
		return err
	}
}

// contactEmailFree refuses a contact's email that is another contact's
// (of any owner) or a lead's other than lead (the owner's own).
func (h *Handler) contactEmailFree(ctx context.Context, tenantID, lead uuid.UUID, email string) error {
	if email == "" {
		return nil
	}
	if owner, ok, err := h.store.LookupReservation(ctx, tenantID, domain.ReserveContactEmail, email); err != nil || ok {
		if err != nil {
			return err
		}
		return h.contactDuplicate(ctx, tenantID, owner)
	}
	owner, ok, err := h.store.LookupReservation(ctx, tenantID, domain.ReserveEmail, email)
	if err != nil {
		return err
	}
	if ok && owner != lead {
		return &DuplicateError{Field: "email", LeadID: owner}
	}
	return nil
}

// contactDuplicate is the *DuplicateError for an email a contact of owner
// (a lead or a customer) holds.
func (h *Handler) contactDuplicate(ctx context.Context, tenantID, owner uuid.UUID) error {
	o, err := h.ownerOf(ctx, tenantID, owner)
	if err != nil {
		return err
	}
	dup := &DuplicateError{Field: "email", Contact: true, LeadID: owner}
	if o.Stream == domain.CustomerStream {
		dup.LeadID, dup.CustomerID = uuid.Nil, owner
	}
	return dup
}

// recordReservations are the values rec reserves besides its number: an
// interaction's UUID, a contact's email.
func recordReservations[T domain.Record](rec T) []eventstore.Reservation {
	switch v := any(rec).(type) {
	case domain.Interaction:
		if v.ID != uuid.Nil {
			return []eventstore.Reservation{{Kind: domain.ReserveInteractionID, Value: v.ID.String()}}
		}
	case domain.Contact:
		if v.Email != "" {
			return []eventstore.Reservation{{Kind: domain.ReserveContactEmail, Value: v.Email}}
		}
	}
	return nil
}

// contactEmail is rec's email if it is a contact with one.
func contactEmail[T domain.Record](rec T) string {
	if v, ok := any(rec).(domain.Contact); ok {
		return v.Email
	}
	return ""
}

// emailTurns are the values a command adding rec takes turns on: a
// contact's email, as a contact and as a lead's (creates of leads take
// turns on theirs).
func emailTurns[T domain.Record](rec T) []eventstore.Reservation {
	email := contactEmail(rec)
	if email == "" {
		return nil
	}
	return []eventstore.Reservation{{Kind: domain.ReserveContactEmail, Value: email}, {Kind: domain.ReserveEmail, Value: email}}
}

// normalizeRecord normalizes a contact's email and phone (national numbers
// read in region); other records are checked by the domain as they are.
func normalizeRecord[T domain.Record](rec T, region string) (T, error) {
	v, ok := any(rec).(domain.Contact)
	if !ok {
		return rec, nil
	}
	var err error
	if v.Email != "" {
		if v.Email, err = domain.NormalizeEmail(v.Email); err != nil {
			return rec, err
		}
	}
	if v.Phone != "" {
		if v.Phone, err = domain.NormalizePhone(v.Phone, region); err != nil {
			return rec, err
		}
	}
	return any(v).(T), nil
}

// numbered is rec with number n, and a new UUID for an interaction without one.
func numbered[T domain.Record](rec T, n int64) (T, error) {
	var out any
	switch v := any(rec).(type) {
	case domain.Interaction:
		v.Number = n
		if v.ID == uuid.Nil {
			id, err := uuid.NewV7()
			if err != nil {
				return rec, err
			}
			v.ID = id
		}
		out = v
	case domain.Contact:
		v.Number = n
		out = v
	case domain.Location:
		v.Number = n
		out = v
	}
	return out.(T), nil
}

// RecordOwnerOf names the owner of record number of type T, so an API that
// names a record by its number alone can check it belongs where its path
// says. Errors: domain.ErrRecordNotFound.
func RecordOwnerOf[T domain.Record](ctx context.Context, h *Handler, tenantID uuid.UUID, number int64) (RecordOwner, error) {
	r := specOf[T]().number(number)
	id, ok, err := h.store.LookupReservation(ctx, tenantID, r.Kind, r.Value)
	if err != nil {
		return RecordOwner{}, fmt.Errorf("look up %s %s: %w", r.Kind, r.Value, err)
	}
	if !ok {
		return RecordOwner{}, domain.ErrRecordNotFound
	}
	return h.ownerOf(ctx, tenantID, id)
}
