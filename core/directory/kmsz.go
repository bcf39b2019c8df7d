package directory

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/socialtreasury/treasury/core/civil"
)

// Namespaces of the EGISSO classifier messages.
const (
	NS1001O103   = "urn://egisso-ru/msg/10.01.O/1.0.3"
	NS1001O102   = "urn://egisso-ru/msg/10.01.O/1.0.2"
	NS1002I103   = "urn://egisso-ru/msg/10.02.I/1.0.3"
	NS1002I102   = "urn://egisso-ru/msg/10.02.I/1.0.2"
	NSKMSZVer103 = "urn://egisso-ru/types/cls-KMSZ-version/1.0.3"
	NSKMSZVer102 = "urn://egisso-ru/types/cls-KMSZ-version/1.0.2"
	NSKMSZChg102 = "urn://egisso-ru/types/cls-KMSZ-changes/1.0.2"
	NSBasic102   = "urn://egisso-ru/types/basic/1.0.2"
	NSClsReq102  = "urn://egisso-ru/types/cls-request/1.0.2"
)

var kmszPrefixes = map[string]string{
	NS1001O103: "msg", NS1001O102: "msg", NS1002I103: "msg", NS1002I102: "msg",
	NSKMSZVer103: "v", NSKMSZVer102: "v", NSKMSZChg102: "c", NSBasic102: "b", NSClsReq102: "r",
}

// KMSZ is one version of the KMSZ classifier (КМСЗ) as EGISSO publishes it.
type KMSZ struct {
	// Message names the format read: "10.01.O 1.0.3", "10.02.I 1.0.2", …
	Message string
	Version KMSZVersion
	// The facets.
	Measures       []KMSZItem // reestrMSZ: typical measures, 4 digits
	Parts          []KMSZItem // partsKMSZ: parts, 6 digits
	Categories     []KMSZItem // listCategories: typical categories, 8 digits
	NPALevels      []KMSZItem // levelsNPA: levels of legal acts, 2 digits
	FundingSources []KMSZItem // fundingSources: 4 digits
	Forms          []KMSZItem // provisionForms: 2 digits
	Rules          []KMSZRule // rulesKMSZ: the classifier's codes
	// Modifications lists what changed against the previous version (10.01.O).
	Modifications []KMSZModification
}

// KMSZVersion is the version's header (tClsVersion).
type KMSZVersion struct {
	Number int64
	// Status: 1 draft, 2 being published, 3 published, 4 being activated,
	// 5 active, 6 archived.
	Status   int
	Start    string // xsd:dateTime as written
	Finish   string // "" when absent
	Document string
	Note     string
}

// StartDate is the first day the version is in force.
func (v KMSZVersion) StartDate() civil.Date { return civilOf(v.Start, false) }

// KMSZItem is an entry of a simple facet.
type KMSZItem struct {
	Code, Name, Parent string
	// Line is where the item starts, ParentLine where its codeParent is.
	Line, ParentLine int `json:"-"`
}

// KMSZRule is a rule of the classifier: the combination that makes one
// KMSZ code.
type KMSZRule struct {
	Part, Measure, Category, NPALevel, FundingSource, Form string
	Reasons                                                []KMSZAct
	Related                                                []string // relationRules (1.0.2)
	// Line is where the rule starts; RefLines where its codePart, codeMSZ,
	// codeCategory, codeNPA, codeFundingSource and codeForm are.
	Line     int    `json:"-"`
	RefLines [6]int `json:"-"`
}

// Code is the rule's KMSZ code: measure.category.NPA level.funding
// source.form.part.
func (r KMSZRule) Code() string {
	return r.Measure + "." + r.Category + "." + r.NPALevel + "." + r.FundingSource + "." + r.Form + "." + r.Part
}

// KMSZAct is a legal act a rule rests on.
type KMSZAct struct {
	Number    string `json:"number"`
	Title     string `json:"title"`
	Date      string `json:"date"`
	Authority string `json:"authority"`
}

// KMSZModification is one line of the version's list of changes.
type KMSZModification struct {
	Facet string // reestrMSZ, partsKMSZ, listCategories, levelsNPA, fundingSources, provisionForms, rulesKMSZ
	Code  string
	Type  int // 1 new, 2 changed, 3 disabled
	Line  int `json:"-"`
}

