package registry

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/ident"
)

// The fuzz targets below run their seed corpora (testdata/fuzz/<name>/ and
// the f.Add calls) as ordinary tests; go test -fuzz=FuzzX explores further.

var fuzzToday = civil.MustParse("2026-06-15")

// checkLineErrors fails on an error that does not say where and what.
func checkLineErrors(t *testing.T, errs []LineError) {
	t.Helper()
	for _, e := range errs {
		if e.Location == "" || e.Message == "" {
			t.Fatalf("line error without a location or message: %+v", e)
		}
	}
}

// checkItemSNILS fails unless an accepted item names its persons by valid,
// normalised SNILS.
func checkItemSNILS(t *testing.T, it item) {
	t.Helper()
	want := []string{it.snils}
	if it.typ == TypeRelation {
		want = append(want, it.relative)
	}
	if it.typ == TypePerson && it.person.SNILS != it.snils {
		t.Fatalf("person item: SNILS %q, item names %q", it.person.SNILS, it.snils)
	}
	for _, s := range want {
		if len(s) != 11 {
			t.Fatalf("accepted %s item with SNILS %q: not 11 digits", it.typ, s)
		}
		if n, err := ident.NormalizeSNILS(s); err != nil || n != s {
			t.Fatalf("accepted %s item with SNILS %q: normalises to %q, %v", it.typ, s, n, err)
		}
	}
}

var formattedSNILS = regexp.MustCompile(`[0-9]{3}-[0-9]{3}-[0-9]{3} [0-9]{2}`)

// snilsIn lists the SNILS b holds, in either form, as written there (only
// numbers above 001-001-998, which carry a check number).
func snilsIn(b []byte) []string {
	var out []string
	valid := func(s string) bool {
		n, err := ident.NormalizeSNILS(s)
		return err == nil && n[:9] > "001001998"
	}
	for i := 0; i+11 <= len(b); i++ {
		s := string(b[i : i+11])
		if strings.Trim(s, "0123456789") == "" && valid(s) {
			out = append(out, s)
		}
	}
	for _, m := range formattedSNILS.FindAll(b, -1) {
		if valid(string(m)) {
			out = append(out, string(m))
		}
	}
	return out
}

// checkNoEcho fails if an error repeats a SNILS of the input: errors are
// stored, shown and logged, a SNILS only sealed.
func checkNoEcho(t *testing.T, input []byte, errs []LineError) {
	t.Helper()
	if len(errs) == 0 {
		return
	}
	for _, s := range snilsIn(input) {
		for _, e := range errs {
			if strings.Contains(e.Location, s) || strings.Contains(e.Message, s) {
				t.Fatalf("an error repeats the SNILS %q: %+v", s, e)
			}
		}
	}
}

func FuzzParseNDJSON(f *testing.F) {
	f.Add([]byte(`{"type":"person","snils":"112-233-445 95","family_name":"Иванов","first_name":"Иван","birth_date":"1980-01-01","sex":"male"}`))
	f.Add([]byte(`{"type":"income","snils":"11223344595","month":"2026-01","kind":"salary","amount_kopecks":100}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var w wire
		if lerr := parseNDJSON(b, &w); lerr != nil {
			checkLineErrors(t, []LineError{*lerr})
			checkNoEcho(t, b, []LineError{*lerr})
			return
		}
		it, errs := (&checker{today: fuzzToday}).check(1, &w, Imported)
		checkLineErrors(t, errs)
		checkNoEcho(t, b, errs)
		for _, e := range errs {
			if e.Line != 1 {
				t.Fatalf("error of line 1 numbered %d: %+v", e.Line, e)
			}
		}
		if len(errs) > 0 {
			return
		}
		if _, ok := allowed[it.typ]; !ok {
			t.Fatalf("accepted an item of record type %q", it.typ)
		}
		checkItemSNILS(t, it)
	})
}

// joinCSV encodes fields as one CSV line, every field quoted.
func joinCSV(fields []string) []byte {
	var b bytes.Buffer
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(f, `"`, `""`))
		b.WriteByte('"')
	}
	return b.Bytes()
}

func FuzzSplitCSV(f *testing.F) {
	f.Add([]byte(`a,"b ""c""",,d`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, err := splitCSV(b, nil)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if len(fields) == 0 {
			t.Fatalf("%q splits into no fields", b)
		}
		for _, f := range fields {
			if strings.ContainsAny(f, "\r\n") {
				return
			}
		}
		enc := joinCSV(fields)
		again, err := splitCSV(enc, nil)
		if err != nil {
			t.Fatalf("%q: fields %q re-encoded as %q do not split: %v", b, fields, enc, err)
		}
		if len(again) != len(fields) {
			t.Fatalf("%q: fields %q re-encoded as %q split into %q", b, fields, enc, again)
		}
		for i := range fields {
			if again[i] != fields[i] {
				t.Fatalf("%q: fields %q re-encoded as %q split into %q", b, fields, enc, again)
			}
		}
	})
}

func FuzzLines(f *testing.F) {
	// Lines around the length limit, and one longer than the reader's buffer.
	f.Add(append(bytes.Repeat([]byte("a"), maxLine+2), "\nb"...))
	f.Add(append(bytes.Repeat([]byte("a"), maxLine+3), "\r\nb\n"...))
	f.Add(append(append([]byte("\xef\xbb\xbf"), bytes.Repeat([]byte("x"), 300<<10)...), "\nlast"...))
	f.Fuzz(func(t *testing.T, b []byte) {
		ln := newLines(bytes.NewReader(b))
		var prev, start int64 // the lines read so far, and the offset after them
		for {
			line, err := ln.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("reading from memory: %v", err)
			}
			if ln.no != prev+1 {
				t.Fatalf("line %d follows line %d", ln.no, prev)
			}
			prev = ln.no
			if ln.offset <= start || ln.offset > int64(len(b)) {
				t.Fatalf("line %d: offset %d after %d (file of %d bytes)", ln.no, ln.offset, start, len(b))
			}
			if bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("line %d holds a newline: %q", ln.no, line)
			}
			seg := b[start:ln.offset]
			if i := bytes.IndexByte(seg, '\n'); i >= 0 && i != len(seg)-1 {
				t.Fatalf("line %d spans %q", ln.no, seg)
			}
			if tooLong := len(seg) > maxLine+2; tooLong != ln.tooLong {
				t.Fatalf("line %d of %d bytes: tooLong %v", ln.no, len(seg), ln.tooLong)
			}
			start = ln.offset
			if ln.tooLong {
				continue
			}
			want := seg
			if ln.no == 1 {
				want = bytes.TrimPrefix(want, []byte("\xef\xbb\xbf"))
			}
			want = bytes.TrimSuffix(bytes.TrimSuffix(want, []byte("\n")), []byte("\r"))
			if !bytes.Equal(line, want) {
				t.Fatalf("line %d is %q, the file holds %q", ln.no, line, seg)
			}
		}
		if ln.offset != int64(len(b)) {
			t.Fatalf("read to offset %d of %d bytes", ln.offset, len(b))
		}
		if n := int64(len(lineEnds(b))); prev != n {
			t.Fatalf("%d lines read, the file has %d", prev, n)
		}
	})
}

