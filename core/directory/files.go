package directory

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Format is a directory file's format.
type Format string

const (
	CSV  Format = "csv"
	JSON Format = "json"
)

// MaxProblems bounds how many problems of one file are reported.
const MaxProblems = 100

// Import loads a file of platform entry versions: a line whose code and
// start match a version replaces that version's content, any other line is
// a new version. Every bad line is reported (as a *fault.Invalid naming the
// line); nothing is written unless the whole file is good. Loading the same
// file twice changes nothing.
func (s *Service) Import(ctx context.Context, dir string, format Format, r io.Reader) (Result, error) {
	return s.importFile(ctx, side{}, dir, format, r)
}

// RegionImport loads a file of the context's region's own entry versions of
// an extensible directory.
func (s *Service) RegionImport(ctx context.Context, dir string, format Format, r io.Reader) (Result, error) {
	return s.importFile(ctx, side{overlay: true}, dir, format, r)
}

func (s *Service) importFile(ctx context.Context, sd side, dir string, format Format, r io.Reader) (Result, error) {
	d, err := s.Get(ctx, dir)
	if err != nil {
		return Result{}, err
	}
	if sd.overlay && !d.Extensible {
		return Result{}, fault.Conflictf("directory %s is not extensible: a region cannot add entries to it", dir)
	}
	var (
		rows []row
		ps   []lineProblem
	)
	switch format {
	case CSV:
		rows, ps = DecodeCSV(d, r)
	case JSON:
		rows, ps = DecodeJSON(d, r)
	default:
		return Result{}, fmt.Errorf("directory: unknown format %q", format)
	}
	var res Result
	err = s.write(ctx, sd, func(tx *gorm.DB) error {
		w, err := s.prepare(tx, sd, dir)
		if err != nil {
			return err
		}
		_, more := w.plan(rows, false)
		ps = append(ps, more...)
		if len(ps) > 0 {
			return fileError(ps)
		}
		res = w.result
		return w.execute(tx)
	})
	return res, err
}

// fileError reports a file's problems, by line, at most MaxProblems.
func fileError(ps []lineProblem) error {
	slices.SortStableFunc(ps, func(a, b lineProblem) int { return a.line - b.line })
	inv := &fault.Invalid{}
	for i, p := range ps {
		if i == MaxProblems {
			inv.Add("", fmt.Sprintf("%d more problems not shown", len(ps)-MaxProblems), nil)
			break
		}
		inv.Add(p.field, p.msg, p.value)
	}
	return inv
}

// Export writes a directory's platform entries — those in force on asOf, or
// every version when asOf is zero — in the format Import reads back.
func (s *Service) Export(ctx context.Context, dir string, format Format, asOf civil.Date, w io.Writer) error {
	var (
		d  Directory
		es []Entry
	)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if d, err = getDir(tx, dir); err != nil {
			return err
		}
		es, err = queryEntries(tx, side{}, dir, Query{AsOf: asOf})
		return err
	})
	if err != nil {
		return err
	}
	return encode(d, es, format, w)
}

// RegionExport writes the context's region's own entries of a directory.
func (s *Service) RegionExport(ctx context.Context, dir string, format Format, asOf civil.Date, w io.Writer) error {
	var (
		d  Directory
		es []Entry
	)
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		if d, err = getDir(tx, dir); err != nil {
			return err
		}
		es, err = queryEntries(tx, side{overlay: true}, dir, Query{AsOf: asOf})
		return err
	})
	if err != nil {
		return err
	}
	return encode(d, es, format, w)
}

func encode(d Directory, es []Entry, format Format, w io.Writer) error {
	switch format {
	case CSV:
		return EncodeCSV(d, es, w)
	case JSON:
		return EncodeJSON(d, es, w)
	}
	return fmt.Errorf("directory: unknown format %q", format)
}

// ---------------------------------------------------------------- CSV

var baseColumns = []string{"code", "name", "effective_from", "effective_to"}

