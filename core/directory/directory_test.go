package directory_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/page"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

var bg = context.Background()

func d(s string) civil.Date { return civil.MustParse(s) }

func dp(s string) *civil.Date { v := d(s); return &v }

func all(t *testing.T, s *directory.Service, dir string, asOf civil.Date) []directory.Entry {
	t.Helper()
	es, next, err := s.Entries(bg, dir, directory.Query{AsOf: asOf})
	if err != nil || next != "" {
		t.Fatalf("%s: %v %q", dir, err, next)
	}
	return es
}

func byCode(es []directory.Entry) map[string]directory.Entry {
	m := map[string]directory.Entry{}
	for _, e := range es {
		m[e.Code] = e
	}
	return m
}

// The directories the migration ships, with the facts other packages rely on.
func TestShippedDirectories(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := directory.NewService(env.App.Gorm)
		today := d("2026-03-01")
		regions := byCode(all(t, s, "regions", today))
		if len(regions) != 89 {
			t.Fatalf("%d regions, want 89", len(regions))
		}
		for code, want := range map[string][2]string{
			"66": {"Свердловская область", "65"}, "77": {"Москва", "45"}, "78": {"Санкт-Петербург", "40"},
			"16": {"Республика Татарстан (Татарстан)", "92"}, "86": {"Ханты-Мансийский автономный округ — Югра", "71100"},
			"91": {"Республика Крым", "35"}, "92": {"Севастополь", "67"},
		} {
			r := regions[code]
			if r.Name != want[0] || r.Attributes.String("okato") != want[1] || r.Attributes.Sample() {
				t.Errorf("region %s: %q okato %q sample %v", code, r.Name, r.Attributes.String("okato"), r.Attributes.Sample())
			}
		}
		samples := 0
		for _, r := range regions {
			if r.Attributes.Sample() {
				samples++
				if !strings.HasPrefix(r.Attributes.String("note"), "SAMPLE") {
					t.Errorf("sample region %s has no SAMPLE note", r.Code)
				}
			}
		}
		if samples != 4 {
			t.Errorf("%d sample regions, want the four of 2022", samples)
		}

		pm := byCode(all(t, s, "subsistence_minimums", d("2026-06-01")))
		if len(pm) != 90 {
			t.Fatalf("%d subsistence minimums in force in 2026, want 89 regions and the federal one", len(pm))
		}
		rf := pm["00"]
		if n, _ := rf.Attributes.Int("per_capita_kopecks"); n != 1893900 || rf.Attributes.Sample() {
			t.Errorf("the federal subsistence minimum of 2026: %v", rf.Attributes)
		}
		if n, _ := rf.Attributes.Int("children_kopecks"); n != 1837100 {
			t.Errorf("the federal child subsistence minimum of 2026: %v", rf.Attributes)
		}
		for code, e := range pm {
			if code != "00" && (!e.Attributes.Sample() || !strings.HasPrefix(e.Attributes.String("note"), "SAMPLE")) {
				t.Errorf("subsistence minimum of %s is not labelled a sample: %v", code, e.Attributes)
			}
		}
		e66, err := s.Lookup(bg, "subsistence_minimums", "66", d("2025-07-01"))
		if err != nil || e66.Name != "Свердловская область, 2025" || e66.EffectiveTo.String() != "2025-12-31" {
			t.Fatalf("66 in 2025: %+v %v", e66, err)
		}
		if y, _ := e66.Attributes.Int("year"); y != 2025 {
			t.Fatalf("year %v", e66.Attributes)
		}

		forms := byCode(all(t, s, "provision_forms", today))
		for _, c := range []string{"01", "02", "03", "04", "05"} {
			if _, ok := forms[c]; !ok {
				t.Errorf("form of provision %s missing", c)
			}
		}
		groups := byCode(all(t, s, "disability_groups", today))
		if len(groups) != 6 || groups["4"].Name != "Категория «ребёнок-инвалид»" || groups["7"].Name != "Инвалидность не установлена" {
			t.Errorf("disability groups: %v", groups)
		}
		docs := byCode(all(t, s, "identity_document_types", today))
		if docs["21"].Name != "Паспорт гражданина Российской Федерации" || docs["21"].Attributes.String("number_pattern") != "^[0-9]{6}$" {
			t.Errorf("passport: %+v", docs["21"])
		}
		kin := byCode(all(t, s, "kinship_kinds", today))
		for code, e := range kin {
			if inv := kin[e.Attributes.String("inverse")]; inv.Attributes.String("inverse") != code {
				t.Errorf("kinship %s: inverse %s does not lead back", code, e.Attributes.String("inverse"))
			}
		}
		for _, dir := range []string{"funding_sources", "periodicity", "units", "life_event_types", "recipient_categories", "holidays"} {
			if len(all(t, s, dir, today)) == 0 {
				t.Errorf("%s is empty", dir)
			}
		}
		ds, _, err := s.List(bg, page.KeyRequest{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		ext := map[string]bool{}
		for _, dd := range ds {
			ext[dd.Code] = dd.Extensible
		}
		if !ext["recipient_categories"] || !ext["holidays"] || ext["regions"] {
			t.Errorf("extensible: %v", ext)
		}
	})
}

