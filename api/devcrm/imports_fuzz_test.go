package devcrm

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/api/apitest"
)

// uploadBody is a multipart body with file in the field named field.
func uploadBody(field string, file []byte) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.SetBoundary("fuzzboundary")
	fw, _ := w.CreateFormFile(field, "f.csv")
	_, _ = fw.Write(file)
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// FuzzImportUpload: POST /dev/crm/leads/import and /customers/import with
// any body and Content-Type, through the real engine over the unreachable
// store. The answer is a refusal naming file (400, or 413 for a file too
// large) or, once the file reads as a whole, the store's 503: never a 500,
// a panic, or an answer outside the Error schema.
func FuzzImportUpload(f *testing.F) {
	for _, file := range []string{
		"name,email\na,a@example.com\n",
		"\xef\xbb\xbfName,EMAIL\r\n\"Doe, J\",j@x.io\r\n",
		"name,email\n\"unclosed,x\n", "name\nx\n", "", "name,email\nJos\xe9,j@x.io\n", "\xff\xfen\x00",
	} {
		for _, field := range []string{"file", "other"} {
			body, ct := uploadBody(field, []byte(file))
			f.Add(body, ct, false)
			f.Add(body, ct, true)
		}
	}
	f.Add([]byte(`{"file":"name,email"}`), "application/json", false)
	f.Add([]byte("--x\r\n\r\n--x--\r\n"), "multipart/form-data", false)
	f.Add([]byte(""), "multipart/form-data; boundary=x", true)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, contentType string, customers bool) {
		route := "/dev/crm/leads/import"
		if customers {
			route = "/dev/crm/customers/import"
		}
		if contentType == "" {
			contentType = "text/plain"
		}
		w := a.Serve(http.MethodPost, route, "", body, contentType, false)
		switch w.Code {
		case http.StatusServiceUnavailable:
			a.CheckErrorSchema(t, w)
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			a.CheckErrorSchema(t, w)
			var e errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Field != "file" {
				t.Fatalf("POST %s: %d %s names no file", route, w.Code, w.Body.Bytes())
			}
		default:
			t.Fatalf("POST %s: %d %s", route, w.Code, w.Body.Bytes())
		}
	})
}

// TestImportUploadTooLarge: a file over MaxImportBytes is a 413 naming
// file, whether the body passes the route's cap (the file's size says so)
// or not (the cap cuts the body off).
func TestImportUploadTooLarge(t *testing.T) {
	s := apitest.New(t, OpenAPI, func(bool) api.Dialect { return Dialect{} })
	for _, size := range []int{MaxImportBytes + 1, MaxImportBytes + 1<<20} {
		body, ct := uploadBody("file", append([]byte("name,email\n"), bytes.Repeat([]byte("x"), size)...))
		w := s.Serve(http.MethodPost, "/dev/crm/leads/import", "", body, ct, false)
		var e errorBody
		if w.Code != http.StatusRequestEntityTooLarge || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Field != "file" {
			t.Fatalf("%d bytes: %d %s", size, w.Code, w.Body.Bytes())
		}
		s.CheckErrorSchema(t, w)
	}
}
