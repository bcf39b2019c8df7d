package registry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/ident"
)

// Record types of an import line.
const (
	TypePerson     = "person"
	TypeRelation   = "relation"
	TypeIncome     = "income"
	TypeDisability = "disability"
	TypeCategory   = "category"
)

// Formats of an import file.
const (
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
)

// LineError is what is wrong with one line of a file: the field (its JSON
// name, or its CSV column) and why. A line may have several.
type LineError struct {
	Line     int64  `json:"line"`
	Location string `json:"location"`
	Message  string `json:"message"`
}

func (e LineError) Error() string {
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Location, e.Message)
}

// maxLine bounds a line of an import file; a longer one is refused (and
// skipped) rather than read into memory.
const maxLine = 64 << 10

// wire is one import line as NDJSON carries it (CSV columns map onto the
// same fields). Pointers tell an absent field from an empty one.
type wire struct {
	Type          string    `json:"type"`
	SNILS         *string   `json:"snils"`
	RelativeSNILS *string   `json:"relative_snils"`
	FamilyName    *string   `json:"family_name"`
	FirstName     *string   `json:"first_name"`
	Patronymic    *string   `json:"patronymic"`
	BirthDate     *string   `json:"birth_date"`
	Sex           *string   `json:"sex"`
	Citizenship   *string   `json:"citizenship"`
	DeathDate     *string   `json:"death_date"`
	Address       *Address  `json:"address"`
	Document      *wireDoc  `json:"document"`
	Contacts      *Contacts `json:"contacts"`
	Bank          *Bank     `json:"bank"`
	Kind          *string   `json:"kind"`
	ValidFrom     *string   `json:"valid_from"`
	ValidTo       *string   `json:"valid_to"`
	Month         *string   `json:"month"`
	AmountKopecks *int64    `json:"amount_kopecks"`
	Source        *string   `json:"source"`
	Group         *int      `json:"group"`
	Code          *string   `json:"code"`
}

type wireDoc struct {
	Type     string  `json:"type"`
	Series   string  `json:"series"`
	Number   string  `json:"number"`
	IssuedOn *string `json:"issued_on"`
	Issuer   string  `json:"issuer"`
}

// item is a parsed, checked line: what the writer stores.
type item struct {
	line     int64
	typ      string
	snils    string // the person's (or the fact's person's) SNILS, eleven digits
	relative string // a relation's relative's SNILS
	person   Person
	fields   PersonFields // what a person line sets (absent fields keep their value)
	rel      Relation
	inc      Income
	dis      Disability
	cat      Category
}

// allowed are the fields each record type may carry besides type.
var allowed = map[string]map[string]bool{
	TypePerson: set("snils", "family_name", "first_name", "patronymic", "birth_date", "sex", "citizenship",
		"death_date", "address", "document", "contacts", "bank"),
	TypeRelation:   set("snils", "relative_snils", "kind", "valid_from", "valid_to"),
	TypeIncome:     set("snils", "month", "kind", "amount_kopecks", "source"),
	TypeDisability: set("snils", "group", "valid_from", "valid_to"),
	TypeCategory:   set("snils", "code", "valid_from", "valid_to"),
}

