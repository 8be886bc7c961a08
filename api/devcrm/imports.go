package devcrm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/imports"
)

// The CSV import's limits, written in openapi.json.
const (
	// SyncImportRows is the most data rows an upload imports within its
	// request (200 with the outcome); a larger file is a background job
	// (202 with the import resource).
	SyncImportRows = 1000
	// MaxImportBytes is the largest file an upload takes (else 413).
	MaxImportBytes = 10 << 20
	// shownRowErrors is how many row errors a 200 lists; all of them are
	// in the error CSV.
	shownRowErrors = 100
)

// mountImports mounts CSV import and export and the import resource. The
// uploads are mounted beside the group, their own body cap first, so the
// idempotency check reads the whole file under it.
func (h *handlers) mountImports(r *gin.Engine, g *gin.RouterGroup) {
	d := h.d
	for path, kind := range map[string]string{"/dev/crm/leads/import": imports.KindLeads, "/dev/crm/customers/import": imports.KindCustomers} {
		r.POST(path, api.BodyLimit(MaxImportBytes+64<<10), d.RequireKey(h.fail), d.RateLimit(h.fail), api.CheckParams(h.fail),
			d.Idempotent(h.fail), h.importFile(kind))
	}
	g.GET("/leads/export", h.exportLeads)
	g.GET("/customers/export", h.exportCustomers)
	g.GET("/imports/:importId", h.getImport)
	g.GET("/imports/:importId/errors", h.importErrors)
}

// ImportOptions are the options of this API's imports: its sources, its
// statuses (ImportStatus), national numbers read in region.
func ImportOptions(cmds *commands.Handler, region string) imports.Options {
	return imports.Options{Region: region, Status: ImportStatus(cmds), Sources: sources,
		Metadata: eventstore.Metadata{Actor: "import", API: Name}}
}

// ImportStatus is the status hook of a lead import through this API: a
// cell in the API's vocabulary in any case (negotiation and converted are
// the tenant statuses of those names, created on first use, as a create
// does), or a tenant status by its name or as this API shows it
// (snake_lower name), so an export imports back. Anything else is the
// row's error.
func ImportStatus(cmds *commands.Handler) imports.StatusFunc {
	return func(ctx context.Context, tenant uuid.UUID, cell string) (domain.Status, error) {
		cell = strings.ToLower(strings.TrimSpace(cell))
		if cell == "" {
			return "", nil
		}
		key, name := statusOf(cell)
		if key != "" {
			return key, nil
		}
		for attempt := 0; ; attempt++ {
			pipeline, err := cmds.PipelineStatuses(ctx, tenant)
			if err != nil {
				return "", err
			}
			book := domain.StatusBook(pipeline)
			for _, s := range pipeline {
				if strings.EqualFold(s.Name, name) || strings.EqualFold(s.Name, cell) || shownStatus(string(s.Key), book) == cell {
					return s.Key, nil
				}
			}
			if name == "" {
				return "", domain.ValidationError{Field: "status", Reason: fmt.Sprintf("%q must be one of %s (or a status of the tenant's pipeline)",
					cell, strings.Join(statuses, ", "))}
			}
			res, err := cmds.CreateStatus(ctx, commands.Context{TenantID: tenant,
				Metadata: eventstore.Metadata{Actor: "import", API: Name}}, name, "steelblue")
			if errors.Is(err, domain.ErrStatusExists) && attempt == 0 {
				continue // made meanwhile: read it
			}
			if err != nil {
				return "", err
			}
			return res.Status.Key, nil
		}
	}
}

// uploadSummary is the 200 answer of an upload imported within its request.
type uploadSummary struct {
	ID              uuid.UUID          `json:"id"`
	Kind            string             `json:"kind"`
	State           string             `json:"state"`
	Rows            int64              `json:"rows"`
	Imported        int64              `json:"imported"`
	Failed          int64              `json:"failed"`
	IgnoredColumns  []string           `json:"ignored_columns"`
	Errors          []imports.RowError `json:"errors"`
	ErrorsTruncated bool               `json:"errors_truncated"`
	ErrorsURL       string             `json:"errors_url"`
	AlreadyImported bool               `json:"already_imported"`
}

