package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// snils is the valid SNILS of a number above 1001998.
func snils(n int) string { return ident.SNILSOf(n) }

// badSNILS is a SNILS with a wrong check number.
func badSNILS(n int) string {
	s := snils(n)
	d := (int(s[10]-'0') + 1) % 10
	return s[:10] + string(rune('0'+d))
}

// messyFile is an NDJSON file of persons and their facts where every
// tenth line is bad in one of several ways; it returns the file and the
// numbers of the bad lines.
func messyFile(persons int) ([]byte, []int64) {
	var b bytes.Buffer
	var bad []int64
	line := int64(0)
	add := func(s string, isBad bool) {
		line++
		b.WriteString(s)
		b.WriteByte('\n')
		if isBad {
			bad = append(bad, line)
		}
	}
	kinds := 0
	for i := 0; i < persons; i++ {
		sn := snils(2000000 + i)
		isBad := (line+1)%10 == 0
		switch {
		case isBad && kinds%4 == 0:
			add(fmt.Sprintf(`{"type":"person","snils":"%s","family_name":"Иванов","first_name":"Иван","birth_date":"1980-01-01","sex":"male"}`, badSNILS(2000000+i)), true)
			kinds++
			continue
		case isBad && kinds%4 == 1:
			add(fmt.Sprintf(`{"type":"person","snils":"%s","family_name":"Иванов","first_name":"Иван","birth_date":"1980-02-30","sex":"male"}`, sn), true)
			kinds++
			continue
		case isBad && kinds%4 == 2:
			add(fmt.Sprintf(`{"type":"person","snils":"%s","family_name":"Иванов","first_name":"Иван","birth_date":"2099-01-01","sex":"male"}`, sn), true)
			kinds++
			continue
		case isBad:
			add(fmt.Sprintf(`{"type":"person","snils":"%s","family_name":"Иванов","first_name":"Иван","birth_date":"1980-01-01","sex":"robot"}`, sn), true)
			kinds++
			continue
		}
		add(fmt.Sprintf(`{"type":"person","snils":"%s","family_name":"Петрова","first_name":"Анна","birth_date":"1985-03-%02d","sex":"female","address":{"oktmo":"65701000","text":"Екатеринбург"}}`, sn, 1+i%28), false)
		isBad = (line+1)%10 == 0
		if isBad {
			add(fmt.Sprintf(`{"type":"income","snils":"%s","month":"2026-01","kind":"lottery","amount_kopecks":100}`, sn), true)
		} else {
			add(fmt.Sprintf(`{"type":"income","snils":"%s","month":"2026-01","kind":"salary","amount_kopecks":%d}`, sn, 3000000+i), false)
		}
		isBad = (line+1)%10 == 0
		if isBad {
			add(fmt.Sprintf(`{"type":"category","snils":"%s","code":"no_such_category","valid_from":"2025-01-01"}`, sn), true)
		} else {
			add(fmt.Sprintf(`{"type":"category","snils":"%s","code":"large_family","valid_from":"2025-01-01"}`, sn), false)
		}
	}
	// A truncated last line.
	line++
	b.WriteString(`{"type":"person","snils":"` + snils(3999999) + `","family_na`)
	bad = append(bad, line)
	return b.Bytes(), bad
}