// EncodeCSV writes entries as CSV: code, name, effective_from, effective_to,
// then one column per attribute of the directory (its own, then sample and
// note). Integers and booleans are written as JSON writes them, json
// attributes as compact JSON.
func EncodeCSV(d Directory, es []Entry, w io.Writer) error {
	cw := csv.NewWriter(w)
	specs := d.Specs()
	head := slices.Clone(baseColumns)
	for _, s := range specs {
		head = append(head, s.Name)
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	rec := make([]string, len(head))
	for _, e := range es {
		rec[0], rec[1], rec[2], rec[3] = e.Code, e.Name, e.EffectiveFrom.String(), ""
		if e.EffectiveTo != nil {
			rec[3] = e.EffectiveTo.String()
		}
		for i, s := range specs {
			rec[4+i] = csvValue(s, e.Attributes[s.Name])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvValue(s AttrSpec, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if s.Type == AttrJSON {
			b, _ := json.Marshal(x)
			return string(b)
		}
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// DecodeCSV reads a CSV file of entry versions of d: a header naming the
// columns (code, name and effective_from required; effective_to and the
// directory's attributes optional, in any order), then one version a line.
// Commas or, as spreadsheets in Russian locales write, semicolons separate
// fields; a UTF-8 byte order mark is skipped. An empty cell is an absent
// value. Problems name the line.
func DecodeCSV(d Directory, r io.Reader) ([]row, []lineProblem) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xEF\xBB\xBF")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.Comma = sniffComma(br)
	cr.FieldsPerRecord = -1
	var (
		rows []row
		ps   []lineProblem
	)
	prob := func(line int, field, msg string, v any) {
		path := fmt.Sprintf("line[%d]", line)
		if field != "" {
			path += "." + field
		}
		ps = append(ps, lineProblem{line: line, field: path, msg: fmt.Sprintf("line %d: %s", line, msg), value: v})
	}
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		prob(1, "", "the file is empty: it needs a header line (code,name,effective_from,…)", nil)
		return nil, ps
	}
	if err != nil {
		prob(csvLine(err, 1), "", csvMessage(err), nil)
		return nil, ps
	}
	specs := d.Specs()
	known := map[string]AttrSpec{}
	for _, s := range specs {
		known[s.Name] = s
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.TrimSpace(h)
		head[i] = h
		_, isAttr := known[h]
		switch {
		case h == "":
			prob(1, "", fmt.Sprintf("column %d has no name", i+1), nil)
		case !slices.Contains(baseColumns, h) && !isAttr:
			prob(1, h, fmt.Sprintf("%q is not a column of directory %s (columns: %s, %s)", h, d.Code, strings.Join(baseColumns, ", "), d.attrNames()), h)
		case col[h] > 0:
			prob(1, h, fmt.Sprintf("column %q appears twice", h), h)
		default:
			col[h] = i + 1
		}
	}
	for _, req := range []string{"code", "name", "effective_from"} {
		if col[req] == 0 {
			prob(1, req, fmt.Sprintf("the header has no %q column", req), nil)
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				prob(csvLine(err, 1), "", err.Error(), nil)
				break
			}
			prob(csvLine(err, 1), "", csvMessage(err), nil)
			if len(ps) > MaxProblems {
				break
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(head) {
			prob(line, "", fmt.Sprintf("has %d fields, the header %d", len(rec), len(head)), nil)
			continue
		}
		cell := func(name string) string {
			if i := col[name]; i > 0 {
				return rec[i-1]
			}
			return ""
		}
		f := Fields{Code: cell("code"), Name: cell("name"), Attributes: Attrs{}}
		bad := false
		if v := strings.TrimSpace(cell("effective_from")); v != "" {
			if f.EffectiveFrom, err = civil.Parse(v); err != nil {
				prob(line, "effective_from", "must be a date YYYY-MM-DD", v)
				bad = true
			}
		}
		if v := strings.TrimSpace(cell("effective_to")); v != "" {
			to, err := civil.Parse(v)
			if err != nil {
				prob(line, "effective_to", "must be a date YYYY-MM-DD or empty", v)
				bad = true
			}
			f.EffectiveTo = &to
		}
		for _, s := range specs {
			raw := cell(s.Name)
			if col[s.Name] == 0 || raw == "" {
				continue
			}
			v, err := parseCell(s, raw)
			if err != nil {
				prob(line, "attributes."+s.Name, err.Error(), raw)
				bad = true
				continue
			}
			f.Attributes[s.Name] = v
		}
		if !bad {
			rows = append(rows, row{line: line, path: fmt.Sprintf("line[%d]", line), fields: f})
		}
		if len(ps) > MaxProblems {
			break
		}
	}
	return rows, ps
}

func parseCell(s AttrSpec, raw string) (any, error) {
	switch s.Type {
	case AttrInteger:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return nil, errNotInteger
		}
		return json.Number(strconv.FormatInt(n, 10)), nil
	case AttrBoolean:
		switch strings.TrimSpace(raw) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, errors.New("must be true or false")
	case AttrJSON:
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil || dec.More() {
			return nil, errors.New("must be a JSON value")
		}
		return v, nil
	}
	return raw, nil
}

// sniffComma picks ';' when the header line has semicolons and no commas.
func sniffComma(br *bufio.Reader) rune {
	b, _ := br.Peek(br.Size())
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if bytes.IndexByte(b, ';') >= 0 && bytes.IndexByte(b, ',') < 0 {
		return ';'
	}
	return ','
}

// csvLine is the line a CSV syntax error's record starts on.
func csvLine(err error, fallback int) int {
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe) && pe.StartLine > 0:
		return pe.StartLine
	case errors.As(err, &pe) && pe.Line > 0:
		return pe.Line
	}
	return fallback
}

func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("broken CSV (line %d, column %d): %v", pe.Line, pe.Column, pe.Err)
	}
	return err.Error()
}

