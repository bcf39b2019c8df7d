package api

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/page"
)

type attrSpecJSON struct {
	Name     string `json:"name"`
	Type     string `json:"type" enum:"string,integer,boolean,date,json"`
	Required bool   `json:"required"`
}

type directoryJSON struct {
	Code          string         `json:"code" example:"regions"`
	Name          string         `json:"name"`
	Description   string         `json:"description"`
	Extensible    bool           `json:"extensible" doc:"Whether a region may add entries of its own."`
	CodePattern   string         `json:"code_pattern" doc:"The regular expression entry codes match."`
	Attributes    []attrSpecJSON `json:"attributes" doc:"The attributes entries carry; every directory also takes sample (boolean: a placeholder value to be replaced) and note (string)."`
	Source        string         `json:"source" doc:"Where the entries were last loaded from (a KMSZ version)."`
	SourceVersion int64          `json:"source_version"`
	SourceDate    string         `json:"source_date" doc:"The date the loaded version is in force from; empty when none was loaded."`
	UpdatedAt     time.Time      `json:"updated_at"`
}

func directoryOut(d directory.Directory) directoryJSON {
	out := directoryJSON{
		Code: d.Code, Name: d.Name, Description: d.Description, Extensible: d.Extensible, CodePattern: d.CodePattern,
		Attributes: make([]attrSpecJSON, 0, len(d.Attributes)+2), Source: d.Source, SourceVersion: d.SourceVersion, UpdatedAt: d.UpdatedAt,
	}
	for _, a := range d.Specs() {
		out.Attributes = append(out.Attributes, attrSpecJSON{Name: a.Name, Type: string(a.Type), Required: a.Required})
	}
	if d.SourceDate != nil {
		out.SourceDate = d.SourceDate.String()
	}
	return out
}

