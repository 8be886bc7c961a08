package leads

import (
	"time"

	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// Comment is one of a lead's comments as the lead's events leave it.
type Comment struct {
	ID        int64
	Content   string // after its last edit
	Author    string // the actor who added it
	CreatedAt time.Time
	UpdatedAt time.Time // of its last edit, or its creation
}

// Comments is a lead's comments folded from its stream: the one statement
// of what the comment events mean to a reader. It is folded at request time
// from the few events that wrote the comments asked for (the stream holds
// them; no table does).
type Comments struct {
	list []Comment
	at   map[int64]int
}

// Fold folds the next event of the lead's stream, in stream order; events
// other than comment_added and comment_edited change nothing, and so does
// the edit of a comment not folded.
func (c *Comments) Fold(e eventstore.Event) error {
	if e.Type != domain.CommentAdded && e.Type != domain.CommentEdited {
		return nil
	}
	ev, err := domain.DecodeLeadEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return err
	}
	switch d := ev.Data.(type) {
	case domain.CommentAddedData:
		if c.at == nil {
			c.at = map[int64]int{}
		}
		c.at[d.CommentID] = len(c.list)
		c.list = append(c.list, Comment{ID: d.CommentID, Content: d.Content, Author: d.Author,
			CreatedAt: e.RecordedAt, UpdatedAt: e.RecordedAt})
	case domain.CommentEditedData:
		if i, ok := c.at[d.CommentID]; ok {
			c.list[i].Content, c.list[i].UpdatedAt = d.New, e.RecordedAt
		}
	}
	return nil
}

// All returns the comments folded, in the order they were added.
func (c *Comments) All() []Comment { return c.list }

// FoldComments folds events of one lead's stream, in stream order, into
// its comments.
func FoldComments(events []eventstore.Event) ([]Comment, error) {
	var c Comments
	for _, e := range events {
		if err := c.Fold(e); err != nil {
			return nil, err
		}
	}
	return c.All(), nil
}
