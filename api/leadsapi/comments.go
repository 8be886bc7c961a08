package leadsapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/projections/leads"
)

// user is who wrote a comment or made a change. crm authenticates API keys,
// not people: an API key shows as id 0, "API" "key", and its identity
// ("api_key:<key id>") as the email.
type user struct {
	ID        int64  `json:"id"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Email     string `json:"email"`
}

func userOf(actor string) user {
	if strings.HasPrefix(actor, "api_key:") {
		return user{FirstName: "API", LastName: "key", Email: actor}
	}
	return user{FirstName: actor, Email: actor}
}

// comment is a lead's comment, with its content after every edit.
type comment struct {
	ID        int64     `json:"id"`
	Content   string    `json:"content"`
	User      user      `json:"user"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// showComments shows a lead's comments, folded (leads.Comments) from
// the events that wrote them, in the Leads API's shape.
func showComments(events []eventstore.Event) ([]comment, error) {
	folded, err := leads.FoldComments(events)
	if err != nil {
		return nil, err
	}
	out := make([]comment, len(folded))
	for i, c := range folded {
		out[i] = comment{ID: c.ID, Content: c.Content, User: userOf(c.Author),
			CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
	}
	return out, nil
}

// decodeContent reads {"content"}.
func decodeContent(c *gin.Context) (string, *api.BadInput) {
	body, bad := api.DecodeObject(c.Request.Body, "content")
	if bad != nil {
		return "", bad
	}
	content, _, bad := api.Field[string](body, "content", "a string")
	return content, bad
}

// respondComment answers with comment res.CommentID as the lead's stream
// now holds it.
func (h *handlers) respondComment(c *gin.Context, code int, res commands.CommentResult, content string) {
	comments, err := h.comments(c.Request.Context(), api.Principal(c).TenantID, res.LeadID, res.CommentID)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.d.AwaitReadModels(c, res.Position, readModels...)
	for _, cm := range comments {
		if cm.ID == res.CommentID {
			c.JSON(code, cm)
			return
		}
	}
	now := time.Now().UTC()
	c.JSON(code, comment{ID: res.CommentID, Content: strings.TrimSpace(content),
		User: userOf(api.CommandContext(c, Name).Metadata.Actor), CreatedAt: now, UpdatedAt: now})
}

func (h *handlers) addComment(c *gin.Context) {
	row, err := h.pathLead(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	content, bad := decodeContent(c)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	res, err := h.d.Commands.AddComment(c.Request.Context(), api.CommandContext(c, Name), row.ID, content)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.respondComment(c, http.StatusCreated, res, content)
}

func (h *handlers) editComment(c *gin.Context) {
	id, bad := pathID(c, "comment")
	if bad != nil {
		h.fail(c, bad)
		return
	}
	content, bad := decodeContent(c)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	res, err := h.d.Commands.EditComment(c.Request.Context(), api.CommandContext(c, Name), id, content)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.respondComment(c, http.StatusOK, res, content)
}