func TestVersionsAsOfADate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := directory.NewService(env.App.Gorm)
		// A new version of a unit closes the open-ended one the day before.
		v2, err := s.Create(bg, "units", directory.Fields{Code: "796", Name: "Штука (шт.)", Attributes: directory.Attrs{"short_name": "шт."}, EffectiveFrom: d("2026-01-01")})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			on, name string
		}{{"2025-12-31", "Штука"}, {"2026-01-01", "Штука (шт.)"}, {"2030-01-01", "Штука (шт.)"}} {
			e, err := s.Lookup(bg, "units", "796", d(c.on))
			if err != nil || e.Name != c.name {
				t.Errorf("as of %s: %q %v, want %q", c.on, e.Name, err, c.name)
			}
		}
		if _, err := s.Lookup(bg, "units", "796", d("2023-12-31")); !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("before the first version: %v", err)
		}
		hist, _, err := s.Entries(bg, "units", directory.Query{Code: "796"})
		if err != nil || len(hist) != 2 || hist[0].EffectiveTo.String() != "2025-12-31" || hist[0].Version != 2 || hist[1].EffectiveTo != nil {
			t.Fatalf("history: %+v %v", hist, err)
		}

		// Conflicts: the same start again, an overlap with a closed version.
		_, err = s.Create(bg, "units", directory.Fields{Code: "796", Name: "x", Attributes: directory.Attrs{"short_name": "x"}, EffectiveFrom: d("2026-01-01")})
		if !errors.Is(err, fault.ErrConflict) {
			t.Errorf("same start: %v", err)
		}
		_, err = s.Create(bg, "units", directory.Fields{Code: "796", Name: "x", Attributes: directory.Attrs{"short_name": "x"}, EffectiveFrom: d("2025-06-01")})
		if !errors.Is(err, fault.ErrConflict) || !strings.Contains(err.Error(), "overlaps") {
			t.Errorf("overlap with a closed version: %v", err)
		}

		// Validation names every bad field.
		_, err = s.Create(bg, "regions", directory.Fields{Code: "6", Name: " ", Attributes: directory.Attrs{"okato": 65, "colour": "red"}, EffectiveFrom: d("2026-01-01"), EffectiveTo: dp("2025-01-01")})
		var inv *fault.Invalid
		if !errors.As(err, &inv) {
			t.Fatalf("invalid fields: %v", err)
		}
		got := map[string]bool{}
		for _, f := range inv.Fields {
			got[f.Field] = true
		}
		for _, f := range []string{"code", "name", "effective_to", "attributes.okato", "attributes.colour"} {
			if !got[f] {
				t.Errorf("no problem for %s in %v", f, inv)
			}
		}

		// Updates: the sample subsistence minimum of 66 is replaced.
		e, err := s.Lookup(bg, "subsistence_minimums", "66", d("2026-02-01"))
		if err != nil || !e.Attributes.Sample() {
			t.Fatalf("%+v %v", e, err)
		}
		real := directory.Attrs{"year": 2026, "per_capita_kopecks": 1974800, "working_age_kopecks": 2152600,
			"pensioners_kopecks": 1698400, "children_kopecks": 1915600, "basis": "постановление субъекта (test)"}
		up, err := s.Update(bg, "subsistence_minimums", e.ID, e.Version, directory.Change{Attributes: real})
		if err != nil || up.Attributes.Sample() || up.Version != e.Version+1 {
			t.Fatalf("update: %+v %v", up, err)
		}
		if _, err := s.Update(bg, "subsistence_minimums", e.ID, e.Version, directory.Change{Attributes: real}); !errors.Is(err, fault.ErrStale) {
			t.Errorf("stale update: %v", err)
		}
		if _, err := s.Update(bg, "regions", e.ID, up.Version, directory.Change{}); !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("an entry of another directory: %v", err)
		}
		// Closing a version and reopening it.
		closed, err := s.Update(bg, "units", v2.ID, v2.Version, directory.Change{EffectiveTo: dp("2026-12-31")})
		if err != nil || closed.EffectiveTo.String() != "2026-12-31" {
			t.Fatalf("close: %+v %v", closed, err)
		}
		if _, err := s.Lookup(bg, "units", "796", d("2027-01-01")); !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("after the end: %v", err)
		}
		open, err := s.Update(bg, "units", v2.ID, closed.Version, directory.Change{SetEffectiveTo: true})
		if err != nil || open.EffectiveTo != nil {
			t.Fatalf("reopen: %+v %v", open, err)
		}
	})
}

