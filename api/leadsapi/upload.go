package leadsapi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	_ "image/gif" // image.DecodeConfig checks uploaded GIFs
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/projections/leads"
)

// photoTypes maps the image types accepted, as sniffed from the content,
// to the extension the stored file gets.
var photoTypes = map[string]string{"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}

// upload is a decoded upload request: the image and the lead it is for.
type upload struct {
	leadID int64 // 0: store the photo only
	data   []byte
}

func (h *handlers) tooLarge() *api.BadInput {
	return &api.BadInput{Status: http.StatusRequestEntityTooLarge, Code: ownMessage, Field: "photo",
		Reason: "Invalid file: the photo is larger than " + strconv.FormatInt(h.maxPhotoBytes, 10) + " bytes"}
}

func bodyTooLarge(err error) bool {
	var tooLarge *http.MaxBytesError
	return errors.As(err, &tooLarge)
}

// readMultipart reads a multipart/form-data body: the file in field photo
// and, optionally, the lead number in field id. The photo is read only up to
// the size cap.
func (h *handlers) readMultipart(r io.Reader, boundary string) (upload, *api.BadInput) {
	var up upload
	if boundary == "" {
		return up, badRequest("", "multipart/form-data needs a boundary")
	}
	mr := multipart.NewReader(r, boundary)
	seen := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if bodyTooLarge(err) {
				return up, h.tooLarge()
			}
			return up, badRequest("", "Malformed multipart/form-data body")
		}
		switch name := part.FormName(); name {
		case "photo":
			if seen {
				return up, badRequest("photo", "Send one photo per request")
			}
			seen = true
			if up.data, err = io.ReadAll(io.LimitReader(part, h.maxPhotoBytes+1)); err != nil {
				if bodyTooLarge(err) {
					return up, h.tooLarge()
				}
				return up, badRequest("", "Malformed multipart/form-data body")
			}
			if int64(len(up.data)) > h.maxPhotoBytes {
				return up, h.tooLarge()
			}
		case "id":
			v, err := io.ReadAll(io.LimitReader(part, 32))
			n, ok := positiveInt(strings.TrimSpace(string(v)))
			if err != nil || !ok {
				return up, badRequest("id", "Invalid lead ID")
			}
			up.leadID = n
		default:
			name = api.FieldName(name) // a part with no name is named ""
			return up, badRequest(name, "property "+name+" should not exist")
		}
	}
	if !seen {
		return up, badRequest("photo", "Invalid file: photo is required")
	}
	return up, nil
}

// readJSON reads the documented JSON body {"id", "photo": "<base64>"}; the
// photo may be a data URL ("data:image/png;base64,...").
func (h *handlers) readJSON(r io.Reader) (upload, *api.BadInput) {
	var up upload
	body, bad := api.DecodeObject(r, "id", "photo")
	if bad != nil {
		return up, bad
	}
	id, ok, bad := api.Field[int64](body, "id", "an integer")
	if bad != nil || ok && id < 1 {
		return up, badRequest("id", "Invalid lead ID")
	}
	up.leadID = id
	s, ok, bad := api.Field[string](body, "photo", "a base64 string")
	if bad != nil {
		return up, bad
	}
	if !ok || s == "" {
		return up, badRequest("photo", "Invalid file: photo is required")
	}
	if strings.HasPrefix(s, "data:") {
		if _, rest, found := strings.Cut(s, ";base64,"); found {
			s = rest
		}
	}
	if int64(base64.StdEncoding.DecodedLen(len(s))) > h.maxPhotoBytes+2 {
		return up, h.tooLarge()
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if data, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return up, badRequest("photo", "Invalid file: photo must be base64-encoded")
		}
	}
	if int64(len(data)) > h.maxPhotoBytes {
		return up, h.tooLarge()
	}
	up.data = data
	return up, nil
}

// imageType checks by content that data is a JPEG, PNG, GIF or WebP image
// and returns the extension to store it under.
func imageType(data []byte) (string, *api.BadInput) {
	ext, ok := photoTypes[http.DetectContentType(data)]
	if !ok {
		return "", badRequest("photo", "Invalid file: photo must be a JPEG, PNG, GIF or WebP image")
	}
	if ext != "webp" { // the standard library has no WebP decoder; the sniffed header has to do
		if _, _, err := image.DecodeConfig(bytes.NewReader(data)); err != nil {
			return "", badRequest("photo", "Invalid file: the image cannot be read")
		}
	}
	return ext, nil
}

func (h *handlers) uploadPhoto(c *gin.Context) {
	ctx, tenant := c.Request.Context(), api.Principal(c).TenantID
	var up upload
	var bad *api.BadInput
	mediaType, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch {
	case err == nil && mediaType == "multipart/form-data":
		up, bad = h.readMultipart(c.Request.Body, params["boundary"])
	case err == nil && mediaType == "application/json":
		up, bad = h.readJSON(c.Request.Body)
	default:
		bad = badRequest("", "Content-Type must be multipart/form-data or application/json")
	}
	if bad != nil {
		h.fail(c, bad)
		return
	}
	ext, bad := imageType(up.data)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	var row leads.Lead
	if up.leadID != 0 {
		if row, err = h.leadByNumber(ctx, tenant, up.leadID); err != nil {
			h.fail(c, err)
			return
		}
	}
	name := uuid.NewString() + "." + ext
	if err := h.photos.Save(ctx, tenant, name, up.data); err != nil {
		h.fail(c, err)
		return
	}
	if up.leadID != 0 {
		res, err := h.d.Commands.UpdateLead(ctx, api.CommandContext(c, Name), row.ID, commands.UpdateLead{
			Edit: func(cur domain.LeadProfile) (domain.LeadProfile, error) { cur.Photo = name; return cur, nil },
		})
		if err != nil {
			// The lead did not take the photo: do not keep a file nothing names.
			_ = h.photos.Delete(ctx, tenant, name)
			h.fail(c, err)
			return
		}
		h.d.AwaitReadModels(c, res.Position, readModels...)
	}
	c.JSON(http.StatusOK, name)
}

func (h *handlers) deletePhoto(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("fileName"), "/")
	if !validPhotoName(name) {
		h.fail(c, badRequest("fileName", "Invalid file name"))
		return
	}
	err := h.photos.Delete(c.Request.Context(), api.Principal(c).TenantID, name)
	if errors.Is(err, ErrPhotoNotFound) {
		err = notFound("fileName", "Photo not found")
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, done{"Photo deleted successfully", "The photo has been deleted successfully."})
}