var ruleCodeRe = regexp.MustCompile(`^[0-9]{4}\.[0-9]{8}\.[0-9]{2}\.[0-9]{4}\.[0-9]{2}\.[0-9]{6}$`)

// ParseKMSZ reads a KMSZ classifier version from a 10.01.O request (1.0.3 or
// 1.0.2: the version and its list of changes) or a 10.02.I response (1.0.3
// or 1.0.2, classifier 010) with encoding/xml's streaming decoder. It
// checks the document against the message's schema — elements, their order
// and number, lengths and patterns; no unknown element, attribute or text —
// and then the version's own consistency: no code twice in a facet, every
// parent and every code a rule names present. A failure is XMLErrors, each
// with its line and column.
func ParseKMSZ(r io.Reader) (*KMSZ, error) {
	x := newXReader(r, kmszPrefixes)
	se, at, err := x.root()
	if err != nil {
		return nil, XMLErrors{asXMLError(err)}
	}
	k := &KMSZ{}
	var root *xnode
	switch se.Name {
	case xml.Name{Space: NS1001O103, Local: "request"}:
		k.Message, root = "10.01.O 1.0.3", k.request(NS1001O103, NSKMSZVer103, false)
	case xml.Name{Space: NS1001O102, Local: "request"}:
		k.Message, root = "10.01.O 1.0.2", k.request(NS1001O102, NSKMSZVer102, true)
	case xml.Name{Space: NS1002I103, Local: "response"}:
		k.Message, root = "10.02.I 1.0.3", k.response(NS1002I103, NSKMSZVer103, false)
	case xml.Name{Space: NS1002I102, Local: "response"}:
		k.Message, root = "10.02.I 1.0.2", k.response(NS1002I102, NSKMSZVer102, true)
	case xml.Name{Space: NS1002I103, Local: "request"}, xml.Name{Space: NS1002I102, Local: "request"}:
		return nil, XMLErrors{{at.line, at.col, "this is a 10.02.I request: it asks for a classifier and holds none"}}
	default:
		return nil, XMLErrors{{at.line, at.col, fmt.Sprintf("%s is not a KMSZ classifier message: expected <request> of 10.01.O (%s, %s) or <response> of 10.02.I (%s, %s)",
			x.name(se.Name), NS1001O103, NS1001O102, NS1002I103, NS1002I102)}}
	}
	if err := x.element(root, se, at); err != nil {
		return nil, XMLErrors{asXMLError(err)}
	}
	if err := x.end(); err != nil {
		return nil, XMLErrors{asXMLError(err)}
	}
	if errs := k.check(); len(errs) > 0 {
		return nil, errs
	}
	return k, nil
}

func asXMLError(err error) XMLError {
	var xe XMLError
	if errors.As(err, &xe) {
		return xe
	}
	return XMLError{Msg: err.Error()}
}

// request declares a 10.01.O <request>: the version and its changes.
func (k *KMSZ) request(msgNS, verNS string, v102 bool) *xnode {
	return el(msgNS, "request", 1, 1,
		k.version(verNS, "version", v102),
		k.changes(),
	)
}

// response declares a 10.02.I <response> for classifier 010.
func (k *KMSZ) response(msgNS, verNS string, v102 bool) *xnode {
	code := leaf(NSClsReq102, "classifierCode", 1, enum("010", "022", "023"), func(v string, _ pos) error {
		if v != "010" {
			return fmt.Errorf("classifier %s is not KMSZ: only classifier 010 (KMSZ) is loaded from a 10.02.I response", v)
		}
		return nil
	})
	ver := k.version(verNS, "verKMSZ", v102)
	ver.ns = msgNS
	return el(msgNS, "response", 1, 1, code, ver)
}