func twoRegions(t *testing.T, env *storetest.Env) (a, b context.Context) {
	t.Helper()
	svc := tenancy.NewService(env.App.Gorm)
	ta, err := svc.Create(bg, tenancy.NewTenant{Code: "66", Name: "Свердловская область", OKATO: "65", OKTMO: "65000000"})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := svc.Create(bg, tenancy.NewTenant{Code: "16", Name: "Республика Татарстан", OKATO: "92", OKTMO: "92000000"})
	if err != nil {
		t.Fatal(err)
	}
	return tenancy.WithTenant(bg, ta.ID), tenancy.WithTenant(bg, tb.ID)
}

func TestRegionOverlays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := directory.NewService(env.App.Gorm)
		a, b := twoRegions(t, env)
		cat := func(code, name string) directory.Fields {
			return directory.Fields{Code: code, Name: name, EffectiveFrom: d("2025-01-01")}
		}
		own, err := s.RegionCreate(a, "recipient_categories", cat("66-children-of-war", "Дети войны"))
		if err != nil || own.Origin != directory.Region {
			t.Fatalf("%+v %v", own, err)
		}
		if _, err := s.RegionCreate(b, "recipient_categories", cat("16-young-family", "Молодые семьи")); err != nil {
			t.Fatal(err)
		}
		// Not in a directory that is not extensible; not a platform code.
		if _, err := s.RegionCreate(a, "regions", directory.Fields{Code: "99", Name: "x", Attributes: directory.Attrs{"okato": "1"}, EffectiveFrom: d("2025-01-01")}); !errors.Is(err, fault.ErrConflict) {
			t.Errorf("overlay of a closed directory: %v", err)
		}
		if _, err := s.RegionCreate(a, "recipient_categories", cat("large_family", "Многодетные")); !errors.Is(err, fault.ErrConflict) {
			t.Errorf("a platform code: %v", err)
		}
		// Each region sees the platform's entries and its own.
		seen := func(ctx context.Context) map[string]directory.Origin {
			es, _, err := s.RegionEntries(ctx, "recipient_categories", directory.Query{AsOf: d("2026-01-01")})
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]directory.Origin{}
			for _, e := range es {
				m[e.Code] = e.Origin
			}
			return m
		}
		ma, mb := seen(a), seen(b)
		if ma["66-children-of-war"] != directory.Region || ma["large_family"] != directory.Platform || ma["16-young-family"] != "" {
			t.Errorf("region 66 sees %v", ma)
		}
		if mb["16-young-family"] != directory.Region || mb["66-children-of-war"] != "" {
			t.Errorf("region 16 sees %v", mb)
		}
		if len(ma) != 11 {
			t.Errorf("region 66 sees %d categories, want 10 + 1", len(ma))
		}
		// The platform's view has no region's entries.
		if es := all(t, s, "recipient_categories", d("2026-01-01")); len(es) != 10 {
			t.Errorf("the platform sees %d", len(es))
		}
		// Lookups as a region.
		if e, err := s.Lookup(a, "recipient_categories", "66-children-of-war", d("2026-01-01")); err != nil || e.ID != own.ID {
			t.Errorf("lookup own: %+v %v", e, err)
		}
		if _, err := s.Lookup(b, "recipient_categories", "66-children-of-war", d("2026-01-01")); !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("another region's entry: %v", err)
		}
		// Another region's entry is not found by id; a platform entry is not the region's to change.
		if _, err := s.RegionEntry(b, "recipient_categories", own.ID); !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("read by id from another region: %v", err)
		}
		if _, err := s.RegionUpdate(b, "recipient_categories", own.ID, own.Version, directory.Change{Name: ptr("захват")}); !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("update from another region: %v", err)
		}
		plat, err := s.Lookup(bg, "recipient_categories", "large_family", d("2026-01-01"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RegionUpdate(a, "recipient_categories", plat.ID, plat.Version, directory.Change{Name: ptr("x")}); !errors.Is(err, fault.ErrConflict) {
			t.Errorf("a region changing a platform entry: %v", err)
		}
		up, err := s.RegionUpdate(a, "recipient_categories", own.ID, own.Version, directory.Change{Name: ptr("Дети Великой Отечественной войны")})
		if err != nil || up.Version != 2 {
			t.Fatalf("%+v %v", up, err)
		}
		// A platform code published later shadows a region's entry of that code.
		if _, err := s.Create(bg, "recipient_categories", cat("16-young-family", "Молодые семьи (федеральная)")); err != nil {
			t.Fatal(err)
		}
		if o := seen(b)["16-young-family"]; o != directory.Platform {
			t.Errorf("shadowed code seen as %q", o)
		}

		// Pages through the merged view are complete and in order.
		for i := 0; i < 7; i++ {
			if _, err := s.RegionCreate(a, "recipient_categories", cat("66-extra-"+string(rune('a'+i)), "Категория")); err != nil {
				t.Fatal(err)
			}
		}
		var codes []string
		cursor := ""
		for {
			p, err := page.ParseKey(3, cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			es, next, err := s.RegionEntries(a, "recipient_categories", directory.Query{AsOf: d("2026-01-01"), Page: p})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				codes = append(codes, e.Code)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(codes) != 19 || !isSorted(codes) {
			t.Errorf("paged merged view: %d codes %v", len(codes), codes)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func isSorted(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

func TestWorkingDays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := directory.NewService(env.App.Gorm)
		for _, c := range []struct {
			from string
			n    int
			want string
		}{
			// June 2025: Thursday 12 is Russia Day, Friday 13 a day off moved from 8 March.
			{"2025-06-10", 1, "2025-06-11"},
			{"2025-06-10", 2, "2025-06-16"},
			{"2025-06-10", 3, "2025-06-17"},
			{"2025-06-11", 0, "2025-06-11"},
			// November 2025: Saturday 1 works, Monday 3 and Tuesday 4 do not.
			{"2025-10-31", 1, "2025-11-01"},
			{"2025-10-31", 2, "2025-11-05"},
			// New Year 2026: 31 December 2025 to 11 January 2026 off.
			{"2025-12-30", 1, "2026-01-12"},
			{"2025-12-26", 10, "2026-01-21"},
			// An ordinary week.
			{"2026-04-06", 5, "2026-04-13"},
		} {
			got, err := s.WorkingDays(bg, d(c.from), c.n)
			if err != nil || got.String() != c.want {
				t.Errorf("WorkingDays(%s, %d) = %s %v, want %s", c.from, c.n, got, err, c.want)
			}
		}
		if _, err := s.WorkingDays(bg, d("2025-01-01"), -1); !errors.Is(err, directory.ErrNegativeDays) {
			t.Errorf("negative: %v", err)
		}
		// A region's own day off counts for it alone.
		a, b := twoRegions(t, env)
		if _, err := s.RegionCreate(a, "holidays", directory.Fields{Code: "2025-06-11", Name: "Региональный выходной", Attributes: directory.Attrs{"kind": "day_off"}, EffectiveFrom: d("2025-01-01")}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.WorkingDays(a, d("2025-06-10"), 1); got.String() != "2025-06-16" {
			t.Errorf("region 66: %s", got)
		}
		if got, _ := s.WorkingDays(b, d("2025-06-10"), 1); got.String() != "2025-06-11" {
			t.Errorf("region 16: %s", got)
		}
		cal, err := s.Calendar(bg, d("2025-01-01"), d("2025-12-31"))
		if err != nil {
			t.Fatal(err)
		}
		working := 0
		for day := d("2025-01-01"); !day.After(d("2025-12-31")); day = day.AddDays(1) {
			if cal.IsWorkingDay(day) {
				working++
			}
		}
		if working != 247 {
			t.Errorf("2025 has %d working days, want 247", working)
		}
		cal, _ = s.Calendar(bg, d("2026-01-01"), d("2026-12-31"))
		working = 0
		for day := d("2026-01-01"); !day.After(d("2026-12-31")); day = day.AddDays(1) {
			if cal.IsWorkingDay(day) {
				working++
			}
		}
		if working != 247 {
			t.Errorf("2026 has %d working days, want 247", working)
		}
	})
}

// Every shipped directory exports to CSV and JSON and imports back with
// nothing changed.
func TestExportImportRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := directory.NewService(env.App.Gorm)
		ds, _, err := s.List(bg, page.KeyRequest{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, dir := range ds {
			n := len(all(t, s, dir.Code, civil.Date{}))
			for _, f := range []directory.Format{directory.CSV, directory.JSON} {
				var buf bytes.Buffer
				if err := s.Export(bg, dir.Code, f, civil.Date{}, &buf); err != nil {
					t.Fatal(err)
				}
				res, err := s.Import(bg, dir.Code, f, bytes.NewReader(buf.Bytes()))
				if err != nil {
					t.Fatalf("%s %s: %v\n%s", dir.Code, f, err, buf.String())
				}
				if res != (directory.Result{Unchanged: n}) {
					t.Errorf("%s %s: reimport %+v, want %d unchanged", dir.Code, f, res, n)
				}
			}
		}
		var buf bytes.Buffer
		if err := s.Export(bg, "regions", directory.CSV, d("2026-01-01"), &buf); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(buf.String(), "code,name,effective_from,effective_to,okato,sample,note\n01,Республика Адыгея (Адыгея),2024-01-01,,79,,\n") {
			t.Errorf("regions CSV:\n%.300s", buf.String())
		}
	})
}

func TestImportReportsEveryBadLine(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := directory.NewService(env.App.Gorm)
		before := len(all(t, s, "units", civil.Date{}))
		csv := strings.Join([]string{
			"code,name,effective_from,effective_to,short_name,sample",
			"999,Новая единица,2026-01-01,,н.е.,",      // 2: good
			"12,Неправильный код,2026-01-01,,x,",       // 3: code pattern
			"998,Дата,2026-13-01,,x,",                  // 4: bad date
			"997,Без сокращения,2026-01-01,,,",         // 5: required attribute
			"996,Булево,2026-01-01,,x,maybe",           // 6: boolean
			"995,Мало полей,2026-01-01",                // 7: field count
			"999,Повтор,2026-01-01,,x,",                // 8: repeats line 2
			"796,Перекрытие,2023-01-01,2024-06-30,шт,", // 9: overlaps the shipped version
			`994,"Кавычка не закрыта,2026-01-01,,x,`,   // 10: broken quoting to the end
		}, "\n") + "\n"
		_, err := s.Import(bg, "units", directory.CSV, strings.NewReader(csv))
		var inv *fault.Invalid
		if !errors.As(err, &inv) {
			t.Fatalf("%v", err)
		}
		var lines []string
		for _, f := range inv.Fields {
			lines = append(lines, f.Field)
		}
		want := []string{"line[3].code", "line[4].effective_from", "line[5].attributes.short_name", "line[6].attributes.sample",
			"line[7]", "line[8].effective_from", "line[9].effective_from", "line[10]"}
		if strings.Join(lines, " ") != strings.Join(want, " ") {
			t.Errorf("problems at %v, want %v\n%v", lines, want, inv)
		}
		for _, f := range inv.Fields {
			if !strings.HasPrefix(f.Message, "line ") {
				t.Errorf("message without its line: %q", f.Message)
			}
		}
		if after := len(all(t, s, "units", civil.Date{})); after != before {
			t.Errorf("a refused file wrote %d versions", after-before)
		}

		// Unknown columns and a file for another directory are refused whole.
		for _, c := range []struct {
			f    directory.Format
			body string
			want string
		}{
			{directory.CSV, "code,name,effective_from,tenant_id\n1,x,2025-01-01,y\n", "line[1].tenant_id"},
			{directory.CSV, "", "line[1]"},
			{directory.JSON, `{"directory": "regions", "entries": []}`, "directory"},
			{directory.JSON, `{"entries": [], "tenant_id": "x"}`, "tenant_id"},
			{directory.JSON, "{\"entries\": [\n  {\"code\": \"993\", \"name\": \"x\", \"effective_from\": \"2025-01-01\", \"attributes\": {\"short_name\": \"x\"}, \"id\": 1}\n]}", "entries[0].id"},
			{directory.JSON, "{\"entries\": [\n  {\"code\": \"993\", \"name\": 5, \"effective_from\": \"2025-01-01\"}\n]}", "entries[0].name"},
			{directory.JSON, "{\"entries\": [\n", "line[2]"},
		} {
			_, err := s.Import(bg, "units", c.f, strings.NewReader(c.body))
			if !errors.As(err, &inv) || len(inv.Fields) == 0 || !strings.HasPrefix(inv.Fields[0].Field, c.want) {
				t.Errorf("%s %q: %v, want a problem at %s", c.f, c.body, err, c.want)
			}
		}
		_, err = s.Import(bg, "units", directory.JSON, strings.NewReader("{\"entries\": [\n\n  {\"code\": \"993\", \"name\": \"x\", \"effective_from\": \"2025-01-01\"}\n]}"))
		if !errors.As(err, &inv) || inv.Fields[0].Field != "entries[0].attributes.short_name" || !strings.HasPrefix(inv.Fields[0].Message, "line 3: ") {
			t.Errorf("a JSON entry's problem names its line: %v", err)
		}

		// A good file: new versions, a changed one, and the second load changes nothing.
		good := "code;name;effective_from;effective_to;short_name\n999;Новая единица;2026-01-01;;н.е.\n383;Рубль;2024-01-01;;₽\n"
		res, err := s.Import(bg, "units", directory.CSV, strings.NewReader("\xEF\xBB\xBF"+good))
		if err != nil || res != (directory.Result{Created: 1, Updated: 1}) {
			t.Fatalf("%+v %v", res, err)
		}
		res, err = s.Import(bg, "units", directory.CSV, strings.NewReader(good))
		if err != nil || res != (directory.Result{Unchanged: 2}) {
			t.Fatalf("second load: %+v %v", res, err)
		}
	})
}

func TestRegionImportExport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := directory.NewService(env.App.Gorm)
		a, b := twoRegions(t, env)
		file := `{"directory": "recipient_categories", "entries": [
  {"code": "66-a", "name": "Первая", "effective_from": "2025-01-01"},
  {"code": "66-b", "name": "Вторая", "effective_from": "2025-01-01", "effective_to": "2025-12-31", "attributes": {"kmsz_category": "01000000"}}
]}`
		res, err := s.RegionImport(a, "recipient_categories", directory.JSON, strings.NewReader(file))
		if err != nil || res.Created != 2 {
			t.Fatalf("%+v %v", res, err)
		}
		var out bytes.Buffer
		if err := s.RegionExport(a, "recipient_categories", directory.JSON, civil.Date{}, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), `"66-b"`) || strings.Contains(out.String(), "large_family") {
			t.Errorf("region export holds what is not the region's own:\n%s", out.String())
		}
		res, err = s.RegionImport(a, "recipient_categories", directory.JSON, &out)
		if err != nil || res != (directory.Result{Unchanged: 2}) {
			t.Fatalf("reimport %+v %v", res, err)
		}
		out.Reset()
		if err := s.RegionExport(b, "recipient_categories", directory.CSV, civil.Date{}, &out); err != nil {
			t.Fatal(err)
		}
		if strings.Count(out.String(), "\n") != 1 {
			t.Errorf("region 16 exports region 66's entries:\n%s", out.String())
		}
		if _, err := s.RegionImport(a, "units", directory.CSV, strings.NewReader("code,name,effective_from\n")); !errors.Is(err, fault.ErrConflict) {
			t.Errorf("a region importing into a closed directory: %v", err)
		}
		_, err = s.RegionImport(a, "recipient_categories", directory.CSV, strings.NewReader("code,name,effective_from\nlarge_family,x,2025-01-01\n"))
		if !errors.Is(err, fault.ErrInvalid) || !strings.Contains(err.Error(), "platform") {
			t.Errorf("a region importing a platform code: %v", err)
		}
	})
}

