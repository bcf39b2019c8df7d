package directory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/page"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Service keeps the directories. Methods that take a region's view — the
// Region* methods, and Lookup, Entries and WorkingDays when the context
// carries a tenant — act for the context's tenant.
type Service struct {
	db    *gorm.DB
	today func() civil.Date
}

// NewService returns the directories' service over db (with the tenancy
// scope installed).
func NewService(db *gorm.DB) *Service { return &Service{db: db, today: civil.Today} }

// Today is the date "now" lookups are made as of (Moscow time).
func (s *Service) Today() civil.Date { return s.today() }

// List returns every directory, by code.
func (s *Service) List(ctx context.Context, p page.KeyRequest) ([]Directory, string, error) {
	var ds []Directory
	q := s.db.WithContext(ctx).Order("code").Limit(p.Limit + 1)
	if len(p.After) == 1 {
		q = q.Where("code > ?", p.After[0])
	}
	if err := q.Find(&ds).Error; err != nil {
		return nil, "", err
	}
	ds, next := page.TrimKey(ds, p.Limit, func(d Directory) []string { return []string{d.Code} })
	return ds, next, nil
}

// Get returns one directory.
func (s *Service) Get(ctx context.Context, code string) (Directory, error) {
	return getDir(s.db.WithContext(ctx), code)
}

func getDir(tx *gorm.DB, code string) (Directory, error) {
	var d Directory
	if !dirCodeRe.MatchString(code) {
		return d, fault.NotFoundf("directory %q", code)
	}
	err := tx.Where("code = ?", code).Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return d, fault.NotFoundf("directory %s", code)
	}
	return d, err
}

// Query selects entries of a directory.
type Query struct {
	// AsOf selects the versions in force on a date; zero selects every
	// version (the history).
	AsOf civil.Date
	// Code selects one entry code's versions; empty selects all.
	Code string
	// Page bounds the result; a zero Limit returns everything.
	Page page.KeyRequest
}

// Entries pages through a directory's platform entries, by code and start.
func (s *Service) Entries(ctx context.Context, dir string, q Query) ([]Entry, string, error) {
	var out []Entry
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if _, err := getDir(tx, dir); err != nil {
			return err
		}
		var err error
		out, err = queryEntries(tx, side{}, dir, q)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return trim(out, q.Page.Limit)
}

func trim(out []Entry, limit int) ([]Entry, string, error) {
	if limit <= 0 {
		return out, "", nil
	}
	out, next := page.TrimKey(out, limit, entryKey)
	return out, next, nil
}

// RegionEntries pages through what the context's region sees of a
// directory: the platform's entries merged with the region's own.
func (s *Service) RegionEntries(ctx context.Context, dir string, q Query) ([]Entry, string, error) {
	var out []Entry
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		d, err := getDir(tx, dir)
		if err != nil {
			return err
		}
		out, err = queryEntries(tx, side{}, dir, q)
		if err != nil || !d.Extensible {
			return err
		}
		own, err := queryEntries(tx, side{overlay: true}, dir, q)
		if err != nil {
			return err
		}
		out = mergeSorted(out, own)
		if q.Page.Limit > 0 && len(out) > q.Page.Limit+1 {
			out = out[:q.Page.Limit+1]
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return trim(out, q.Page.Limit)
}

func entryKey(e Entry) []string { return []string{e.Code, e.EffectiveFrom.String()} }

func compareEntries(a, b Entry) int {
	return cmp.Or(strings.Compare(a.Code, b.Code), a.EffectiveFrom.Compare(b.EffectiveFrom))
}

func mergeSorted(a, b []Entry) []Entry {
	out := make([]Entry, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	slices.SortStableFunc(out, compareEntries)
	return out
}

// side is which table entries live in: the platform's or the regions'.
type side struct{ overlay bool }

func (sd side) table() string {
	if sd.overlay {
		return overlayTable
	}
	return platformTable
}

func (sd side) origin() Origin {
	if sd.overlay {
		return Region
	}
	return Platform
}

// queryEntries reads one side's entries of a directory with the query's
// filter and bounds (Limit+1 rows, for page.TrimKey). A region's entries
// whose code the platform also uses are left out: the platform's win.
func queryEntries(tx *gorm.DB, sd side, dir string, q Query) ([]Entry, error) {
	db := tx.Table(sd.table()).Where("directory_code = ?", dir)
	if !q.AsOf.IsZero() {
		db = db.Where("effective_from <= ? AND (effective_to IS NULL OR effective_to >= ?)", q.AsOf, q.AsOf)
	}
	if q.Code != "" {
		db = db.Where("code = ?", q.Code)
	}
	if len(q.Page.After) == 2 {
		a, b := q.Page.After[0], q.Page.After[1]
		db = db.Where("(code > ? OR (code = ? AND effective_from > ?))", a, a, b)
	}
	if sd.overlay {
		db = db.Where("NOT EXISTS (SELECT 1 FROM " + platformTable + " p WHERE p.directory_code = " +
			overlayTable + ".directory_code AND p.code = " + overlayTable + ".code)")
	}
	if q.Page.Limit > 0 {
		db = db.Limit(q.Page.Limit + 1)
	}
	var out []Entry
	if err := db.Order("code, effective_from").Find(&out).Error; err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Origin = sd.origin()
	}
	return out, nil
}

// Entry returns one platform entry version by id.
func (s *Service) Entry(ctx context.Context, dir string, id uuid.UUID) (Entry, error) {
	var e Entry
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		e, err = entryByID(tx, side{}, dir, id)
		return err
	})
	return e, err
}

