package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/registry"
)

// importPath is the one route whose body may exceed --body-limit.
var importPath = regexp.MustCompile(`^/api/v1/tenants/[^/]+/imports/?$`)

// limitBody refuses a declared body over the route's limit before any
// handler runs. Bodies of unknown length are cut at the limit by Huma
// (MaxBodyBytes) or, for imports, by the handler.
func (s *Server) limitBody(c *fiber.Ctx) error {
	if limit := s.limitFor(c.Method(), c.Path()); int64(c.Request().Header.ContentLength()) > limit {
		return fiber.NewError(fiber.StatusRequestEntityTooLarge, fmt.Sprintf("request body is too large limit=%d bytes", limit))
	}
	return c.Next()
}

func (s *Server) limitFor(method, path string) int64 {
	if method == fiber.MethodPost && importPath.MatchString(path) {
		return s.importBodyLimit
	}
	return s.bodyLimit
}

// headerReceived keeps the server from waiting for the body of a request
// whose declared length is over its limit: it reads at most a byte before
// limitBody answers 413.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	path := string(h.RequestURI())
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if int64(h.ContentLength()) > s.limitFor(string(h.Method()), path) {
		return fasthttp.RequestConfig{MaxRequestBodySize: 1}
	}
	return fasthttp.RequestConfig{}
}

type bodyStreamKey struct{}

// streamBody hands operations marked "stream" their request body as a
// reader: Huma would read it whole.
func streamBody(ctx huma.Context, next func(huma.Context)) {
	if ctx.Operation().Metadata["stream"] == true {
		r := ctx.BodyReader()
		if r == nil {
			r = http.NoBody
		}
		ctx = huma.WithValue(ctx, bodyStreamKey{}, r)
	}
	next(ctx)
}

type progressJSON struct {
	Done  int64 `json:"done" doc:"Bytes of the file read so far."`
	Total int64 `json:"total" doc:"Bytes of the file."`
}

type summaryJSON struct {
	Lines     int64 `json:"lines"`
	Imported  int64 `json:"imported" doc:"Lines that added or corrected something."`
	Unchanged int64 `json:"unchanged" doc:"Lines the registry already said (the same file twice changes nothing)."`
	Rejected  int64 `json:"rejected"`
}

type importErrorJSON struct {
	Line     int64  `json:"line"`
	Location string `json:"location" doc:"The field (NDJSON) or column (CSV); line for a line that could not be read."`
	Message  string `json:"message"`
}

type importJSON struct {
	ID               string            `json:"id" format:"uuid"`
	Status           string            `json:"status" enum:"uploading,queued,running,done,failed"`
	Mode             string            `json:"mode" enum:"commit_valid,all_or_nothing"`
	Format           string            `json:"format" enum:"ndjson,csv"`
	Type             string            `json:"type,omitempty"`
	SHA256           string            `json:"sha256,omitempty"`
	Progress         progressJSON      `json:"progress"`
	Summary          summaryJSON       `json:"summary"`
	Error            string            `json:"error,omitempty"`
	Errors           []importErrorJSON `json:"errors"`
	ErrorsNextCursor string            `json:"errors_next_cursor,omitempty" doc:"More bad lines: GET …/imports/{id}/errors?cursor=…"`
	CreatedAt        time.Time         `json:"created_at"`
	StartedAt        *time.Time        `json:"started_at,omitempty"`
	FinishedAt       *time.Time        `json:"finished_at,omitempty"`
}

func importOut(im registry.Import) importJSON {
	return importJSON{
		ID: im.ID.String(), Status: im.Status, Mode: im.Mode, Format: im.Format, Type: im.RecordType, SHA256: im.SHA256,
		Progress: progressJSON{Done: im.Progress.Bytes, Total: im.Bytes},
		Summary:  summaryJSON{Lines: im.Progress.Lines, Imported: im.Progress.Imported, Unchanged: im.Progress.Unchanged, Rejected: im.Progress.Rejected},
		Error:    im.Error, Errors: []importErrorJSON{}, CreatedAt: im.CreatedAt, StartedAt: im.StartedAt, FinishedAt: im.FinishedAt,
	}
}

type registryImportResponse struct {
	Location string `header:"Location"`
	Body     importJSON
}

type ImportPath struct {
	TenantPath
	ID string `path:"id" format:"uuid"`
}

