package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Records are what an owner's stream (a lead's or a customer's) holds
// besides its profile: interactions (notes, calls, meetings, with a next
// action), contacts and locations. Each has a per-tenant number (the id the
// APIs show and paths name) and lives in its owner's stream, so deleting the
// owner takes them along in one append. The owner keeps only a digest of
// each live record: enough to check the current form a command read from the
// stream, at a fixed size per record. Every event carries the record's whole
// form after it, so folding a record is taking its last event's form.

// Event types of records. These strings are stored: never rename one.
const (
	LeadInteractionLogged      = "lead.interaction_logged"
	LeadInteractionChanged     = "lead.interaction_changed"
	LeadInteractionDeleted     = "lead.interaction_deleted"
	LeadContactAdded           = "lead.contact_added"
	LeadContactChanged         = "lead.contact_changed"
	LeadContactRemoved         = "lead.contact_removed"
	LeadLocationAdded          = "lead.location_added"
	LeadLocationChanged        = "lead.location_changed"
	LeadLocationRemoved        = "lead.location_removed"
	CustomerInteractionLogged  = "customer.interaction_logged"
	CustomerInteractionChanged = "customer.interaction_changed"
	CustomerInteractionDeleted = "customer.interaction_deleted"
	CustomerContactAdded       = "customer.contact_added"
	CustomerContactChanged     = "customer.contact_changed"
	CustomerContactRemoved     = "customer.contact_removed"
	CustomerLocationAdded      = "customer.location_added"
	CustomerLocationChanged    = "customer.location_changed"
	CustomerLocationRemoved    = "customer.location_removed"
)

// Reservation kinds of record numbers: each number is owned by its owner's
// stream, so a path naming only the record finds the owner.
const (
	ReserveInteraction = "record.interaction"
	ReserveContact     = "record.contact"
	ReserveLocation    = "record.location"
	// ReserveContactEmail is a contact's email: unique among a tenant's contacts.
	ReserveContactEmail = "contact.email"
	// ReserveInteractionID is an interaction's UUID (the id the /dev/crm
	// API shows), owned by its owner's stream like its number.
	ReserveInteractionID = "record.interaction_id"
)

// Bounds on the records one owner holds (live and removed alike: numbers
// stay used), for the same reason as MaxCommentsPerLead.
const (
	MaxInteractionsPerOwner = 10000
	MaxContactsPerOwner     = 1000
	MaxLocationsPerOwner    = 1000
)

// Errors of record decisions.
var (
	// ErrRecordNotFound: the number is not a live record of this kind of the owner.
	ErrRecordNotFound = newError("not_found", "record not found")
	// ErrRecordExists: the number was used in this owner's stream before.
	ErrRecordExists = newError("duplicate", "record already exists")
	// ErrRecordChanged: the form given as a record's current one is not
	// (another change came first); read it again.
	ErrRecordChanged = newError("conflict", "record changed since it was read")
)

// InteractionKind is what kind of contact with the owner an interaction
// records: the union of the kinds of every API (each shows kinds outside its
// own set as other, or note).
type InteractionKind string

// Interaction kinds.
const (
	KindCall     InteractionKind = "call"
	KindEmail    InteractionKind = "email"
	KindMeeting  InteractionKind = "meeting"
	KindNote     InteractionKind = "note"
	KindWhatsapp InteractionKind = "whatsapp"
	KindSMS      InteractionKind = "sms"
	KindSupport  InteractionKind = "support"
	KindPurchase InteractionKind = "purchase"
	KindOther    InteractionKind = "other"
)

// InteractionKinds lists every kind, in the order error messages name them.
var InteractionKinds = []InteractionKind{KindCall, KindEmail, KindMeeting, KindNote, KindWhatsapp, KindSMS, KindSupport, KindPurchase, KindOther}

// Interaction is one contact with the owner (the prospects API's note, the
// /dev/crm API's interaction), with what to do next and when: NextActionAt
// is a follow-up. Times are UTC. Its JSON names are stored: never rename one.
type Interaction struct {
	ID           uuid.UUID       `json:"id"`
	Number       int64           `json:"number"`
	Kind         InteractionKind `json:"kind"`
	Subject      string          `json:"subject,omitempty"`
	Notes        string          `json:"notes,omitempty"`
	Outcome      string          `json:"outcome,omitempty"`
	NextAction   string          `json:"next_action,omitempty"`
	NextActionAt *time.Time      `json:"next_action_at,omitempty"`
	OccurredAt   time.Time       `json:"occurred_at"`
	Author       string          `json:"author,omitempty"`
}

