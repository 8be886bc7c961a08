package leadsapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/api/apitest"
)

// tinyPNG is a valid 2x2 PNG.
func tinyPNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.White)
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// multipartBody is a form with the given fields and, if photo is not nil, a file.
func multipartBody(photo []byte, fields ...string) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.SetBoundary("fuzzboundary")
	for i := 0; i+1 < len(fields); i += 2 {
		_ = w.WriteField(fields[i], fields[i+1])
	}
	if photo != nil {
		fw, _ := w.CreateFormFile("photo", "me.png")
		_, _ = fw.Write(photo)
	}
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// FuzzUploadPhoto: POST /leads/upload-photo, as multipart/form-data or as
// JSON with a base64 photo, with any Content-Type.
func FuzzUploadPhoto(f *testing.F) {
	img := tinyPNG()
	b64 := base64.StdEncoding.EncodeToString(img)
	for _, s := range []struct{ body, contentType string }{
		{`{"photo":"` + b64 + `"}`, "application/json"},
		{`{"id":1,"photo":"data:image/png;base64,` + b64 + `"}`, "application/json; charset=utf-8"},
		{`{"id":1,"photo":"` + strings.TrimRight(b64, "=") + `"}`, "application/json"},
		{`{"photo":"not base64!"}`, "application/json"}, {`{"photo":""}`, "application/json"}, {`{"id":0,"photo":"` + b64 + `"}`, "application/json"},
		{`{"id":"1","photo":"` + b64 + `"}`, "application/json"}, {`{"photo":"` + base64.StdEncoding.EncodeToString([]byte("GIF89a")) + `"}`, "application/json"},
		{`{"photo":"` + base64.StdEncoding.EncodeToString([]byte("RIFF\x00\x00\x00\x00WEBPVP")) + `"}`, "application/json"},
		{`{"photo":"data:;base64,"}`, "application/json"}, {`{"file":"x"}`, "application/json"}, {`{"":1}`, "application/json"},
		{`{"photo":"` + b64 + `"}`, ""}, {`{"photo":"` + b64 + `"}`, "text/plain"}, {`{"photo":"` + b64 + `"}`, "application/json; =bad"},
		{"--x\r\n\r\n--x--\r\n", "multipart/form-data"}, {"", "multipart/form-data; boundary=x"},
		{"--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--x--\r\n", "multipart/form-data; boundary=x"},
		{"--x\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\n\r\nnot an image\r\n--x--\r\n", "multipart/form-data; boundary=x"},
		{"--x\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\n-1\r\n--x--\r\n", "multipart/form-data; boundary=x"},
		{"--x\r\nContent-Disposition: form-data; name=\"photo\"\r\n\r\n", "multipart/form-data; boundary=x"},
	} {
		f.Add([]byte(s.body), s.contentType, false)
	}
	for _, fields := range [][]string{nil, {"id", "1"}, {"id", "x"}, {"id", "0"}, {"id", " 7 "}, {"name", "x"}} {
		body, ct := multipartBody(img, fields...)
		f.Add(body, ct, false)
		f.Add(body, ct, true)
	}
	twice := []byte("--x\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\n\r\n" + string(img) +
		"\r\n--x\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"b.png\"\r\n\r\n" + string(img) + "\r\n--x--\r\n")
	ct := "multipart/form-data; boundary=x"
	f.Add(twice, ct, false)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, contentType string, small bool) {
		h := a.h
		if small {
			h = a.hSmall
		}
		// uploadPhoto's decoding, behind the cap BodyLimit puts on the route.
		r := apitest.Capped(body, false, h.maxPhotoBytes*4/3+64<<10)
		var up upload
		var bad *api.BadInput
		mediaType, params, err := mime.ParseMediaType(contentType)
		switch {
		case err == nil && mediaType == "multipart/form-data":
			up, bad = h.readMultipart(r.Body, params["boundary"])
		case err == nil && mediaType == "application/json":
			up, bad = h.readJSON(r.Body)
		default:
			bad = badRequest("", "Content-Type must be multipart/form-data or application/json")
		}
		if bad == nil {
			_, bad = imageType(up.data)
		}
		if contentType == "" {
			contentType = "text/plain" // serve would make it JSON
		}
		engine := a.Serve(http.MethodPost, "/leads/upload-photo", "", body, contentType, small)
		if bad != nil {
			apitest.SameAnswer(t, "POST /leads/upload-photo", engine, a.checkRefusal(t, bad))
			return
		}
		if up.leadID != 0 {
			a.ReachedStore(t, "POST /leads/upload-photo", engine)
			return
		}
		// A photo for no lead is stored, and named by a safe file name.
		var name string
		if engine.Code != http.StatusOK || json.Unmarshal(engine.Body.Bytes(), &name) != nil || !validPhotoName(name) {
			t.Fatalf("POST /leads/upload-photo of a photo for no lead: %d %s", engine.Code, engine.Body.Bytes())
		}
	})
}