// ---------------------------------------------------------------- JSON

// FileJSON is a directory file in JSON.
type FileJSON struct {
	Directory string      `json:"directory"`
	Entries   []EntryJSON `json:"entries"`
}

// EntryJSON is one entry version in a file.
type EntryJSON struct {
	Code          string         `json:"code"`
	Name          string         `json:"name"`
	Attributes    map[string]any `json:"attributes,omitempty"`
	EffectiveFrom string         `json:"effective_from"`
	EffectiveTo   *string        `json:"effective_to"`
}

// EncodeJSON writes entries as {"directory": code, "entries": […]}, one
// entry a line, so that a reader's line numbers point at entries.
func EncodeJSON(d Directory, es []Entry, w io.Writer) error {
	bw := bufio.NewWriter(w)
	head, _ := json.Marshal(d.Code)
	fmt.Fprintf(bw, "{\"directory\": %s, \"entries\": [", head)
	for i, e := range es {
		ej := EntryJSON{Code: e.Code, Name: e.Name, Attributes: e.Attributes, EffectiveFrom: e.EffectiveFrom.String()}
		if len(ej.Attributes) == 0 {
			ej.Attributes = nil
		}
		if e.EffectiveTo != nil {
			s := e.EffectiveTo.String()
			ej.EffectiveTo = &s
		}
		b, err := json.Marshal(ej)
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n  ")
		bw.Write(b)
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

// DecodeJSON reads a JSON directory file ({"directory": code, "entries":
// […]}), streaming the entries. directory, when given, must name d. Unknown
// fields are problems, named by their path in the body.
func DecodeJSON(d Directory, r io.Reader) ([]row, []lineProblem) {
	lc := &lineCounter{r: r}
	dec := json.NewDecoder(lc)
	dec.UseNumber()
	var (
		rows []row
		ps   []lineProblem
	)
	prob := func(line int, path, msg string, v any) {
		ps = append(ps, lineProblem{line: line, field: path, msg: fmt.Sprintf("line %d: %s", line, msg), value: v})
	}
	syntax := func(err error) {
		off := dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		msg := "broken JSON: " + strings.TrimPrefix(err.Error(), "json: ")
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			msg, off = "the JSON ends early", lc.off
		}
		line := lc.lineAt(off)
		prob(line, fmt.Sprintf("line[%d]", line), msg, nil)
	}
	if err := expectDelim(dec, '{'); err != nil {
		syntax(err)
		return nil, ps
	}
	sawEntries := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			syntax(err)
			return nil, ps
		}
		key, _ := tok.(string)
		line := lc.lineAt(dec.InputOffset())
		switch key {
		case "directory":
			var code string
			if err := dec.Decode(&code); err != nil {
				prob(line, "directory", "must be the directory's code as a string", nil)
				if isSyntax(err) {
					syntax(err)
					return nil, ps
				}
				continue
			}
			if code != d.Code {
				prob(line, "directory", fmt.Sprintf("the file is of directory %q, not %s", code, d.Code), code)
			}
		case "entries":
			sawEntries = true
			if err := expectDelim(dec, '['); err != nil {
				syntax(err)
				return nil, ps
			}
			for i := 0; dec.More(); i++ {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					syntax(err)
					return nil, ps
				}
				start := lc.lineAt(dec.InputOffset() - int64(len(raw)))
				path := fmt.Sprintf("entries[%d]", i)
				f, eps := decodeEntry(raw)
				for _, p := range eps {
					prob(start, path+"."+p.field, p.msg, p.value)
				}
				if len(eps) == 0 {
					rows = append(rows, row{line: start, path: path, fields: f})
				}
				if len(ps) > MaxProblems {
					return rows, ps
				}
			}
			if err := expectDelim(dec, ']'); err != nil {
				syntax(err)
				return nil, ps
			}
		default:
			prob(line, key, fmt.Sprintf("%q is not a field of a directory file (directory, entries)", key), nil)
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				syntax(err)
				return nil, ps
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		syntax(err)
		return nil, ps
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		prob(lc.lineAt(dec.InputOffset()), "", "there is more after the JSON object", nil)
	}
	if !sawEntries {
		prob(1, "entries", "is required: the list of entry versions", nil)
	}
	return rows, ps
}