// importResource is an import job as GET /dev/crm/imports/{id} shows it.
type importResource struct {
	ID             uuid.UUID  `json:"id"`
	Kind           string     `json:"kind"`
	FileName       string     `json:"file_name"`
	Size           int64      `json:"size"`
	State          string     `json:"state"`
	RowsTotal      int64      `json:"rows_total"`
	RowsDone       int64      `json:"rows_done"`
	RowsImported   int64      `json:"rows_imported"`
	RowsFailed     int64      `json:"rows_failed"`
	Percent        float64    `json:"percent"`
	RowsPerSecond  float64    `json:"rows_per_second"`
	ETASeconds     *float64   `json:"eta_seconds"`
	IgnoredColumns []string   `json:"ignored_columns"`
	Error          *string    `json:"error"`
	ErrorsURL      string     `json:"errors_url"`
	CreatedAt      time.Time  `json:"created_at"`
	StartedAt      *time.Time `json:"started_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	FinishedAt     *time.Time `json:"finished_at"`
}

// importPath is the path of an import resource.
func importPath(id uuid.UUID) string { return "/dev/crm/imports/" + id.String() }

func resourceOf(j imports.Job) importResource {
	out := importResource{ID: j.ID, Kind: j.Kind, FileName: j.FileName, Size: j.Size, State: j.State, RowsTotal: j.RowsTotal,
		RowsDone: j.RowsDone, RowsImported: j.RowsImported, RowsFailed: j.RowsFailed,
		Percent: math.Round(j.Percent()*10) / 10, RowsPerSecond: math.Round(j.Rate()), IgnoredColumns: nonNil(j.IgnoredColumns),
		Error: optional(j.Error), ErrorsURL: importPath(j.ID) + "/errors", CreatedAt: j.CreatedAt.UTC(),
		StartedAt: utc(j.StartedAt), UpdatedAt: j.UpdatedAt.UTC(), FinishedAt: utc(j.FinishedAt)}
	if d, ok := j.ETA(); ok {
		s := math.Round(d.Seconds())
		out.ETASeconds = &s
	}
	return out
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// uploaded reads the multipart field file: a missing field, a body that is
// not multipart or a file over MaxImportBytes is refused.
func uploaded(c *gin.Context) (multipart.File, *multipart.FileHeader, error) {
	fh, err := c.FormFile("file")
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, nil, tooLarge()
	case errors.Is(err, http.ErrMissingFile):
		return nil, nil, missing("file")
	case errors.Is(err, http.ErrNotMultipart), errors.Is(err, http.ErrMissingBoundary):
		return nil, nil, badField("file", "must be sent as multipart/form-data")
	case err != nil:
		return nil, nil, badField("file", "the multipart body cannot be read: "+err.Error())
	case fh.Size > MaxImportBytes:
		return nil, nil, tooLarge()
	}
	f, err := fh.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("open upload: %w", err)
	}
	return f, fh, nil
}

// tooLarge is the 413 of a file over MaxImportBytes.
func tooLarge() *api.BadInput {
	return &api.BadInput{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Field: "file",
		Reason: fmt.Sprintf("must be at most %d MB", MaxImportBytes>>20)}
}

// importFile is POST …/import of kind: the file's job, imported within
// the request (200, the outcome) up to SyncImportRows rows, else in the
// background (202, Location: the import resource). The same file again
// answers its first upload's job and imports nothing.
func (h *handlers) importFile(kind string) gin.HandlerFunc {
	return func(c *gin.Context) {
		f, fh, err := uploaded(c)
		if err != nil {
			h.fail(c, err)
			return
		}
		defer f.Close()
		ctx, cc := c.Request.Context(), api.CommandContext(c, Name)
		im := h.d.Importer.WithMetadata(cc.Metadata)
		// A background job outlives the request: it ends with the job,
		// or with the process (the next start resumes it).
		up, err := im.Upload(ctx, context.WithoutCancel(ctx), cc.TenantID, kind, fh.Filename, f, SyncImportRows)
		var fe *imports.FileError
		if errors.As(err, &fe) {
			h.fail(c, badField("file", fe.Error()))
			return
		}
		if err != nil {
			h.fail(c, err)
			return
		}
		job := up.Job
		if up.Async || job.State == imports.StateQueued || job.State == imports.StateRunning {
			c.Header("Location", importPath(job.ID))
			c.JSON(http.StatusAccepted, resourceOf(job))
			return
		}
		errs, err := im.RowErrors(ctx, cc.TenantID, job.ID, 0, shownRowErrors+1)
		if err != nil {
			h.fail(c, err)
			return
		}
		out := uploadSummary{ID: job.ID, Kind: job.Kind, State: job.State, Rows: job.RowsTotal, Imported: job.RowsImported,
			Failed: job.RowsFailed, IgnoredColumns: nonNil(job.IgnoredColumns), Errors: errs, ErrorsURL: importPath(job.ID) + "/errors",
			AlreadyImported: up.Existing}
		if len(errs) > shownRowErrors {
			out.Errors, out.ErrorsTruncated = errs[:shownRowErrors], true
		}
		if out.Errors == nil {
			out.Errors = []imports.RowError{}
		}
		h.d.AwaitReadModels(c, job.LastPosition(), readModels...)
		c.JSON(http.StatusOK, out)
	}
}

// jobIn resolves the path's import id inside the caller's tenant (a 404
// answered otherwise).
func (h *handlers) jobIn(c *gin.Context) (imports.Job, bool) {
	id, bad := pathID(c, "importId", "import")
	if bad != nil {
		h.fail(c, bad)
		return imports.Job{}, false
	}
	job, err := h.d.Importer.Get(c.Request.Context(), api.Principal(c).TenantID, id)
	if errors.Is(err, imports.ErrJobNotFound) {
		h.fail(c, notFound("import"))
		return imports.Job{}, false
	}
	if err != nil {
		h.fail(c, err)
		return imports.Job{}, false
	}
	return job, true
}

func (h *handlers) getImport(c *gin.Context) {
	if job, ok := h.jobIn(c); ok {
		c.JSON(http.StatusOK, resourceOf(job))
	}
}

// importErrors is the job's error CSV: row, line, field, message, then the
// row as the file had it.
func (h *handlers) importErrors(c *gin.Context) {
	job, ok := h.jobIn(c)
	if !ok {
		return
	}
	h.streamCSV(c, fmt.Sprintf("import-%s-errors.csv", job.ID), func(w io.Writer) error {
		return h.d.Importer.ErrorCSV(c.Request.Context(), job.TenantID, job.ID, w)
	})
}

// streamCSV answers 200 text/csv, an attachment named name, with what
// write writes. An error before the first byte is answered in the API's
// shape; after it the error is logged and the connection aborted
// (http.ErrAbortHandler): the chunked body then lacks its terminating
// chunk (HTTP/2: the stream is reset), so no client takes the cut file for
// a complete 200.
func (h *handlers) streamCSV(c *gin.Context, name string, write func(io.Writer) error) {
	w := &lazyCSV{c: c, name: name}
	if err := write(w); err != nil {
		if !w.started {
			h.fail(c, err)
			return
		}
		h.d.Logger.Error("CSV answer cut short, connection aborted", "err", err, "route", c.FullPath(),
			"request_id", c.GetString(api.HeaderRequestID))
		panic(http.ErrAbortHandler)
	}
	w.start()
}

// lazyCSV writes the headers of a CSV answer with its first byte.
type lazyCSV struct {
	c       *gin.Context
	name    string
	started bool
}

func (w *lazyCSV) start() {
	if w.started {
		return
	}
	w.started = true
	w.c.Header("Content-Type", "text/csv; charset=utf-8")
	w.c.Header("Content-Disposition", fmt.Sprintf("attachment; filename=%q", w.name))
	w.c.Status(http.StatusOK)
	w.c.Writer.WriteHeaderNow()
}

func (w *lazyCSV) Write(p []byte) (int, error) {
	w.start()
	return w.c.Writer.Write(p)
}

// leadQuery is the lead list's filters, as the list and the export read
// them: a status of the API's vocabulary, a source, a search and an
// assignee (normalized as a lead's).
type leadQuery struct{ status, source, search, assignedTo string }

// readLeadQuery reads the lead list's filters.
func readLeadQuery(c *gin.Context) (leadQuery, *api.BadInput) {
	var q leadQuery
	var assigned string
	var bad *api.BadInput
	q.status, bad = oneOf(c, "status", statuses)
	if bad == nil {
		q.source, bad = query(c, "source")
	}
	if bad == nil {
		q.search, bad = query(c, "search")
	}
	if bad == nil {
		assigned, bad = query(c, "assigned_to")
	}
	if bad == nil && assigned != "" {
		p, err := domain.NormalizeProfile(domain.LeadProfile{AssignedTo: assigned}, "")
		if err != nil {
			bad = api.BadParam("assigned_to", "must be a UUID (or a user's email)")
		}
		q.assignedTo = p.AssignedTo
	}
	return q, bad
}

// statusKey is the pipeline status key the API status stands for ("" for
// none); false when it is a tenant status the tenant has not made yet (no
// lead holds it). The pipeline is read only for such a status.
func (h *handlers) statusKey(ctx context.Context, tenantID uuid.UUID, status string) (string, bool, error) {
	key, name := statusOf(status)
	if name == "" {
		return string(key), true, nil
	}
	pipeline, err := h.d.Pipelines.Statuses(ctx, tenantID)
	if err != nil {
		return "", false, err
	}
	found, ok := domain.StatusBook(pipeline).KeyByName(name)
	return string(found), ok, nil
}

// readCustomerQuery reads the customer list's filters: status, type, search.
func readCustomerQuery(c *gin.Context) (status, typ, search string, bad *api.BadInput) {
	status, bad = oneOf(c, "status", customerStatuses)
	if bad == nil {
		typ, bad = oneOf(c, "type", customerTypes)
	}
	if bad == nil {
		search, bad = query(c, "search")
	}
	return status, typ, search, bad
}

// exportLeads streams the tenant's leads as CSV with the list's filters
// (status, source, assigned_to, search), statuses shown in this API's
// vocabulary: a file that imports back unchanged.
func (h *handlers) exportLeads(c *gin.Context) {
	ctx, tenantID := c.Request.Context(), api.Principal(c).TenantID
	q, bad := readLeadQuery(c)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	f := imports.Filter{Source: q.source, Search: q.search, AssignedTo: q.assignedTo}
	key, ok, err := h.statusKey(ctx, tenantID, q.status)
	if err != nil {
		h.fail(c, err)
		return
	}
	if f.Status = key; !ok {
		f.Status = "status:none" // the tenant has no such status yet: no lead holds it
	}
	pipeline, err := h.d.Pipelines.Statuses(ctx, tenantID)
	if err != nil {
		h.fail(c, err)
		return
	}
	book := domain.StatusBook(pipeline)
	f.Statuses = make(map[string]string, len(pipeline))
	for _, s := range pipeline {
		f.Statuses[string(s.Key)] = shownStatus(string(s.Key), book)
	}
	h.streamCSV(c, "leads.csv", func(w io.Writer) error {
		_, err := h.d.Importer.Export(ctx, tenantID, f, w)
		return err
	})
}

// exportCustomers streams the tenant's customers as CSV with the list's
// filters (status, type, search).
func (h *handlers) exportCustomers(c *gin.Context) {
	var f imports.CustomerFilter
	var bad *api.BadInput
	f.Status, f.Type, f.Search, bad = readCustomerQuery(c)
	if bad != nil {
		h.fail(c, bad)
		return
	}
	ctx, tenantID := c.Request.Context(), api.Principal(c).TenantID
	h.streamCSV(c, "customers.csv", func(w io.Writer) error {
		_, err := h.d.Importer.ExportCustomers(ctx, tenantID, f, w)
		return err
	})
}
