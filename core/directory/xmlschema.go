package directory

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/socialtreasury/treasury/core/civil"
)

// XMLError is one problem of an XML file, at the position of the element
// (or text) it is about.
type XMLError struct {
	Line, Column int
	Msg          string
}

func (e XMLError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// XMLErrors are all the problems found in one file (at least one).
type XMLErrors []XMLError

func (es XMLErrors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	return fmt.Sprintf("%s (and %d more problems)", es[0].Error(), len(es)-1)
}

// xnode is one element declaration of the subset of XML Schema that the
// EGISSO classifier messages use: a sequence of child elements with
// occurrence bounds, or simple content checked by a function.
type xnode struct {
	ns, name string
	min, max int // max < 0: unbounded
	kids     []*xnode
	// simple is the check of simple content; nil for element-only content.
	simple func(string) (string, error)
	// value receives an element's checked simple content.
	value func(v string, at pos) error
	// open and close run when an element of complex content starts and ends.
	open  func(at pos)
	close func(at pos) error
}

type pos struct{ line, col int }

func el(ns, name string, min, max int, kids ...*xnode) *xnode {
	return &xnode{ns: ns, name: name, min: min, max: max, kids: kids}
}

func leaf(ns, name string, min int, simple func(string) (string, error), value func(string, pos) error) *xnode {
	return &xnode{ns: ns, name: name, min: min, max: 1, simple: simple, value: value}
}

const xsiNS = "http://www.w3.org/2001/XMLSchema-instance"

// xreader walks a document against declarations with encoding/xml's
// streaming decoder, stopping at the first structural problem.
type xreader struct {
	dec    *xml.Decoder
	prefix map[string]string // namespace → the prefix messages use for it
}

func newXReader(r io.Reader, prefix map[string]string) *xreader {
	dec := xml.NewDecoder(r)
	dec.Strict = true
	dec.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("the file is in %s: only UTF-8 is read", label)
	}
	return &xreader{dec: dec, prefix: prefix}
}

func (x *xreader) name(n xml.Name) string {
	if p, ok := x.prefix[n.Space]; ok && p != "" {
		return "<" + p + ":" + n.Local + ">"
	}
	if n.Space == "" {
		return "<" + n.Local + ">"
	}
	return "<{" + n.Space + "}" + n.Local + ">"
}

func (x *xreader) decl(n *xnode) string { return x.name(xml.Name{Space: n.ns, Local: n.name}) }

// token reads the next token and where it starts.
func (x *xreader) token() (xml.Token, pos, error) {
	l, c := x.dec.InputPos()
	tok, err := x.dec.Token()
	if err != nil {
		l, c = x.dec.InputPos()
		return nil, pos{l, c}, XMLError{Line: l, Column: c, Msg: xmlMessage(err)}
	}
	return xml.CopyToken(tok), pos{l, c}, nil
}

func xmlMessage(err error) string {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		if se.Msg == "unexpected EOF" {
			return "the XML ends early"
		}
		return "broken XML: " + se.Msg
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the XML ends early"
	}
	return strings.TrimPrefix(err.Error(), "xml: ")
}

// textAt is where the first non-space character of text that starts at p is.
func textAt(p pos, text []byte) pos {
	for _, r := range string(text) {
		switch r {
		case '\n':
			p.line, p.col = p.line+1, 1
		case ' ', '\t', '\r':
			p.col++
		default:
			return p
		}
	}
	return p
}

func errAt(p pos, format string, args ...any) error {
	return XMLError{Line: p.line, Column: p.col, Msg: fmt.Sprintf(format, args...)}
}

// root reads the prolog up to the root element and returns it.
func (x *xreader) root() (xml.StartElement, pos, error) {
	for {
		tok, at, err := x.token()
		if err != nil {
			if xe, ok := err.(XMLError); ok && xe.Msg == "the XML ends early" {
				xe.Msg = "the file has no XML element"
				return xml.StartElement{}, at, xe
			}
			return xml.StartElement{}, at, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, at, nil
		case xml.ProcInst:
			if t.Target != "xml" {
				return xml.StartElement{}, at, errAt(at, "processing instruction <?%s?> is not allowed", t.Target)
			}
		case xml.Directive:
			return xml.StartElement{}, at, errAt(at, "a DOCTYPE or other directive is not allowed")
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return xml.StartElement{}, at, errAt(textAt(at, t), "text before the root element")
			}
		case xml.Comment:
		}
	}
}

