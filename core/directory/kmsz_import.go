package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
)

// The directories a KMSZ version loads into, by facet.
const (
	DirKMSZ           = "kmsz"
	DirKMSZMeasures   = "kmsz_measures"
	DirKMSZParts      = "kmsz_parts"
	DirKMSZCategories = "kmsz_categories"
	DirKMSZNPALevels  = "kmsz_npa_levels"
	DirFundingSources = "funding_sources"
	DirProvisionForms = "provision_forms"
)

// AttrKMSZVersion records, on an entry version a KMSZ import wrote, the
// classifier version it came from.
const AttrKMSZVersion = "kmsz_version"

// KMSZResult reports a KMSZ version's import.
type KMSZResult struct {
	Message string     `json:"message"`
	Version int64      `json:"version"`
	Status  int        `json:"status"`
	Start   civil.Date `json:"start"`
	// Directories counts the changes per directory.
	Directories   map[string]Result `json:"directories"`
	Modifications int               `json:"modifications"`
}

// ImportKMSZ loads a KMSZ classifier version (see ParseKMSZ) into the
// platform directories — kmsz (the codes), kmsz_measures, kmsz_parts,
// kmsz_categories, kmsz_npa_levels, funding_sources, provision_forms — as
// of the version's start date: a code new in the version gets a version
// from that date, a changed one has its version end the day before and a
// new one start, and a code the version no longer has ends the day before
// (in funding_sources and provision_forms only the entries an earlier KMSZ
// import wrote, or samples). Versions load in order: an older version than
// the last loaded is refused; loading the same version again changes
// nothing.
func (s *Service) ImportKMSZ(ctx context.Context, r io.Reader) (KMSZResult, error) {
	k, err := ParseKMSZ(r)
	if err != nil {
		return KMSZResult{}, xmlInvalid(err)
	}
	v := k.Version
	start := v.StartDate()
	res := KMSZResult{Message: k.Message, Version: v.Number, Status: v.Status, Start: start,
		Directories: map[string]Result{}, Modifications: len(k.Modifications)}
	if v.Status < 3 || v.Status > 5 {
		return res, &fault.Invalid{Fields: []fault.FieldError{{Field: "version_status",
			Message: fmt.Sprintf("version %d has status %d (%s): only a published (3), activating (4) or active (5) version is loaded",
				v.Number, v.Status, map[int]string{1: "draft", 2: "being published", 6: "archived"}[v.Status]),
			Value: v.Status}}}
	}
	facets := k.facets()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if tx.Dialector.Name() == "postgres" {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtextextended('directory:kmsz', 0))").Error; err != nil {
				return err
			}
		}
		last, err := getDir(tx, DirKMSZ)
		if err != nil {
			return err
		}
		switch {
		case v.Number < last.SourceVersion:
			return fault.Conflictf("KMSZ version %d is older than version %d, which is loaded", v.Number, last.SourceVersion)
		case v.Number > last.SourceVersion && last.SourceDate != nil && !start.After(*last.SourceDate):
			return fault.Conflictf("KMSZ version %d starts on %s, not after version %d (%s), which is loaded", v.Number, start, last.SourceVersion, last.SourceDate)
		}
		var (
			writers []*writer
			ps      []lineProblem
		)
		for _, f := range facets {
			w, err := s.prepare(tx, side{}, f.dir)
			if err != nil {
				return err
			}
			ps = append(ps, w.sync(f.wants, start, v.Number, f.closeAbsent)...)
			writers = append(writers, w)
		}
		if len(ps) > 0 {
			return fileError(ps)
		}
		changed := false
		for _, w := range writers {
			res.Directories[w.dir.Code] = w.result
			changed = changed || len(w.inserts)+len(w.updates) > 0
		}
		if v.Number == last.SourceVersion && changed {
			return fault.Conflictf("KMSZ version %d was loaded before with other content; a changed classifier comes as a new version", v.Number)
		}
		for _, w := range writers {
			if err := w.execute(tx); err != nil {
				return err
			}
			src := fmt.Sprintf("EGISSO KMSZ version %d (%s, document %s)", v.Number, k.Message, strings.TrimSpace(v.Document))
			if err := tx.Model(&Directory{}).Where("code = ?", w.dir.Code).Updates(map[string]any{
				"source": src, "source_version": v.Number, "source_date": start, "updated_at": tx.NowFunc(),
			}).Error; err != nil {
				return err
			}
		}
		return nil
	})
	return res, err
}

// xmlInvalid turns parse problems into a *fault.Invalid naming their lines.
func xmlInvalid(err error) error {
	es, ok := err.(XMLErrors)
	if !ok {
		return err
	}
	inv := &fault.Invalid{}
	for _, e := range es {
		inv.Add(fmt.Sprintf("line[%d]", e.Line), e.Error(), nil)
	}
	return inv
}

// want is an entry a KMSZ version holds.
type want struct {
	code, name string
	attrs      Attrs
	line       int
}

type kmszFacet struct {
	dir         string
	wants       []want
	closeAbsent func(Entry) bool
}

