package directory_test

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/directory"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseKMSZ(t *testing.T) {
	k, err := directory.ParseKMSZ(bytes.NewReader(readTestdata(t, "kmsz-10.01.O-1.0.3-v1.xml")))
	if err != nil {
		t.Fatal(err)
	}
	if k.Message != "10.01.O 1.0.3" || k.Version.Number != 41 || k.Version.Status != 5 || k.Version.StartDate().String() != "2025-01-01" {
		t.Fatalf("header: %s %+v", k.Message, k.Version)
	}
	if len(k.Measures) != 4 || len(k.Parts) != 3 || len(k.Categories) != 3 || len(k.NPALevels) != 3 ||
		len(k.FundingSources) != 2 || len(k.Forms) != 4 || len(k.Rules) != 3 || len(k.Modifications) != 2 {
		t.Fatalf("facets: %d %d %d %d %d %d %d %d", len(k.Measures), len(k.Parts), len(k.Categories), len(k.NPALevels),
			len(k.FundingSources), len(k.Forms), len(k.Rules), len(k.Modifications))
	}
	if m := k.Measures[1]; m.Code != "0101" || m.Parent != "0100" || m.Line != 21 {
		t.Fatalf("measure %+v", m)
	}
	r := k.Rules[1]
	if r.Code() != "0102.01000000.01.0001.01.010100" || len(r.Reasons) != 1 || r.Reasons[0].Number != "81-ФЗ" || r.Reasons[0].Date != "1995-05-19" {
		t.Fatalf("rule %+v", r)
	}
	// The same version as a 10.02.I response reads the same.
	resp, err := directory.ParseKMSZ(bytes.NewReader(readTestdata(t, "kmsz-10.02.I-1.0.3.xml")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Message != "10.02.I 1.0.3" || !sameKMSZ(resp, k, true) {
		t.Fatalf("the 10.02.I response differs from the 10.01.O request")
	}
	// And as 10.01.O 1.0.2, whose rules may name related rules.
	old, err := directory.ParseKMSZ(bytes.NewReader(readTestdata(t, "kmsz-10.01.O-1.0.2.xml")))
	if err != nil {
		t.Fatal(err)
	}
	if old.Message != "10.01.O 1.0.2" || len(old.Rules[0].Related) != 1 || !sameKMSZ(old, k, false) {
		t.Fatalf("1.0.2: %s %+v", old.Message, old.Rules[0])
	}
}

// sameKMSZ compares two versions, ignoring line numbers and the message.
func sameKMSZ(a, b *directory.KMSZ, skipModifications bool) bool {
	strip := func(k *directory.KMSZ) directory.KMSZ {
		c := *k
		c.Message = ""
		if skipModifications {
			c.Modifications = nil
		}
		for _, list := range []*[]directory.KMSZItem{&c.Measures, &c.Parts, &c.Categories, &c.NPALevels, &c.FundingSources, &c.Forms} {
			l := append([]directory.KMSZItem(nil), *list...)
			for i := range l {
				l[i].Line, l[i].ParentLine = 0, 0
			}
			*list = l
		}
		rules := append([]directory.KMSZRule(nil), c.Rules...)
		for i := range rules {
			rules[i].Line, rules[i].Related, rules[i].RefLines = 0, nil, [6]int{}
		}
		c.Rules = rules
		mods := append([]directory.KMSZModification(nil), c.Modifications...)
		for i := range mods {
			mods[i].Line = 0
		}
		c.Modifications = mods
		return c
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

func TestMarshalKMSZRoundTrip(t *testing.T) {
	for _, name := range []string{"kmsz-10.01.O-1.0.3-v1.xml", "kmsz-10.01.O-1.0.3-v2.xml", "kmsz-10.02.I-1.0.3.xml"} {
		k, err := directory.ParseKMSZ(bytes.NewReader(readTestdata(t, name)))
		if err != nil {
			t.Fatal(err)
		}
		out := directory.MarshalKMSZ(k)
		back, err := directory.ParseKMSZ(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("%s: the marshalled version does not parse: %v\n%s", name, err, out)
		}
		if !sameKMSZ(k, back, false) {
			t.Fatalf("%s: round trip changed the version", name)
		}
	}
}

// Every kind of bad content is refused with the line (and column) of the
// element it is about.
func TestParseKMSZRefusesBadContent(t *testing.T) {
	v1 := string(readTestdata(t, "kmsz-10.01.O-1.0.3-v1.xml"))
	replace := func(old, new string) string {
		if !strings.Contains(v1, old) {
			t.Fatalf("test data lacks %q", old)
		}
		return strings.Replace(v1, old, new, 1)
	}
	for _, c := range []struct {
		name, doc string
		line      int
		want      string
	}{
		{"empty", "", 1, "no XML element"},
		{"not XML", "code,name\n01,x\n", 1, "text before the root element"},
		{"wrong root", `<version xmlns="urn://egisso-ru/types/cls-KMSZ-version/1.0.3"/>`, 1, "not a KMSZ classifier message"},
		{"10.02.I request", `<request xmlns="urn://egisso-ru/msg/10.02.I/1.0.3"/>`, 1, "holds none"},
		{"unknown element", replace("<b:note>Тестовые данные</b:note>", "<b:note>Тестовые данные</b:note><b:author>x</b:author>"), 17, "<b:author> is not allowed"},
		{"wrong order", replace("<v:code>0100</v:code><v:name>Денежные выплаты семьям с детьми</v:name>", "<v:name>Денежные выплаты семьям с детьми</v:name><v:code>0100</v:code>"), 20, "expects <v:code> first"},
		{"missing element", replace("<v:code>0200</v:code>", ""), 23, "<v:MSZ> expects <v:code> first"},
		{"missing last element", replace("<v:name>Ветераны труда</v:name>", ""), 33, "<v:category> lacks <v:name>"},
		{"missing facet", replace("<v:levelsNPA>", "<v:levelsNPAx>"), 35, "<v:levelsNPAx> is not allowed here"},
		{"twice", replace("<b:version_status>5</b:version_status>", "<b:version_status>5</b:version_status><b:version_status>5</b:version_status>"), 14, "at most 1"},
		{"bad digits", replace("<v:code>0101</v:code>", "<v:code>101</v:code>"), 21, `"101" is not 4 digits`},
		{"spaces in a code", replace("<v:code>0101</v:code>", "<v:code> 0101</v:code>"), 21, "is not 4 digits"},
		{"too long", replace("<v:name>Федеральный</v:name>", "<v:name>"+strings.Repeat("ф", 101)+"</v:name>"), 36, "at most 100"},
		{"blank name", replace("<v:name>Ветераны труда</v:name>", "<v:name>  </v:name>"), 33, "is empty"},
		{"bad status", replace("<b:version_status>5</b:version_status>", "<b:version_status>9</b:version_status>"), 14, "not one of 1, 2, 3, 4, 5, 6"},
		{"bad dateTime", replace("2025-01-01T00:00:00", "2025-02-30T00:00:00"), 15, "no such date"},
		{"bad date", replace("<v:date>1995-05-19</v:date>", "<v:date>19.05.1995</v:date>"), 78, "not a date"},
		{"text in element content", replace("<v:reestrMSZ>", "<v:reestrMSZ>текст"), 19, "holds elements, not text"},
		{"element in text", replace("<v:name>Ветераны труда</v:name>", "<v:name>Ветераны <b>труда</b></v:name>"), 33, "holds text, not elements"},
		{"unknown attribute", replace("<v:MSZ>", `<v:MSZ id="1">`), 20, "attribute id"},
		{"wrong namespace", replace("<b:version_num>41</b:version_num>", "<v:version_num>41</v:version_num>"), 13, "<v:version_num> is not allowed here"},
		{"undeclared prefix", replace("<b:version_num>41</b:version_num>", "<x:version_num>41</x:version_num>"), 13, "is not allowed here"},
		{"doctype", strings.Replace(v1, "<request", "<!DOCTYPE request [<!ENTITY e \"x\">]>\n<request", 1), 8, "DOCTYPE"},
		{"entity", replace("<b:note>Тестовые данные</b:note>", "<b:note>&e;</b:note>"), 17, "broken XML"},
		{"windows-1251", strings.Replace(v1, `encoding="utf-8"`, `encoding="windows-1251"`, 1), 1, "only UTF-8"},
		{"broken XML", replace("</v:reestrMSZ>", "</v:reestrMSZ"), 25, "broken XML"},
		{"truncated", v1[:strings.Index(v1, "<v:rulesKMSZ>")], 50, "ends early"},
		{"two roots", v1 + "<request/>", 111, "only one root"},
		{"trailing text", v1 + "\n  хвост", 112, "text after the root"},
		{"duplicate code", replace("<v:code>0102</v:code>", "<v:code>0101</v:code>"), 22, "appears twice (first on line 21)"},
		{"dangling parent", replace("<v:codeParent>010000</v:codeParent>", "<v:codeParent>090000</v:codeParent>"), 27, "parent 090000"},
		{"dangling rule", replace("<v:codeCategory>02000000</v:codeCategory>", "<v:codeCategory>09000000</v:codeCategory>"), 86, "codeCategory 09000000 is not in listCategories"},
		{"modification of nothing", replace("<c:code>0102</c:code>", "<c:code>0999</c:code>"), 104, "marked new but is not in the version"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := directory.ParseKMSZ(strings.NewReader(c.doc))
			es, ok := err.(directory.XMLErrors)
			if !ok || len(es) == 0 {
				t.Fatalf("want XMLErrors, got %v", err)
			}
			if es[0].Line != c.line || !strings.Contains(es[0].Msg, c.want) {
				t.Fatalf("got %v, want line %d with %q", es, c.line, c.want)
			}
		})
	}
}