func counts(t *testing.T, ctx context.Context, db *gorm.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
		for _, table := range []string{"persons", "relations", "incomes", "disabilities", "person_categories", "person_history"} {
			var n int64
			if err := tx.Table(table).Count(&n).Error; err != nil {
				return err
			}
			out[table] = n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func badLines(t *testing.T, f *fixture, ctx context.Context, id uuid.UUID) []int64 {
	t.Helper()
	errs, _, err := f.reg.ImportErrors(ctx, id, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, e := range errs {
		if len(out) == 0 || out[len(out)-1] != e.Line {
			out = append(out, e.Line)
		}
		if strings.Contains(e.Message, "2000") {
			t.Errorf("line %d: error message %q may quote a SNILS", e.Line, e.Message)
		}
	}
	return out
}

func TestImportReportsExactlyTheBadLines(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		file, bad := messyFile(300)
		im, err := f.reg.ImportFile(f.a, registry.ImportRequest{Format: registry.FormatNDJSON}, bytes.NewReader(file), nil)
		if err != nil {
			t.Fatal(err)
		}
		total := int64(bytes.Count(file, []byte("\n")) + 1)
		if im.Status != registry.StatusDone || im.Progress.Lines != total || im.Progress.Rejected != int64(len(bad)) ||
			im.Progress.Imported != total-int64(len(bad)) {
			t.Fatalf("import %+v: want done, %d lines, %d rejected", im, total, len(bad))
		}
		if got := badLines(t, f, f.a, im.ID); fmt.Sprint(got) != fmt.Sprint(bad) {
			t.Fatalf("bad lines reported %v\nwant %v", got, bad)
		}
		first := counts(t, f.a, env.App.Gorm)
		if first["persons"] == 0 || first["incomes"] == 0 || first["person_categories"] == 0 {
			t.Fatalf("nothing stored: %v", first)
		}

		// The same file again changes nothing.
		again, err := f.reg.ImportFile(f.a, registry.ImportRequest{Format: registry.FormatNDJSON}, bytes.NewReader(file), nil)
		if err != nil {
			t.Fatal(err)
		}
		if again.Progress.Imported != 0 || again.Progress.Unchanged != total-int64(len(bad)) {
			t.Fatalf("second import %+v: want nothing imported", again.Progress)
		}
		if second := counts(t, f.a, env.App.Gorm); fmt.Sprint(second) != fmt.Sprint(first) {
			t.Fatalf("rows after the second import %v, after the first %v", second, first)
		}
		// Region 16 sees none of it.
		if other := counts(t, f.b, env.App.Gorm); other["persons"] != 0 || other["incomes"] != 0 {
			t.Fatalf("region 16 sees %v", other)
		}

		// all_or_nothing: the same bad lines, nothing written.
		g := newFixtureIn(t, f)
		im, err = f.reg.ImportFile(g, registry.ImportRequest{Format: registry.FormatNDJSON, Mode: registry.AllOrNothing}, bytes.NewReader(file), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := badLines(t, f, g, im.ID); fmt.Sprint(got) != fmt.Sprint(bad) {
			t.Fatalf("all_or_nothing: bad lines reported %v\nwant %v", got, bad)
		}
		if c := counts(t, g, env.App.Gorm); c["persons"] != 0 || c["incomes"] != 0 || c["person_categories"] != 0 {
			t.Fatalf("all_or_nothing stored %v", c)
		}
	})
}

// newFixtureIn adds a third, empty region.
func newFixtureIn(t *testing.T, f *fixture) context.Context {
	t.Helper()
	tn, err := tenancy.NewService(f.env.App.Gorm).Create(context.Background(), tenancy.NewTenant{Code: "59", Name: "Пермский край", OKATO: "57", OKTMO: "57000000"})
	if err != nil {
		t.Fatal(err)
	}
	return tenancy.WithTenant(context.Background(), tn.ID)
}

func TestImportCSV(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		persons := "snils,family_name,first_name,patronymic,birth_date,sex,address_oktmo\n" +
			snils(1500001) + ",Сидоров,Пётр,Ильич,1970-05-05,male,65701000\n" +
			snils(1500002) + ",\"Сидорова, урожд. Ким\",Мария,,1972-06-06,female,\n" +
			snils(1500003) + ",\"Сидоров \"младший\",Илья,,2015-01-01,male,\n" + // broken quoting
			snils(1500004) + ",Сидоров,Илья,,2015-01-01\n" // truncated
		im, err := f.reg.ImportFile(f.a, registry.ImportRequest{Format: registry.FormatCSV, Type: registry.TypePerson}, strings.NewReader(persons), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := badLines(t, f, f.a, im.ID); fmt.Sprint(got) != "[4 5]" || im.Progress.Imported != 2 {
			t.Fatalf("import %+v, bad lines %v: want 2 imported, lines 4 and 5 bad", im.Progress, got)
		}
		rel := "type,snils,relative_snils,kind,valid_from\n" +
			"relation," + snils(1500001) + "," + snils(1500002) + ",spouse,1995-01-01\n" +
			"relation," + snils(1500001) + "," + snils(1500099) + ",child,2015-01-01\n"
		im, err = f.reg.ImportFile(f.a, registry.ImportRequest{Format: registry.FormatCSV}, strings.NewReader(rel), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := badLines(t, f, f.a, im.ID); fmt.Sprint(got) != "[3]" || im.Progress.Imported != 1 {
			t.Fatalf("relations %+v, bad %v", im.Progress, got)
		}
		p, err := f.reg.FindBySNILS(f.a, snils(1500002))
		if err != nil || p.FamilyName != "Сидорова, урожд. Ким" {
			t.Fatalf("found %+v, %v", p, err)
		}
		// A header with an unknown column fails the import at line 1.
		im, err = f.reg.ImportFile(f.a, registry.ImportRequest{Format: registry.FormatCSV, Type: registry.TypePerson}, strings.NewReader("snils,nickname\n1,2\n"), nil)
		var le *registry.LineError
		if !errors.As(err, &le) || le.Line != 1 || im.Status != registry.StatusFailed {
			t.Fatalf("unknown column: %+v, %v", im, err)
		}
	})
}

// A file that ends exactly at a batch boundary keeps its count of lines
// (an empty last batch once reset it to zero).
func TestImportEndingOnABatchBoundary(t *testing.T) {
	env := storetest.New(t, "sqlite")
	f := newFixture(t, env)
	var b bytes.Buffer
	for i := range 4000 {
		fmt.Fprintf(&b, `{"type":"person","snils":"%s","family_name":"Орлов","first_name":"Пётр","birth_date":"1970-01-01","sex":"male"}`+"\n", snils(5000000+i))
	}
	im, err := f.reg.ImportFile(f.a, registry.ImportRequest{Format: registry.FormatNDJSON}, &b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if im.Progress.Lines != 4000 || im.Progress.Imported != 4000 || im.Progress.Bytes != im.Bytes {
		t.Fatalf("progress %+v of %d bytes", im.Progress, im.Bytes)
	}
}

// An import refreshes the planner's statistics as it grows the tables, as
// the app role (PostgreSQL: through registry_analyze, which it may call
// though it may not ANALYZE).
func TestImportRefreshesStatistics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		defer registry.SetAnalyzeEvery(50)()
		f := newFixture(t, env)
		file, _ := messyFile(100)
		if _, err := f.reg.ImportFile(f.a, registry.ImportRequest{Format: registry.FormatNDJSON}, bytes.NewReader(file), nil); err != nil {
			t.Fatal(err)
		}
		var n int64
		q := "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'incomes'"
		if env.App.Dialect == "postgres" {
			q = "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'incomes'"
		}
		if err := env.App.SQL.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("%s: no statistics of incomes after the import", env.App.Dialect)
		}
	})
}

