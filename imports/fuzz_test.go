package imports

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"unicode/utf8"
)

// FuzzReader: whatever the bytes, the reader never panics; it refuses a
// file with a *FileError or reads rows numbered 1, 2, … on increasing
// lines, each field valid UTF-8; Inspect counts the same rows; and each row
// decodes to a lead or to errors naming a row and a reason.
func FuzzReader(f *testing.F) {
	for _, seed := range []string{
		"name,email\na,a@example.com\n",
		"\xef\xbb\xbfName,EMAIL,phone,score,custom_fields\r\n\"Doe, J\",j@x.io,+14155552671,5,\"{\"\"a\"\":1}\"\r\n",
		"name,email\n\"unclosed,x\n",
		"name,email\nJos\xe9,j@x.io\n",
		"name,email,notes\na,b\n\"x\"\"y\",c@d.io,\"two\nlines\"\n",
		"\xff\xfen\x00",
		"email\nx@y.z\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data))
		var fe *FileError
		if err != nil {
			if !errors.As(err, &fe) {
				t.Fatalf("header: %v is not a FileError", err)
			}
			return
		}
		status := New(nil, Options{}).opts.Status
		var rows, line int64
		for {
			rec, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if !errors.As(err, &fe) {
					t.Fatalf("row: %v is not a FileError", err)
				}
				return
			}
			rows++
			if rec.Row != rows || rec.Line <= line {
				t.Fatalf("row %d on line %d after row %d on line %d", rec.Row, rec.Line, rows-1, line)
			}
			line = rec.Line
			for _, v := range rec.Values {
				if !utf8.ValidString(v) {
					t.Fatalf("row %d: %q is not UTF-8", rec.Row, v)
				}
			}
			_, _, bad := decode(rec, "IN", status, []string{"website"})
			for _, e := range bad {
				if e.Row != rec.Row || e.Message == "" {
					t.Fatalf("row error %+v for row %d", e, rec.Row)
				}
			}
		}
		info, err := Inspect(bytes.NewReader(data))
		if err != nil || info.Rows != rows || info.Size != int64(len(data)) {
			t.Fatalf("Inspect = %+v, %v; read %d rows of %d bytes", info, err, rows, len(data))
		}
	})
}