func (s *Server) registerImports() {
	tags := []string{"Registry imports"}
	base := "/api/v1/tenants/{tenant}/imports"
	binary := &huma.Schema{Type: "string", Format: "binary"}
	register(s, Permission{Object: "import", Action: "create"}, huma.Operation{
		OperationID: "createImport", Method: http.MethodPost, Path: base, DefaultStatus: http.StatusAccepted,
		Summary: "Import persons and their facts from a file",
		Description: "The body is the file: NDJSON (`application/x-ndjson`, one object a line with `type` person, relation, " +
			"income, disability or category) or CSV (`text/csv`, a header line of field names; one record type per file, " +
			"given by `type` or by a type column). It is streamed into the database and imported by a background job: " +
			"poll GET …/imports/{id}. Persons are matched by SNILS, facts by their natural keys, so the same file twice " +
			"changes nothing. In commit_valid mode (the default) good lines are stored and bad ones reported by line " +
			"number; in all_or_nothing mode one bad line stores nothing. A person must come before the facts that name it.",
		Tags: tags, MaxBodyBytes: -1, Metadata: map[string]any{"stream": true},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/x-ndjson": {Schema: binary}, "text/csv": {Schema: binary},
		}},
		Errors: []int{http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType},
	}, func(ctx context.Context, in *struct {
		TenantPath
		ContentType string `header:"Content-Type"`
		Mode        string `query:"mode" enum:"commit_valid,all_or_nothing" default:"commit_valid"`
		Type        string `query:"type" enum:"person,relation,income,disability,category" doc:"The record type of a CSV file without a type column."`
	}) (*registryImportResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		mt, _, _ := mime.ParseMediaType(in.ContentType)
		format := map[string]string{"application/x-ndjson": registry.FormatNDJSON, "application/jsonl": registry.FormatNDJSON,
			"text/csv": registry.FormatCSV}[mt]
		if format == "" {
			return nil, huma.Error415UnsupportedMediaType("send the file as application/x-ndjson or text/csv")
		}
		body, _ := ctx.Value(bodyStreamKey{}).(io.Reader)
		if body == nil {
			body = http.NoBody
		}
		// A body of undeclared length is cut at the limit.
		body = http.MaxBytesReader(nil, io.NopCloser(body), s.importBodyLimit)
		im, err := s.deps.Persons.SubmitImport(ctx, registry.ImportRequest{Format: format, Type: in.Type, Mode: in.Mode}, body)
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			return nil, huma.Error413RequestEntityTooLarge(fmt.Sprintf("request body is too large limit=%d bytes", s.importBodyLimit))
		}
		if err != nil {
			var inv *fault.Invalid
			if errors.As(err, &inv) {
				for i := range inv.Fields {
					if inv.Fields[i].Field == "format" {
						return nil, huma.Error415UnsupportedMediaType(inv.Fields[i].Message)
					}
				}
				details := make([]error, len(inv.Fields))
				for i, f := range inv.Fields {
					details[i] = &huma.ErrorDetail{Location: "query." + f.Field, Message: f.Message, Value: f.Value}
				}
				return nil, huma.Error422UnprocessableEntity("validation failed", details...)
			}
			return nil, s.problem(ctx, err)
		}
		return &registryImportResponse{Location: "/api/v1/tenants/" + in.Tenant + "/imports/" + im.ID.String(), Body: importOut(im)}, nil
	})
	register(s, Permission{Object: "import", Action: "read"}, huma.Operation{
		OperationID: "getImport", Method: http.MethodGet, Path: base + "/{id}",
		Summary: "Read an import: status, progress, summary and the first bad lines", Tags: tags,
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *ImportPath) (*registryImportResponse, error) {
		ctx, id, err := s.importTarget(ctx, in)
		if err != nil {
			return nil, err
		}
		im, err := s.deps.Persons.GetImport(ctx, id)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := importOut(im)
		errs, next, err := s.deps.Persons.ImportErrors(ctx, id, 0, 1000)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out.Errors = importErrorsOut(errs)
		if next > 0 {
			out.ErrorsNextCursor = strconv.FormatInt(next, 10)
		}
		return &registryImportResponse{Body: out}, nil
	})
	register(s, Permission{Object: "import", Action: "read"}, huma.Operation{
		OperationID: "listImportErrors", Method: http.MethodGet, Path: base + "/{id}/errors",
		Summary: "Page through an import's bad lines", Tags: tags, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		ImportPath
		Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"1000"`
		Cursor string `query:"cursor" pattern:"^[0-9]{1,18}$"`
	}) (*struct {
		Body struct {
			Items      []importErrorJSON `json:"items"`
			NextCursor string            `json:"next_cursor,omitempty"`
		}
	}, error) {
		ctx, id, err := s.importTarget(ctx, &in.ImportPath)
		if err != nil {
			return nil, err
		}
		if _, err := s.deps.Persons.GetImport(ctx, id); err != nil {
			return nil, s.problem(ctx, err)
		}
		after, _ := strconv.ParseInt(in.Cursor, 10, 64)
		errs, next, err := s.deps.Persons.ImportErrors(ctx, id, after, in.Limit)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &struct {
			Body struct {
				Items      []importErrorJSON `json:"items"`
				NextCursor string            `json:"next_cursor,omitempty"`
			}
		}{}
		out.Body.Items = importErrorsOut(errs)
		if next > 0 {
			out.Body.NextCursor = strconv.FormatInt(next, 10)
		}
		return out, nil
	})
}

func importErrorsOut(errs []registry.LineError) []importErrorJSON {
	out := make([]importErrorJSON, len(errs))
	for i, e := range errs {
		out[i] = importErrorJSON{Line: e.Line, Location: e.Location, Message: e.Message}
	}
	return out
}

func (s *Server) importTarget(ctx context.Context, in *ImportPath) (context.Context, uuid.UUID, error) {
	ctx, err := s.inTenant(ctx, in.Tenant)
	if err != nil {
		return ctx, uuid.Nil, err
	}
	id, err := uuid.Parse(in.ID)
	if err != nil {
		return ctx, uuid.Nil, huma.Error404NotFound("import " + in.ID + " not found")
	}
	return ctx, id, nil
}