// version declares tClsKMSZVersion (tClsVersion's header and the facets).
func (k *KMSZ) version(ns, name string, v102 bool) *xnode {
	v := &k.Version
	set := func(dst *string) func(string, pos) error {
		return func(s string, _ pos) error { *dst = s; return nil }
	}
	item := func(list *[]KMSZItem, codeDigits, nameLen int) *xnode {
		var cur KMSZItem
		n := el(ns, "", 1, -1,
			leaf(ns, "code", 1, digits(codeDigits), func(s string, _ pos) error { cur.Code = s; return nil }),
			leaf(ns, "name", 1, str(nameLen, true), func(s string, _ pos) error { cur.Name = s; return nil }),
		)
		n.open = func(at pos) { cur = KMSZItem{Line: at.line} }
		n.close = func(pos) error { *list = append(*list, cur); return nil }
		n.kids = append(n.kids, &xnode{ns: ns, name: "codeParent", min: 0, max: 1, simple: digits(codeDigits),
			value: func(s string, at pos) error { cur.Parent, cur.ParentLine = s, at.line; return nil }})
		return n
	}
	named := func(n *xnode, name string) *xnode { n.name = name; return n }
	facet := func(name string, kid *xnode) *xnode { return el(ns, name, 1, 1, kid) }
	noParent := func(n *xnode) *xnode { n.kids = n.kids[:2]; return n }

	var rule KMSZRule
	var act KMSZAct
	actLen := 500
	if v102 {
		actLen = 100
	}
	npa := el(ns, "NPA", 1, -1,
		leaf(ns, "number", 1, str(20, false), set(&act.Number)),
		leaf(ns, "title", 1, str(actLen, false), set(&act.Title)),
		leaf(ns, "date", 1, xsdDate, set(&act.Date)),
		leaf(ns, "authority", 1, str(actLen, false), set(&act.Authority)),
	)
	npa.open = func(pos) { act = KMSZAct{} }
	npa.close = func(pos) error { rule.Reasons = append(rule.Reasons, act); return nil }
	ref := func(dst *string, i int) func(string, pos) error {
		return func(s string, at pos) error { *dst, rule.RefLines[i] = s, at.line; return nil }
	}
	ruleNode := el(ns, "ruleKMSZ", 1, -1,
		leaf(ns, "codePart", 1, digits(6), ref(&rule.Part, 0)),
		leaf(ns, "codeMSZ", 1, digits(4), ref(&rule.Measure, 1)),
		leaf(ns, "codeCategory", 1, digits(8), ref(&rule.Category, 2)),
		leaf(ns, "codeNPA", 1, digits(2), ref(&rule.NPALevel, 3)),
		leaf(ns, "codeFundingSource", 1, digits(4), ref(&rule.FundingSource, 4)),
		leaf(ns, "codeForm", 1, digits(2), ref(&rule.Form, 5)),
		el(ns, "reasons", 1, 1, npa),
	)
	if v102 {
		ruleNode.kids = append(ruleNode.kids, el(ns, "relationRules", 0, 1,
			&xnode{ns: ns, name: "ruleCode", min: 1, max: -1, simple: pattern(ruleCodeRe, "a KMSZ code NNNN.NNNNNNNN.NN.NNNN.NN.NNNNNN"),
				value: func(s string, _ pos) error { rule.Related = append(rule.Related, s); return nil }}))
	}
	ruleNode.open = func(at pos) { rule = KMSZRule{Line: at.line} }
	ruleNode.close = func(pos) error { k.Rules = append(k.Rules, rule); return nil }

	return el(ns, name, 1, 1,
		leaf(NSBasic102, "version_num", 1, positive, func(s string, _ pos) error {
			v.Number, _ = strconv.ParseInt(s, 10, 64)
			return nil
		}),
		leaf(NSBasic102, "version_status", 1, enum("1", "2", "3", "4", "5", "6"), func(s string, _ pos) error {
			v.Status, _ = strconv.Atoi(s)
			return nil
		}),
		leaf(NSBasic102, "start_date", 1, dateTime, set(&v.Start)),
		leaf(NSBasic102, "finish_date", 0, dateTime, set(&v.Finish)),
		leaf(NSBasic102, "document", 1, str(200, false), set(&v.Document)),
		leaf(NSBasic102, "note", 0, str(200, false), set(&v.Note)),
		el(ns, "facets", 1, 1,
			facet("reestrMSZ", named(item(&k.Measures, 4, 2000), "MSZ")),
			facet("partsKMSZ", named(item(&k.Parts, 6, 500), "partKMSZ")),
			facet("listCategories", named(item(&k.Categories, 8, 2000), "category")),
			facet("levelsNPA", named(noParent(item(&k.NPALevels, 2, 100)), "levelNPA")),
			facet("fundingSources", named(noParent(item(&k.FundingSources, 4, 200)), "fundingSource")),
			facet("provisionForms", named(noParent(item(&k.Forms, 2, 100)), "provisionForm")),
			facet("rulesKMSZ", ruleNode),
		),
	)
}

