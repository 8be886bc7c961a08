package devcrm

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/crmcore/crm/api"
)

// csvRoutes mounts streamCSV answers that fail after a large first part
// (the body is on the wire), after a small one (still in the server's
// buffer), or never.
type csvRoutes struct{}

func (csvRoutes) Mount(r *gin.Engine, d *api.Deps) {
	h := &handlers{d: d}
	route := func(path string, rows int, fail error) {
		r.GET(path, func(c *gin.Context) {
			h.streamCSV(c, "x.csv", func(w io.Writer) error {
				if _, err := w.Write(bytes.Repeat([]byte("a,b\r\n"), rows)); err != nil {
					return err
				}
				return fail
			})
		})
	}
	route("/cut-large", 100_000, errors.New("the database went away"))
	route("/cut-small", 2, errors.New("the database went away"))
	route("/whole", 100_000, nil)
}

// TestStreamCSVAbortsACutAnswer: an export failing after its first byte
// never reads as a complete answer: the connection is aborted, so the
// client's read of the body fails (no terminating chunk), through the
// server's own middleware (its recovery lets the abort through).
func TestStreamCSVAbortsACutAnswer(t *testing.T) {
	srv := httptest.NewServer(api.NewServer(&api.Deps{Logger: slog.New(slog.DiscardHandler)}, csvRoutes{}))
	defer srv.Close()
	get := func(path string) (*http.Response, []byte, error) {
		t.Helper()
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			return nil, nil, err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		return res, body, err
	}
	res, body, err := get("/whole")
	if err != nil || res.StatusCode != http.StatusOK || len(body) != 5*100_000 ||
		!strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("whole export: %v, %d bytes, err %v", res, len(body), err)
	}
	res, body, err = get("/cut-large")
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut export after the body started: status %v, %d bytes, err %v; want io.ErrUnexpectedEOF", res, len(body), err)
	}
	if res.StatusCode != http.StatusOK || res.TransferEncoding == nil || res.TransferEncoding[0] != "chunked" {
		t.Fatalf("cut export: status %d, transfer encoding %v; want a chunked 200 cut short", res.StatusCode, res.TransferEncoding)
	}
	if _, _, err = get("/cut-small"); err == nil {
		t.Fatal("cut export still in the server's buffer: answered whole; want the connection aborted")
	}
}