// Contact is a person at the owner besides the owner itself. Email is
// normalized, Phone E.164.
type Contact struct {
	Number   int64  `json:"number"`
	Name     string `json:"name"`
	Email    string `json:"email,omitempty"`
	Phone    string `json:"phone,omitempty"`
	Position string `json:"position,omitempty"`
}

// LocationType is what a location is for.
type LocationType string

// LocationTypes lists the location types, as the prospects API names them.
var LocationTypes = []LocationType{"office", "warehouse", "branch", "headquarters", "distribution_center"}

// Location is a place of the owner's, with a link to it on a map.
type Location struct {
	Number int64        `json:"number"`
	Name   string       `json:"name"`
	Link   string       `json:"link"`
	Type   LocationType `json:"type"`
}

// Limits on record fields.
const (
	maxLocationName = 50
	maxLocationLink = 150
)

// InteractionData is the data of *.interaction_logged and
// *.interaction_changed: the interaction's whole form after the event and,
// on a change, what changed (for the audit log).
type InteractionData struct {
	OwnerID     uuid.UUID     `json:"owner_id"`
	Number      int64         `json:"number"` // the interaction's, kept when it is redacted
	Interaction Interaction   `json:"interaction"`
	Changes     []FieldChange `json:"changes,omitempty"`
}

// ContactData is the data of *.contact_added and *.contact_changed.
type ContactData struct {
	OwnerID uuid.UUID     `json:"owner_id"`
	Number  int64         `json:"number"` // the contact's, kept when it is redacted
	Contact Contact       `json:"contact"`
	Changes []FieldChange `json:"changes,omitempty"`
}

// LocationData is the data of *.location_added and *.location_changed.
type LocationData struct {
	OwnerID  uuid.UUID     `json:"owner_id"`
	Number   int64         `json:"number"` // the location's
	Location Location      `json:"location"`
	Changes  []FieldChange `json:"changes,omitempty"`
}

// RecordRedactionKeeps names the data fields a removed record's earlier
// events keep when their content (personal data: names, emails, phones,
// notes) is redacted: whose record it was and its number.
var RecordRedactionKeeps = []string{"owner_id", "number"}

// RecordRemovedData is the data of every *_deleted and *_removed record event.
type RecordRemovedData struct {
	OwnerID uuid.UUID `json:"owner_id"`
	Number  int64     `json:"number"`
}

// Record is what the three record types share: a number, a check that
// returns the canonical form, and their event data.
type Record interface {
	Interaction | Contact | Location
}

// recordKind is one kind of record in one kind of stream: its event types
// and bound.
type recordKind struct {
	name                    string // the collection, as LimitError names it
	added, changed, removed string
	max                     int
}

var (
	leadInteractions     = recordKind{"interactions", LeadInteractionLogged, LeadInteractionChanged, LeadInteractionDeleted, MaxInteractionsPerOwner}
	leadContacts         = recordKind{"contacts", LeadContactAdded, LeadContactChanged, LeadContactRemoved, MaxContactsPerOwner}
	leadLocations        = recordKind{"locations", LeadLocationAdded, LeadLocationChanged, LeadLocationRemoved, MaxLocationsPerOwner}
	customerInteractions = recordKind{"interactions", CustomerInteractionLogged, CustomerInteractionChanged, CustomerInteractionDeleted, MaxInteractionsPerOwner}
	customerContacts     = recordKind{"contacts", CustomerContactAdded, CustomerContactChanged, CustomerContactRemoved, MaxContactsPerOwner}
	customerLocations    = recordKind{"locations", CustomerLocationAdded, CustomerLocationChanged, CustomerLocationRemoved, MaxLocationsPerOwner}
)

// RecordEventTypes returns every record event type of a stream type
// (LeadStream, CustomerStream).
func RecordEventTypes(stream string) []string {
	var out []string
	for _, k := range recordKindsOf(stream) {
		out = append(out, k.added, k.changed, k.removed)
	}
	return out
}

// recordEvents registers every record kind's event types, with the data
// each carries.
var recordEvents = func() []string {
	var types []eventType
	for _, k := range []recordKind{leadInteractions, customerInteractions} {
		types = append(types, eventOf[InteractionData](k.added), eventOf[InteractionData](k.changed), eventOf[RecordRemovedData](k.removed))
	}
	for _, k := range []recordKind{leadContacts, customerContacts} {
		types = append(types, eventOf[ContactData](k.added), eventOf[ContactData](k.changed), eventOf[RecordRemovedData](k.removed))
	}
	for _, k := range []recordKind{leadLocations, customerLocations} {
		types = append(types, eventOf[LocationData](k.added), eventOf[LocationData](k.changed), eventOf[RecordRemovedData](k.removed))
	}
	return registerEvents(types...)
}()

