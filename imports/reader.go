// Package imports is crm's CSV import and export of leads and customers: a
// reader for real files (BOM, CRLF, quotes, a header naming the columns),
// the durable job that imports a file in batches through the event store's
// bulk path — every row a lead.created (or customer.created) event with its
// reservations, the job's progress committed with each batch so it resumes
// after a crash without importing a row twice — and the streaming exports
// that import back unchanged. The /dev/crm routes and the `crm import`
// command call it.
package imports

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/crmcore/crm/crmerr"
)

// Field is a column the importer knows: a /dev/crm lead's JSON field.
type Field int

// The columns of an import and an export, in export order.
const (
	FieldID Field = iota // export only: an import ignores it (a new lead gets a new id)
	FieldName
	FieldEmail
	FieldPhone
	FieldCompany
	FieldSource
	FieldStatus
	FieldScore
	FieldNotes
	FieldCampaignID
	FieldAssignedTo
	FieldLastContact
	FieldCustomFields
)

// leadColumns are a lead file's columns, named as the JSON fields are
// (Field indexes them); name and email are required, as on a /dev/crm create.
var leadColumns = &columns{
	names: []string{"id", "name", "email", "phone", "company", "source", "status", "score",
		"notes", "campaign_id", "assigned_to", "last_contact", "custom_fields"},
	required: []int{int(FieldName), int(FieldEmail)},
	skipped:  []int{int(FieldID)},
}

// String is the column's name.
func (f Field) String() string { return leadColumns.names[f] }

// columns are the columns one kind of file has.
type columns struct {
	names    []string // by index: Record.Values holds them in this order
	required []int    // a file without one of these is refused
	// skipped are export-only columns an import reads past without
	// listing them as ignored (the id: a new record gets a new id).
	skipped []int
}

// named is the index of the column a header cell names: case and
// surrounding spaces do not matter.
func (c *columns) named(name string) (int, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	i := slices.Index(c.names, name)
	return i, i >= 0
}

// FileError is a file the importer cannot read as a whole: not UTF-8, bad
// CSV quoting, no header, a required column missing. Nothing of such a file
// is imported. Line and Column are 1-based; 0 when they do not apply.
type FileError struct {
	Line   int64
	Column int
	Reason string
}

// Error reads "line 3, column 7: bare \" in non-quoted field".
func (e *FileError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Reason)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return e.Reason
}

// ErrorCode implements crmerr.Coded: the file is bad input (400).
func (e *FileError) ErrorCode() string { return crmerr.Invalid }

// Record is one data row of a file.
type Record struct {
	Row    int64    // 1-based among the data rows (the header is row 0)
	Line   int64    // the file line the row starts on
	Values []string // by column (Field for leads); "" for a column the file lacks
	Raw    []string // the row as the file has it, for the error CSV
	// Width is an error about the row's number of fields ("" if it has the
	// header's): such a row is reported, not imported.
	Width string
}

// Reader reads a CSV file of leads (or customers) record by record, in
// constant memory.
type Reader struct {
	cr      *csv.Reader
	schema  *columns
	cols    []int // file column index → column; -1 ignored
	header  []string
	ignored []string
	row     int64
	counter *countingReader
}

// NewReader reads r's header row: UTF-8 with or without a byte order mark,
// columns named like the lead's JSON fields in any case, in any order;
// unknown columns are ignored (Ignored lists them). A missing name or email
// column, an empty file or a UTF-16 one is a *FileError.
func NewReader(r io.Reader) (*Reader, error) { return newReader(r, leadColumns) }