func set(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// present lists the fields a wire line carries.
func (w *wire) present() []string {
	var out []string
	add := func(name string, set bool) {
		if set {
			out = append(out, name)
		}
	}
	add("snils", w.SNILS != nil)
	add("relative_snils", w.RelativeSNILS != nil)
	add("family_name", w.FamilyName != nil)
	add("first_name", w.FirstName != nil)
	add("patronymic", w.Patronymic != nil)
	add("birth_date", w.BirthDate != nil)
	add("sex", w.Sex != nil)
	add("citizenship", w.Citizenship != nil)
	add("death_date", w.DeathDate != nil)
	add("address", w.Address != nil)
	add("document", w.Document != nil)
	add("contacts", w.Contacts != nil)
	add("bank", w.Bank != nil)
	add("kind", w.Kind != nil)
	add("valid_from", w.ValidFrom != nil)
	add("valid_to", w.ValidTo != nil)
	add("month", w.Month != nil)
	add("amount_kopecks", w.AmountKopecks != nil)
	add("source", w.Source != nil)
	add("group", w.Group != nil)
	add("code", w.Code != nil)
	return out
}

// checker turns wire lines into items against a region's codes.
type checker struct {
	codes codeSets
	today civil.Date
}

func (c *checker) date(v *fault.Invalid, field string, s *string, required bool) (civil.Date, bool) {
	if s == nil || *s == "" {
		if required {
			v.Add(field, "is required", nil)
		}
		return civil.Date{}, false
	}
	d, err := civil.Parse(*s)
	if err != nil {
		v.Add(field, "is not a date YYYY-MM-DD", nil)
		return civil.Date{}, false
	}
	return d, true
}

func (c *checker) snils(v *fault.Invalid, field string, s *string) string {
	if s == nil || *s == "" {
		v.Add(field, "is required", nil)
		return ""
	}
	n, err := ident.NormalizeSNILS(*s)
	if err != nil {
		v.Add(field, "is not a valid SNILS: "+err.Error(), nil)
	}
	return n
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(*s)
}

func (c *checker) period(v *fault.Invalid, w *wire) (civil.Date, *civil.Date) {
	from, _ := c.date(v, "valid_from", w.ValidFrom, true)
	to, ok := c.date(v, "valid_to", w.ValidTo, false)
	if !ok {
		return from, nil
	}
	return from, &to
}

// check validates a wire line of record type typ and builds its item.
func (c *checker) check(line int64, w *wire, origin Origin) (item, []LineError) {
	it := item{line: line, typ: w.Type}
	v := &fault.Invalid{}
	fields, ok := allowed[w.Type]
	if !ok {
		if w.Type == "" {
			v.Add("type", "is required: person, relation, income, disability or category", nil)
		} else {
			v.Add("type", "must be person, relation, income, disability or category", w.Type)
		}
		return it, lineErrors(line, v)
	}
	for _, f := range w.present() {
		if !fields[f] {
			v.Add(f, "is not a field of a "+w.Type+" line", nil)
		}
	}
	switch w.Type {
	case TypePerson:
		p := Person{Origin: origin, Version: 1}
		f := PersonFields{SNILS: w.SNILS, FamilyName: w.FamilyName, FirstName: w.FirstName, Patronymic: w.Patronymic,
			Sex: w.Sex, Citizenship: w.Citizenship, Address: w.Address, Contacts: w.Contacts, Bank: w.Bank}
		if w.SNILS == nil {
			v.Add("snils", "is required", nil)
		}
		if d, ok := c.date(v, "birth_date", w.BirthDate, true); ok {
			f.BirthDate = &d
		}
		if d, ok := c.date(v, "death_date", w.DeathDate, false); ok {
			f.DeathDate = &d
		}
		if w.Document != nil {
			doc := Document{Type: w.Document.Type, Series: w.Document.Series, Number: w.Document.Number, Issuer: w.Document.Issuer}
			if d, ok := c.date(v, "document.issued_on", w.Document.IssuedOn, false); ok {
				doc.IssuedOn = &d
			}
			f.Document = &doc
		}
		f.apply(&p, v)
		if v.Has("birth_date") {
			p.BirthDate = c.today // keep validate from repeating the error
		}
		validate(v, &p, c.today, c.codes.documents)
		it.person, it.snils, it.fields = p, p.SNILS, f
	case TypeRelation:
		it.snils = c.snils(v, "snils", w.SNILS)
		it.relative = c.snils(v, "relative_snils", w.RelativeSNILS)
		if it.snils != "" && it.snils == it.relative {
			v.Add("relative_snils", "is the person itself", nil)
		}
		it.rel = Relation{Kind: str(w.Kind), Origin: origin}
		if w.Kind == nil {
			v.Add("kind", "is required", nil)
		}
		it.rel.ValidFrom, it.rel.ValidTo = c.period(v, w)
		sub := &fault.Invalid{}
		c.codes.checkRelation(sub, &it.rel)
		adopt(v, sub)
	case TypeIncome:
		it.snils = c.snils(v, "snils", w.SNILS)
		it.inc = Income{Month: str(w.Month), Kind: str(w.Kind), Source: str(w.Source), Origin: origin}
		if w.AmountKopecks == nil {
			v.Add("amount_kopecks", "is required", nil)
		} else {
			it.inc.AmountKopecks = *w.AmountKopecks
		}
		if w.Kind == nil {
			v.Add("kind", "is required", nil)
		}
		if w.Month == nil {
			v.Add("month", "is required", nil)
		}
		sub := &fault.Invalid{}
		c.codes.checkIncome(sub, &it.inc, c.today)
		adopt(v, sub)
	case TypeDisability:
		it.snils = c.snils(v, "snils", w.SNILS)
		it.dis = Disability{Origin: origin, Group: -1}
		if w.Group == nil {
			v.Add("group", "is required", nil)
		} else {
			it.dis.Group = *w.Group
		}
		it.dis.ValidFrom, it.dis.ValidTo = c.period(v, w)
		sub := &fault.Invalid{}
		c.codes.checkDisability(sub, &it.dis)
		adopt(v, sub)
	case TypeCategory:
		it.snils = c.snils(v, "snils", w.SNILS)
		it.cat = Category{Code: str(w.Code), Origin: origin}
		if w.Code == nil {
			v.Add("code", "is required", nil)
		}
		it.cat.ValidFrom, it.cat.ValidTo = c.period(v, w)
		sub := &fault.Invalid{}
		c.codes.checkCategory(sub, &it.cat)
		adopt(v, sub)
	}
	return it, lineErrors(line, v)
}

// adopt adds what a fact's own check found (the same check the API's
// writes run) unless reading the line already reported that field.
func adopt(v, sub *fault.Invalid) {
	for _, fe := range sub.Fields {
		if !v.Has(fe.Field) {
			v.Add(fe.Field, fe.Message, fe.Value)
		}
	}
}

func lineErrors(line int64, v *fault.Invalid) []LineError {
	if len(v.Fields) == 0 {
		return nil
	}
	out := make([]LineError, len(v.Fields))
	for i, f := range v.Fields {
		msg := f.Message
		// Values are echoed only when they cannot be personal data (codes).
		if s, ok := f.Value.(string); ok && echoable(s) {
			msg += fmt.Sprintf(" (%q)", s)
		}
		out[i] = LineError{Line: line, Location: f.Field, Message: msg}
	}
	return out
}

// lines reads a file line by line: each line without its end (LF or CRLF),
// numbered from 1, with the byte offset after it. A line over maxLine is
// returned as tooLong and skipped to its end.
type lines struct {
	r       *bufio.Reader
	no      int64
	offset  int64
	buf     []byte
	tooLong bool
}

func newLines(r io.Reader) *lines { return &lines{r: bufio.NewReaderSize(r, 256<<10)} }

// next returns the next line; io.EOF after the last.
func (l *lines) next() ([]byte, error) {
	l.buf, l.tooLong = l.buf[:0], false
	for {
		chunk, err := l.r.ReadSlice('\n')
		l.offset += int64(len(chunk))
		if !l.tooLong {
			if len(l.buf)+len(chunk) > maxLine+2 {
				l.tooLong, l.buf = true, l.buf[:0]
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(chunk) == 0 && len(l.buf) == 0 && !l.tooLong {
				return nil, io.EOF
			}
		default:
			return nil, err
		}
		l.no++
		if l.no == 1 {
			l.buf = bytes.TrimPrefix(l.buf, []byte("\xef\xbb\xbf"))
		}
		b := bytes.TrimSuffix(l.buf, []byte("\n"))
		return bytes.TrimSuffix(b, []byte("\r")), nil
	}
}

// parseNDJSON decodes one NDJSON line into w.
func parseNDJSON(b []byte, w *wire) *LineError {
	*w = wire{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(w); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return &LineError{Location: "line", Message: "holds more than one JSON value"}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &LineError{Location: "line", Message: "holds more than one JSON value"}
	}
	return nil
}

func jsonError(err error) *LineError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "line"
		}
		// Value may carry the number sent ("number 1.5"): only its kind is said.
		kind, _, _ := strings.Cut(te.Value, " ")
		return &LineError{Location: field, Message: "must be a JSON " + jsonKind(te.Type.Kind().String()) + ", not " + kind}
	case errors.As(err, &se):
		return &LineError{Location: "line", Message: "is not valid JSON (offset " + strconv.FormatInt(se.Offset, 10) + "): " + se.Error()}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &LineError{Location: "line", Message: "is not a complete JSON object (truncated?)"}
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		// A name is repeated only when it cannot be personal data (a file
		// keyed by SNILS would otherwise copy them into the errors).
		if f = strings.Trim(f, `"`); !echoable(f) {
			return &LineError{Location: "line", Message: "has a field that is not a field of an import line (its name is not repeated)"}
		}
		return &LineError{Location: f, Message: "is not a field of an import line"}
	}
	return &LineError{Location: "line", Message: "is not a JSON object: " + msg}
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64":
		return "integer"
	case "ptr":
		return "value of the right type"
	}
	return k
}