func recordKindsOf(stream string) []recordKind {
	switch stream {
	case LeadStream:
		return []recordKind{leadInteractions, leadContacts, leadLocations}
	case CustomerStream:
		return []recordKind{customerInteractions, customerContacts, customerLocations}
	}
	return nil
}

// records are an owner's records as its state keeps them: by kind (its
// added event type), the digest of each live record by number, and every
// number ever used (true while live).
type records struct {
	live map[string]map[int64]string
	used map[string]map[int64]bool
}

// apply folds a record event of kind k into the state; it reports whether
// e was one.
func (r *records) apply(kinds []recordKind, e Event) bool {
	for _, k := range kinds {
		switch e.Type {
		case k.added, k.changed:
			number, digest := recordDigestOf(e)
			if number == 0 {
				return true // redacted
			}
			if e.Type == k.added && r.used[k.added][number] {
				return true
			}
			if e.Type == k.changed && !r.isLive(k, number) {
				return true
			}
			r.set(k, number, digest)
			return true
		case k.removed:
			// Marked used here too: the events that added it may be redacted.
			number := eventData[RecordRemovedData](e).Number
			r.set(k, number, "")
			delete(r.live[k.added], number)
			return true
		}
	}
	return false
}

func (r *records) isLive(k recordKind, number int64) bool {
	_, ok := r.live[k.added][number]
	return ok
}

func (r *records) set(k recordKind, number int64, digest string) {
	if r.live == nil {
		r.live, r.used = map[string]map[int64]string{}, map[string]map[int64]bool{}
	}
	if r.live[k.added] == nil {
		r.live[k.added], r.used[k.added] = map[int64]string{}, map[int64]bool{}
	}
	r.live[k.added][number] = digest
	r.used[k.added][number] = true
}

// recordDigestOf is the number and digest of the record an added or
// changed event leaves.
func recordDigestOf(e Event) (int64, string) {
	switch e.Data.(type) {
	case InteractionData, *InteractionData:
		i := eventData[InteractionData](e).Interaction
		return i.Number, recordDigest(i)
	case ContactData, *ContactData:
		c := eventData[ContactData](e).Contact
		return c.Number, recordDigest(c)
	default:
		l := eventData[LocationData](e).Location
		return l.Number, recordDigest(l)
	}
}