// newReader reads r's header row against the columns of schema.
func newReader(r io.Reader, schema *columns) (*Reader, error) {
	counter := &countingReader{r: r}
	br := bufio.NewReaderSize(counter, 64<<10)
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		_, _ = br.Discard(3)
	case bytes.HasPrefix(head, []byte("\xff\xfe")), bytes.HasPrefix(head, []byte("\xfe\xff")):
		return nil, &FileError{Line: 1, Reason: "the file is UTF-16: save it as UTF-8"}
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // a row of another width is a row error, not the end of the file
	cr.ReuseRecord = true
	rd := &Reader{cr: cr, schema: schema, counter: counter}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &FileError{Reason: "the file is empty: it needs a header row naming the columns"}
	}
	if err != nil {
		return nil, csvError(err)
	}
	if err := checkUTF8(header, 1); err != nil {
		return nil, err
	}
	rd.header = slices.Clone(header)
	rd.cols = make([]int, len(header))
	seen := map[int]bool{}
	for i, name := range header {
		rd.cols[i] = -1
		f, ok := schema.named(name)
		switch {
		case !ok:
			if strings.TrimSpace(name) != "" {
				rd.ignored = append(rd.ignored, name)
			}
		case slices.Contains(schema.skipped, f): // an export's: a new record gets a new id
		case seen[f]:
			return nil, &FileError{Line: 1, Column: i + 1, Reason: fmt.Sprintf("column %q appears twice", schema.names[f])}
		default:
			seen[f] = true
			rd.cols[i] = f
		}
	}
	var missing []string
	for _, f := range schema.required {
		if !seen[f] {
			missing = append(missing, schema.names[f])
		}
	}
	if len(missing) > 0 {
		return nil, &FileError{Line: 1, Reason: fmt.Sprintf("the header row has no %s column (columns: %s)",
			strings.Join(missing, " and no "), strings.Join(header, ", "))}
	}
	return rd, nil
}

// Header is the file's header row as it is.
func (r *Reader) Header() []string { return r.header }

// Ignored lists the header's columns the importer does not know.
func (r *Reader) Ignored() []string { return r.ignored }

// Offset is how many bytes of the file the records read so far span.
func (r *Reader) Offset() int64 { return r.cr.InputOffset() }

// Next returns the next data row, io.EOF after the last, or a *FileError
// for a file that is not CSV or not UTF-8 from there on.
func (r *Reader) Next() (Record, error) {
	raw, err := r.cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Record{}, io.EOF
		}
		return Record{}, csvError(err)
	}
	line, _ := r.cr.FieldPos(0)
	if err := checkUTF8(raw, int64(line)); err != nil {
		return Record{}, err
	}
	r.row++
	rec := Record{Row: r.row, Line: int64(line), Raw: slices.Clone(raw), Values: make([]string, len(r.schema.names))}
	if len(raw) != len(r.cols) {
		rec.Width = fmt.Sprintf("has %d fields; the header has %d", len(raw), len(r.cols))
	}
	for i, v := range raw {
		if i < len(r.cols) && r.cols[i] >= 0 {
			rec.Values[r.cols[i]] = v
		}
	}
	return rec, nil
}

// csvError turns encoding/csv's error into a *FileError.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &FileError{Line: int64(pe.Line), Column: pe.Column, Reason: pe.Err.Error() + " (check the quoting)"}
	}
	return fmt.Errorf("read csv: %w", err)
}

// checkUTF8 refuses a row with a field that is not UTF-8.
func checkUTF8(fields []string, line int64) error {
	for i, f := range fields {
		if !utf8.ValidString(f) {
			return &FileError{Line: line, Column: i + 1, Reason: "the text is not UTF-8: save the file as UTF-8"}
		}
	}
	return nil
}

// FileInfo is what a pass over a whole file finds.
type FileInfo struct {
	SHA256  string // hex
	Size    int64  // bytes
	Rows    int64  // data rows
	Header  []string
	Ignored []string
}

// Inspect reads r to its end, checking it reads as a whole: UTF-8, CSV,
// a header with the required columns. It returns the file's SHA-256 (an
// import's identity), its size and its number of data rows, or the
// *FileError that makes the whole file refused before any row is imported.
func Inspect(r io.Reader) (FileInfo, error) { return inspect(r, leadColumns) }

// inspect is Inspect of a file with the columns of schema.
func inspect(r io.Reader, schema *columns) (FileInfo, error) {
	h := sha256.New()
	rd, err := newReader(io.TeeReader(r, h), schema)
	if err != nil {
		return FileInfo{}, err
	}
	var rows int64
	for {
		_, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return FileInfo{}, err
		}
		rows++
	}
	return FileInfo{SHA256: hex.EncodeToString(h.Sum(nil)), Size: rd.counter.n, Rows: rows,
		Header: rd.header, Ignored: rd.ignored}, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
