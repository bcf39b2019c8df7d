// Package synth writes deterministic synthetic registries of recipients —
// families with young children, large families, pensioners and veterans,
// single adults, a few people registered outside the region — as the
// registry's NDJSON import, in proportions that give every typical measure
// both eligible and ineligible people. Nobody in them exists: the SNILS are
// generated (ident.SNILSOf) and the names drawn from short lists. The same
// options always give the same file.
package synth

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/facts"
	"github.com/socialtreasury/treasury/core/ident"
)

// Options say what to write.
type Options struct {
	Seed    uint64
	Persons int
	// RegionOKTMO is the region's (its first two digits name it): about 95 %
	// of the persons are registered at an address there.
	RegionOKTMO string
	// Today is the date ages and the income months are counted from: 18
	// whole months of incomes before its month.
	Today civil.Date
	// FirstSNILS numbers the first person's SNILS (ident.SNILSOf); a
	// region's persons take Persons numbers from it.
	FirstSNILS int
}

// IncomeMonths is how many whole months of incomes each earner has: enough
// for a 12-month window ending 6 months back.
const IncomeMonths = 18

// Stats count what was written.
type Stats struct {
	Persons, Relations, Incomes, Categories, Disabilities, Lines int
}

var (
	maleFamily   = []string{"Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов", "Степанов", "Николаев", "Галиев", "Хабибуллин", "Сафин", "Гарипов"}
	maleFirst    = []string{"Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья", "Кирилл", "Михаил", "Никита", "Матвей", "Роман", "Егор", "Арсений", "Иван", "Денис", "Евгений", "Тимур", "Руслан", "Айдар", "Рустам"}
	femaleFirst  = []string{"Анастасия", "Мария", "Анна", "Виктория", "Екатерина", "Наталья", "Марина", "Полина", "Дарья", "Алиса", "Ксения", "Елена", "Ольга", "Татьяна", "Ирина", "Светлана", "Юлия", "Алсу", "Гульнара", "Лейсан", "Диляра", "Софья"}
	malePatronym = []string{"Александрович", "Дмитриевич", "Сергеевич", "Андреевич", "Алексеевич", "Михайлович", "Иванович", "Николаевич", "Петрович", "Ринатович"}
	femPatronym  = []string{"Александровна", "Дмитриевна", "Сергеевна", "Андреевна", "Алексеевна", "Михайловна", "Ивановна", "Николаевна", "Петровна", "Ринатовна"}
)

type line map[string]any

type writer struct {
	o     Options
	rng   *rand.Rand
	enc   *json.Encoder
	buf   *bufio.Writer
	stats Stats
	next  int
	err   error
}

func (w *writer) put(l line) {
	if w.err != nil {
		return
	}
	w.err = w.enc.Encode(l)
	w.stats.Lines++
}

// Write writes the registry as NDJSON lines: each household's persons
// first, then their relations, incomes, categories and disabilities.
func Write(out io.Writer, o Options) (Stats, error) {
	if o.Persons < 0 || len(o.RegionOKTMO) < 2 || o.Today.IsZero() {
		return Stats{}, fmt.Errorf("synth: persons %d, region OKTMO %q, today %v", o.Persons, o.RegionOKTMO, o.Today)
	}
	if o.FirstSNILS <= 1001998 || o.FirstSNILS+o.Persons > 999_999_999 {
		return Stats{}, fmt.Errorf("synth: SNILS numbers %d..%d are outside ident.SNILSOf's range", o.FirstSNILS, o.FirstSNILS+o.Persons)
	}
	b := bufio.NewWriterSize(out, 1<<16)
	w := &writer{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x5eed)), buf: b}
	w.enc = json.NewEncoder(b)
	for w.stats.Persons < o.Persons && w.err == nil {
		switch r := w.rng.IntN(100); {
		case r < 60:
			w.family()
		case r < 85:
			w.elder()
		default:
			w.single()
		}
	}
	if w.err == nil {
		w.err = b.Flush()
	}
	return w.stats, w.err
}

type person struct {
	snils  string
	sex    string
	family string
	birth  civil.Date
}

func (w *writer) left() int { return w.o.Persons - w.stats.Persons }

// person writes a person line.
func (w *writer) person(sex, family string, birth civil.Date, home string) person {
	p := person{snils: ident.SNILSOf(w.o.FirstSNILS + w.next), sex: sex, family: family, birth: birth}
	w.next++
	first, patronym := maleFirst, malePatronym
	if sex == "female" {
		first, patronym = femaleFirst, femPatronym
	}
	w.put(line{"type": "person", "snils": p.snils, "family_name": family, "first_name": first[w.rng.IntN(len(first))],
		"patronymic": patronym[w.rng.IntN(len(patronym))], "birth_date": birth.String(), "sex": sex,
		"address": map[string]any{"oktmo": home}})
	w.stats.Persons++
	return p
}

// home is an address's OKTMO: the region's capital's, or (one in twenty)
// Moscow's.
func (w *writer) home() string {
	if w.rng.IntN(20) == 0 {
		return "45000000"
	}
	return w.o.RegionOKTMO[:2] + "701000"
}

func (w *writer) familyName(sex string) string {
	f := maleFamily[w.rng.IntN(len(maleFamily))]
	if sex == "female" {
		return f + "а"
	}
	return f
}

// born is a birth date aged between min and max days.
func (w *writer) born(minDays, maxDays int) civil.Date {
	return w.o.Today.AddDays(-(minDays + w.rng.IntN(maxDays-minDays+1)))
}