// csvColumns maps CSV column names onto wire fields (nested objects of
// NDJSON are flattened with an underscore).
var csvColumns = map[string]func(w *wire, v string) error{
	"type":               func(w *wire, v string) error { w.Type = v; return nil },
	"snils":              func(w *wire, v string) error { w.SNILS = &v; return nil },
	"relative_snils":     func(w *wire, v string) error { w.RelativeSNILS = &v; return nil },
	"family_name":        func(w *wire, v string) error { w.FamilyName = &v; return nil },
	"first_name":         func(w *wire, v string) error { w.FirstName = &v; return nil },
	"patronymic":         func(w *wire, v string) error { w.Patronymic = &v; return nil },
	"birth_date":         func(w *wire, v string) error { w.BirthDate = &v; return nil },
	"sex":                func(w *wire, v string) error { w.Sex = &v; return nil },
	"citizenship":        func(w *wire, v string) error { w.Citizenship = &v; return nil },
	"death_date":         func(w *wire, v string) error { w.DeathDate = &v; return nil },
	"address_oktmo":      func(w *wire, v string) error { addr(w).OKTMO = v; return nil },
	"address_text":       func(w *wire, v string) error { addr(w).Text = v; return nil },
	"document_type":      func(w *wire, v string) error { doc(w).Type = v; return nil },
	"document_series":    func(w *wire, v string) error { doc(w).Series = v; return nil },
	"document_number":    func(w *wire, v string) error { doc(w).Number = v; return nil },
	"document_issued_on": func(w *wire, v string) error { doc(w).IssuedOn = &v; return nil },
	"document_issuer":    func(w *wire, v string) error { doc(w).Issuer = v; return nil },
	"phone":              func(w *wire, v string) error { contacts(w).Phone = v; return nil },
	"email":              func(w *wire, v string) error { contacts(w).Email = v; return nil },
	"bank_bik":           func(w *wire, v string) error { bank(w).BIK = v; return nil },
	"bank_account":       func(w *wire, v string) error { bank(w).Account = v; return nil },
	"bank_card":          func(w *wire, v string) error { bank(w).Card = v; return nil },
	"kind":               func(w *wire, v string) error { w.Kind = &v; return nil },
	"valid_from":         func(w *wire, v string) error { w.ValidFrom = &v; return nil },
	"valid_to":           func(w *wire, v string) error { w.ValidTo = &v; return nil },
	"month":              func(w *wire, v string) error { w.Month = &v; return nil },
	"source":             func(w *wire, v string) error { w.Source = &v; return nil },
	"code":               func(w *wire, v string) error { w.Code = &v; return nil },
	"amount_kopecks": func(w *wire, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errors.New("must be a whole number of kopecks")
		}
		w.AmountKopecks = &n
		return nil
	},
	"group": func(w *wire, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("must be a whole number")
		}
		w.Group = &n
		return nil
	},
}