func (k *KMSZ) facets() []kmszFacet {
	always := func(Entry) bool { return true }
	fromKMSZ := func(e Entry) bool { _, ok := e.Attributes[AttrKMSZVersion]; return ok || e.Attributes.Sample() }
	items := func(list []KMSZItem, parents bool) []want {
		out := make([]want, len(list))
		for i, it := range list {
			a := Attrs{}
			if parents && it.Parent != "" {
				a["parent"] = it.Parent
			}
			out[i] = want{code: it.Code, name: oneLine(it.Name), attrs: a, line: it.Line}
		}
		return out
	}
	names := func(list []KMSZItem) map[string]string {
		m := map[string]string{}
		for _, it := range list {
			m[it.Code] = oneLine(it.Name)
		}
		return m
	}
	measures, categories := names(k.Measures), names(k.Categories)
	rules := make([]want, len(k.Rules))
	for i, r := range k.Rules {
		reasons := make([]any, len(r.Reasons))
		for j, a := range r.Reasons {
			reasons[j] = map[string]any{"number": a.Number, "title": a.Title, "date": a.Date, "authority": a.Authority}
		}
		a := Attrs{"measure": r.Measure, "category": r.Category, "npa_level": r.NPALevel,
			"funding_source": r.FundingSource, "form": r.Form, "part": r.Part, "reasons": reasons}
		if len(r.Related) > 0 {
			rel := make([]any, len(r.Related))
			for j, c := range r.Related {
				rel[j] = c
			}
			a["related"] = rel
		}
		rules[i] = want{code: r.Code(), name: measures[r.Measure] + " — " + categories[r.Category], attrs: a, line: r.Line}
	}
	return []kmszFacet{
		{DirKMSZMeasures, items(k.Measures, true), always},
		{DirKMSZParts, items(k.Parts, true), always},
		{DirKMSZCategories, items(k.Categories, true), always},
		{DirKMSZNPALevels, items(k.NPALevels, false), always},
		{DirFundingSources, items(k.FundingSources, false), fromKMSZ},
		{DirProvisionForms, items(k.Forms, false), fromKMSZ},
		{DirKMSZ, rules, always},
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// sync plans the writes that make the directory, as of d, hold exactly the
// wanted entries (of those closeAbsent lets it end).
func (w *writer) sync(wants []want, d civil.Date, version int64, closeAbsent func(Entry) bool) []lineProblem {
	w.loaded()
	now := w.now()
	var ps []lineProblem
	prob := func(line int, msg string, conflict bool) {
		ps = append(ps, lineProblem{line: line, field: fmt.Sprintf("line[%d]", line), msg: fmt.Sprintf("line %d: %s", line, msg), conflict: conflict})
	}
	seen := map[string]bool{}
	closeAt := d.AddDays(-1)
	for _, wt := range wants {
		f, fps := w.dir.checkFields(Fields{Code: wt.code, Name: wt.name, Attributes: wt.attrs, EffectiveFrom: d})
		for _, p := range fps {
			prob(wt.line, fmt.Sprintf("directory %s, code %s: %s %s", w.dir.Code, wt.code, p.field, p.msg), false)
		}
		if len(fps) > 0 {
			continue
		}
		seen[f.Code] = true
		versions := w.byCode[f.Code]
		if i := slices.IndexFunc(versions, func(e Entry) bool { return e.EffectiveFrom.After(d) }); i >= 0 {
			prob(wt.line, fmt.Sprintf("directory %s has %s, which starts after this KMSZ version (%s)", w.dir.Code, describe(versions[i]), d), true)
			continue
		}
		attrs := maps.Clone(f.Attributes)
		attrs[AttrKMSZVersion] = jsonInt(version)
		i := slices.IndexFunc(versions, func(e Entry) bool { return e.InForce(d) })
		switch {
		case i < 0:
			w.insert(Entry{DirectoryCode: w.dir.Code, Code: f.Code, Name: f.Name, Attributes: attrs, EffectiveFrom: d}, now)
			w.result.Created++
		case versions[i].Name == f.Name && versions[i].Attributes.equal(f.Attributes, AttrKMSZVersion):
			w.result.Unchanged++
		case versions[i].EffectiveFrom.Equal(d):
			next := versions[i]
			next.Name, next.Attributes = f.Name, attrs
			w.change(versions[i], next)
			w.result.Updated++
		default:
			cur := versions[i]
			closed := cur
			closed.EffectiveTo = &closeAt
			w.change(cur, closed)
			w.insert(Entry{DirectoryCode: w.dir.Code, Code: f.Code, Name: f.Name, Attributes: attrs, EffectiveFrom: d, EffectiveTo: cur.EffectiveTo}, now)
			w.result.Updated++
		}
	}
	for _, code := range slices.Sorted(maps.Keys(w.byCode)) {
		if seen[code] {
			continue
		}
		for _, e := range w.byCode[code] {
			if !e.InForce(d) || !closeAbsent(e) {
				continue
			}
			if e.EffectiveFrom.Equal(d) {
				prob(1, fmt.Sprintf("directory %s: %s starts on the version's start date and is not in the version", w.dir.Code, describe(e)), true)
				continue
			}
			closed := e
			closed.EffectiveTo = &closeAt
			w.change(e, closed)
			w.result.Closed++
		}
	}
	return ps
}

func (w *writer) insert(e Entry, now time.Time) {
	e.ID = uuid.Must(uuid.NewV7())
	e.Version = 1
	e.Origin = w.side.origin()
	e.CreatedAt, e.UpdatedAt = now, now
	w.inserts = append(w.inserts, e)
}

func jsonInt(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

func (w *writer) change(from, to Entry) {
	w.updates = append(w.updates, change{version: from.Version, to: to})
}
