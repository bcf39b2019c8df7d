package bench

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// ImportOptions configure the bulk import benchmark. Common.Seconds is not
// used: the import runs to its end.
type ImportOptions struct {
	Common
	// Persons is the number of persons in the file; relations and incomes
	// come on top (about 2 and exactly 12 a person).
	Persons int
}

// DefaultImport are the defaults of `treasury bench import`.
func DefaultImport() ImportOptions {
	return ImportOptions{Common: Common{Rounds: 1, Seed: 1}, Persons: 1_000_000}
}

// maxImportPersons bounds --persons: the synthetic SNILS numbers of one
// seed stay distinct below it.
const maxImportPersons = 5_000_000

func (o *ImportOptions) validate() error {
	if _, err := store.DialectOf(o.DatabaseURL); err != nil {
		return configErrorf("--database-url: %v", err)
	}
	if o.Persons < 1 || o.Persons > maxImportPersons {
		return configErrorf("--persons: %d is outside 1..%d", o.Persons, maxImportPersons)
	}
	if o.Rounds < 1 || o.Rounds > 20 {
		return configErrorf("--rounds: %d is outside 1..20", o.Rounds)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// rowCounts are the rows of one region in the tables an import fills.
type rowCounts struct{ persons, relations, incomes int64 }

func (c rowCounts) total() int64 { return c.persons + c.relations + c.incomes }

func (c rowCounts) String() string {
	return fmt.Sprintf("%d persons, %d relations, %d incomes", c.persons, c.relations, c.incomes)
}

// Import measures a bulk import of the registry: an NDJSON file of Persons
// persons in families, with their relations and twelve monthly incomes each,
// built from the seed, imported by registry.Service.ImportFile into a fresh
// region — the whole real path: parsing, validation, sealing, blind
// indexes, batched writes — against a baseline that loads the same rows,
// already prepared (random bytes stand in for the sealed SNILS and its
// index), into the same tables of another fresh region with no validation
// and no encryption: COPY as the database owner on PostgreSQL, prepared
// multi-row INSERTs in one transaction on SQLite. Only the baseline's
// loading is timed, not the preparing of its rows. Each round imports into
// two new regions, ours first. It returns the BENCH line, which it also
// prints last.
func Import(ctx context.Context, o ImportOptions, out io.Writer) (string, error) {
	if err := o.validate(); err != nil {
		return "", err
	}
	start := time.Now()
	s, p, err := openPlatform(ctx, o.DatabaseURL, o.Log)
	if err != nil {
		return "", err
	}
	defer s.close()
	pop := newPopulation(o.Seed, o.Persons, civil.Today())
	file := filepath.Join(s.dataDir, "registry.ndjson")
	lines, size, err := pop.writeNDJSON(file)
	if err != nil {
		return "", fmt.Errorf("writing the file: %w", err)
	}
	rels, incs := pop.counts()
	want := rowCounts{persons: int64(o.Persons), relations: int64(rels), incomes: int64(incs)}
	baseKind := "copy"
	if s.dialect == store.SQLite {
		baseKind = "insert"
	}
	printf(out, "import: %s, %s (%d rows, %.2f relations a person) in %d lines, %.1f MB of NDJSON; setup %s\n",
		s.dialect, want, want.total(), float64(rels)/float64(o.Persons), lines, float64(size)/(1<<20), time.Since(start).Round(time.Millisecond))
	if baseKind == "copy" {
		printf(out, "baseline: the same rows prepared beforehand, loaded with COPY (pgx CopyFrom) as the database owner in one transaction; only the COPY is timed\n")
	} else {
		printf(out, "baseline: the same rows prepared beforehand, loaded with prepared multi-row INSERTs (about %d values each) in one transaction (SQLite has no COPY); only the INSERTs are timed\n", sqliteParamsPerInsert)
	}

	var (
		ours, base []time.Duration
		peakMB     float64
		errs       int64
	)
	for r := 1; r <= o.Rounds; r++ {
		t, err := benchRegion(ctx, p, fmt.Sprintf("%02d", 2*r-1))
		if err != nil {
			return "", err
		}
		d, bad, err := importOurs(ctx, o, p, t, file, lines, r, out)
		if err != nil {
			return "", err
		}
		if r == 1 {
			peakMB = peakRSSMB()
		}
		got, err := countRows(ctx, p, t.ID)
		if err != nil {
			return "", err
		}
		errs += bad + mismatch(out, "ours", got, want)
		ours = append(ours, d)
		printf(out, "round %d ours:     %6.2fs  %s rows/s  (%s)\n", r, d.Seconds(), num(float64(got.total())/d.Seconds()), got)
		encLen, err := sealedSNILSLen(ctx, p, t.ID)
		if err != nil {
			return "", err
		}

		bt, err := benchRegion(ctx, p, fmt.Sprintf("%02d", 2*r))
		if err != nil {
			return "", err
		}
		bd, err := importBaseline(ctx, o, s, p, pop, bt.ID, encLen)
		if err != nil {
			return "", fmt.Errorf("baseline: %w", err)
		}
		got, err = countRows(ctx, p, bt.ID)
		if err != nil {
			return "", err
		}
		errs += mismatch(out, "baseline", got, want)
		base = append(base, bd)
		printf(out, "round %d baseline: %6.2fs  %s rows/s  (%s)\n", r, bd.Seconds(), num(float64(got.total())/bd.Seconds()), got)
		if ctx.Err() != nil {
			return "", fmt.Errorf("interrupted: %w", ctx.Err())
		}
	}
	om, bm := median(ours), median(base)
	ratio := 0.0
	if bm > 0 {
		ratio = om.Seconds() / bm.Seconds()
	}
	printf(out, "peak RSS %s MB: the process's high-water mark (VmHWM) read right after the first import of ours, before any baseline row was made\n", num(peakMB))
	l := line{
		{"name", "import"}, {"db", string(s.dialect)}, {"persons", strconv.Itoa(o.Persons)}, {"rows", strconv.FormatInt(want.total(), 10)},
		{"ours_s", num(om.Seconds())}, {"baseline_s", num(bm.Seconds())}, {"ratio", num(ratio)},
		{"rate_per_s", num(float64(want.total()) / om.Seconds())}, {"peak_rss_mb", num(peakMB)},
		{"errors", strconv.FormatInt(errs, 10)}, {"baseline_kind", baseKind},
	}
	if o.Rounds > 1 {
		l = append(l, [2]string{"rounds", strconv.Itoa(o.Rounds)})
	}
	printf(out, "%s\n", l)
	return l.String(), nil
}

// benchRegion creates an active region.
func benchRegion(ctx context.Context, p *app.Platform, code string) (tenancy.Tenant, error) {
	t, err := p.Tenants.Create(ctx, tenancy.NewTenant{
		Code: code, Name: "Регион " + code + " (bench)", OKATO: code, OKTMO: code + "000000", Mode: tenancy.ModeFull,
	})
	if err != nil {
		return t, fmt.Errorf("region %s: %w", code, err)
	}
	active := tenancy.StatusActive
	return p.Tenants.Update(ctx, code, t.Version, tenancy.Change{Status: &active})
}

// importOurs runs the platform's import of the file into region t and
// returns how long it took and how many lines it did not import.
func importOurs(ctx context.Context, o ImportOptions, p *app.Platform, t tenancy.Tenant, file string, lines int64, r int, out io.Writer) (time.Duration, int64, error) {
	fh, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer fh.Close()
	rctx := tenancy.WithTenant(ctx, t.ID)
	stopProfile, err := o.profile(r)
	if err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	last := t0
	im, err := p.Persons.ImportFile(rctx, registry.ImportRequest{Format: registry.FormatNDJSON, Mode: registry.CommitValid},
		bufio.NewReaderSize(fh, 1<<20), func(pr registry.Progress) {
			if now := time.Now(); now.Sub(last) >= 30*time.Second {
				last = now
				printf(out, "  … %d of %d lines, %s lines/s\n", pr.Lines, lines, num(float64(pr.Lines)/now.Sub(t0).Seconds()))
			}
		})
	d := time.Since(t0)
	if perr := stopProfile(); err == nil {
		err = perr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("import: %w", err)
	}
	bad := im.Progress.Rejected
	if im.Status != registry.StatusDone {
		bad++
		printf(out, "ERROR: the import ended %s: %s\n", im.Status, im.Error)
	}
	if im.Progress.Lines != lines {
		bad++
		printf(out, "ERROR: the import read %d lines of %d\n", im.Progress.Lines, lines)
	}
	if im.Progress.Rejected > 0 {
		les, _, err := p.Persons.ImportErrors(rctx, im.ID, 0, 5)
		if err != nil {
			return 0, 0, err
		}
		for _, le := range les {
			printf(out, "ERROR: %s\n", le.Error())
		}
	}
	return d, bad, nil
}

func mismatch(out io.Writer, side string, got, want rowCounts) int64 {
	if got == want {
		return 0
	}
	printf(out, "ERROR: %s stored %s, want %s\n", side, got, want)
	d := func(a, b int64) int64 { return max(a-b, b-a) }
	return d(got.persons, want.persons) + d(got.relations, want.relations) + d(got.incomes, want.incomes)
}

// countRows counts a region's rows in the tables an import fills.
func countRows(ctx context.Context, p *app.Platform, tid uuid.UUID) (rowCounts, error) {
	var c rowCounts
	err := tenancy.Tx(tenancy.WithTenant(ctx, tid), p.DB.Gorm, func(tx *gorm.DB) error {
		for _, x := range []struct {
			table string
			n     *int64
		}{{"persons", &c.persons}, {"relations", &c.relations}, {"incomes", &c.incomes}} {
			if err := tx.Table(x.table).Where("tenant_id = ?", tid).Count(x.n).Error; err != nil {
				return err
			}
		}
		return nil
	})
	return c, err
}

// sealedSNILSLen is the length of a sealed SNILS as the platform stores it,
// for the baseline's stand-in bytes.
func sealedSNILSLen(ctx context.Context, p *app.Platform, tid uuid.UUID) (int, error) {
	var enc []byte
	err := tenancy.Tx(tenancy.WithTenant(ctx, tid), p.DB.Gorm, func(tx *gorm.DB) error {
		return tx.Table("persons").Select("snils_enc").Where("tenant_id = ?", tid).Limit(1).Row().Scan(&enc)
	})
	if err != nil {
		return 0, fmt.Errorf("reading a sealed SNILS: %w", err)
	}
	return len(enc), nil
}

// peakRSSMB is the process's peak resident set (VmHWM) in MB; 0 where
// /proc is not at hand.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(l, []byte("VmHWM:")); ok {
			f := strings.Fields(string(rest))
			if len(f) >= 1 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// The baseline's tables and columns, in the order its rows give values.
var (
	personCols = []string{"tenant_id", "id", "snils_index", "snils_enc", "family_name", "name_key", "first_name", "patronymic",
		"birth_date", "sex", "citizenship", "address_oktmo", "address_text", "origin", "version", "created_at", "updated_at"}
	relationCols = []string{"tenant_id", "id", "person_id", "relative_id", "kind", "valid_from", "origin", "recorded_at"}
	incomeCols   = []string{"tenant_id", "id", "person_id", "month", "kind", "amount_kopecks", "source", "origin", "recorded_at"}
)

// baseChunk is how many rows the baseline prepares before it loads them:
// memory stays at one chunk.
const baseChunk = 50_000

// sqliteParamsPerInsert is about how many values one INSERT statement of
// the SQLite baseline binds. More rows a statement would save SQLite work,
// but the driver (glebarez/go-sqlite) matches each parameter to its
// argument by a linear search, quadratic in a statement's values; this
// size is about the fastest on this driver.
var sqliteParamsPerInsert = 256

func sqliteRows(cols int) int { return max(1, sqliteParamsPerInsert/cols) }

// loader is the baseline's writer: one transaction, loading a table's rows
// (flat, len(cols) values a row) at a time.
type loader interface {
	load(ctx context.Context, table string, cols []string, flat []any) error
	commit(ctx context.Context) error
	close()
	uuid(u uuid.UUID) any
	date(d civil.Date) any
}

// importBaseline loads the population into region tid the plain way and
// returns the time spent loading (preparing the rows is not counted).
func importBaseline(ctx context.Context, o ImportOptions, s *scratch, p *app.Platform, pop *population, tid uuid.UUID, encLen int) (time.Duration, error) {
	var (
		ld  loader
		err error
	)
	if s.dialect == store.Postgres {
		ld, err = newCopyLoader(ctx, o.DatabaseURL, s.name)
	} else {
		ld, err = newInsertLoader(ctx, p.DB.SQL)
	}
	if err != nil {
		return 0, err
	}
	defer ld.close()
	var spent time.Duration
	timed := func(fn func() error) error {
		t0 := time.Now()
		err := fn()
		spent += time.Since(t0)
		return err
	}
	ids := newIDSeq()
	persons := uint64(pop.persons)
	now := time.Now().UTC().Truncate(time.Microsecond)
	rng := rand.NewChaCha8([32]byte{byte(o.Seed), byte(o.Seed >> 8), byte(o.Seed >> 16), byte(o.Seed >> 24), 'b', 'a', 's', 'e'})
	tenant := ld.uuid(tid)

	// One table at a time, persons first (the facts refer to them).
	type table struct {
		name string
		cols []string
		rows func(f *family, flat []any, seq *uint64) []any
	}
	tables := []table{
		{"persons", personCols, func(f *family, flat []any, _ *uint64) []any {
			for _, g := range f.persons {
				idx, enc := make([]byte, 32), make([]byte, encLen)
				_, _ = rng.Read(idx)
				_, _ = rng.Read(enc)
				// name_key as the registry folds it for the name search.
				key := strings.ReplaceAll(strings.ToLower(g.family), "ё", "е")
				flat = append(flat, tenant, ld.uuid(ids.id(uint64(g.idx))), idx, enc, g.family, key, g.first, g.patronymic,
					ld.date(g.birth), g.sex, "643", g.oktmo, g.address, "import", int64(1), now, now)
			}
			return flat
		}},
		{"relations", relationCols, func(f *family, flat []any, seq *uint64) []any {
			for _, r := range f.relations {
				*seq++
				flat = append(flat, tenant, ld.uuid(ids.id(persons+*seq)), ld.uuid(ids.id(uint64(r.from))), ld.uuid(ids.id(uint64(r.to))),
					r.kind, ld.date(r.from0), "import", now)
			}
			return flat
		}},
		{"incomes", incomeCols, func(f *family, flat []any, seq *uint64) []any {
			for _, in := range f.incomes {
				*seq++
				flat = append(flat, tenant, ld.uuid(ids.id(persons+*seq)), ld.uuid(ids.id(uint64(in.person))), in.month, in.kind,
					in.amount, "fns", "import", now)
			}
			return flat
		}},
	}
	var seq uint64 // the relations' and incomes' ids follow the persons'
	for _, t := range tables {
		nc := len(t.cols)
		flat := make([]any, 0, (baseChunk+64)*nc)
		err := pop.walk(func(f *family) error {
			flat = t.rows(f, flat, &seq)
			if len(flat) < baseChunk*nc {
				return nil
			}
			err := timed(func() error { return ld.load(ctx, t.name, t.cols, flat) })
			flat = flat[:0]
			return err
		})
		if err == nil && len(flat) > 0 {
			err = timed(func() error { return ld.load(ctx, t.name, t.cols, flat) })
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w", t.name, err)
		}
	}
	if err := timed(func() error { return ld.commit(ctx) }); err != nil {
		return 0, err
	}
	return spent, nil
}

// copyLoader loads with COPY on a connection of its own as the role of
// --database-url, which owns the scratch database's tables: COPY FROM is
// refused on a table whose row-level security applies to the role, so a
// role that is neither superuser nor BYPASSRLS lifts FORCE ROW LEVEL
// SECURITY (owners then bypass it) for the load and puts it back after.
type copyLoader struct {
	conn    *pgx.Conn
	tx      pgx.Tx
	rows    [][]any
	relaxed []string
}

func newCopyLoader(ctx context.Context, adminURL, database string) (*copyLoader, error) {
	u, err := withDatabase(adminURL, database, "", "")
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("connecting as the owner: %w", err)
	}
	l := &copyLoader{conn: conn}
	var bypass bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&bypass); err != nil {
		l.close()
		return nil, err
	}
	if !bypass {
		for _, t := range []string{"persons", "relations", "incomes"} {
			if _, err := conn.Exec(ctx, "ALTER TABLE "+pgx.Identifier{t}.Sanitize()+" NO FORCE ROW LEVEL SECURITY"); err != nil {
				l.close()
				return nil, err
			}
			l.relaxed = append(l.relaxed, t)
		}
	}
	if l.tx, err = conn.Begin(ctx); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

func (l *copyLoader) load(ctx context.Context, table string, cols []string, flat []any) error {
	nc := len(cols)
	l.rows = l.rows[:0]
	for i := 0; i+nc <= len(flat); i += nc {
		l.rows = append(l.rows, flat[i:i+nc])
	}
	_, err := l.tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(l.rows))
	return err
}

