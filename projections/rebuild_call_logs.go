package projections

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// callLogEvents are the lead events CallLogs.Apply acts on.
var callLogEvents = []string{domain.CallLogged, domain.CallLogDeleted, domain.LeadDeleted}

// leadCallLogs are the live call logs of one lead's stream as CallLogs.Apply
// leaves them. A call log's events all live in its lead's stream (the lead
// owns the call log's reservation, and DeleteCallLog appends to the owner),
// so one stream folds on its own.
type leadCallLogs struct {
	rows []callLog
}

type callLog struct {
	id  uuid.UUID
	row []any
}

// Fold folds one event of the lead's stream into its call logs.
func (l *leadCallLogs) Fold(e eventstore.Event) error {
	switch e.Type {
	case domain.CallLogged:
		ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
		if err != nil {
			return err
		}
		d := ev.Data.(domain.CallLoggedData)
		if d.CallLogID == uuid.Nil || d.Redacted {
			return nil // redacted: it or its lead was permanently deleted later
		}
		for _, c := range l.rows {
			if c.id == d.CallLogID {
				return fmt.Errorf("call log %s logged twice", d.CallLogID)
			}
		}
		l.rows = append(l.rows, callLog{id: d.CallLogID, row: callLogRow(e, d)})
	case domain.CallLogDeleted:
		ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
		if err != nil {
			return err
		}
		id := ev.Data.(domain.CallLogDeletedData).CallLogID
		for i, c := range l.rows {
			if c.id == id {
				l.rows = append(l.rows[:i], l.rows[i+1:]...)
				break
			}
		}
	case domain.LeadDeleted:
		l.rows = l.rows[:0]
	}
	return nil
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

// Rebuild implements Rebuilder: it folds each lead's stream into its live
// call logs and copies them into rm_call_logs. A fold holds one lead's call
// logs at a time.
func (CallLogs) Rebuild(ctx context.Context, b *BulkBuild) error {
	return b.CopyStreams(ctx, "rm_call_logs", callLogCopyColumns,
		eventstore.ScanFilter{StreamTypes: []string{domain.LeadStream}, EventTypes: callLogEvents},
		func() StreamFold { return &leadCallLogs{} })
}
