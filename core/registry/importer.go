package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/pdcrypt"
)

// Import modes.
const (
	// CommitValid stores every valid line and reports the others.
	CommitValid = "commit_valid"
	// AllOrNothing stores nothing when any line is bad.
	AllOrNothing = "all_or_nothing"
)

// batchLines is how many lines one transaction of an import stores: big
// enough that a commit is rare, small enough that memory stays flat.
const batchLines = 4000

// Progress is how far an import has got.
type Progress struct {
	Lines     int64 // lines read (committed, in commit_valid mode)
	Imported  int64 // lines that added or corrected something
	Unchanged int64 // lines the registry already said
	Rejected  int64 // lines refused
	Bytes     int64 // bytes of the file read
}

// batch is a run of parsed lines on its way to the store.
type batch struct {
	items    []item
	errs     []LineError
	rejected map[int64]bool
	lines    int64 // the last line number in the batch
	offset   int64 // the file offset after it
}

func (b *batch) reject(e LineError) {
	b.errs = append(b.errs, e)
	if b.rejected == nil {
		b.rejected = map[int64]bool{}
	}
	b.rejected[e.Line] = true
}

// parser turns a file into batches.
type parser struct {
	ln     *lines
	format string
	typ    string
	chk    *checker
	origin Origin
	header []string
	fields []string
	w      wire
	skip   int64 // lines committed by an earlier run
	done   bool
	fatal  error
}