func (l *copyLoader) commit(ctx context.Context) error {
	err := l.tx.Commit(ctx)
	l.tx = nil
	return err
}

func (l *copyLoader) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if l.tx != nil {
		_ = l.tx.Rollback(ctx)
	}
	for _, t := range l.relaxed {
		_, _ = l.conn.Exec(ctx, "ALTER TABLE "+pgx.Identifier{t}.Sanitize()+" FORCE ROW LEVEL SECURITY")
	}
	_ = l.conn.Close(ctx)
}

func (*copyLoader) uuid(u uuid.UUID) any  { return [16]byte(u) }
func (*copyLoader) date(d civil.Date) any { return d.Time() }

// insertLoader loads with multi-row INSERT statements, prepared once per
// table, in one transaction — the values as GORM hands them to the driver.
type insertLoader struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func newInsertLoader(ctx context.Context, db *sql.DB) (*insertLoader, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &insertLoader{tx: tx, stmts: map[string]*sql.Stmt{}}, nil
}

func insertSQL(table string, cols []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

func (l *insertLoader) load(ctx context.Context, table string, cols []string, flat []any) error {
	nc := len(cols)
	rows := sqliteRows(nc)
	full := rows * nc
	st, ok := l.stmts[table]
	if !ok {
		var err error
		if st, err = l.tx.PrepareContext(ctx, insertSQL(table, cols, rows)); err != nil {
			return err
		}
		l.stmts[table] = st
	}
	for len(flat) >= full {
		if _, err := st.ExecContext(ctx, flat[:full]...); err != nil {
			return err
		}
		flat = flat[full:]
	}
	if len(flat) == 0 {
		return nil
	}
	_, err := l.tx.ExecContext(ctx, insertSQL(table, cols, len(flat)/nc), flat...)
	return err
}

func (l *insertLoader) commit(context.Context) error {
	err := l.tx.Commit()
	l.tx = nil
	return err
}

func (l *insertLoader) close() {
	for _, st := range l.stmts {
		_ = st.Close()
	}
	if l.tx != nil {
		_ = l.tx.Rollback()
	}
}

func (*insertLoader) uuid(u uuid.UUID) any  { return u }
func (*insertLoader) date(d civil.Date) any { return d }