// changes declares cls-KMSZ-changes' <modifications>.
func (k *KMSZ) changes() *xnode {
	ns := NSKMSZChg102
	facet := func(name string, code func(string) (string, error)) *xnode {
		var m KMSZModification
		mod := el(ns, "modification", 1, -1,
			leaf(ns, "code", 1, code, func(s string, _ pos) error { m.Code = s; return nil }),
			leaf(ns, "type", 1, enum("1", "2", "3"), func(s string, _ pos) error { m.Type, _ = strconv.Atoi(s); return nil }),
		)
		mod.open = func(at pos) { m = KMSZModification{Facet: name, Line: at.line} }
		mod.close = func(pos) error { k.Modifications = append(k.Modifications, m); return nil }
		return el(ns, name, 0, 1, mod)
	}
	return el(ns, "modifications", 1, 1,
		facet("reestrMSZ", digits(4)),
		facet("partsKMSZ", digits(6)),
		facet("listCategories", digits(8)),
		facet("levelsNPA", digits(2)),
		facet("fundingSources", digits(4)),
		facet("provisionForms", digits(2)),
		facet("rulesKMSZ", pattern(ruleCodeRe, "a KMSZ code NNNN.NNNNNNNN.NN.NNNN.NN.NNNNNN")),
	)
}

// check is what the schema cannot say: codes are unique within a facet,
// parents and the codes rules and changes name exist in the version.
func (k *KMSZ) check() XMLErrors {
	var errs XMLErrors
	add := func(line int, format string, args ...any) {
		if len(errs) < MaxProblems {
			errs = append(errs, XMLError{Line: line, Column: 1, Msg: fmt.Sprintf(format, args...)})
		}
	}
	index := func(facet string, items []KMSZItem) map[string]bool {
		seen := map[string]int{}
		for _, it := range items {
			if l, dup := seen[it.Code]; dup {
				add(it.Line, "%s: code %s appears twice (first on line %d)", facet, it.Code, l)
				continue
			}
			seen[it.Code] = it.Line
		}
		set := map[string]bool{}
		for c := range seen {
			set[c] = true
		}
		for _, it := range items {
			if it.Parent != "" && (!set[it.Parent] || it.Parent == it.Code) {
				add(it.ParentLine, "%s: code %s names a parent %s that is not in the version", facet, it.Code, it.Parent)
			}
		}
		return set
	}
	sets := map[string]map[string]bool{
		"reestrMSZ":      index("reestrMSZ", k.Measures),
		"partsKMSZ":      index("partsKMSZ", k.Parts),
		"listCategories": index("listCategories", k.Categories),
		"levelsNPA":      index("levelsNPA", k.NPALevels),
		"fundingSources": index("fundingSources", k.FundingSources),
		"provisionForms": index("provisionForms", k.Forms),
	}
	rules := map[string]int{}
	for _, r := range k.Rules {
		for i, ref := range []struct{ facet, code, what string }{
			{"partsKMSZ", r.Part, "codePart"}, {"reestrMSZ", r.Measure, "codeMSZ"}, {"listCategories", r.Category, "codeCategory"},
			{"levelsNPA", r.NPALevel, "codeNPA"}, {"fundingSources", r.FundingSource, "codeFundingSource"}, {"provisionForms", r.Form, "codeForm"},
		} {
			if !sets[ref.facet][ref.code] {
				add(r.RefLines[i], "ruleKMSZ: %s %s is not in %s of the version", ref.what, ref.code, ref.facet)
			}
		}
		if l, dup := rules[r.Code()]; dup {
			add(r.Line, "ruleKMSZ: KMSZ code %s appears twice (first on line %d)", r.Code(), l)
			continue
		}
		rules[r.Code()] = r.Line
	}
	sets["rulesKMSZ"] = map[string]bool{}
	for c := range rules {
		sets["rulesKMSZ"][c] = true
	}
	for _, m := range k.Modifications {
		if m.Type != 3 && !sets[m.Facet][m.Code] {
			add(m.Line, "modifications: %s %s is marked %s but is not in the version", m.Facet, m.Code, map[int]string{1: "new", 2: "changed"}[m.Type])
		}
	}
	if k.Version.Finish != "" && civilOf(k.Version.Finish, true).Before(k.Version.StartDate()) {
		add(1, "the version finishes (%s) before it starts (%s)", k.Version.Finish, k.Version.Start)
	}
	return errs
}