func addr(w *wire) *Address {
	if w.Address == nil {
		w.Address = &Address{}
	}
	return w.Address
}

func doc(w *wire) *wireDoc {
	if w.Document == nil {
		w.Document = &wireDoc{}
	}
	return w.Document
}

func contacts(w *wire) *Contacts {
	if w.Contacts == nil {
		w.Contacts = &Contacts{}
	}
	return w.Contacts
}

func bank(w *wire) *Bank {
	if w.Bank == nil {
		w.Bank = &Bank{}
	}
	return w.Bank
}

// csvHeader reads a CSV header: the known column names, each once.
func csvHeader(b []byte) ([]string, *LineError) {
	cols, err := splitCSV(b, nil)
	if err != nil {
		return nil, &LineError{Line: 1, Location: "header", Message: err.Error()}
	}
	seen := map[string]bool{}
	for i, c := range cols {
		c = strings.ToLower(strings.TrimSpace(c))
		cols[i] = c
		if _, ok := csvColumns[c]; !ok {
			// A file without its header line has a record here: its values
			// are not repeated.
			if !echoable(c) {
				return nil, &LineError{Line: 1, Location: "header", Message: fmt.Sprintf("column %d is not a field of an import line (is the header line missing?)", i+1)}
			}
			return nil, &LineError{Line: 1, Location: "header", Message: fmt.Sprintf("column %d (%q) is not a field of an import line", i+1, c)}
		}
		if seen[c] {
			return nil, &LineError{Line: 1, Location: "header", Message: fmt.Sprintf("column %q appears twice", c)}
		}
		seen[c] = true
	}
	return cols, nil
}

