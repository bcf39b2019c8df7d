package directory

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/civil"
)

// AttrType is the type of an entry attribute.
type AttrType string

const (
	AttrString  AttrType = "string"
	AttrInteger AttrType = "integer"
	AttrBoolean AttrType = "boolean"
	AttrDate    AttrType = "date"
	// AttrJSON is any JSON value (a list of legal acts, say).
	AttrJSON AttrType = "json"
)

// AttrSpec declares one attribute of a directory's entries.
type AttrSpec struct {
	Name     string   `json:"name"`
	Type     AttrType `json:"type"`
	Required bool     `json:"required,omitempty"`
}

// Attributes every directory accepts besides its own.
const (
	// AttrSample marks a value loaded as a placeholder: a federal operator
	// replaces it with the sourced value.
	AttrSample = "sample"
	// AttrNote is free text about the entry (where a value comes from).
	AttrNote = "note"
)

var implicitSpecs = []AttrSpec{{Name: AttrSample, Type: AttrBoolean}, {Name: AttrNote, Type: AttrString}}

// Specs is a directory's declared attributes, stored as a JSON array.
type Specs []AttrSpec

// Value implements driver.Valuer.
func (s Specs) Value() (driver.Value, error) {
	if s == nil {
		s = Specs{}
	}
	b, err := json.Marshal(s)
	return string(b), err
}

// Scan implements sql.Scanner.
func (s *Specs) Scan(src any) error {
	b, err := jsonBytes(src)
	if err != nil {
		return err
	}
	*s = nil
	return json.Unmarshal(b, s)
}

// Attrs are an entry's attribute values: strings, json.Number for numbers,
// bools, and any JSON value for json attributes.
type Attrs map[string]any

// Value implements driver.Valuer: canonical JSON (keys sorted).
func (a Attrs) Value() (driver.Value, error) {
	b, err := a.canonical()
	return string(b), err
}

// Scan implements sql.Scanner.
func (a *Attrs) Scan(src any) error {
	b, err := jsonBytes(src)
	if err != nil {
		return err
	}
	m, err := decodeAttrs(b)
	if err != nil {
		return err
	}
	*a = m
	return nil
}

func (a Attrs) canonical() ([]byte, error) {
	if a == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]any(a))
}

// equal compares two attribute sets by value, ignoring the keys in skip.
func (a Attrs) equal(b Attrs, skip ...string) bool {
	x, y := maps.Clone(a), maps.Clone(b)
	for _, k := range skip {
		delete(x, k)
		delete(y, k)
	}
	bx, err1 := x.canonical()
	by, err2 := y.canonical()
	return err1 == nil && err2 == nil && bytes.Equal(bx, by)
}

// Sample reports whether the entry is a placeholder value.
func (a Attrs) Sample() bool { v, _ := a[AttrSample].(bool); return v }

// String returns a string attribute ("" when absent).
func (a Attrs) String(name string) string { v, _ := a[name].(string); return v }

// Int returns an integer attribute.
func (a Attrs) Int(name string) (int64, bool) {
	switch v := a[name].(type) {
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case int64:
		return v, true
	case int:
		return int64(v), true
	}
	return 0, false
}