// lineEnds returns the offset after each line of b.
func lineEnds(b []byte) []int64 {
	var out []int64
	for i, c := range b {
		if c == '\n' {
			out = append(out, int64(i+1))
		}
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		out = append(out, int64(len(b)))
	}
	return out
}

// fuzzTypes are the record types a CSV file may be named as.
var fuzzTypes = []string{"", TypePerson, TypeRelation, TypeIncome, TypeDisability, TypeCategory}

func FuzzImportLine(f *testing.F) {
	f.Add([]byte(`{"type":"person","snils":"11223344595","family_name":"Иванов","first_name":"Иван","birth_date":"1980-01-01","sex":"male"}`+"\n\n{\"type\":\n"), uint8(0))
	f.Add([]byte("snils,family_name,first_name,birth_date,sex\n11223344595,Иванов,Иван,1980-01-01,male\n1,2\n"), uint8(1))
	f.Add([]byte("type,snils\nperson,"+strings.Repeat("1", maxLine+10)+"\nperson,11223344595\n"), uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, kind uint8) {
		format := FormatCSV
		if len(b) > 0 && (b[0] == '{' || b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
			format = FormatNDJSON
		}
		p := &parser{ln: newLines(bytes.NewReader(b)), format: format, chk: &checker{today: fuzzToday}, origin: Imported}
		if format == FormatCSV {
			p.typ = fuzzTypes[int(kind)%len(fuzzTypes)]
		}
		nlines := int64(len(lineEnds(b)))
		seen := map[int64]bool{}
		for round := 0; ; round++ {
			if round > len(b)+2 {
				t.Fatalf("the parser has not ended after %d batches of a %d-byte file", round, len(b))
			}
			bt, err := p.next(100)
			if err != nil {
				var le *LineError
				if !errors.As(err, &le) {
					t.Fatalf("reading from memory: %v", err)
				}
				if format != FormatCSV || le.Line != 1 || le.Location != "header" || le.Message == "" {
					t.Fatalf("a file-level error that is not the CSV header's: %+v", le)
				}
				checkNoEcho(t, b, []LineError{*le})
				return
			}
			if bt == nil {
				break
			}
			if bt.lines > nlines || bt.offset > int64(len(b)) {
				t.Fatalf("batch up to line %d, offset %d, of a file of %d lines, %d bytes", bt.lines, bt.offset, nlines, len(b))
			}
			checkLineErrors(t, bt.errs)
			checkNoEcho(t, b, bt.errs)
			for _, e := range bt.errs {
				if e.Line < 1 || e.Line > nlines {
					t.Fatalf("rejected line %d of a file of %d lines: %+v", e.Line, nlines, e)
				}
				if format == FormatCSV && e.Line == 1 {
					t.Fatalf("the CSV header rejected as a record: %+v", e)
				}
				if !bt.rejected[e.Line] {
					t.Fatalf("error of line %d, which is not counted as rejected", e.Line)
				}
			}
			for _, it := range bt.items {
				if it.line < 1 || it.line > nlines || bt.rejected[it.line] || seen[it.line] {
					t.Fatalf("accepted line %d of a file of %d lines (rejected %v, seen %v)", it.line, nlines, bt.rejected[it.line], seen[it.line])
				}
				seen[it.line] = true
				checkItemSNILS(t, it)
			}
			for l := range bt.rejected {
				if seen[l] {
					t.Fatalf("line %d both accepted and rejected", l)
				}
				seen[l] = true
			}
		}
		if int64(len(seen)) > nlines {
			t.Fatalf("%d lines accepted or rejected of %d", len(seen), nlines)
		}
	})
}