// end reads what follows the root element: only comments and white space.
func (x *xreader) end() error {
	for {
		l, c := x.dec.InputPos()
		tok, err := x.dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return XMLError{Line: l, Column: c, Msg: xmlMessage(err)}
		}
		switch t := tok.(type) {
		case xml.Comment:
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				p := textAt(pos{l, c}, t)
				return XMLError{Line: p.line, Column: p.col, Msg: "text after the root element"}
			}
		default:
			return XMLError{Line: l, Column: c, Msg: "only one root element is allowed"}
		}
	}
}

func (x *xreader) checkAttrs(se xml.StartElement, at pos) error {
	for _, a := range se.Attr {
		switch {
		case a.Name.Space == "xmlns", a.Name.Space == "" && a.Name.Local == "xmlns":
		case a.Name.Space == xsiNS && (a.Name.Local == "schemaLocation" || a.Name.Local == "noNamespaceSchemaLocation"):
		default:
			return errAt(at, "%s has an attribute %s that the schema does not declare", x.name(se.Name), a.Name.Local)
		}
	}
	return nil
}

// element reads the element se (already read, at at) declared by n.
func (x *xreader) element(n *xnode, se xml.StartElement, at pos) error {
	if err := x.checkAttrs(se, at); err != nil {
		return err
	}
	if n.simple != nil {
		return x.simple(n, se, at)
	}
	if n.open != nil {
		n.open(at)
	}
	idx, count := 0, 0
	for {
		tok, tat, err := x.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			placed := false
			for idx < len(n.kids) {
				k := n.kids[idx]
				if t.Name.Space == k.ns && t.Name.Local == k.name {
					if k.max >= 0 && count >= k.max {
						return errAt(tat, "%s may appear at most %d time(s) in %s", x.name(t.Name), k.max, x.name(se.Name))
					}
					count++
					if err := x.element(k, t, tat); err != nil {
						return err
					}
					placed = true
					break
				}
				if count < k.min {
					return errAt(tat, "%s is not allowed here: %s expects %s first", x.name(t.Name), x.name(se.Name), x.decl(k))
				}
				idx, count = idx+1, 0
			}
			if !placed {
				return errAt(tat, "%s is not allowed in %s", x.name(t.Name), x.name(se.Name))
			}
		case xml.EndElement:
			for ; idx < len(n.kids); idx, count = idx+1, 0 {
				if count < n.kids[idx].min {
					return errAt(tat, "%s lacks %s", x.name(se.Name), x.decl(n.kids[idx]))
				}
			}
			if n.close != nil {
				return n.close(at)
			}
			return nil
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return errAt(textAt(tat, t), "%s holds elements, not text", x.name(se.Name))
			}
		case xml.Comment:
		case xml.ProcInst:
			return errAt(tat, "processing instruction <?%s?> is not allowed", t.Target)
		case xml.Directive:
			return errAt(tat, "a directive is not allowed inside an element")
		}
	}
}

func (x *xreader) simple(n *xnode, se xml.StartElement, at pos) error {
	var b strings.Builder
	for {
		tok, tat, err := x.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.Comment:
		case xml.StartElement:
			return errAt(tat, "%s holds text, not elements: %s is not allowed in it", x.name(se.Name), x.name(t.Name))
		case xml.EndElement:
			v, err := n.simple(b.String())
			if err != nil {
				return errAt(at, "%s: %v", x.name(se.Name), err)
			}
			if n.value != nil {
				if err := n.value(v, at); err != nil {
					return errAt(at, "%s: %v", x.name(se.Name), err)
				}
			}
			return nil
		default:
			return errAt(tat, "%s holds text only", x.name(se.Name))
		}
	}
}

// ---------------------------------------------------------------- simple types

func quoted(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "…"
	}
	return strconv.Quote(s)
}

// digits is smev:digits-N (and the \d{8} patterns): exactly n ASCII digits.
func digits(n int) func(string) (string, error) {
	return func(s string) (string, error) {
		ok := len(s) == n
		for i := 0; ok && i < n; i++ {
			ok = s[i] >= '0' && s[i] <= '9'
		}
		if !ok {
			return "", fmt.Errorf("%s is not %d digits", quoted(s), n)
		}
		return s, nil
	}
}

