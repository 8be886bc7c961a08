package imports

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/crmcore/crm/domain"
)

// defaultStatus is the default Status option as a run reads cells.
func defaultStatus() func(string) (domain.Status, error) {
	st := New(nil, Options{}).opts.Status
	return func(s string) (domain.Status, error) { return st(context.Background(), uuid.Nil, s) }
}

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
		status := defaultStatus()
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

// FuzzCustomerRows: whatever the bytes, a customer file is refused with a
// *FileError or each of its rows decodes to a customer profile that the
// domain accepts, with a normalized email, or to errors naming the row and
// a reason; never a panic.
func FuzzCustomerRows(f *testing.F) {
	for _, seed := range []string{
		"name,email\na,a@example.com\n",
		"\xef\xbb\xbfName,EMAIL,Type,Status,Credit_Limit,custom_fields\r\nAcme,a@x.io,Business,ACTIVE,1500.5,\"{\"\"a\"\":1}\"\r\n",
		"id,lead_id,name,email,phone,type,status,credit_limit\n1,2,B,b@x.io,+14155552671,person,gone,-1\n",
		"name,email\n\"unclosed,x\n",
		"email\nx@y.z\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := newReader(bytes.NewReader(data), customerColumns)
		var fe *FileError
		if err != nil {
			if !errors.As(err, &fe) {
				t.Fatalf("header: %v is not a FileError", err)
			}
			return
		}
		for {
			rec, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if !errors.As(err, &fe) {
					t.Fatalf("row: %v is not a FileError", err)
				}
				return
			}
			p, bad := decodeCustomer(rec, "IN")
			for _, e := range bad {
				if e.Row != rec.Row || e.Message == "" {
					t.Fatalf("row error %+v for row %d", e, rec.Row)
				}
			}
			if len(bad) == 0 {
				if err := p.Validate(); err != nil || p.PrimaryEmail() == "" || strings.TrimSpace(p.Name) == "" {
					t.Fatalf("row %d decoded to %+v: %v", rec.Row, p, err)
				}
			}
		}
	})
}
