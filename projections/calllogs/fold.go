package calllogs

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections"
)

// callLogEvents are the lead events that change rm_call_logs.
var callLogEvents = []string{domain.CallLogged, domain.CallLogDeleted, domain.LeadDeleted}

// leadCallLogs are the live call logs of one lead's stream, folded from its
// events: the one statement of what a lead event means to rm_call_logs, used
// by the bulk rebuild and by Apply. A call log's events all live in its
// lead's stream (the lead owns the call log's reservation, and DeleteCallLog
// appends to the owner), so one stream folds on its own.
type leadCallLogs struct {
	rows []callLog
}

// callLog is one call log of leadCallLogs; row is its row of rm_call_logs,
// nil for one Apply loaded (it is only kept or deleted).
type callLog struct {
	id  uuid.UUID
	row []any
}

// Fold folds one event of the lead's stream into its call logs.
func (l *leadCallLogs) Fold(e eventstore.Event) error {
	var ev domain.Event
	if e.Type != domain.LeadDeleted {
		var err error
		if ev, err = domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data); err != nil {
			return err
		}
	}
	return l.fold(e, ev)
}

// fold is Fold of e decoded as ev (a lead.deleted need not be decoded).
func (l *leadCallLogs) fold(e eventstore.Event, ev domain.Event) error {
	switch e.Type {
	case domain.CallLogged:
		d := ev.Data.(domain.CallLoggedData)
		if d.CallLogID == uuid.Nil || d.Redacted {
			return nil // redacted: it or its lead was permanently deleted later
		}
		if l.has(d.CallLogID) {
			return fmt.Errorf("call log %s logged twice", d.CallLogID)
		}
		l.rows = append(l.rows, callLog{id: d.CallLogID, row: callLogRow(e, d)})
	case domain.CallLogDeleted:
		id := ev.Data.(domain.CallLogDeletedData).CallLogID
		l.rows = slices.DeleteFunc(l.rows, func(c callLog) bool { return c.id == id })
	case domain.LeadDeleted:
		l.rows = l.rows[:0]
	}
	return nil
}

// has says whether the call log id is among l's.
func (l *leadCallLogs) has(id uuid.UUID) bool {
	return slices.ContainsFunc(l.rows, func(c callLog) bool { return c.id == id })
}

// End emits the lead's live call logs.
func (l *leadCallLogs) End(emit func([]any) error) error {
	rows := l.rows
	l.rows = nil // emitted rows are COPY's now
	for _, c := range rows {
		if err := emit(c.row); err != nil {
			return err
		}
	}
	return nil
}

// Rebuild implements projections.Rebuilder: it folds each lead's stream into its live
// call logs and copies them into rm_call_logs. A fold holds one lead's call
// logs at a time.
func (Projection) Rebuild(ctx context.Context, b *projections.BulkBuild) error {
	return b.CopyStreams(ctx, "rm_call_logs", callLogCopyColumns,
		eventstore.ScanFilter{StreamTypes: []string{domain.LeadStream}, EventTypes: callLogEvents},
		func() projections.StreamFold { return &leadCallLogs{} })
}