func decodeAttrs(b []byte) (Attrs, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

func jsonBytes(src any) ([]byte, error) {
	switch v := src.(type) {
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	case nil:
		return []byte("null"), nil
	}
	return nil, fmt.Errorf("directory: cannot scan %T as JSON", src)
}

// Directory is a platform directory.
type Directory struct {
	Code          string `gorm:"primaryKey"`
	Name          string
	Description   string
	Extensible    bool
	CodePattern   string
	Attributes    Specs
	Source        string
	SourceVersion int64
	SourceDate    *civil.Date
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TableName implements GORM's tabler.
func (Directory) TableName() string { return "directories" }

// Specs lists the directory's attributes, the implicit ones last.
func (d Directory) Specs() []AttrSpec { return append(slices.Clone(d.Attributes), implicitSpecs...) }

func (d Directory) spec(name string) (AttrSpec, bool) {
	for _, s := range d.Specs() {
		if s.Name == name {
			return s, true
		}
	}
	return AttrSpec{}, false
}

// Origin says whose an entry is.
type Origin string

const (
	// Platform entries are published by the federal operator.
	Platform Origin = "platform"
	// Region entries are a region's own, in an extensible directory.
	Region Origin = "region"
)

// Entry is one version of one coded entry of a directory.
type Entry struct {
	ID            uuid.UUID `gorm:"primaryKey"`
	DirectoryCode string
	Code          string
	Name          string
	Attributes    Attrs
	EffectiveFrom civil.Date
	// EffectiveTo is the last day the version is in force; nil: open-ended.
	EffectiveTo *civil.Date
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Origin is Platform or Region (not stored: it is the table's).
	Origin Origin `gorm:"-"`
}

// TableName implements GORM's tabler.
func (Entry) TableName() string { return "directory_entries" }

// overlayEntry is a region's own entry; the tenancy scope fills TenantID.
type overlayEntry struct {
	TenantID uuid.UUID `gorm:"primaryKey"`
	Entry    `gorm:"embedded"`
}

func (overlayEntry) TableName() string { return overlayTable }

const (
	platformTable = "directory_entries"
	overlayTable  = "directory_overlay_entries"
)

// InForce reports whether the version is in force on d.
func (e Entry) InForce(d civil.Date) bool {
	return !d.Before(e.EffectiveFrom) && (e.EffectiveTo == nil || !d.After(*e.EffectiveTo))
}

// overlaps reports whether two versions share a day.
func (e Entry) overlaps(o Entry) bool {
	return !after(e.EffectiveFrom, o.EffectiveTo) && !after(o.EffectiveFrom, e.EffectiveTo)
}

// after reports whether d is after the end to (nil: never).
func after(d civil.Date, to *civil.Date) bool { return to != nil && d.After(*to) }

// Fields are an entry version's content as a client gives it.
type Fields struct {
	Code          string
	Name          string
	Attributes    Attrs
	EffectiveFrom civil.Date
	EffectiveTo   *civil.Date
}

// Change is a partial update of an entry version; nil keeps the value. A
// version's code and start are its identity and do not change.
type Change struct {
	Name       *string
	Attributes Attrs // replaces all attributes when non-nil
	// EffectiveTo sets the end; SetEffectiveTo with a nil EffectiveTo makes
	// the version open-ended.
	EffectiveTo    *civil.Date
	SetEffectiveTo bool
}

var (
	entryCodeRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)
	dirCodeRe   = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)
)

const (
	maxName   = 5000
	maxString = 2000
)

// problem is one thing wrong with an entry: field is "code", "name",
// "effective_to", "attributes.okato", …
type problem struct {
	field, msg string
	value      any
}

// checkFields validates an entry version against its directory and returns
// the normalised fields.
func (d Directory) checkFields(f Fields) (Fields, []problem) {
	var ps []problem
	add := func(field, msg string, v any) { ps = append(ps, problem{field, msg, v}) }
	f.Code = strings.TrimSpace(f.Code)
	f.Name = strings.TrimSpace(f.Name)
	switch {
	case !entryCodeRe.MatchString(f.Code):
		add("code", "must be 1 to 64 letters, digits or _ . : - and start with a letter or digit", f.Code)
	case d.CodePattern != "":
		if re, err := regexp.Compile(d.CodePattern); err == nil && !re.MatchString(f.Code) {
			add("code", "does not match the codes of directory "+d.Code+" ("+d.CodePattern+")", f.Code)
		}
	}
	if f.Name == "" || utf8.RuneCountInString(f.Name) > maxName || !utf8.ValidString(f.Name) {
		add("name", fmt.Sprintf("must be 1 to %d characters", maxName), f.Name)
	}
	if f.EffectiveFrom.IsZero() {
		add("effective_from", "is required: the first day the entry is in force", nil)
	}
	if f.EffectiveTo != nil && !f.EffectiveFrom.IsZero() && f.EffectiveTo.Before(f.EffectiveFrom) {
		add("effective_to", "must not be before effective_from", f.EffectiveTo.String())
	}
	var aps []problem
	f.Attributes, aps = d.checkAttrs(f.Attributes)
	return f, append(ps, aps...)
}

// checkAttrs validates and normalises attribute values: integers become
// json.Number, dates are checked, unknown names are refused.
func (d Directory) checkAttrs(in Attrs) (Attrs, []problem) {
	var ps []problem
	out := Attrs{}
	names := slices.Sorted(maps.Keys(in))
	for _, name := range names {
		v := in[name]
		spec, ok := d.spec(name)
		if !ok {
			ps = append(ps, problem{"attributes." + name, "is not an attribute of directory " + d.Code + " (it has " + d.attrNames() + ")", v})
			continue
		}
		if v == nil {
			continue // null: absent
		}
		nv, err := spec.normalize(v)
		if err != nil {
			ps = append(ps, problem{"attributes." + name, err.Error(), v})
			continue
		}
		out[name] = nv
	}
	for _, s := range d.Attributes {
		if _, ok := out[s.Name]; s.Required && !ok && !hasProblem(ps, "attributes."+s.Name) {
			ps = append(ps, problem{"attributes." + s.Name, "is required in directory " + d.Code, nil})
		}
	}
	return out, ps
}

func hasProblem(ps []problem, field string) bool {
	for _, p := range ps {
		if p.field == field {
			return true
		}
	}
	return false
}

func (d Directory) attrNames() string {
	var names []string
	for _, s := range d.Specs() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

var errNotInteger = errors.New("must be an integer")

func (s AttrSpec) normalize(v any) (any, error) {
	switch s.Type {
	case AttrString:
		str, ok := v.(string)
		if !ok {
			return nil, errors.New("must be a string")
		}
		if !utf8.ValidString(str) || utf8.RuneCountInString(str) > maxString {
			return nil, fmt.Errorf("must be at most %d characters of UTF-8", maxString)
		}
		return str, nil
	case AttrInteger:
		var n int64
		switch x := v.(type) {
		case json.Number:
			i, err := strconv.ParseInt(x.String(), 10, 64)
			if err != nil {
				return nil, errNotInteger
			}
			n = i
		case float64:
			if x != float64(int64(x)) || x > 1<<53 || x < -(1<<53) {
				return nil, errNotInteger
			}
			n = int64(x)
		case int64:
			n = x
		case int:
			n = int64(x)
		default:
			return nil, errNotInteger
		}
		return json.Number(strconv.FormatInt(n, 10)), nil
	case AttrBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, errors.New("must be true or false")
		}
		return b, nil
	case AttrDate:
		str, ok := v.(string)
		if !ok {
			return nil, errors.New("must be a date YYYY-MM-DD")
		}
		if _, err := civil.Parse(str); err != nil {
			return nil, errors.New("must be a date YYYY-MM-DD")
		}
		return str, nil
	case AttrJSON:
		if _, err := json.Marshal(v); err != nil {
			return nil, errors.New("must be a JSON value")
		}
		return v, nil
	}
	return nil, fmt.Errorf("has an unknown type %q", s.Type)
}