// parseCSV fills w from one CSV record under header; an empty field leaves
// its field absent. typ is the record type of a file without a type column.
func parseCSV(b []byte, header []string, typ string, w *wire, fields []string) ([]string, *LineError) {
	*w = wire{Type: typ}
	fields, err := splitCSV(b, fields[:0])
	if err != nil {
		return fields, &LineError{Location: "line", Message: err.Error()}
	}
	if len(fields) != len(header) {
		return fields, &LineError{Location: "line", Message: fmt.Sprintf("has %d fields, the header has %d (truncated?)", len(fields), len(header))}
	}
	for i, f := range fields {
		if f == "" {
			continue
		}
		if err := csvColumns[header[i]](w, f); err != nil {
			return fields, &LineError{Location: header[i], Message: err.Error()}
		}
	}
	return fields, nil
}

// splitCSV splits one line of RFC 4180 CSV (comma-separated, fields
// optionally in double quotes with "" for a quote). A field cannot span
// lines: a quote left open is an error of its line, so one broken line
// never swallows the rest of the file.
func splitCSV(b []byte, out []string) ([]string, error) {
	i := 0
	for {
		if i < len(b) && b[i] == '"' {
			var sb strings.Builder
			i++
			for {
				j := bytes.IndexByte(b[i:], '"')
				if j < 0 {
					return out, fmt.Errorf("field %d: a quoted field is not closed on its line", len(out)+1)
				}
				sb.Write(b[i : i+j])
				i += j + 1
				if i < len(b) && b[i] == '"' {
					sb.WriteByte('"')
					i++
					continue
				}
				break
			}
			out = append(out, sb.String())
			if i == len(b) {
				return out, nil
			}
			if b[i] != ',' {
				return out, fmt.Errorf("field %d: text after the closing quote", len(out))
			}
			i++
			continue
		}
		j := bytes.IndexByte(b[i:], ',')
		end := len(b)
		if j >= 0 {
			end = i + j
		}
		f := b[i:end]
		if bytes.IndexByte(f, '"') >= 0 {
			return out, fmt.Errorf("field %d: a quote inside an unquoted field", len(out)+1)
		}
		out = append(out, string(f))
		if j < 0 {
			return out, nil
		}
		i = end + 1
	}
}