// MarshalKMSZ writes the version as a 10.01.O 1.0.3 request, the format
// ParseKMSZ reads (relationRules, a 1.0.2 element, are left out).
func MarshalKMSZ(k *KMSZ) []byte {
	var b bytes.Buffer
	w := func(s string) { b.WriteString(s) }
	t := func(tag, v string) {
		w("<" + tag + ">")
		_ = xml.EscapeText(&b, []byte(v))
		w("</" + tag + ">")
	}
	w(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	w(`<request xmlns="` + NS1001O103 + `" xmlns:v="` + NSKMSZVer103 + `" xmlns:c="` + NSKMSZChg102 + `" xmlns:b="` + NSBasic102 + `">` + "\n")
	w("<v:version>\n")
	t("b:version_num", strconv.FormatInt(k.Version.Number, 10))
	t("b:version_status", strconv.Itoa(k.Version.Status))
	t("b:start_date", k.Version.Start)
	if k.Version.Finish != "" {
		t("b:finish_date", k.Version.Finish)
	}
	t("b:document", k.Version.Document)
	if k.Version.Note != "" {
		t("b:note", k.Version.Note)
	}
	w("\n<v:facets>\n")
	items := func(facet, tag string, list []KMSZItem) {
		w("<v:" + facet + ">\n")
		for _, it := range list {
			w("<v:" + tag + ">")
			t("v:code", it.Code)
			t("v:name", it.Name)
			if it.Parent != "" {
				t("v:codeParent", it.Parent)
			}
			w("</v:" + tag + ">\n")
		}
		w("</v:" + facet + ">\n")
	}
	items("reestrMSZ", "MSZ", k.Measures)
	items("partsKMSZ", "partKMSZ", k.Parts)
	items("listCategories", "category", k.Categories)
	items("levelsNPA", "levelNPA", k.NPALevels)
	items("fundingSources", "fundingSource", k.FundingSources)
	items("provisionForms", "provisionForm", k.Forms)
	w("<v:rulesKMSZ>\n")
	for _, r := range k.Rules {
		w("<v:ruleKMSZ>")
		t("v:codePart", r.Part)
		t("v:codeMSZ", r.Measure)
		t("v:codeCategory", r.Category)
		t("v:codeNPA", r.NPALevel)
		t("v:codeFundingSource", r.FundingSource)
		t("v:codeForm", r.Form)
		w("<v:reasons>")
		for _, a := range r.Reasons {
			w("<v:NPA>")
			t("v:number", a.Number)
			t("v:title", a.Title)
			t("v:date", a.Date)
			t("v:authority", a.Authority)
			w("</v:NPA>")
		}
		w("</v:reasons></v:ruleKMSZ>\n")
	}
	w("</v:rulesKMSZ>\n</v:facets>\n</v:version>\n<c:modifications>\n")
	facets := []string{"reestrMSZ", "partsKMSZ", "listCategories", "levelsNPA", "fundingSources", "provisionForms", "rulesKMSZ"}
	for _, f := range facets {
		open := false
		for _, m := range k.Modifications {
			if m.Facet != f {
				continue
			}
			if !open {
				w("<c:" + f + ">\n")
				open = true
			}
			w("<c:modification>")
			t("c:code", m.Code)
			t("c:type", strconv.Itoa(m.Type))
			w("</c:modification>\n")
		}
		if open {
			w("</c:" + f + ">\n")
		}
	}
	w("</c:modifications>\n</request>\n")
	return b.Bytes()
}
