package directory_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/directory"
)

// The parsers never panic, every problem they report names a line, and
// whatever they accept writes back out and reads in again unchanged.
// Seed corpora: testdata/fuzz/<target>/ and the files of testdata.
//
//	go test ./core/directory/ -run '^$' -fuzz FuzzParseKMSZ -fuzztime 1m

func FuzzParseKMSZ(f *testing.F) {
	for _, name := range []string{"kmsz-10.01.O-1.0.3-v1.xml", "kmsz-10.01.O-1.0.3-v2.xml", "kmsz-10.02.I-1.0.3.xml"} {
		f.Add(readTestdata(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := directory.ParseKMSZ(bytes.NewReader(data))
		if err != nil {
			es, ok := err.(directory.XMLErrors)
			if !ok || len(es) == 0 {
				t.Fatalf("error %T %v is not XMLErrors", err, err)
			}
			for _, e := range es {
				if e.Line < 1 || e.Msg == "" {
					t.Fatalf("problem without a line or message: %+v", e)
				}
			}
			return
		}
		back, err := directory.ParseKMSZ(bytes.NewReader(directory.MarshalKMSZ(k)))
		if err != nil {
			t.Fatalf("accepted, but its own rendering is refused: %v", err)
		}
		if !sameKMSZ(k, back, false) {
			t.Fatalf("round trip changed the version")
		}
	})
}

// fuzzDir has an attribute of every type.
var fuzzDir = directory.Directory{Code: "fuzz", Attributes: directory.Specs{
	{Name: "s", Type: directory.AttrString}, {Name: "i", Type: directory.AttrInteger},
	{Name: "b", Type: directory.AttrBoolean}, {Name: "d", Type: directory.AttrDate}, {Name: "j", Type: directory.AttrJSON},
}}

func FuzzDecodeCSV(f *testing.F) {
	f.Add([]byte("code,name,effective_from,effective_to,s,i,b,d,j,sample,note\n01,Один,2025-01-01,,текст,42,true,2025-02-03,\"[1,{\"\"a\"\":2}]\",false,\n"))
	f.Add([]byte("\xEF\xBB\xBFcode;name;effective_from\n02;\"Два; три\";2024-12-31\n"))
	f.Add([]byte("code,name,effective_from\n\"broken,x,2025-01-01\n"))
	f.Add([]byte("code,name\n01,x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, ps := directory.DecodeCSVForTest(fuzzDir, bytes.NewReader(data))
		checkProblems(t, ps, "line[")
		if len(ps) > 0 || len(rows) == 0 {
			return
		}
		if strings.ContainsRune(string(data), '\r') {
			return // CSV folds \r\n inside quotes; nothing to compare exactly
		}
		var out bytes.Buffer
		if err := directory.EncodeCSV(fuzzDir, directory.EntriesForTest(rows), &out); err != nil {
			t.Fatal(err)
		}
		again, ps := directory.DecodeCSVForTest(fuzzDir, &out)
		if len(ps) > 0 {
			t.Fatalf("its own CSV is refused: %v\n%s", ps, out.String())
		}
		if !reflect.DeepEqual(directory.FieldsForTest(rows), directory.FieldsForTest(again)) {
			t.Fatalf("CSV round trip changed the rows:\n%v\n%v", directory.FieldsForTest(rows), directory.FieldsForTest(again))
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"directory": "fuzz", "entries": [
  {"code": "01", "name": "Один", "attributes": {"s": "x", "i": 7, "j": {"k": [1, 2.5]}}, "effective_from": "2025-01-01", "effective_to": null},
  {"code": "02", "name": "Два", "effective_from": "2025-01-01", "effective_to": "2025-12-31"}
]}`))
	f.Add([]byte(`{"entries": [{"code": "01", "name": "x", "effective_from": "2025-01-01", "extra": 1}], "tenant_id": "x"}`))
	f.Add([]byte(`{"directory": "regions", "entries": [`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, ps := directory.DecodeJSONForTest(fuzzDir, bytes.NewReader(data))
		checkProblems(t, ps, "")
		if len(ps) > 0 || len(rows) == 0 {
			return
		}
		var out bytes.Buffer
		if err := directory.EncodeJSON(fuzzDir, directory.EntriesForTest(rows), &out); err != nil {
			t.Fatal(err)
		}
		again, ps := directory.DecodeJSONForTest(fuzzDir, &out)
		if len(ps) > 0 {
			t.Fatalf("its own JSON is refused: %v\n%s", ps, out.String())
		}
		if !reflect.DeepEqual(directory.FieldsForTest(rows), directory.FieldsForTest(again)) {
			t.Fatalf("JSON round trip changed the rows:\n%v\n%v", directory.FieldsForTest(rows), directory.FieldsForTest(again))
		}
	})
}

func checkProblems(t *testing.T, ps []directory.ProblemForTest, prefix string) {
	t.Helper()
	for _, p := range ps {
		if p.Line < 1 || !strings.HasPrefix(p.Field, prefix) || !strings.HasPrefix(p.Msg, "line ") {
			t.Fatalf("problem without a line: %+v", p)
		}
	}
}
