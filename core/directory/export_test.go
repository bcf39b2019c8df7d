package directory

import (
	"io"
	"strings"
)

// Hooks for the external tests of the file codecs.

type ProblemForTest struct {
	Line       int
	Field, Msg string
}

func problemsForTest(ps []lineProblem) []ProblemForTest {
	out := make([]ProblemForTest, len(ps))
	for i, p := range ps {
		out[i] = ProblemForTest{Line: p.line, Field: p.field, Msg: p.msg}
	}
	return out
}

type RowForTest = row

func DecodeCSVForTest(d Directory, r io.Reader) ([]RowForTest, []ProblemForTest) {
	rows, ps := DecodeCSV(d, r)
	return rows, problemsForTest(ps)
}

func DecodeJSONForTest(d Directory, r io.Reader) ([]RowForTest, []ProblemForTest) {
	rows, ps := DecodeJSON(d, r)
	return rows, problemsForTest(ps)
}

// EntriesForTest turns decoded rows into entries as the directory would
// store them (attributes in their JSON form, by way of Attrs' codec).
func EntriesForTest(rows []RowForTest) []Entry {
	out := make([]Entry, len(rows))
	for i, r := range rows {
		out[i] = Entry{Code: r.fields.Code, Name: r.fields.Name, Attributes: r.fields.Attributes,
			EffectiveFrom: r.fields.EffectiveFrom, EffectiveTo: r.fields.EffectiveTo}
	}
	return out
}

// FieldsForTest renders rows comparably.
func FieldsForTest(rows []RowForTest) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		a, _ := r.fields.Attributes.canonical()
		to := ""
		if r.fields.EffectiveTo != nil {
			to = r.fields.EffectiveTo.String()
		}
		out[i] = strings.Join([]string{r.fields.Code, r.fields.Name, r.fields.EffectiveFrom.String(), to, string(a)}, "|")
	}
	return out
}