// RegionEntry returns an entry version the context's region sees: its own
// or the platform's.
func (s *Service) RegionEntry(ctx context.Context, dir string, id uuid.UUID) (Entry, error) {
	var e Entry
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		e, err = entryByID(tx, side{overlay: true}, dir, id)
		if errors.Is(err, fault.ErrNotFound) {
			e, err = entryByID(tx, side{}, dir, id)
		}
		return err
	})
	return e, err
}

func entryByID(tx *gorm.DB, sd side, dir string, id uuid.UUID) (Entry, error) {
	var e Entry
	err := tx.Table(sd.table()).Where("directory_code = ? AND id = ?", dir, id).Take(&e).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return e, fault.NotFoundf("entry %s of directory %s", id, dir)
	}
	e.Origin = sd.origin()
	return e, err
}

// Lookup finds the version of an entry code in force on a date: the
// platform's, or — when the context carries a tenant and the directory is
// extensible — the region's own.
func (s *Service) Lookup(ctx context.Context, dir, code string, asOf civil.Date) (Entry, error) {
	q := Query{AsOf: asOf, Code: code, Page: page.KeyRequest{Limit: 1}}
	var (
		es  []Entry
		err error
	)
	if _, ok := tenancy.FromContext(ctx); ok {
		es, _, err = s.RegionEntries(ctx, dir, q)
	} else {
		es, _, err = s.Entries(ctx, dir, q)
	}
	if err != nil {
		return Entry{}, err
	}
	if len(es) == 0 {
		return Entry{}, fault.NotFoundf("entry %s of directory %s in force on %s", code, dir, asOf)
	}
	return es[0], nil
}

// Create publishes a platform entry version. A new version that starts while
// the code's open-ended version is in force ends that version the day before.
func (s *Service) Create(ctx context.Context, dir string, f Fields) (Entry, error) {
	return s.create(ctx, side{}, dir, f)
}

// RegionCreate adds an entry version of the context's region to an
// extensible directory.
func (s *Service) RegionCreate(ctx context.Context, dir string, f Fields) (Entry, error) {
	return s.create(ctx, side{overlay: true}, dir, f)
}

func (s *Service) create(ctx context.Context, sd side, dir string, f Fields) (Entry, error) {
	var out Entry
	err := s.write(ctx, sd, func(tx *gorm.DB) error {
		w, err := s.prepare(tx, sd, dir)
		if err != nil {
			return err
		}
		res, ps := w.plan([]row{{fields: f}}, true)
		if len(ps) > 0 {
			return singleError(ps)
		}
		if err := w.execute(tx); err != nil {
			return err
		}
		out = res[0]
		return nil
	})
	return out, err
}

// Update changes a platform entry version if it is still at version.
func (s *Service) Update(ctx context.Context, dir string, id uuid.UUID, version int64, c Change) (Entry, error) {
	return s.update(ctx, side{}, dir, id, version, c)
}