type entryJSON struct {
	ID            string         `json:"id" format:"uuid"`
	Directory     string         `json:"directory" example:"regions"`
	Code          string         `json:"code" example:"66"`
	Name          string         `json:"name" example:"Свердловская область"`
	Attributes    map[string]any `json:"attributes"`
	EffectiveFrom string         `json:"effective_from" format:"date"`
	EffectiveTo   *string        `json:"effective_to" format:"date" nullable:"true" doc:"The last day the version is in force; null: open-ended."`
	Origin        string         `json:"origin" enum:"platform,region" doc:"platform: published by the federal operator; region: the region's own entry."`
	Version       int64          `json:"version"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

func entryOut(e directory.Entry) entryJSON {
	out := entryJSON{
		ID: e.ID.String(), Directory: e.DirectoryCode, Code: e.Code, Name: e.Name, Attributes: e.Attributes,
		EffectiveFrom: e.EffectiveFrom.String(), Origin: string(e.Origin), Version: e.Version,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
	if out.Attributes == nil {
		out.Attributes = map[string]any{}
	}
	if e.EffectiveTo != nil {
		s := e.EffectiveTo.String()
		out.EffectiveTo = &s
	}
	return out
}

type DirectoryPath struct {
	Code string `path:"code" pattern:"^[a-z][a-z0-9_]{1,62}$" example:"regions" doc:"The directory's code."`
}

type EntryPath struct {
	DirectoryPath
	ID string `path:"id" format:"uuid" doc:"The entry version's id."`
}

type directoryList struct {
	Body struct {
		Items      []directoryJSON `json:"items"`
		NextCursor string          `json:"next_cursor,omitempty" doc:"Present when there are more items."`
	}
}

type directoryResponse struct {
	Body directoryJSON
}

type entryList struct {
	Body struct {
		AsOf       string      `json:"as_of,omitempty" doc:"The date the entries are in force on; absent when every version is listed."`
		Items      []entryJSON `json:"items"`
		NextCursor string      `json:"next_cursor,omitempty" doc:"Present when there are more items."`
	}
}

type entryResponse struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     entryJSON
}

type EntryQuery struct {
	AsOf        string `query:"as_of" format:"date" doc:"List the versions in force on this date (default: today, Moscow time)."`
	AllVersions bool   `query:"all_versions" doc:"List every version instead, each code's by start (not with as_of)."`
	Entry       string `query:"entry" doc:"Only this entry code's versions."`
	Pagination
}

type entryCreateBody struct {
	Code          string         `json:"code" minLength:"1" maxLength:"64" example:"66-children-of-war"`
	Name          string         `json:"name" minLength:"1" maxLength:"5000"`
	Attributes    map[string]any `json:"attributes,omitempty" doc:"The directory's attributes (see its description)."`
	EffectiveFrom string         `json:"effective_from" format:"date" doc:"The first day the version is in force. A version that starts while the code's open-ended version is in force ends that version the day before."`
	EffectiveTo   string         `json:"effective_to,omitempty" format:"date" doc:"The last day; absent: open-ended."`
}

type EntryCreate struct {
	DirectoryPath
	Body entryCreateBody
}

type entryPatchBody struct {
	Name        *string        `json:"name,omitempty" minLength:"1" maxLength:"5000"`
	Attributes  map[string]any `json:"attributes,omitempty" doc:"Replaces all the version's attributes."`
	EffectiveTo *string        `json:"effective_to,omitempty" pattern:"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$" doc:"The last day the version is in force; an empty string makes it open-ended. Its start is its identity: a new start is a new version."`
}

type EntryPatch struct {
	EntryPath
	IfMatch string `header:"If-Match" doc:"The ETag of the version being changed."`
	Body    entryPatchBody
}

type ExportQuery struct {
	Format string `query:"format" enum:"csv,json" default:"csv" doc:"csv: a header line, then one version a line; json: {directory, entries}."`
	AsOf   string `query:"as_of" format:"date" doc:"Only the versions in force on this date (default: every version)."`
}

type exportResponse struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

type ImportInput struct {
	ContentType string `header:"Content-Type" doc:"text/csv or application/json."`
	RawBody     []byte `contentType:"text/csv"`
}

type importResponse struct {
	Body directory.Result
}

type kmszResponse struct {
	Body struct {
		Message string `json:"message" example:"10.01.O 1.0.3" doc:"The EGISSO message read."`
		Version int64  `json:"version" doc:"The classifier version's number."`
		Status  int    `json:"status" doc:"Its status: 3 published, 4 being activated, 5 active."`
		Start   string `json:"start" format:"date" doc:"The date it is in force from: the entries' effective_from."`
		// What changed, per directory.
		Directories   map[string]directory.Result `json:"directories"`
		Modifications int                         `json:"modifications" doc:"Lines in the version's list of changes."`
	}
}

// importFile documents the JSON form of a directory file.
type importFile struct {
	Directory string            `json:"directory,omitempty" doc:"The directory's code; when given it must be the path's."`
	Entries   []importFileEntry `json:"entries"`
}

type importFileEntry struct {
	Code          string         `json:"code"`
	Name          string         `json:"name"`
	Attributes    map[string]any `json:"attributes,omitempty"`
	EffectiveFrom string         `json:"effective_from" format:"date"`
	EffectiveTo   *string        `json:"effective_to,omitempty" format:"date" nullable:"true"`
}

const (
	importDoc = "Loads a file of entry versions, as text/csv (a header line naming the columns code, name, effective_from, " +
		"effective_to and the directory's attributes; commas or semicolons) or application/json ({\"directory\", \"entries\": [...]}). " +
		"A line whose code and start match a version replaces that version's content; any other line is a new version. " +
		"Every bad line is reported (422, errors located at body.line[N] or body.entries[i] with the line number in the message) " +
		"and nothing is written unless the whole file is good; loading the same file twice changes nothing. " +
		"The body is limited by the server's --body-limit."
	exportDoc = "Writes the entries in the format the import reads back."
)

func (s *Server) registerDirectories() {
	tags := []string{"Directories"}
	base := "/api/v1/directories"
	read := Permission{Object: "directory", Action: "read"}
	publish := Permission{Object: "directory", Action: "update"}

	list := func(ctx context.Context, in *Pagination) (*directoryList, error) {
		p, err := page.ParseKey(in.Limit, in.Cursor, 1)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		ds, next, err := s.deps.Directories.List(ctx, p)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &directoryList{}
		out.Body.Items = make([]directoryJSON, len(ds))
		for i, d := range ds {
			out.Body.Items[i] = directoryOut(d)
		}
		out.Body.NextCursor = next
		return out, nil
	}
	register(s, read, huma.Operation{
		OperationID: "listDirectories", Method: http.MethodGet, Path: base,
		Summary: "List the platform's directories", Tags: tags,
	}, func(ctx context.Context, in *struct{ Pagination }) (*directoryList, error) {
		return list(ctx, &in.Pagination)
	})
	register(s, read, huma.Operation{
		OperationID: "getDirectory", Method: http.MethodGet, Path: base + "/{code}",
		Summary: "Read a directory's description", Tags: tags, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *DirectoryPath) (*directoryResponse, error) {
		d, err := s.deps.Directories.Get(ctx, in.Code)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &directoryResponse{Body: directoryOut(d)}, nil
	})
	register(s, read, huma.Operation{
		OperationID: "listDirectoryEntries", Method: http.MethodGet, Path: base + "/{code}/entries",
		Summary: "List a directory's entries as of a date", Tags: tags, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		DirectoryPath
		EntryQuery
	}) (*entryList, error) {
		return s.listEntries(ctx, in.Code, &in.EntryQuery, s.deps.Directories.Entries)
	})
	register(s, publish, huma.Operation{
		OperationID: "createDirectoryEntry", Method: http.MethodPost, Path: base + "/{code}/entries",
		Summary: "Publish an entry version", Tags: tags,
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *EntryCreate) (*entryResponse, error) {
		return s.createEntry(ctx, in, base+"/"+in.Code+"/entries/", s.deps.Directories.Create)
	})
	register(s, read, huma.Operation{
		OperationID: "getDirectoryEntry", Method: http.MethodGet, Path: base + "/{code}/entries/{id}",
		Summary: "Read an entry version", Tags: tags, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *EntryPath) (*entryResponse, error) {
		id, err := entryID(in.ID)
		if err != nil {
			return nil, err
		}
		e, err := s.deps.Directories.Entry(ctx, in.Code, id)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &entryResponse{ETag: etag(e.Version), Body: entryOut(e)}, nil
	})
	register(s, publish, huma.Operation{
		OperationID: "updateDirectoryEntry", Method: http.MethodPatch, Path: base + "/{code}/entries/{id}",
		Summary: "Change an entry version", Description: "Needs If-Match with the current ETag. Replacing a sample value is a change of its attributes.", Tags: tags,
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired},
	}, func(ctx context.Context, in *EntryPatch) (*entryResponse, error) {
		return s.updateEntry(ctx, in, s.deps.Directories.Update)
	})
	register(s, publish, huma.Operation{
		OperationID: "importDirectory", Method: http.MethodPost, Path: base + "/{code}/import", DefaultStatus: http.StatusOK,
		Summary: "Load a directory from a CSV or JSON file", Description: importDoc, Tags: tags,
		RequestBody: s.importBody(), SkipValidateBody: true, // the importer reads and checks the file itself
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType},
	}, func(ctx context.Context, in *struct {
		DirectoryPath
		ImportInput
	}) (*importResponse, error) {
		return s.importDirectory(ctx, in.Code, &in.ImportInput, s.deps.Directories.Import)
	})
	register(s, read, huma.Operation{
		OperationID: "exportDirectory", Method: http.MethodGet, Path: base + "/{code}/export",
		Summary: "Write a directory as CSV or JSON", Description: exportDoc, Tags: tags, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		DirectoryPath
		ExportQuery
	}) (*exportResponse, error) {
		return s.exportDirectory(ctx, in.Code, &in.ExportQuery, s.deps.Directories.Export)
	})
	register(s, publish, huma.Operation{
		OperationID: "importKMSZ", Method: http.MethodPost, Path: "/api/v1/kmsz/versions", DefaultStatus: http.StatusOK,
		Summary: "Load a version of the KMSZ classifier from EGISSO",
		Description: "Takes an EGISSO message as application/xml: a 10.01.O request (1.0.3 or 1.0.2: the version and its changes) " +
			"or a 10.02.I response for classifier 010 (1.0.3 or 1.0.2). The file is checked against the message's schema and for " +
			"consistency, every problem named by line and column. The version loads into the directories kmsz, kmsz_measures, " +
			"kmsz_parts, kmsz_categories, kmsz_npa_levels, funding_sources and provision_forms as of its start date. Versions load " +
			"in order; the same version again changes nothing.",
		Tags:   tags,
		Errors: []int{http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType},
	}, func(ctx context.Context, in *struct {
		ContentType string `header:"Content-Type" doc:"application/xml or text/xml."`
		RawBody     []byte `contentType:"application/xml"`
	}) (*kmszResponse, error) {
		if mt, err := mediaType(in.ContentType); err != nil || (mt != "application/xml" && mt != "text/xml") {
			return nil, huma.Error415UnsupportedMediaType("send the EGISSO message as application/xml")
		}
		res, err := s.deps.Directories.ImportKMSZ(ctx, bytes.NewReader(in.RawBody))
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &kmszResponse{}
		out.Body.Message, out.Body.Version, out.Body.Status, out.Body.Start = res.Message, res.Version, res.Status, res.Start.String()
		out.Body.Directories, out.Body.Modifications = res.Directories, res.Modifications
		return out, nil
	})

	// What a region sees, and its own entries.
	tbase := "/api/v1/tenants/{tenant}/directories"
	own := Permission{Object: "directory_overlay", Action: "update"}
	register(s, read, huma.Operation{
		OperationID: "listRegionDirectories", Method: http.MethodGet, Path: tbase,
		Summary: "List the directories, as a region", Tags: tags, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		TenantPath
		Pagination
	}) (*directoryList, error) {
		return list(ctx, &in.Pagination)
	})
	register(s, read, huma.Operation{
		OperationID: "listRegionDirectoryEntries", Method: http.MethodGet, Path: tbase + "/{code}/entries",
		Summary: "List a directory's entries as the region sees them", Tags: tags,
		Description: "The platform's entries merged with the region's own (origin tells which); a region's entry whose code the platform also has is hidden.",
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		TenantPath
		DirectoryPath
		EntryQuery
	}) (*entryList, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		return s.listEntries(ctx, in.Code, &in.EntryQuery, s.deps.Directories.RegionEntries)
	})
	register(s, own, huma.Operation{
		OperationID: "createRegionDirectoryEntry", Method: http.MethodPost, Path: tbase + "/{code}/entries",
		Summary: "Add a region's own entry version", Description: "Only to a directory marked extensible, with a code the platform's directory does not use.", Tags: tags,
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		TenantPath
		EntryCreate
	}) (*entryResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		return s.createEntry(ctx, &in.EntryCreate, "/api/v1/tenants/"+in.Tenant+"/directories/"+in.Code+"/entries/", s.deps.Directories.RegionCreate)
	})
	register(s, read, huma.Operation{
		OperationID: "getRegionDirectoryEntry", Method: http.MethodGet, Path: tbase + "/{code}/entries/{id}",
		Summary: "Read an entry version the region sees", Tags: tags, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		TenantPath
		EntryPath
	}) (*entryResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		id, err := entryID(in.ID)
		if err != nil {
			return nil, err
		}
		e, err := s.deps.Directories.RegionEntry(ctx, in.Code, id)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &entryResponse{ETag: etag(e.Version), Body: entryOut(e)}, nil
	})
	register(s, own, huma.Operation{
		OperationID: "updateRegionDirectoryEntry", Method: http.MethodPatch, Path: tbase + "/{code}/entries/{id}",
		Summary: "Change a region's own entry version", Description: "Needs If-Match with the current ETag. The platform's entries are the federal operator's to change (409).", Tags: tags,
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired},
	}, func(ctx context.Context, in *struct {
		TenantPath
		EntryPatch
	}) (*entryResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		return s.updateEntry(ctx, &in.EntryPatch, s.deps.Directories.RegionUpdate)
	})
	register(s, own, huma.Operation{
		OperationID: "importRegionDirectory", Method: http.MethodPost, Path: tbase + "/{code}/import", DefaultStatus: http.StatusOK,
		Summary: "Load a region's own entries from a CSV or JSON file", Description: importDoc, Tags: tags,
		RequestBody: s.importBody(), SkipValidateBody: true, // the importer reads and checks the file itself
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType},
	}, func(ctx context.Context, in *struct {
		TenantPath
		DirectoryPath
		ImportInput
	}) (*importResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		return s.importDirectory(ctx, in.Code, &in.ImportInput, s.deps.Directories.RegionImport)
	})
	register(s, read, huma.Operation{
		OperationID: "exportRegionDirectory", Method: http.MethodGet, Path: tbase + "/{code}/export",
		Summary: "Write a region's own entries as CSV or JSON", Description: exportDoc + " Only the region's own entries: what its import takes back.", Tags: tags,
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		TenantPath
		DirectoryPath
		ExportQuery
	}) (*exportResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		return s.exportDirectory(ctx, in.Code, &in.ExportQuery, s.deps.Directories.RegionExport)
	})
}

// importBody documents an import's two media types.
func (s *Server) importBody() *huma.RequestBody {
	schema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[importFile](), true, "DirectoryFile")
	return &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/json": {Schema: schema},
	}}
}

func entryID(raw string) (uuid.UUID, error) {
	id, err := uuid.Parse(raw)
	if err != nil {
		return uuid.Nil, huma.Error404NotFound("entry " + raw + " not found")
	}
	return id, nil
}

func (s *Server) listEntries(ctx context.Context, code string, in *EntryQuery,
	fetch func(context.Context, string, directory.Query) ([]directory.Entry, string, error)) (*entryList, error) {
	p, err := page.ParseKey(in.Limit, in.Cursor, 2)
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	q := directory.Query{Code: in.Entry, Page: p}
	switch {
	case in.AllVersions && in.AsOf != "":
		return nil, huma.Error422UnprocessableEntity("validation failed",
			&huma.ErrorDetail{Location: "query.all_versions", Message: "lists every version: leave as_of out", Value: true})
	case in.AsOf != "":
		if q.AsOf, err = civil.Parse(in.AsOf); err != nil {
			return nil, huma.Error422UnprocessableEntity("validation failed",
				&huma.ErrorDetail{Location: "query.as_of", Message: err.Error(), Value: in.AsOf})
		}
	case !in.AllVersions:
		q.AsOf = s.deps.Directories.Today()
	}
	es, next, err := fetch(ctx, code, q)
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	out := &entryList{}
	out.Body.AsOf = q.AsOf.String()
	out.Body.Items = make([]entryJSON, len(es))
	for i, e := range es {
		out.Body.Items[i] = entryOut(e)
	}
	out.Body.NextCursor = next
	return out, nil
}

func (s *Server) createEntry(ctx context.Context, in *EntryCreate, location string,
	create func(context.Context, string, directory.Fields) (directory.Entry, error)) (*entryResponse, error) {
	b := in.Body
	f := directory.Fields{Code: b.Code, Name: b.Name, Attributes: b.Attributes}
	var err error
	if f.EffectiveFrom, err = civil.Parse(b.EffectiveFrom); err != nil {
		return nil, dateProblem("body.effective_from", b.EffectiveFrom)
	}
	if b.EffectiveTo != "" {
		to, err := civil.Parse(b.EffectiveTo)
		if err != nil {
			return nil, dateProblem("body.effective_to", b.EffectiveTo)
		}
		f.EffectiveTo = &to
	}
	e, err := create(ctx, in.Code, f)
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	return &entryResponse{ETag: etag(e.Version), Location: location + e.ID.String(), Body: entryOut(e)}, nil
}

func (s *Server) updateEntry(ctx context.Context, in *EntryPatch,
	update func(context.Context, string, uuid.UUID, int64, directory.Change) (directory.Entry, error)) (*entryResponse, error) {
	id, err := entryID(in.ID)
	if err != nil {
		return nil, err
	}
	v, err := ifMatch(in.IfMatch)
	if err != nil {
		return nil, err
	}
	c := directory.Change{Name: in.Body.Name, Attributes: in.Body.Attributes}
	if in.Body.Attributes != nil && len(in.Body.Attributes) == 0 {
		c.Attributes = directory.Attrs{}
	}
	if to := in.Body.EffectiveTo; to != nil {
		c.SetEffectiveTo = true
		if *to != "" {
			d, err := civil.Parse(*to)
			if err != nil {
				return nil, dateProblem("body.effective_to", *to)
			}
			c.EffectiveTo = &d
		}
	}
	e, err := update(ctx, in.Code, id, v, c)
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	return &entryResponse{ETag: etag(e.Version), Body: entryOut(e)}, nil
}

func dateProblem(loc, v string) error {
	return huma.Error422UnprocessableEntity("validation failed",
		&huma.ErrorDetail{Location: loc, Message: "must be a date YYYY-MM-DD", Value: v})
}

func mediaType(header string) (string, error) {
	mt, params, err := mime.ParseMediaType(header)
	if err != nil {
		return "", err
	}
	if cs, ok := params["charset"]; ok && cs != "utf-8" && cs != "UTF-8" {
		return "", huma.Error415UnsupportedMediaType("only UTF-8 is read")
	}
	return mt, nil
}

func (s *Server) importDirectory(ctx context.Context, code string, in *ImportInput,
	load func(context.Context, string, directory.Format, io.Reader) (directory.Result, error)) (*importResponse, error) {
	var f directory.Format
	switch mt, _ := mediaType(in.ContentType); mt {
	case "text/csv":
		f = directory.CSV
	case "application/json":
		f = directory.JSON
	default:
		return nil, huma.Error415UnsupportedMediaType("send the file as text/csv or application/json (UTF-8)")
	}
	res, err := load(ctx, code, f, bytes.NewReader(in.RawBody))
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	return &importResponse{Body: res}, nil
}

func (s *Server) exportDirectory(ctx context.Context, code string, in *ExportQuery,
	write func(context.Context, string, directory.Format, civil.Date, io.Writer) error) (*exportResponse, error) {
	var asOf civil.Date
	if in.AsOf != "" {
		var err error
		if asOf, err = civil.Parse(in.AsOf); err != nil {
			return nil, dateProblem("query.as_of", in.AsOf)
		}
	}
	f, ct := directory.CSV, "text/csv; charset=utf-8"
	if in.Format == "json" {
		f, ct = directory.JSON, "application/json"
	}
	var buf bytes.Buffer
	if err := write(ctx, code, f, asOf, &buf); err != nil {
		return nil, s.problem(ctx, err)
	}
	return &exportResponse{ContentType: ct, ContentDisposition: `attachment; filename="` + code + "." + string(f) + `"`, Body: buf.Bytes()}, nil
}