func (w *writer) incomes(p person, kind string, monthly int64) {
	to := facts.MonthOf(w.o.Today).Add(-1)
	for m := to.Add(1 - IncomeMonths); !to.Before(m); m = m.Add(1) {
		w.put(line{"type": "income", "snils": p.snils, "month": m.String(), "kind": kind, "amount_kopecks": monthly, "source": "fns"})
		w.stats.Incomes++
	}
}

func (w *writer) category(p person, code string, from civil.Date) {
	w.put(line{"type": "category", "snils": p.snils, "code": code, "valid_from": from.String()})
	w.stats.Categories++
}

func (w *writer) relation(p, relative person, kind string, from civil.Date) {
	w.put(line{"type": "relation", "snils": p.snils, "relative_snils": relative.snils, "kind": kind, "valid_from": from.String()})
	w.stats.Relations++
}

func (w *writer) maybeDisabled(p person) {
	if w.rng.IntN(25) == 0 {
		w.put(line{"type": "disability", "snils": p.snils, "group": 1 + w.rng.IntN(3), "valid_from": w.o.Today.AddDate(-1-w.rng.IntN(5), 0, 0).String()})
		w.stats.Disabilities++
	}
}

// family is a mother, perhaps a father, and up to five children: a third
// of them with a child under three, some with a newborn, a fifth large.
func (w *writer) family() {
	kids := []int{0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5}[w.rng.IntN(11)]
	withFather := w.rng.IntN(10) < 7
	size := 1 + kids
	if withFather {
		size++
	}
	if size > w.left() {
		w.single()
		return
	}
	home := w.home()
	family := w.familyName("male")
	mother := w.person("female", family+"а", w.born(22*365, 45*365), home)
	var father person
	if withFather {
		father = w.person("male", family, mother.birth.AddDays(-w.rng.IntN(6*365)), home)
	}
	// The oldest child at most 17, the youngest by the mix above.
	var children []person
	for k := range kids {
		var birth civil.Date
		switch youngest := k == kids-1; {
		case youngest && w.rng.IntN(10) < 4:
			birth = w.born(10, 3*365-1) // under three
		case youngest && w.rng.IntN(10) == 0:
			birth = w.born(1, 150) // a newborn
		default:
			birth = w.born(3*365, 17*365)
		}
		if birth.Before(mother.birth.AddDate(18, 0, 0)) {
			birth = mother.birth.AddDate(18+w.rng.IntN(3), 0, 0)
		}
		sex := []string{"male", "female"}[w.rng.IntN(2)]
		name := family
		if sex == "female" {
			name += "а"
		}
		children = append(children, w.person(sex, name, birth, home))
	}
	// Incomes: the family's monthly total spread so that about half of the
	// families fall below the subsistence minimum per capita.
	perCapita := int64(600_000 + w.rng.IntN(3_500_000))
	total := perCapita * int64(size)
	earners := []person{mother}
	if withFather {
		earners = append(earners, father)
	}
	for i, e := range earners {
		share := total / int64(len(earners))
		if i == 0 && len(earners) == 2 {
			share = total / 3
		} else if len(earners) == 2 {
			share = total - total/3
		}
		w.incomes(e, "salary", share)
		w.maybeDisabled(e)
	}
	if withFather {
		w.relation(mother, father, "spouse", mother.birth.AddDate(20, 0, 0))
	}
	for _, c := range children {
		w.relation(c, mother, "parent", c.birth)
		if withFather {
			w.relation(c, father, "parent", c.birth)
		}
		w.maybeDisabled(c)
	}
	if perCapita < 1_900_000 && w.rng.IntN(10) < 8 {
		w.category(mother, "low_income", w.o.Today.AddDate(0, -w.rng.IntN(12), -1))
	}
	if kids >= 3 {
		w.category(mother, "large_family", w.o.Today.AddDate(-1, 0, 0))
	}
}

// elder is a pensioner living alone: some labour veterans, some still
// working, some turning 70, 80 or 90 this year.
func (w *writer) elder() {
	if w.left() < 1 {
		return
	}
	sex := []string{"male", "female"}[w.rng.IntN(2)]
	birth := w.born(60*365, 96*365)
	if w.rng.IntN(8) == 0 { // a jubilee within the last year
		birth = w.o.Today.AddDate(-[]int{70, 80, 90}[w.rng.IntN(3)], 0, -w.rng.IntN(365))
	}
	p := w.person(sex, w.familyName(sex), birth, w.home())
	w.incomes(p, "pension", int64(1_100_000+w.rng.IntN(2_400_000)))
	if w.rng.IntN(6) == 0 {
		w.incomes(p, "salary", int64(1_500_000+w.rng.IntN(4_000_000)))
	}
	w.category(p, "pensioner", birth.AddDate(60, 0, 0))
	if w.rng.IntN(10) < 4 {
		w.category(p, "labour_veteran", birth.AddDate(55, 0, 0))
	}
	w.maybeDisabled(p)
}

// single is a working-age adult living alone.
func (w *writer) single() {
	if w.left() < 1 {
		return
	}
	sex := []string{"male", "female"}[w.rng.IntN(2)]
	p := w.person(sex, w.familyName(sex), w.born(18*365, 59*365), w.home())
	if w.rng.IntN(10) < 8 {
		w.incomes(p, "salary", int64(1_500_000+w.rng.IntN(12_000_000)))
	}
	w.maybeDisabled(p)
}