func pattern(re *regexp.Regexp, what string) func(string) (string, error) {
	return func(s string) (string, error) {
		if !re.MatchString(s) {
			return "", fmt.Errorf("%s is not %s", quoted(s), what)
		}
		return s, nil
	}
}

// str is xsd:string with a maximum length (0: none); an entry's name or
// title must also not be blank.
func str(maxLen int, nonBlank bool) func(string) (string, error) {
	return func(s string) (string, error) {
		if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
			return "", fmt.Errorf("is %d characters long; at most %d are allowed", utf8.RuneCountInString(s), maxLen)
		}
		if nonBlank && strings.TrimSpace(s) == "" {
			return "", errors.New("is empty")
		}
		return s, nil
	}
}

// positive is xsd:positiveInteger (white space collapsed).
func positive(s string) (string, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "+")
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 1 {
		return "", fmt.Errorf("%s is not a positive integer", quoted(s))
	}
	return strconv.FormatInt(n, 10), nil
}

func enum(values ...string) func(string) (string, error) {
	return func(s string) (string, error) {
		t := strings.TrimSpace(s)
		for _, v := range values {
			if t == v {
				return t, nil
			}
		}
		return "", fmt.Errorf("%s is not one of %s", quoted(s), strings.Join(values, ", "))
	}
}

var (
	dateTimeRe = regexp.MustCompile(`^(-?[0-9]{4,}-[0-9]{2}-[0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$`)
	dateRe     = regexp.MustCompile(`^([0-9]{4}-[0-9]{2}-[0-9]{2})(Z|[+-][0-9]{2}:[0-9]{2})?$`)
)

// dateTime is xsd:dateTime; it returns the value normalised to
// YYYY-MM-DDThh:mm:ss[.f][zone].
func dateTime(s string) (string, error) {
	t := strings.TrimSpace(s)
	m := dateTimeRe.FindStringSubmatch(t)
	if m == nil {
		return "", fmt.Errorf("%s is not a date and time (YYYY-MM-DDThh:mm:ss)", quoted(s))
	}
	if _, err := civil.Parse(m[1]); err != nil {
		return "", fmt.Errorf("%s is not a date and time: no such date", quoted(s))
	}
	h, _ := strconv.Atoi(m[2])
	mi, _ := strconv.Atoi(m[3])
	se, _ := strconv.Atoi(m[4])
	if h > 24 || mi > 59 || se > 59 || (h == 24 && (mi != 0 || se != 0 || strings.Trim(m[5], ".0") != "")) {
		return "", fmt.Errorf("%s is not a date and time: no such time", quoted(s))
	}
	if err := checkZone(m[6]); err != nil {
		return "", fmt.Errorf("%s: %v", quoted(s), err)
	}
	return t, nil
}

// xsdDate is xsd:date; it returns YYYY-MM-DD (an offset is dropped).
func xsdDate(s string) (string, error) {
	t := strings.TrimSpace(s)
	m := dateRe.FindStringSubmatch(t)
	if m == nil {
		return "", fmt.Errorf("%s is not a date YYYY-MM-DD", quoted(s))
	}
	if _, err := civil.Parse(m[1]); err != nil {
		return "", fmt.Errorf("%s is not a date: no such date", quoted(s))
	}
	if err := checkZone(m[2]); err != nil {
		return "", fmt.Errorf("%s: %v", quoted(s), err)
	}
	return m[1], nil
}

func checkZone(z string) error {
	if z == "" || z == "Z" {
		return nil
	}
	h, _ := strconv.Atoi(z[1:3])
	m, _ := strconv.Atoi(z[4:6])
	if h > 14 || m > 59 || (h == 14 && m != 0) {
		return errors.New("no such time zone offset")
	}
	return nil
}

// civilOf is the calendar date a dateTime names, as written. A dateTime at
// midnight that ends a period means the day before is the last one.
func civilOf(dateTime string, end bool) civil.Date {
	m := dateTimeRe.FindStringSubmatch(dateTime)
	d := civil.MustParse(m[1])
	if m[2] == "24" {
		return d.AddDays(1).AddDays(boolInt(end) * -1)
	}
	if end && m[2] == "00" && m[3] == "00" && m[4] == "00" && strings.Trim(m[5], ".0") == "" {
		return d.AddDays(-1)
	}
	return d
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