// RegionUpdate changes an entry version of the context's region.
func (s *Service) RegionUpdate(ctx context.Context, dir string, id uuid.UUID, version int64, c Change) (Entry, error) {
	return s.update(ctx, side{overlay: true}, dir, id, version, c)
}

func (s *Service) update(ctx context.Context, sd side, dir string, id uuid.UUID, version int64, c Change) (Entry, error) {
	var out Entry
	err := s.write(ctx, sd, func(tx *gorm.DB) error {
		w, err := s.prepare(tx, sd, dir)
		if err != nil {
			return err
		}
		cur, err := entryByID(tx, sd, dir, id)
		if errors.Is(err, fault.ErrNotFound) && sd.overlay {
			if _, perr := entryByID(tx, side{}, dir, id); perr == nil {
				return fault.Conflictf("entry %s of directory %s is the platform's: only the federal operator changes it", id, dir)
			}
		}
		if err != nil {
			return err
		}
		if cur.Version != version {
			return fault.ErrStale
		}
		f := Fields{Code: cur.Code, Name: cur.Name, Attributes: cur.Attributes, EffectiveFrom: cur.EffectiveFrom, EffectiveTo: cur.EffectiveTo}
		if c.Name != nil {
			f.Name = *c.Name
		}
		if c.Attributes != nil {
			f.Attributes = c.Attributes
		}
		if c.SetEffectiveTo || c.EffectiveTo != nil {
			f.EffectiveTo = c.EffectiveTo
		}
		res, ps := w.plan([]row{{fields: f}}, false)
		if len(ps) > 0 {
			return singleError(ps)
		}
		if err := w.execute(tx); err != nil {
			return err
		}
		out = res[0]
		return nil
	})
	return out, err
}

// write runs fn in a transaction of the side's kind, serialised per
// directory side on PostgreSQL (SQLite transactions are serial anyway).
func (s *Service) write(ctx context.Context, sd side, fn func(tx *gorm.DB) error) error {
	if sd.overlay {
		return tenancy.Tx(ctx, s.db, fn)
	}
	return s.db.WithContext(ctx).Transaction(fn)
}

// prepare loads what a write to one side of a directory needs, under a lock.
func (s *Service) prepare(tx *gorm.DB, sd side, dir string) (*writer, error) {
	d, err := getDir(tx, dir)
	if err != nil {
		return nil, err
	}
	if sd.overlay && !d.Extensible {
		return nil, fault.Conflictf("directory %s is not extensible: a region cannot add entries to it", dir)
	}
	if tx.Dialector.Name() == "postgres" {
		key := "directory:" + sd.table() + ":" + dir
		if tid, ok := tenancy.FromContext(tx.Statement.Context); ok && sd.overlay {
			key += ":" + tid.String()
		}
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", key).Error; err != nil {
			return nil, err
		}
	}
	w := &writer{dir: d, side: sd, byCode: map[string][]Entry{}, now: tx.NowFunc}
	// Every version of the side, those a region's view hides included.
	var all []Entry
	if err := tx.Table(sd.table()).Where("directory_code = ?", dir).Order("code, effective_from").Find(&all).Error; err != nil {
		return nil, err
	}
	if sd.overlay {
		var codes []string
		if err := tx.Table(platformTable).Where("directory_code = ?", dir).Distinct().Pluck("code", &codes).Error; err != nil {
			return nil, err
		}
		w.platformCodes = map[string]bool{}
		for _, c := range codes {
			w.platformCodes[c] = true
		}
	}
	for _, e := range all {
		e.Origin = sd.origin()
		w.byCode[e.Code] = append(w.byCode[e.Code], e)
	}
	return w, nil
}

func singleError(ps []lineProblem) error {
	inv := &fault.Invalid{}
	for _, p := range ps {
		if p.conflict {
			return fault.Conflictf("%s", p.msg)
		}
		inv.Add(p.field, p.msg, p.value)
	}
	return inv
}

// describe names a version for messages.
func describe(e Entry) string {
	to := "open-ended"
	if e.EffectiveTo != nil {
		to = "to " + e.EffectiveTo.String()
	}
	return fmt.Sprintf("the version of %s from %s %s", e.Code, e.EffectiveFrom, to)
}