func isSyntax(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", string(want), tok)
	}
	return nil
}

var unknownField = regexp.MustCompile(`unknown field "([^"]*)"`)

// decodeEntry reads one entry strictly: unknown fields and wrong types are
// problems named by the field.
func decodeEntry(raw []byte) (Fields, []problem) {
	var e struct {
		Code          *string        `json:"code"`
		Name          *string        `json:"name"`
		Attributes    map[string]any `json:"attributes"`
		EffectiveFrom *string        `json:"effective_from"`
		EffectiveTo   *string        `json:"effective_to"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return Fields{}, []problem{{field: te.Field, msg: "must be a " + jsonKind(te.Type.Kind().String()), value: nil}}
		case errors.As(err, &te):
			return Fields{}, []problem{{field: "", msg: "an entry must be a JSON object"}}
		}
		if m := unknownField.FindStringSubmatch(err.Error()); m != nil {
			return Fields{}, []problem{{field: m[1], msg: fmt.Sprintf("%q is not a field of an entry (code, name, attributes, effective_from, effective_to)", m[1])}}
		}
		return Fields{}, []problem{{field: "", msg: err.Error()}}
	}
	var ps []problem
	var f Fields
	if e.Code == nil {
		ps = append(ps, problem{"code", "is required", nil})
	} else {
		f.Code = *e.Code
	}
	if e.Name == nil {
		ps = append(ps, problem{"name", "is required", nil})
	} else {
		f.Name = *e.Name
	}
	f.Attributes = e.Attributes
	if e.EffectiveFrom == nil {
		ps = append(ps, problem{"effective_from", "is required: the first day the entry is in force", nil})
	} else if d, err := civil.Parse(*e.EffectiveFrom); err != nil {
		ps = append(ps, problem{"effective_from", "must be a date YYYY-MM-DD", *e.EffectiveFrom})
	} else {
		f.EffectiveFrom = d
	}
	if e.EffectiveTo != nil && *e.EffectiveTo != "" {
		d, err := civil.Parse(*e.EffectiveTo)
		if err != nil {
			ps = append(ps, problem{"effective_to", "must be a date YYYY-MM-DD or null", *e.EffectiveTo})
		}
		f.EffectiveTo = &d
	}
	return f, ps
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "map":
		return "JSON object"
	case "ptr":
		return "string"
	}
	return k
}

// lineCounter remembers where the lines of what it reads begin.
type lineCounter struct {
	r   io.Reader
	off int64
	nl  []int64 // offsets of newlines
}

func (l *lineCounter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i, b := range p[:n] {
		if b == '\n' {
			l.nl = append(l.nl, l.off+int64(i))
		}
	}
	l.off += int64(n)
	return n, err
}

// lineAt is the 1-based line of a byte offset.
func (l *lineCounter) lineAt(off int64) int {
	return 1 + sort.Search(len(l.nl), func(i int) bool { return l.nl[i] >= off })
}
