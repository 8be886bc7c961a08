package domain

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"
)

// PipelineStream is the stream type of a tenant's pipeline of lead statuses.
const PipelineStream = "pipeline"

// Event types of the pipeline stream. These strings are stored: never rename one.
const (
	PipelineStatusCreated   = "pipeline.status_created"
	PipelineStatusChanged   = "pipeline.status_changed"
	PipelineStatusDeleted   = "pipeline.status_deleted"
	PipelineStatusReordered = "pipeline.reordered"
)

// Errors of pipeline decisions.
var (
	ErrStatusNotFound = newError("not_found", "lead status not found")
	ErrStatusExists   = newError("duplicate", "lead status already exists")
	ErrStatusInUse    = newError("conflict", "lead status is in use")
)

// Palette is the fixed set of primary colours a status may have; each
// secondary colour is the primary's "light" variant, a CSS colour too.
var Palette = []string{"blue", "green", "yellow", "gray", "pink", "cyan", "coral", "salmon", "seagreen", "skyblue", "steelblue"}

// SecondaryColor derives a status's secondary colour from its primary.
func SecondaryColor(primary string) string { return "light" + primary }

// PipelineStatus is one column of the pipeline. Key is what a lead's status
// holds: it survives renames, and for the default statuses it is the name
// the Cratio API knows them by.
type PipelineStatus struct {
	ID    int64  `json:"id"`
	Key   Status `json:"key"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

// DefaultPipeline is every new tenant's pipeline, in order; its ids are
// fixed, so a tenant whose pipeline was never changed has no events and
// still reads the same ids.
func DefaultPipeline() []PipelineStatus {
	return []PipelineStatus{
		{ID: 1, Key: "New", Name: "New", Color: "blue"},
		{ID: 2, Key: "Contacted", Name: "Contacted", Color: "cyan"},
		{ID: 3, Key: "Qualified", Name: "Qualified", Color: "yellow"},
		{ID: 4, Key: "Proposal", Name: "Proposal", Color: "coral"},
		{ID: 5, Key: "Won", Name: "Won", Color: "green"},
		{ID: 6, Key: "Lost", Name: "Lost", Color: "gray"},
	}
}

// PipelineID is the stream id of a tenant's pipeline: one per tenant, derived
// so that no lookup is needed to find it.
func PipelineID(tenantID uuid.UUID) uuid.UUID {
	return uuid.NewSHA1(tenantID, []byte(PipelineStream))
}

// PipelineData is the data of pipeline.reordered: the statuses in order.
type PipelineData struct {
	Statuses []PipelineStatus `json:"statuses"`
}

// PipelineStatusData is the data of pipeline.status_created and
// pipeline.status_deleted.
type PipelineStatusData struct {
	Status PipelineStatus `json:"status"`
}

// PipelineStatusChangedData is the data of pipeline.status_changed.
type PipelineStatusChangedData struct {
	From PipelineStatus `json:"from"`
	To   PipelineStatus `json:"to"`
}

// Pipeline is a tenant's ordered lead statuses.
type Pipeline struct {
	statuses []PipelineStatus
	nextID   int64
	version  int
}

// NewPipelineFromHistory rebuilds a pipeline from its events; no events is
// the default pipeline. It is not a constructor of a new pipeline.
func NewPipelineFromHistory(events []Event) *Pipeline {
	p := &Pipeline{statuses: DefaultPipeline(), nextID: 7}
	for _, e := range events {
		p.Apply(e)
	}
	return p
}

// Apply evolves the pipeline by one event.
func (p *Pipeline) Apply(e Event) {
	p.version++
	switch d := e.Data.(type) {
	case PipelineData:
		p.statuses = append([]PipelineStatus(nil), d.Statuses...)
	case PipelineStatusData:
		if e.Type == PipelineStatusCreated {
			p.statuses = append(p.statuses, d.Status)
			p.nextID = max(p.nextID, d.Status.ID+1)
			return
		}
		for i, s := range p.statuses {
			if s.ID == d.Status.ID {
				p.statuses = append(p.statuses[:i:i], p.statuses[i+1:]...)
				return
			}
		}
	case PipelineStatusChangedData:
		for i, s := range p.statuses {
			if s.ID == d.To.ID {
				p.statuses[i] = d.To
			}
		}
	}
}

// Version is the number of events applied.
func (p *Pipeline) Version() int { return p.version }

// Statuses returns the statuses in order.
func (p *Pipeline) Statuses() []PipelineStatus { return append([]PipelineStatus(nil), p.statuses...) }

// Status finds a status by id.
func (p *Pipeline) Status(id int64) (PipelineStatus, bool) {
	for _, s := range p.statuses {
		if s.ID == id {
			return s, true
		}
	}
	return PipelineStatus{}, false
}

// StatusByKey finds a status by the key leads hold.
func (p *Pipeline) StatusByKey(key Status) (PipelineStatus, bool) {
	for _, s := range p.statuses {
		if s.Key == key {
			return s, true
		}
	}
	return PipelineStatus{}, false
}

func checkColor(color string) error {
	for _, c := range Palette {
		if c == color {
			return nil
		}
	}
	return invalid("primaryColor", "must be one of "+strings.Join(Palette, ", "))
}

func (p *Pipeline) nameTaken(name string, except int64) bool {
	for _, s := range p.statuses {
		if s.ID != except && strings.EqualFold(s.Name, name) {
			return true
		}
	}
	return false
}

func checkStatusName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", invalid("name", "is required")
	}
	if len(name) > 64 {
		return "", invalid("name", "must be at most 64 characters")
	}
	return name, nil
}

// CreateStatus decides a new status at the end of the pipeline.
func (p *Pipeline) CreateStatus(name, color string) ([]Event, PipelineStatus, error) {
	name, err := checkStatusName(name)
	if err != nil {
		return nil, PipelineStatus{}, err
	}
	if err := checkColor(color); err != nil {
		return nil, PipelineStatus{}, err
	}
	if p.nameTaken(name, 0) {
		return nil, PipelineStatus{}, ErrStatusExists
	}
	s := PipelineStatus{ID: p.nextID, Key: Status(fmt.Sprintf("status:%d", p.nextID)), Name: name, Color: color}
	return []Event{{Type: PipelineStatusCreated, Data: PipelineStatusData{Status: s}}}, s, nil
}

// ChangeStatus decides a rename and/or recolour; empty keeps the value.
func (p *Pipeline) ChangeStatus(id int64, name, color string) ([]Event, PipelineStatus, error) {
	from, ok := p.Status(id)
	if !ok {
		return nil, PipelineStatus{}, ErrStatusNotFound
	}
	to := from
	if strings.TrimSpace(name) != "" {
		n, err := checkStatusName(name)
		if err != nil {
			return nil, from, err
		}
		if p.nameTaken(n, id) {
			return nil, from, ErrStatusExists
		}
		to.Name = n
	}
	if color != "" {
		if err := checkColor(color); err != nil {
			return nil, from, err
		}
		to.Color = color
	}
	if to == from {
		return nil, to, nil
	}
	return []Event{{Type: PipelineStatusChanged, Data: PipelineStatusChangedData{From: from, To: to}}}, to, nil
}

// DeleteStatus decides the removal of a status; inUse says whether leads
// still hold it, and refuses the delete if so. The last status stays.
func (p *Pipeline) DeleteStatus(id int64, inUse bool) ([]Event, error) {
	s, ok := p.Status(id)
	if !ok {
		return nil, ErrStatusNotFound
	}
	if inUse || len(p.statuses) == 1 {
		return nil, ErrStatusInUse
	}
	return []Event{{Type: PipelineStatusDeleted, Data: PipelineStatusData{Status: s}}}, nil
}

// Reorder decides a new order: each id moves to its given place (1-based);
// a status not mentioned keeps its place, after any status moved onto it.
func (p *Pipeline) Reorder(places map[int64]int) ([]Event, error) {
	for id, place := range places {
		if _, ok := p.Status(id); !ok {
			return nil, ErrStatusNotFound
		}
		if place < 1 {
			return nil, invalid("statusOrder", "must be 1 or more")
		}
	}
	key := func(i int, s PipelineStatus) float64 {
		if place, ok := places[s.ID]; ok {
			return float64(place)
		}
		return float64(i+1) + 0.5
	}
	type ranked struct {
		s   PipelineStatus
		key float64
	}
	rs := make([]ranked, len(p.statuses))
	for i, s := range p.statuses {
		rs[i] = ranked{s, key(i, s)}
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].key < rs[j].key })
	ordered := make([]PipelineStatus, len(rs))
	same := true
	for i, r := range rs {
		ordered[i] = r.s
		same = same && r.s == p.statuses[i]
	}
	if same {
		return nil, nil
	}
	return []Event{{Type: PipelineStatusReordered, Data: PipelineData{Statuses: ordered}}}, nil
}

// IsDefaultStatus reports whether key is one of the default pipeline's keys
// (the Cratio status names), which every tenant's leads may hold.
func IsDefaultStatus(key Status) bool {
	for _, s := range DefaultPipeline() {
		if s.Key == key {
			return true
		}
	}
	return false
}

// StatusBook is a tenant's pipeline as the APIs read it: names by key, keys
// by name.
type StatusBook []PipelineStatus

// Name is the current name of the status with key; the key itself when the
// pipeline no longer has it.
func (b StatusBook) Name(key Status) string {
	for _, s := range b {
		if s.Key == key {
			return s.Name
		}
	}
	return string(key)
}

// KeyByName finds a status by its name, ignoring case.
func (b StatusBook) KeyByName(name string) (Status, bool) {
	for _, s := range b {
		if strings.EqualFold(s.Name, strings.TrimSpace(name)) {
			return s.Key, true
		}
	}
	return "", false
}

var pipelineEvents = registerEvents(
	eventOf[PipelineStatusData](PipelineStatusCreated),
	eventOf[PipelineStatusChangedData](PipelineStatusChanged),
	eventOf[PipelineStatusData](PipelineStatusDeleted),
	eventOf[PipelineData](PipelineStatusReordered),
)

// PipelineEventTypes returns every pipeline event type.
func PipelineEventTypes() []string { return slices.Clone(pipelineEvents) }
