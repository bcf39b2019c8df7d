package measure

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// MaxFileSize bounds a measure file.
const MaxFileSize = 1 << 20

// Parse reads a measure file (JSON, one measure) and checks it: syntax and
// type errors name the line, rule errors the field path and the position
// in the expression.
func Parse(data []byte) (*Measure, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("the file is %d bytes, above the limit of %d", len(data), MaxFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Measure
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineOf(data, dec, err), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("line %d: text after the measure", lineAt(data, int(dec.InputOffset())))
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return &m, nil
}

func lineOf(data []byte, dec *json.Decoder, err error) int {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return lineAt(data, int(se.Offset))
	case errors.As(err, &te):
		return lineAt(data, int(te.Offset))
	}
	return lineAt(data, int(dec.InputOffset()))
}

func lineAt(data []byte, off int) int {
	off = min(max(off, 0), len(data))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// LoadDir parses every *.json file of a directory, in name order; an error
// names the file.
func LoadDir(fsys fs.FS, dir string) ([]*Measure, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []*Measure
	codes := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		name := path.Join(dir, e.Name())
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		m, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if other, ok := codes[m.Code]; ok {
			return nil, fmt.Errorf("%s: measure %s is also in %s", name, m.Code, other)
		}
		codes[m.Code] = name
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *Measure) int { return strings.Compare(a.Code, b.Code) })
	return out, nil
}
