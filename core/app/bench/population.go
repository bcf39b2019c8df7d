package bench

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/facts"
	"github.com/socialtreasury/treasury/core/ident"
)

// ParseCount reads a count such as 1000000, 100k, 1m, or "small" (10,000)
// — the --persons flag of the registry benchmarks.
func ParseCount(s string) (int, error) {
	s = strings.ToLower(strings.TrimSpace(strings.ReplaceAll(s, "_", "")))
	if s == "small" {
		return 10_000, nil
	}
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1_000, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "m"):
		mult, s = 1_000_000, strings.TrimSuffix(s, "m")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 100_000_000/mult {
		return 0, fmt.Errorf("%q is not a count (a number, optionally with k or m, or small)", s)
	}
	return n * mult, nil
}

// incomeMonths is how many monthly incomes every synthetic person has: the
// months before the current one.
const incomeMonths = 12

// population is a synthetic registry built from a seed: families of two
// parents and two to four children (the last family smaller, to make the
// count exact), each with a spouse relation, a parent→child relation per
// parent and child, and a sibling relation per pair of children — about two
// relations per person — and twelve monthly incomes per person (salary,
// pension or benefit, as reported by the tax service). Walking it twice
// with one seed gives the same persons, relations and incomes.
type population struct {
	seed    uint64
	persons int
	today   civil.Date
	months  [incomeMonths]string
}

func newPopulation(seed uint64, persons int, today civil.Date) *population {
	p := &population{seed: seed, persons: persons, today: today}
	cur := facts.MonthOf(today)
	for k := range incomeMonths {
		p.months[k] = cur.Add(-(k + 1)).String()
	}
	return p
}

type genPerson struct {
	idx        int // 0 … persons-1: the order of the file
	snils      string
	family     string
	first      string
	patronymic string
	birth      civil.Date
	sex        string
	oktmo      string
	address    string
	income     string // the kind of its monthly incomes
	amount     int64  // kopecks a month, about
}

type genRelation struct {
	from, to int // person indexes
	kind     string
	from0    civil.Date // valid_from
}

type genIncome struct {
	person int
	month  string
	kind   string
	amount int64
}

// family is one generated family; its slices are reused from one family to
// the next.
type family struct {
	persons   []genPerson
	relations []genRelation
	incomes   []genIncome
}

var (
	familyStems = []string{"Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
		"Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
		"Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров"}
	maleNames = []struct{ name, son, daughter string }{
		{"Александр", "Александрович", "Александровна"}, {"Сергей", "Сергеевич", "Сергеевна"},
		{"Дмитрий", "Дмитриевич", "Дмитриевна"}, {"Андрей", "Андреевич", "Андреевна"},
		{"Алексей", "Алексеевич", "Алексеевна"}, {"Иван", "Иванович", "Ивановна"},
		{"Михаил", "Михайлович", "Михайловна"}, {"Николай", "Николаевич", "Николаевна"},
		{"Владимир", "Владимирович", "Владимировна"}, {"Павел", "Павлович", "Павловна"},
		{"Евгений", "Евгеньевич", "Евгеньевна"}, {"Артём", "Артёмович", "Артёмовна"},
	}
	femaleNames = []string{"Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Анна", "Мария", "Светлана",
		"Екатерина", "Юлия", "Анастасия", "Дарья"}
	oktmos = []string{"65701000", "65730000", "65740000", "65751000", "65756000", "65762000"}
)

// snilsOf is person idx's SNILS: distinct for every idx below 5,000,000
// within one seed, with a valid check number.
func (p *population) snilsOf(idx int) string {
	return ident.SNILSOf(100_000_000 + int(p.seed%100)*5_000_000 + idx)
}

func randDate(rng *rand.Rand, fromYear, toYear int) civil.Date {
	y := fromYear + rng.IntN(toYear-fromYear+1)
	return civil.New(y, time.January, 1).AddDays(rng.IntN(365))
}

