package domain

import (
	"maps"
	"slices"

	"github.com/google/uuid"
)

// LeadSnapshotVersion is the version of LeadSnapshot's form. Bump it when
// the form changes or when Apply changes what an event does to the state:
// snapshots of another version are then ignored (the stream is folded from
// the start) until a new one is written.
const LeadSnapshotVersion = 1

// ErrStaleSnapshot is returned for a snapshot of another form version
// (LeadSnapshotVersion, CustomerSnapshotVersion).
var ErrStaleSnapshot = newError("internal", "snapshot of another version")

// LeadSnapshot is a lead's state as stored in a snapshot: every field of
// Lead, exported for the database. Its JSON names are stored: never rename
// one without bumping LeadSnapshotVersion.
type LeadSnapshot struct {
	SchemaVersion  int                `json:"schema_version"`
	ID             uuid.UUID          `json:"id"`
	Number         int64              `json:"number"`
	Profile        LeadProfile        `json:"profile"`
	Status         Status             `json:"status"`
	Exists         bool               `json:"exists"`
	Archived       bool               `json:"archived"`
	Deleted        bool               `json:"deleted"`
	Version        int                `json:"version"`
	CallLogs       []uuid.UUID        `json:"call_logs,omitempty"`
	UsedCallLogs   map[uuid.UUID]bool `json:"used_call_logs,omitempty"`
	CommentDigests map[int64]string   `json:"comment_digests,omitempty"`
	CustomerID     uuid.UUID          `json:"customer_id,omitzero"`
	// Records are the digests of live records and every number used, by
	// the record kind's added event type.
	Records     map[string]map[int64]string `json:"records,omitempty"`
	RecordsUsed map[string]map[int64]bool   `json:"records_used,omitempty"`
}

// Snapshot returns the lead's state as a LeadSnapshot (deep copies).
func (l *Lead) Snapshot() LeadSnapshot {
	return LeadSnapshot{SchemaVersion: LeadSnapshotVersion, ID: l.id, Number: l.number, Profile: l.profile.clone(),
		Status: l.status, Exists: l.exists, Archived: l.archived, Deleted: l.deleted, Version: l.version,
		CallLogs: slices.Clone(l.callLogs), UsedCallLogs: maps.Clone(l.usedCallLogs), CommentDigests: maps.Clone(l.comments), CustomerID: l.customerID,
		Records: cloneNested(l.records.live), RecordsUsed: cloneNested(l.records.used)}
}

// UnmarshalLeadFromSnapshot restores a lead from a snapshot its own
// Snapshot made, to go on applying the events after it. It is not a
// constructor and validates nothing but the form's version (the state was
// folded from accepted events): ErrStaleSnapshot for another version, which
// the caller answers by folding the stream from the start.
func UnmarshalLeadFromSnapshot(s LeadSnapshot) (*Lead, error) {
	if s.SchemaVersion != LeadSnapshotVersion {
		return nil, ErrStaleSnapshot
	}
	l := &Lead{id: s.ID, number: s.Number, profile: s.Profile.clone(), status: s.Status, exists: s.Exists,
		archived: s.Archived, deleted: s.Deleted, version: s.Version,
		callLogs: slices.Clone(s.CallLogs), usedCallLogs: maps.Clone(s.UsedCallLogs), comments: maps.Clone(s.CommentDigests), customerID: s.CustomerID,
		records: records{live: cloneNested(s.Records), used: cloneNested(s.RecordsUsed)}}
	return l, nil
}

// cloneNested deep-copies a map of maps.
func cloneNested[K1, K2 comparable, V any](m map[K1]map[K2]V) map[K1]map[K2]V {
	if m == nil {
		return nil
	}
	out := make(map[K1]map[K2]V, len(m))
	for k, v := range m {
		out[k] = maps.Clone(v)
	}
	return out
}