// A person line that says something new about a known person changes it
// and keeps the version it replaced; fields the line leaves out stay.
func TestImportUpdatesAKnownPerson(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		sn := snils(6100001)
		first := `{"type":"person","snils":"` + sn + `","family_name":"Смирнова","first_name":"Ольга","birth_date":"1990-04-01","sex":"female","address":{"oktmo":"65701000","text":"Екатеринбург"}}` + "\n"
		then := `{"type":"person","snils":"` + sn + `","family_name":"Орлова","first_name":"Ольга","birth_date":"1990-04-01","sex":"female"}` + "\n"
		for i, file := range []string{first, then, then} {
			im, err := f.reg.ImportFile(f.a, registry.ImportRequest{Format: registry.FormatNDJSON}, strings.NewReader(file), nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(map[int]int{0: 1, 1: 1, 2: 0}[i]); im.Progress.Imported != want {
				t.Fatalf("import %d: %+v, want %d imported", i, im.Progress, want)
			}
		}
		p, err := f.reg.FindBySNILS(f.a, sn)
		if err != nil {
			t.Fatal(err)
		}
		if p.FamilyName != "Орлова" || p.Address.Text != "Екатеринбург" || p.Version != 2 {
			t.Fatalf("person after the imports: %+v", p)
		}
		h, err := f.reg.History(f.a, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 1 || h[0].Person.FamilyName != "Смирнова" || h[0].Version != 1 {
			t.Fatalf("history %+v", h)
		}
		if found, err := f.reg.Search(f.a, "орлова", "", civil.MustParse("1990-04-01")); err != nil || len(found) != 1 {
			t.Fatalf("search by the new name: %v, %v", found, err)
		}
	})
}

// A person's facts that straddle a batch boundary: the second batch knows
// what the first wrote for the person (without looking it up) and a later
// line still corrects an earlier one, keeping it as history.
func TestImportFactsAcrossABatchBoundary(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		var b bytes.Buffer
		for i := range 3998 {
			fmt.Fprintf(&b, `{"type":"person","snils":"%s","family_name":"Орлов","first_name":"Пётр","birth_date":"1970-01-01","sex":"male"}`+"\n", snils(6200000+i))
		}
		x := snils(6300000)
		fmt.Fprintf(&b, `{"type":"person","snils":"%s","family_name":"Белова","first_name":"Ирина","birth_date":"1980-01-01","sex":"female"}`+"\n", x) // line 3999
		fmt.Fprintf(&b, `{"type":"income","snils":"%s","month":"2026-01","kind":"salary","amount_kopecks":100,"source":"fns"}`+"\n", x)                // line 4000: batch 1
		fmt.Fprintf(&b, `{"type":"income","snils":"%s","month":"2026-01","kind":"salary","amount_kopecks":200,"source":"fns"}`+"\n", x)                // line 4001: batch 2
		fmt.Fprintf(&b, `{"type":"income","snils":"%s","month":"2026-02","kind":"salary","amount_kopecks":300,"source":"fns"}`+"\n", x)
		im, err := f.reg.ImportFile(f.a, registry.ImportRequest{Format: registry.FormatNDJSON}, &b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if im.Progress.Imported != 4002 || im.Progress.Rejected != 0 {
			t.Fatalf("progress %+v", im.Progress)
		}
		p, err := f.reg.FindBySNILS(f.a, x)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := f.reg.FactsOf(f.a, p.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		all, err := f.reg.FactsOf(f.a, p.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(cur.Incomes) != 2 || cur.Incomes[0].AmountKopecks != 200 || cur.Incomes[1].AmountKopecks != 300 || len(all.Incomes) != 3 {
			t.Fatalf("current incomes %+v, all %d", cur.Incomes, len(all.Incomes))
		}
	})
}