func TestImportKMSZ(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := directory.NewService(env.App.Gorm)
		res, err := s.ImportKMSZ(bg, bytes.NewReader(readTestdata(t, "kmsz-10.01.O-1.0.3-v1.xml")))
		if err != nil {
			t.Fatal(err)
		}
		if res.Version != 41 || res.Directories["kmsz"].Created != 3 || res.Directories["kmsz_measures"].Created != 4 ||
			res.Directories["provision_forms"].Unchanged != 4 || res.Directories["funding_sources"].Updated != 2 ||
			res.Directories["funding_sources"].Closed != 2 {
			t.Fatalf("%+v", res)
		}
		code := "0101.01010000.02.0002.01.010100"
		k, err := s.Lookup(bg, "kmsz", code, d("2025-06-01"))
		if err != nil {
			t.Fatal(err)
		}
		if k.Name != "Ежемесячная выплата на ребёнка в возрасте до трёх лет — Малоимущие семьи с детьми в возрасте до трёх лет" ||
			k.Attributes.String("measure") != "0101" || k.Attributes.String("form") != "01" {
			t.Fatalf("%+v", k)
		}
		if v, _ := k.Attributes.Int("kmsz_version"); v != 41 {
			t.Fatalf("kmsz_version %v", k.Attributes)
		}
		// The shipped sample funding sources gave way to the version's.
		fs, err := s.Lookup(bg, "funding_sources", "0001", d("2025-06-01"))
		if err != nil || fs.Attributes.Sample() {
			t.Fatalf("%+v %v", fs, err)
		}
		if _, err := s.Lookup(bg, "funding_sources", "0003", d("2025-06-01")); !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("a sample the version does not have is still in force: %v", err)
		}
		dir, _ := s.Get(bg, "kmsz")
		if dir.SourceVersion != 41 || !strings.Contains(dir.Source, "version 41") {
			t.Errorf("source %q %d", dir.Source, dir.SourceVersion)
		}

		// Loading it again, or as a 10.02.I response, changes nothing.
		for _, f := range []string{"kmsz-10.01.O-1.0.3-v1.xml", "kmsz-10.02.I-1.0.3.xml"} {
			again, err := s.ImportKMSZ(bg, bytes.NewReader(readTestdata(t, f)))
			if err != nil {
				t.Fatal(err)
			}
			for dir, r := range again.Directories {
				if r.Created+r.Updated+r.Closed != 0 {
					t.Errorf("%s: second load changed %s: %+v", f, dir, r)
				}
			}
		}

		// Version 42 from 2026: a renamed measure, a new one, one withdrawn.
		res, err = s.ImportKMSZ(bg, bytes.NewReader(readTestdata(t, "kmsz-10.01.O-1.0.3-v2.xml")))
		if err != nil {
			t.Fatal(err)
		}
		if m := res.Directories["kmsz_measures"]; m != (directory.Result{Created: 1, Updated: 1, Closed: 1, Unchanged: 2}) {
			t.Errorf("measures: %+v", m)
		}
		if r := res.Directories["kmsz"]; r != (directory.Result{Created: 1, Updated: 1, Closed: 1, Unchanged: 1}) {
			t.Errorf("codes: %+v", r)
		}
		for _, c := range []struct {
			code, on string
			there    bool
		}{
			{"0102.01000000.01.0001.01.010100", "2025-12-31", true},
			{"0102.01000000.01.0001.01.010100", "2026-01-01", false},
			{"0103.01000000.02.0002.01.010100", "2025-12-31", false},
			{"0103.01000000.02.0002.01.010100", "2026-01-01", true},
		} {
			_, err := s.Lookup(bg, "kmsz", c.code, d(c.on))
			if (err == nil) != c.there {
				t.Errorf("%s on %s: %v", c.code, c.on, err)
			}
		}
		old, _ := s.Lookup(bg, "kmsz", code, d("2025-12-31"))
		cur, _ := s.Lookup(bg, "kmsz", code, d("2026-01-01"))
		if old.ID == cur.ID || !strings.Contains(cur.Name, "в малоимущей семье") {
			t.Errorf("the renamed measure: %q then %q", old.Name, cur.Name)
		}

		// An older version is refused.
		if _, err := s.ImportKMSZ(bg, bytes.NewReader(readTestdata(t, "kmsz-10.01.O-1.0.3-v1.xml"))); !errors.Is(err, fault.ErrConflict) {
			t.Errorf("older version: %v", err)
		}
		// A broken file names its line.
		bad := strings.Replace(string(readTestdata(t, "kmsz-10.01.O-1.0.3-v2.xml")), "<v:code>0101</v:code>", "<v:code>101</v:code>", 1)
		_, err = s.ImportKMSZ(bg, strings.NewReader(bad))
		var inv *fault.Invalid
		if !errors.As(err, &inv) || inv.Fields[0].Field != "line[21]" || !strings.Contains(inv.Fields[0].Message, "line 21, column") {
			t.Errorf("broken file: %v", err)
		}
		// A draft is not loaded.
		draft := strings.Replace(string(readTestdata(t, "kmsz-10.01.O-1.0.3-v2.xml")), "<b:version_status>5<", "<b:version_status>1<", 1)
		if _, err := s.ImportKMSZ(bg, strings.NewReader(draft)); !errors.As(err, &inv) || inv.Fields[0].Field != "version_status" {
			t.Errorf("draft: %v", err)
		}
	})
}

func TestUnknownDirectory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := directory.NewService(env.App.Gorm)
		for _, code := range []string{"nope", "Regions", "x", "../etc"} {
			if _, _, err := s.Entries(bg, code, directory.Query{}); !errors.Is(err, fault.ErrNotFound) {
				t.Errorf("%q: %v", code, err)
			}
		}
		if _, err := s.Entry(bg, "regions", uuid.New()); !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
	})
}