// walk generates the families in order and calls fn with each (the family
// is reused after fn returns).
func (p *population) walk(fn func(f *family) error) error {
	rng := rand.New(rand.NewPCG(p.seed, p.seed^0x9e3779b97f4a7c15))
	f := &family{}
	latest := p.today.AddDays(-1)
	for next := 0; next < p.persons; {
		left := p.persons - next
		children := 2 + rng.IntN(3)
		size := 2 + children
		switch {
		case left == 1:
			size, children = 1, 0
		case left < 4:
			size, children = left, left-2
		case left < size:
			size, children = left, left-2
		}
		f.persons, f.relations, f.incomes = f.persons[:0], f.relations[:0], f.incomes[:0]
		stem := familyStems[rng.IntN(len(familyStems))]
		father := maleNames[rng.IntN(len(maleNames))]
		oktmo := oktmos[rng.IntN(len(oktmos))]
		address := "г. Екатеринбург, ул. Тестовая, д. " + strconv.Itoa(1+rng.IntN(200)) + ", кв. " + strconv.Itoa(1+rng.IntN(300))
		fb := randDate(rng, 1945, 1995)
		mb := fb.AddDays(rng.IntN(5*365) - 2*365)
		younger := fb
		if mb.After(fb) {
			younger = mb
		}
		married := younger.AddDate(20+rng.IntN(9), 0, rng.IntN(365))
		add := func(first, patronymic, sex string, birth civil.Date) *genPerson {
			fam := stem
			if sex == "female" {
				fam += "а"
			}
			g := genPerson{idx: next + len(f.persons), family: fam, first: first, patronymic: patronymic,
				birth: birth, sex: sex, oktmo: oktmo, address: address}
			g.snils = p.snilsOf(g.idx)
			born := birth.Year()
			switch {
			case born < 1965:
				g.income, g.amount = "pension", 1_500_000+int64(rng.IntN(1_500_000))
			case p.today.Year()-born < 18:
				g.income, g.amount = "benefit", 500_000+int64(rng.IntN(1_500_000))
			default:
				g.income, g.amount = "salary", 3_000_000+int64(rng.IntN(12_000_000))
			}
			f.persons = append(f.persons, g)
			return &f.persons[len(f.persons)-1]
		}
		gp := maleNames[rng.IntN(len(maleNames))]
		add(father.name, gp.son, "male", fb)
		if size >= 2 {
			gm := maleNames[rng.IntN(len(maleNames))]
			add(femaleNames[rng.IntN(len(femaleNames))], gm.daughter, "female", mb)
			f.relations = append(f.relations, genRelation{from: next, to: next + 1, kind: "spouse", from0: married})
		}
		birth := married.AddDays(rng.IntN(3 * 365))
		for c := range children {
			b := birth
			if b.After(latest) {
				b = latest.AddDays(-30 * (children - c))
			}
			if rng.IntN(2) == 0 {
				add(father.name, father.son, "male", b)
			} else {
				add(femaleNames[rng.IntN(len(femaleNames))], father.daughter, "female", b)
			}
			birth = birth.AddDays(365 + rng.IntN(3*365))
		}
		for c := 2; c < size; c++ {
			child := f.persons[c]
			for parent := range 2 {
				f.relations = append(f.relations, genRelation{from: next + parent, to: child.idx, kind: "child", from0: child.birth})
			}
		}
		for a := 2; a < size; a++ {
			for b := a + 1; b < size; b++ {
				from := f.persons[b].birth
				if f.persons[a].birth.After(from) {
					from = f.persons[a].birth
				}
				f.relations = append(f.relations, genRelation{from: next + a, to: next + b, kind: "sibling", from0: from})
			}
		}
		for _, g := range f.persons {
			for _, m := range p.months {
				amount := g.amount + int64(rng.IntN(100_000)) - 50_000
				f.incomes = append(f.incomes, genIncome{person: g.idx, month: m, kind: g.income, amount: amount})
			}
		}
		if err := fn(f); err != nil {
			return err
		}
		next += size
	}
	return nil
}

// counts walks the population and returns how many relations and incomes
// it has.
func (p *population) counts() (relations, incomes int) {
	_ = p.walk(func(f *family) error {
		relations += len(f.relations)
		incomes += len(f.incomes)
		return nil
	})
	return relations, incomes
}

// writeNDJSON writes the population as an import file: each family's
// persons, then their relations, then their incomes, so that every line
// names persons of earlier lines only. It returns the number of lines.
func (p *population) writeNDJSON(path string) (lines int64, size int64, err error) {
	fh, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	cw := &countingWriter{w: w}
	var b []byte
	err = p.walk(func(f *family) error {
		b = b[:0]
		for _, g := range f.persons {
			b = append(b, `{"type":"person","snils":"`...)
			b = append(b, g.snils...)
			b = append(b, `","family_name":"`...)
			b = append(b, g.family...)
			b = append(b, `","first_name":"`...)
			b = append(b, g.first...)
			b = append(b, `","patronymic":"`...)
			b = append(b, g.patronymic...)
			b = append(b, `","birth_date":"`...)
			b = append(b, g.birth.String()...)
			b = append(b, `","sex":"`...)
			b = append(b, g.sex...)
			b = append(b, `","address":{"oktmo":"`...)
			b = append(b, g.oktmo...)
			b = append(b, `","text":"`...)
			b = append(b, g.address...)
			b = append(b, "\"}}\n"...)
		}
		for _, r := range f.relations {
			b = append(b, `{"type":"relation","snils":"`...)
			b = append(b, p.snilsOf(r.from)...)
			b = append(b, `","relative_snils":"`...)
			b = append(b, p.snilsOf(r.to)...)
			b = append(b, `","kind":"`...)
			b = append(b, r.kind...)
			b = append(b, `","valid_from":"`...)
			b = append(b, r.from0.String()...)
			b = append(b, "\"}\n"...)
		}
		for _, in := range f.incomes {
			b = append(b, `{"type":"income","snils":"`...)
			b = append(b, p.snilsOf(in.person)...)
			b = append(b, `","month":"`...)
			b = append(b, in.month...)
			b = append(b, `","kind":"`...)
			b = append(b, in.kind...)
			b = append(b, `","amount_kopecks":`...)
			b = strconv.AppendInt(b, in.amount, 10)
			b = append(b, ",\"source\":\"fns\"}\n"...)
		}
		lines += int64(len(f.persons) + len(f.relations) + len(f.incomes))
		_, err := cw.Write(b)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return lines, cw.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// idSeq makes version 7 UUIDs of one millisecond with a counter in their
// random bits: increasing, as the platform's are, and a function of the
// counter, so that a row can name another's id without a lookup.
type idSeq struct{ ms uint64 }

func newIDSeq() idSeq { return idSeq{ms: uint64(time.Now().UnixMilli())} }

func (s idSeq) id(n uint64) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:8], s.ms<<16|0x7000)
	binary.BigEndian.PutUint64(u[8:16], n)
	u[8] = u[8]&0x3f | 0x80
	return u
}
