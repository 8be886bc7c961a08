package domain

import (
	"slices"

	"github.com/google/uuid"
)

// CustomerSnapshotVersion is the version of CustomerSnapshot's form; bump
// it as LeadSnapshotVersion (a snapshot of another version is ignored).
const CustomerSnapshotVersion = 1

// CustomerSnapshot is a customer's state as stored in a snapshot: every
// field of Customer, exported for the database. Its JSON names are stored:
// never rename one without bumping CustomerSnapshotVersion.
type CustomerSnapshot struct {
	SchemaVersion int             `json:"schema_version"`
	ID            uuid.UUID       `json:"id"`
	Number        int64           `json:"number"`
	LeadID        uuid.UUID       `json:"lead_id,omitzero"`
	Profile       CustomerProfile `json:"profile"`
	Follow        Status          `json:"follow"`
	Exists        bool            `json:"exists"`
	Deleted       bool            `json:"deleted"`
	Version       int             `json:"version"`
	// Records are the digests of live records and every number used, by
	// the record kind's added event type, as in LeadSnapshot.
	Records     map[string]map[int64]string `json:"records,omitempty"`
	RecordsUsed map[string]map[int64]bool   `json:"records_used,omitempty"`
	// Orders counts its live orders. Absent from snapshots made before
	// orders existed, which is right: their streams had none.
	Orders int `json:"orders,omitempty"`
	// Feedback are its feedback requests; absent from snapshots made
	// before feedback existed, which is right too.
	Feedback []uuid.UUID `json:"feedback,omitempty"`
}

// Snapshot returns the customer's state as a CustomerSnapshot (deep copies).
func (c *Customer) Snapshot() CustomerSnapshot {
	return CustomerSnapshot{SchemaVersion: CustomerSnapshotVersion, ID: c.id, Number: c.number, LeadID: c.leadID,
		Profile: c.profile.clone(), Follow: c.follow, Exists: c.exists, Deleted: c.deleted, Version: c.version,
		Records: cloneNested(c.records.live), RecordsUsed: cloneNested(c.records.used), Orders: c.orders,
		Feedback: slices.Clone(c.feedback)}
}

// UnmarshalCustomerFromSnapshot restores a customer from a snapshot its own
// Snapshot made, to go on applying the events after it; ErrStaleSnapshot
// for another version (the caller folds the stream from the start).
func UnmarshalCustomerFromSnapshot(s CustomerSnapshot) (*Customer, error) {
	if s.SchemaVersion != CustomerSnapshotVersion {
		return nil, ErrStaleSnapshot
	}
	return &Customer{id: s.ID, number: s.Number, leadID: s.LeadID, profile: s.Profile.clone(), follow: s.Follow,
		exists: s.Exists, deleted: s.Deleted, version: s.Version, orders: s.Orders, feedback: slices.Clone(s.Feedback),
		records: records{live: cloneNested(s.Records), used: cloneNested(s.RecordsUsed)}}, nil
}