// recordDigest is what an owner keeps of a record: 128 bits of the
// SHA-256 of its JSON form.
func recordDigest[T Record](rec T) string {
	b, err := json.Marshal(rec)
	if err != nil {
		panic(fmt.Sprintf("record digest: %v", err)) // plain structs always marshal
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// numberOf is a record's number.
func numberOf[T Record](rec T) int64 {
	switch v := any(rec).(type) {
	case Interaction:
		return v.Number
	case Contact:
		return v.Number
	case Location:
		return v.Number
	}
	return 0
}

// checkRecord validates rec and returns its canonical form.
func checkRecord[T Record](rec T) (T, error) {
	var out any
	var err error
	switch v := any(rec).(type) {
	case Interaction:
		out, err = v.check()
	case Contact:
		out, err = v.check()
	case Location:
		out, err = v.check()
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return out.(T), nil
}

// recordData is the event data of kind k for rec with changes.
func recordData[T Record](owner uuid.UUID, rec T, changes []FieldChange) any {
	switch v := any(rec).(type) {
	case Interaction:
		return InteractionData{OwnerID: owner, Number: v.Number, Interaction: v, Changes: changes}
	case Contact:
		return ContactData{OwnerID: owner, Number: v.Number, Contact: v, Changes: changes}
	default:
		l := any(rec).(Location)
		return LocationData{OwnerID: owner, Number: l.Number, Location: l, Changes: changes}
	}
}

// add decides adding rec of kind k to owner.
func addRecord[T Record](r *records, k recordKind, owner uuid.UUID, rec T) ([]Event, error) {
	rec, err := checkRecord(rec)
	if err != nil {
		return nil, err
	}
	number := numberOf(rec)
	if r.used[k.added][number] {
		return nil, ErrRecordExists
	}
	if len(r.used[k.added]) >= k.max {
		return nil, LimitError{Field: k.name, Limit: k.max}
	}
	return []Event{{Type: k.added, Data: recordData(owner, rec, nil)}}, nil
}

// changeRecord decides replacing record current (the form the caller read
// from the stream) by next, same number. The same form is no change; a
// current that is not the record's form is ErrRecordChanged.
func changeRecord[T Record](r *records, k recordKind, owner uuid.UUID, current, next T) ([]Event, error) {
	number := numberOf(current)
	digest, ok := r.live[k.added][number]
	if !ok {
		return nil, ErrRecordNotFound
	}
	if recordDigest(current) != digest {
		return nil, ErrRecordChanged
	}
	if numberOf(next) != number {
		return nil, invalid("number", "cannot change")
	}
	if i, ok := any(current).(Interaction); ok && any(next).(Interaction).ID != i.ID {
		return nil, invalid("interaction_id", "cannot change") // it is reserved: it finds the owner
	}
	next, err := checkRecord(next)
	if err != nil {
		return nil, err
	}
	changes, err := fieldsOf[T]().diff(current, next)
	if err != nil || len(changes) == 0 {
		return nil, err
	}
	return []Event{{Type: k.changed, Data: recordData(owner, next, changes)}}, nil
}

// removeRecord decides removing record number of kind k.
func removeRecord(r *records, k recordKind, owner uuid.UUID, number int64) ([]Event, error) {
	if !r.isLive(k, number) {
		return nil, ErrRecordNotFound
	}
	return []Event{{Type: k.removed, Data: RecordRemovedData{OwnerID: owner, Number: number}}}, nil
}

func (i Interaction) check() (Interaction, error) {
	i.Subject, i.Notes = strings.TrimSpace(i.Subject), strings.TrimSpace(i.Notes)
	i.Outcome, i.NextAction = strings.TrimSpace(i.Outcome), strings.TrimSpace(i.NextAction)
	switch {
	case i.ID == uuid.Nil:
		return i, invalid("interaction_id", "must be set")
	case i.Number < 1:
		return i, invalid("number", "must be positive")
	case !validKind(i.Kind):
		return i, invalid("kind", "must be one of "+joinKinds())
	case i.OccurredAt.IsZero():
		return i, invalid("occurred_at", "must be set")
	}
	for field, v := range map[string]string{"subject": i.Subject, "outcome": i.Outcome, "next_action": i.NextAction} {
		if utf8.RuneCountInString(v) > maxTextLen {
			return i, invalid(field, fmt.Sprintf("must be at most %d characters", maxTextLen))
		}
	}
	if utf8.RuneCountInString(i.Notes) > maxLongTextLen {
		return i, invalid("notes", fmt.Sprintf("must be at most %d characters", maxLongTextLen))
	}
	// Stored in UTC, without the monotonic reading JSON cannot keep, so the
	// decided event equals the one read back.
	i.OccurredAt = i.OccurredAt.UTC().Round(0)
	if i.NextActionAt != nil {
		at := i.NextActionAt.UTC().Round(0)
		i.NextActionAt = &at
	}
	return i, nil
}

func validKind(k InteractionKind) bool {
	for _, v := range InteractionKinds {
		if k == v {
			return true
		}
	}
	return false
}

func joinKinds() string {
	s := make([]string, len(InteractionKinds))
	for i, k := range InteractionKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func (c Contact) check() (Contact, error) {
	c.Name, c.Position = strings.TrimSpace(c.Name), strings.TrimSpace(c.Position)
	switch {
	case c.Number < 1:
		return c, invalid("number", "must be positive")
	case c.Name == "":
		return c, invalid("name", "must not be empty")
	case utf8.RuneCountInString(c.Name) > maxTextLen:
		return c, invalid("name", fmt.Sprintf("must be at most %d characters", maxTextLen))
	case utf8.RuneCountInString(c.Position) > maxTextLen:
		return c, invalid("position", fmt.Sprintf("must be at most %d characters", maxTextLen))
	}
	if c.Email != "" {
		if n, err := NormalizeEmail(c.Email); err != nil || n != c.Email {
			return c, invalid("email", "must be a normalized email address")
		}
	}
	if c.Phone != "" {
		if n, err := NormalizePhone(c.Phone, ""); err != nil || n != c.Phone {
			return c, invalid("phone", "must be an E.164 phone number")
		}
	}
	return c, nil
}

func (l Location) check() (Location, error) {
	l.Name, l.Link = strings.TrimSpace(l.Name), strings.TrimSpace(l.Link)
	switch {
	case l.Number < 1:
		return l, invalid("number", "must be positive")
	case l.Name == "" || utf8.RuneCountInString(l.Name) > maxLocationName:
		return l, invalid("name", fmt.Sprintf("must be 1 to %d characters", maxLocationName))
	case l.Link == "" || utf8.RuneCountInString(l.Link) > maxLocationLink:
		return l, invalid("link", fmt.Sprintf("must be 1 to %d characters", maxLocationLink))
	}
	for _, t := range LocationTypes {
		if l.Type == t {
			return l, nil
		}
	}
	return l, invalid("type", "must be one of office, warehouse, branch, headquarters, distribution_center")
}

// Owner is an aggregate whose stream holds records: *Lead or *Customer.
type Owner interface {
	// owned returns the owner's records, the kinds of its stream and its
	// id, or the error a decision on a missing owner answers.
	owned() (*records, []recordKind, uuid.UUID, error)
}

func (l *Lead) owned() (*records, []recordKind, uuid.UUID, error) {
	return &l.records, recordKindsOf(LeadStream), l.id, l.mustExist()
}

func (c *Customer) owned() (*records, []recordKind, uuid.UUID, error) {
	return &c.records, recordKindsOf(CustomerStream), c.id, c.mustExist()
}

// kindOf picks the kind of record T among an owner's kinds (interactions,
// contacts, locations, in that order).
func kindOf[T Record](kinds []recordKind) recordKind {
	var zero T
	switch any(zero).(type) {
	case Interaction:
		return kinds[0]
	case Contact:
		return kinds[1]
	}
	return kinds[2]
}

// AddRecord decides adding rec (an Interaction, Contact or Location, whose
// number the caller reserved) to owner o. A number the owner used before is
// ErrRecordExists.
func AddRecord[T Record](o Owner, rec T) ([]Event, error) {
	r, kinds, id, err := o.owned()
	if err != nil {
		return nil, err
	}
	return addRecord(r, kindOf[T](kinds), id, rec)
}

// ChangeRecord decides replacing o's record current by next (same number).
// The owner keeps only a digest of each record, so the caller reads current
// from the stream (the last added or changed event's form, RecordOf); a
// current that is not the record's form now is ErrRecordChanged.
func ChangeRecord[T Record](o Owner, current, next T) ([]Event, error) {
	r, kinds, id, err := o.owned()
	if err != nil {
		return nil, err
	}
	return changeRecord(r, kindOf[T](kinds), id, current, next)
}

// RemoveRecord decides removing o's record of type T numbered number.
func RemoveRecord[T Record](o Owner, number int64) ([]Event, error) {
	r, kinds, id, err := o.owned()
	if err != nil {
		return nil, err
	}
	return removeRecord(r, kindOf[T](kinds), id, number)
}

// HasRecord reports whether o holds a live record of type T numbered number.
func HasRecord[T Record](o Owner, number int64) bool {
	r, kinds, _, _ := o.owned()
	return r.isLive(kindOf[T](kinds), number)
}

// RecordTypes returns the event types of records of type T in a stream of
// type stream (LeadStream, CustomerStream): added, changed, removed.
func RecordTypes[T Record](stream string) []string {
	kinds := recordKindsOf(stream)
	if kinds == nil {
		return nil
	}
	k := kindOf[T](kinds)
	return []string{k.added, k.changed, k.removed}
}

// RecordOf folds a record's events (added, changed, removed, in stream
// order; others are skipped) into its form now: the form of its last added
// or changed event, none after a removal.
func RecordOf[T Record](events []Event, number int64) (T, bool) {
	var out T
	var live bool
	for _, e := range events {
		switch d := e.Data.(type) {
		case InteractionData:
			if v, ok := any(d.Interaction).(T); ok && d.Interaction.Number == number {
				out, live = v, true
			}
		case ContactData:
			if v, ok := any(d.Contact).(T); ok && d.Contact.Number == number {
				out, live = v, true
			}
		case LocationData:
			if v, ok := any(d.Location).(T); ok && d.Location.Number == number {
				out, live = v, true
			}
		case RecordRemovedData:
			var zero T
			if d.Number == number && strings.HasSuffix(e.Type, removedSuffix(any(zero))) {
				out, live = zero, false
			}
		}
	}
	return out, live
}

func removedSuffix(v any) string {
	switch v.(type) {
	case Interaction:
		return ".interaction_deleted"
	case Contact:
		return ".contact_removed"
	}
	return ".location_removed"
}