// next reads up to n lines into a batch; nil at the end of the file.
func (p *parser) next(n int) (*batch, error) {
	if p.done {
		return nil, nil
	}
	b := &batch{lines: p.ln.no, offset: p.ln.offset}
	for count := 0; count < n; {
		raw, err := p.ln.next()
		if errors.Is(err, io.EOF) {
			p.done = true
			break
		}
		if err != nil {
			return nil, err
		}
		no := p.ln.no
		b.lines, b.offset = no, p.ln.offset
		if p.format == FormatCSV && no == 1 {
			h, lerr := csvHeader(raw)
			if lerr != nil {
				return nil, lerr
			}
			if p.typ == "" && !contains(h, "type") {
				return nil, &LineError{Line: 1, Location: "header", Message: "has no type column; name the record type of the file"}
			}
			p.header = h
			continue
		}
		if no <= p.skip {
			continue
		}
		if p.ln.tooLong {
			b.reject(LineError{Line: no, Location: "line", Message: fmt.Sprintf("is longer than %d bytes", maxLine)})
			count++
			continue
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue // blank lines (a final newline) are not records
		}
		count++
		var lerr *LineError
		if p.format == FormatCSV {
			p.fields, lerr = parseCSV(raw, p.header, p.typ, &p.w, p.fields)
		} else {
			lerr = parseNDJSON(raw, &p.w)
		}
		if lerr != nil {
			lerr.Line = no
			b.reject(*lerr)
			continue
		}
		it, errs := p.chk.check(no, &p.w, p.origin)
		if len(errs) > 0 {
			for _, e := range errs {
				b.reject(e)
			}
			continue
		}
		b.items = append(b.items, it)
	}
	return b, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// sinkTx is one transaction of an import's writer: GORM on SQLite, the
// COPY protocol on PostgreSQL.
type sinkTx interface {
	persons(ctx context.Context, idx [][]byte) ([]personRow, error)
	relationsOf(ctx context.Context, ids []uuid.UUID) ([]Relation, error)
	incomesOf(ctx context.Context, ids []uuid.UUID) ([]Income, error)
	disabilitiesOf(ctx context.Context, ids []uuid.UUID) ([]Disability, error)
	categoriesOf(ctx context.Context, ids []uuid.UUID) ([]Category, error)
	write(ctx context.Context, w *writes) error
	// analyze refreshes the planner's statistics of the registry's tables.
	analyze(ctx context.Context) error
}

// sink opens the writer's transactions.
type sink interface {
	tx(ctx context.Context, fn func(sinkTx) error) error
	close()
}

// writes are what one batch changes.
type writes struct {
	tenant       uuid.UUID
	persons      []personRow
	updates      []personRow // with their new version; version-1 is current
	history      []historyRow
	supersede    map[string][]uuid.UUID // table → ids
	relations    []Relation
	incomes      []Income
	disabilities []Disability
	categories   []Category
	errors       []errorRow
	importID     uuid.UUID
	progress     Progress
	audit        *audit.Record
	now          time.Time
	lease        time.Duration
}

// errorRow is a row of import_errors.
type errorRow struct {
	TenantID uuid.UUID `gorm:"primaryKey"`
	ImportID uuid.UUID `gorm:"primaryKey"`
	Seq      int64     `gorm:"primaryKey"`
	Line     int64
	Location string
	Message  string
}

func (errorRow) TableName() string { return "import_errors" }

// engine stores batches of one import.
type engine struct {
	k        *pdcrypt.Keyring
	tenant   uuid.UUID
	importID uuid.UUID
	progress Progress
	errSeq   int64
	now      time.Time
	lease    time.Duration
	// The persons the previous batch created, and their facts as it left
	// them: a file that lists a person's facts after the person needs no
	// look-up for them when a batch boundary falls in between. Only they are
	// kept, so memory stays at a batch.
	carried map[uuid.UUID]bool
	carry   current
	// Rows written since the statistics were last refreshed, and how many
	// the tables had gained by then.
	sinceAnalyze, analyzedAt int64
}

// analyzeEvery is the least growth (rows) after which an import refreshes
// the planner's statistics; past it, whenever the rows it wrote have doubled.
var analyzeEvery int64 = 20_000

// store writes one batch in tx.
func (e *engine) store(ctx context.Context, tx sinkTx, b *batch) error {
	w := &writes{tenant: e.tenant, importID: e.importID, supersede: map[string][]uuid.UUID{}, now: e.now, lease: e.lease}
	// The blind index of every SNILS the batch names, and who has it.
	idx := map[string][]byte{}
	var want [][]byte
	for _, it := range b.items {
		for _, sn := range []string{it.snils, it.relative} {
			if _, ok := idx[sn]; sn != "" && !ok {
				bi := e.k.BlindIndex(snilsIndexInput(sn))
				idx[sn] = bi
				want = append(want, bi)
			}
		}
	}
	rows, err := tx.persons(ctx, want)
	if err != nil {
		return err
	}
	found := make(map[string]*personRow, len(rows)) // by SNILS
	bySNILSIdx := make(map[string]string, len(idx))
	for sn, bi := range idx {
		bySNILSIdx[string(bi)] = sn
	}
	for i := range rows {
		found[bySNILSIdx[string(rows[i].SNILSIndex)]] = &rows[i]
	}
	created := map[uuid.UUID]int{} // new persons: index into w.persons
	updated := map[uuid.UUID]int{} // changed persons: index into w.updates
	counted := func(changed bool) {
		if changed {
			e.progress.Imported++
		} else {
			e.progress.Unchanged++
		}
	}
	for _, it := range b.items {
		if it.typ != TypePerson {
			continue
		}
		row := found[it.snils]
		if row == nil {
			p := it.person
			p.ID, p.CreatedAt, p.UpdatedAt = uuid.Must(uuid.NewV7()), e.now, e.now
			r, err := toRow(e.k, e.tenant, &p)
			if err != nil {
				return err
			}
			w.persons = append(w.persons, r)
			created[p.ID] = len(w.persons) - 1
			found[it.snils] = &w.persons[len(w.persons)-1]
			counted(true)
			continue
		}
		if row.MergedInto != nil {
			b.reject(LineError{Line: it.line, Location: "snils", Message: "names a person merged into " + row.MergedInto.String()})
			continue
		}
		old, err := fromRow(e.k, *row)
		if err != nil {
			return err
		}
		merged := old
		it.fields.apply(&merged, &fault.Invalid{})
		if sameFields(old, merged) {
			counted(false)
			continue
		}
		if i, ok := created[row.ID]; ok { // twice in one batch: the later line wins
			r, err := toRow(e.k, e.tenant, &merged)
			if err != nil {
				return err
			}
			w.persons[i] = r
			counted(true)
			continue
		}
		merged.UpdatedAt = e.now
		if i, ok := updated[row.ID]; ok {
			merged.Version = w.updates[i].Version
			r, err := toRow(e.k, e.tenant, &merged)
			if err != nil {
				return err
			}
			w.updates[i] = r
			*row = r
			counted(true)
			continue
		}
		hist, err := historyOf(e.k, e.tenant, old, "import "+e.importID.String(), nil, e.now)
		if err != nil {
			return err
		}
		w.history = append(w.history, hist)
		merged.Version = old.Version + 1
		r, err := toRow(e.k, e.tenant, &merged)
		if err != nil {
			return err
		}
		w.updates = append(w.updates, r)
		updated[row.ID] = len(w.updates) - 1
		*row = r
		counted(true)
	}

	// Facts: resolve their persons, then compare with what is current.
	var known []uuid.UUID
	seen := map[uuid.UUID]bool{}
	need := map[string]bool{}
	for i := range b.items {
		it := &b.items[i]
		if it.typ == TypePerson {
			continue
		}
		row := found[it.snils]
		if row == nil {
			b.reject(LineError{Line: it.line, Location: "snils", Message: "no person with this SNILS in the registry or on an earlier line"})
			it.typ = ""
			continue
		}
		if row.MergedInto != nil {
			b.reject(LineError{Line: it.line, Location: "snils", Message: "names a person merged into " + row.MergedInto.String()})
			it.typ = ""
			continue
		}
		if it.typ == TypeRelation {
			rel := found[it.relative]
			if rel == nil || rel.MergedInto != nil {
				b.reject(LineError{Line: it.line, Location: "relative_snils", Message: "no person with this SNILS in the registry or on an earlier line"})
				it.typ = ""
				continue
			}
			it.rel.RelativeID = rel.ID
		}
		pid := row.ID
		switch it.typ {
		case TypeRelation:
			it.rel.PersonID = pid
		case TypeIncome:
			it.inc.PersonID = pid
		case TypeDisability:
			it.dis.PersonID = pid
		case TypeCategory:
			it.cat.PersonID = pid
		}
		need[it.typ] = true
		if _, isNew := created[pid]; !isNew && !seen[pid] && !e.carried[pid] {
			seen[pid] = true
			known = append(known, pid)
		}
	}
	cur, err := currentFacts(ctx, tx, known, need)
	if err != nil {
		return err
	}
	cur.add(e.carry)
	pend := map[string]int{} // fact key → index in its writes slice
	for _, it := range b.items {
		var (
			key     string
			same    func(any) bool
			oldID   uuid.UUID
			table   string
			fresh   func() int
			replace func(i int)
		)
		switch it.typ {
		case TypeRelation:
			r := it.rel
			r.ID, r.RecordedAt = uuid.Must(uuid.NewV7()), e.now
			key, table = relKey(r.PersonID, r.RelativeID, r.Kind, r.ValidFrom), "relations"
			if o, ok := cur.relations[key]; ok {
				same, oldID = func(any) bool { return sameDatePtr(o.ValidTo, r.ValidTo) }, o.ID
			}
			fresh = func() int { w.relations = append(w.relations, r); return len(w.relations) - 1 }
			replace = func(i int) { r.ID = w.relations[i].ID; w.relations[i] = r }
		case TypeIncome:
			r := it.inc
			r.ID, r.RecordedAt = uuid.Must(uuid.NewV7()), e.now
			key, table = incKey(r.PersonID, r.Month, r.Kind, r.Source), "incomes"
			if o, ok := cur.incomes[key]; ok {
				same, oldID = func(any) bool { return o.AmountKopecks == r.AmountKopecks }, o.ID
			}
			fresh = func() int { w.incomes = append(w.incomes, r); return len(w.incomes) - 1 }
			replace = func(i int) { r.ID = w.incomes[i].ID; w.incomes[i] = r }
		case TypeDisability:
			r := it.dis
			r.ID, r.RecordedAt = uuid.Must(uuid.NewV7()), e.now
			key, table = disKey(r.PersonID, r.ValidFrom), "disabilities"
			if o, ok := cur.disabilities[key]; ok {
				same, oldID = func(any) bool { return o.Group == r.Group && sameDatePtr(o.ValidTo, r.ValidTo) }, o.ID
			}
			fresh = func() int { w.disabilities = append(w.disabilities, r); return len(w.disabilities) - 1 }
			replace = func(i int) { r.ID = w.disabilities[i].ID; w.disabilities[i] = r }
		case TypeCategory:
			r := it.cat
			r.ID, r.RecordedAt = uuid.Must(uuid.NewV7()), e.now
			key, table = catKey(r.PersonID, r.Code, r.ValidFrom), "person_categories"
			if o, ok := cur.categories[key]; ok {
				same, oldID = func(any) bool { return sameDatePtr(o.ValidTo, r.ValidTo) }, o.ID
			}
			fresh = func() int { w.categories = append(w.categories, r); return len(w.categories) - 1 }
			replace = func(i int) { r.ID = w.categories[i].ID; w.categories[i] = r }
		default:
			continue
		}
		if i, ok := pend[key]; ok { // the key twice in one batch: the later line wins
			replace(i)
			counted(true)
			continue
		}
		if same != nil {
			if same(nil) {
				counted(false)
				continue
			}
			w.supersede[table] = append(w.supersede[table], oldID)
		}
		pend[key] = fresh()
		counted(true)
	}
	for _, le := range b.errs {
		e.errSeq++
		w.errors = append(w.errors, errorRow{TenantID: e.tenant, ImportID: e.importID, Seq: e.errSeq, Line: le.Line, Location: le.Location, Message: le.Message})
	}
	e.progress.Rejected += int64(len(b.rejected))
	e.progress.Lines, e.progress.Bytes = b.lines, b.offset
	w.progress = e.progress
	if n := len(w.persons) + len(w.updates) + len(w.relations) + len(w.incomes) + len(w.disabilities) + len(w.categories); n > 0 {
		w.audit = &audit.Record{Action: "person.import", ObjectType: "import", ObjectID: e.importID.String(), Detail: fmt.Sprintf(
			"lines=%d-%d persons_added=%d persons_changed=%d relations=%d incomes=%d disabilities=%d categories=%d",
			b.firstLine(), b.lines, len(w.persons), len(w.updates), len(w.relations), len(w.incomes), len(w.disabilities), len(w.categories))}
	}
	if err := tx.write(ctx, w); err != nil {
		return err
	}
	e.remember(created, w)
	// A table that grows from nothing to millions outgrows its statistics
	// long before autovacuum looks at it again; the look-ups of every batch
	// depend on them.
	if e.grown(int64(len(w.persons) + len(w.relations) + len(w.incomes) + len(w.disabilities) + len(w.categories))) {
		return tx.analyze(ctx)
	}
	return nil
}

// grown counts rows written and says when the statistics are due: at the
// threshold, then whenever the rows written have doubled.
func (e *engine) grown(rows int64) bool {
	e.sinceAnalyze += rows
	if e.sinceAnalyze < max(analyzeEvery, e.analyzedAt) {
		return false
	}
	e.analyzedAt += e.sinceAnalyze
	e.sinceAnalyze = 0
	return true
}

// remember keeps, for the next batch, the facts of the persons this batch
// created: they had none before it, so what it wrote is all they have.
func (e *engine) remember(created map[uuid.UUID]int, w *writes) {
	e.carried = make(map[uuid.UUID]bool, len(created))
	for id := range created {
		e.carried[id] = true
	}
	e.carry = newCurrent()
	for _, r := range w.relations {
		if e.carried[r.PersonID] {
			e.carry.relations[relKey(r.PersonID, r.RelativeID, r.Kind, r.ValidFrom)] = r
		}
	}
	for _, r := range w.incomes {
		if e.carried[r.PersonID] {
			e.carry.incomes[incKey(r.PersonID, r.Month, r.Kind, r.Source)] = r
		}
	}
	for _, r := range w.disabilities {
		if e.carried[r.PersonID] {
			e.carry.disabilities[disKey(r.PersonID, r.ValidFrom)] = r
		}
	}
	for _, r := range w.categories {
		if e.carried[r.PersonID] {
			e.carry.categories[catKey(r.PersonID, r.Code, r.ValidFrom)] = r
		}
	}
}

func (b *batch) firstLine() int64 {
	first := b.lines
	for _, it := range b.items {
		if it.line < first {
			first = it.line
		}
	}
	for _, e := range b.errs {
		if e.Line < first {
			first = e.Line
		}
	}
	return first
}

func relKey(p, r uuid.UUID, kind string, from civil.Date) string {
	return "r" + string(p[:]) + string(r[:]) + kind + "|" + from.String()
}
func incKey(p uuid.UUID, month, kind, source string) string {
	return "i" + string(p[:]) + month + "|" + kind + "|" + source
}
func disKey(p uuid.UUID, from civil.Date) string { return "d" + string(p[:]) + from.String() }
func catKey(p uuid.UUID, code string, from civil.Date) string {
	return "c" + string(p[:]) + code + "|" + from.String()
}

type current struct {
	relations    map[string]Relation
	incomes      map[string]Income
	disabilities map[string]Disability
	categories   map[string]Category
}

func newCurrent() current {
	return current{map[string]Relation{}, map[string]Income{}, map[string]Disability{}, map[string]Category{}}
}

// add copies o's facts into c.
func (c current) add(o current) {
	for k, v := range o.relations {
		c.relations[k] = v
	}
	for k, v := range o.incomes {
		c.incomes[k] = v
	}
	for k, v := range o.disabilities {
		c.disabilities[k] = v
	}
	for k, v := range o.categories {
		c.categories[k] = v
	}
}

func currentFacts(ctx context.Context, tx sinkTx, ids []uuid.UUID, need map[string]bool) (current, error) {
	c := newCurrent()
	if len(ids) == 0 {
		return c, nil
	}
	if need[TypeRelation] {
		rs, err := tx.relationsOf(ctx, ids)
		if err != nil {
			return c, err
		}
		for _, r := range rs {
			c.relations[relKey(r.PersonID, r.RelativeID, r.Kind, r.ValidFrom)] = r
		}
	}
	if need[TypeIncome] {
		rs, err := tx.incomesOf(ctx, ids)
		if err != nil {
			return c, err
		}
		for _, r := range rs {
			c.incomes[incKey(r.PersonID, r.Month, r.Kind, r.Source)] = r
		}
	}
	if need[TypeDisability] {
		rs, err := tx.disabilitiesOf(ctx, ids)
		if err != nil {
			return c, err
		}
		for _, r := range rs {
			c.disabilities[disKey(r.PersonID, r.ValidFrom)] = r
		}
	}
	if need[TypeCategory] {
		rs, err := tx.categoriesOf(ctx, ids)
		if err != nil {
			return c, err
		}
		for _, r := range rs {
			c.categories[catKey(r.PersonID, r.Code, r.ValidFrom)] = r
		}
	}
	return c, nil
}

// errAbort rolls back an all_or_nothing import that found bad lines.
var errAbort = errors.New("registry: the file has bad lines; nothing stored")

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
