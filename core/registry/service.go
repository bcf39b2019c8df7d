package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/core/pdcrypt"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Codes gives the codes of a directory the context's region sees (the
// platform's entries and its own, any version), each with its attributes.
type Codes interface {
	Codes(ctx context.Context, directory string) (map[string]map[string]any, error)
}

// Directories whose codes registry rows use.
const (
	DirKinship    = "kinship_kinds"
	DirIncomes    = "income_kinds"
	DirCategories = "recipient_categories"
	DirDocuments  = "identity_document_types"
)

// Service keeps the registry of the context's region.
type Service struct {
	db    *gorm.DB
	crypt *pdcrypt.Service
	codes Codes
	today func() civil.Date
	lease time.Duration

	cardGate chan struct{} // see cardGateFor

	mu    sync.Mutex
	cache map[codeKey]cachedCodes
	wake  chan struct{}
}

type codeKey struct {
	tenant uuid.UUID
	dir    string
}

type cachedCodes struct {
	set   map[string]bool
	attrs map[string]map[string]any
	at    time.Time
}

// codesTTL is how long a region's directory codes are trusted: a code a
// federal operator adds is accepted within it.
const codesTTL = 30 * time.Second

// Options tune a Service.
type Options struct {
	// Today is the date "the future" starts after; civil.Today by default.
	Today func() civil.Date
	// ImportLease is how long a running import stays its runner's without a
	// committed batch; then another runner resumes it. 2 minutes by default.
	ImportLease time.Duration
}

// NewService returns the registry over db (with the tenancy scope
// installed), sealing with crypt and checking codes against codes (nil:
// codes are not checked).
func NewService(db *gorm.DB, crypt *pdcrypt.Service, codes Codes, opts Options) *Service {
	if opts.Today == nil {
		opts.Today = civil.Today
	}
	if opts.ImportLease <= 0 {
		opts.ImportLease = 2 * time.Minute
	}
	return &Service{db: db, crypt: crypt, codes: codes, today: opts.Today, lease: opts.ImportLease, cardGate: cardGateFor(db),
		cache: map[codeKey]cachedCodes{}, wake: make(chan struct{}, 1)}
}

// codeSet returns a directory's codes for the context's region. It must be
// called outside a transaction (on SQLite a second one would wait for ever).
func (s *Service) codeSet(ctx context.Context, dir string) (map[string]bool, error) {
	c, err := s.directory(ctx, dir)
	return c.set, err
}

func (s *Service) directory(ctx context.Context, dir string) (cachedCodes, error) {
	if s.codes == nil {
		return cachedCodes{}, nil
	}
	tid, ok := tenancy.FromContext(ctx)
	if !ok {
		return cachedCodes{}, tenancy.ErrNoTenant
	}
	k := codeKey{tid, dir}
	s.mu.Lock()
	c, ok := s.cache[k]
	s.mu.Unlock()
	if ok && time.Since(c.at) < codesTTL {
		return c, nil
	}
	attrs, err := s.codes.Codes(ctx, dir)
	if err != nil {
		return cachedCodes{}, err
	}
	c = cachedCodes{set: make(map[string]bool, len(attrs)), attrs: attrs, at: time.Now()}
	for code := range attrs {
		c.set[code] = true
	}
	s.mu.Lock()
	s.cache[k] = c
	s.mu.Unlock()
	return c, nil
}

// countedIncome says which income kinds the means test counts: those whose
// income_kinds entry does not say counted: false.
func (s *Service) countedIncome(ctx context.Context) (func(kind string) bool, error) {
	c, err := s.directory(ctx, DirIncomes)
	if err != nil || c.attrs == nil {
		return nil, err
	}
	return func(kind string) bool {
		a, ok := c.attrs[kind]
		return ok && a["counted"] != false
	}, nil
}

func (s *Service) codeSets(ctx context.Context) (codeSets, error) {
	var c codeSets
	var err error
	for _, x := range []struct {
		dir string
		dst *map[string]bool
	}{{DirKinship, &c.kinship}, {DirIncomes, &c.incomeKinds}, {DirCategories, &c.categories}, {DirDocuments, &c.documents}} {
		if *x.dst, err = s.codeSet(ctx, x.dir); err != nil {
			return c, err
		}
	}
	return c, nil
}

// ErrDuplicateSNILS is a person whose SNILS another person of the region
// has; the fault.Error that wraps it names that person.
var ErrDuplicateSNILS = errors.New("registry: a person with this SNILS exists")

func duplicate(id uuid.UUID) error {
	return &fault.Error{Kind: fault.ErrConflict, Msg: "a person with this SNILS exists in this region: " + id.String()}
}

// DuplicateOf returns the existing person a duplicate-SNILS conflict names.
func DuplicateOf(err error) (uuid.UUID, bool) {
	var fe *fault.Error
	if !errors.As(err, &fe) || !errors.Is(err, fault.ErrConflict) {
		return uuid.Nil, false
	}
	i := strings.LastIndexByte(fe.Msg, ' ')
	id, perr := uuid.Parse(fe.Msg[i+1:])
	return id, perr == nil
}

func (s *Service) keyring(ctx context.Context, tx *gorm.DB) (*pdcrypt.Keyring, error) {
	return s.crypt.In(tx).Keyring(ctx)
}

func record(ctx context.Context, tx *gorm.DB, action string, id uuid.UUID, detail string) error {
	oid := ""
	if id != uuid.Nil {
		oid = id.String()
	}
	return audit.Append(ctx, tx, audit.Record{Action: action, ObjectType: "person", ObjectID: oid, Detail: detail})
}

// Create registers a person from origin; SNILS, names, birth date and sex
// are required.
func (s *Service) Create(ctx context.Context, f PersonFields, origin Origin) (Person, error) {
	codes, err := s.codeSets(ctx)
	if err != nil {
		return Person{}, err
	}
	now := time.Now().UTC()
	p := Person{ID: uuid.Must(uuid.NewV7()), Origin: origin, Version: 1, CreatedAt: now, UpdatedAt: now}
	v := &fault.Invalid{}
	if !origin.valid() {
		v.Add("origin", "must be manual, import, connector or event", string(origin))
	}
	f.apply(&p, v)
	validate(v, &p, s.today(), codes.documents)
	if err := v.Err(); err != nil {
		return Person{}, err
	}
	err = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		k, err := s.keyring(ctx, tx)
		if err != nil {
			return err
		}
		row, err := toRow(k, uuid.Nil, &p)
		if err != nil {
			return err
		}
		existing, err := firstID(tx.Model(&personRow{}).Where("snils_index = ?", row.SNILSIndex))
		if err != nil {
			return err
		}
		if existing != uuid.Nil {
			return duplicate(existing)
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return record(ctx, tx, "person.create", p.ID, "origin="+string(origin))
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		// A concurrent create won the race for this SNILS.
		if id, ferr := s.idBySNILS(ctx, p.SNILS); ferr == nil {
			return Person{}, duplicate(id)
		}
		return Person{}, fault.Conflictf("a person with this SNILS exists in this region")
	}
	return p, err
}

func (s *Service) idBySNILS(ctx context.Context, snils string) (uuid.UUID, error) {
	var id uuid.UUID
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		k, err := s.keyring(ctx, tx)
		if err != nil {
			return err
		}
		id, err = firstID(tx.Model(&personRow{}).Where("snils_index = ?", k.BlindIndex(snilsIndexInput(snils))))
		return err
	})
	if err == nil && id == uuid.Nil {
		err = fault.NotFoundf("person")
	}
	return id, err
}

func notFound(id uuid.UUID) error { return fault.NotFoundf("person %s", id) }

func loadPerson(tx *gorm.DB, k sealer, id uuid.UUID) (Person, personRow, error) {
	var row personRow
	if err := tx.Where("id = ?", id).Take(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return Person{}, row, notFound(id)
		}
		return Person{}, row, err
	}
	p, err := fromRow(k, row)
	return p, row, err
}

// Get reads a person (audited as person.read). A merged duplicate is
// returned with MergedInto set.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Person, error) {
	var p Person
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		k, err := s.keyring(ctx, tx)
		if err != nil {
			return err
		}
		if p, _, err = loadPerson(tx, k, id); err != nil {
			return err
		}
		return record(ctx, tx, "person.read", id, "")
	})
	return p, err
}

// Update applies the set fields of f if the person is still at version;
// the version replaced is kept, sealed, in person_history.
func (s *Service) Update(ctx context.Context, id uuid.UUID, version int64, f PersonFields, origin Origin) (Person, error) {
	codes, err := s.codeSets(ctx)
	if err != nil {
		return Person{}, err
	}
	var p Person
	err = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		k, err := s.keyring(ctx, tx)
		if err != nil {
			return err
		}
		old, oldRow, err := loadPerson(tx, k, id)
		if err != nil {
			return err
		}
		if old.Version != version {
			return fault.ErrStale
		}
		if old.MergedInto != nil {
			return fault.Conflictf("person %s was merged into %s; change that person", id, *old.MergedInto)
		}
		p = old
		v := &fault.Invalid{}
		f.apply(&p, v)
		validate(v, &p, s.today(), codes.documents)
		if err := v.Err(); err != nil {
			return err
		}
		p.Version, p.UpdatedAt = version+1, time.Now().UTC()
		row, err := toRow(k, oldRow.TenantID, &p)
		if err != nil {
			return err
		}
		if f.SNILS != nil && p.SNILS != old.SNILS {
			other, err := firstID(tx.Model(&personRow{}).Where("snils_index = ? AND id <> ?", row.SNILSIndex, id))
			if err != nil {
				return err
			}
			if other != uuid.Nil {
				return duplicate(other)
			}
		}
		if err := s.keepHistory(ctx, tx, k, old, "update"); err != nil {
			return err
		}
		res := tx.Model(&personRow{}).Where("id = ? AND version = ?", id, version).Updates(row.changes())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fault.ErrStale
		}
		return record(ctx, tx, "person.update", id, "fields="+strings.Join(f.names(), ","))
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return Person{}, fault.Conflictf("a person with this SNILS exists in this region")
	}
	return p, err
}

func (f PersonFields) names() []string {
	var out []string
	for _, x := range []struct {
		name string
		set  bool
	}{
		{"snils", f.SNILS != nil}, {"family_name", f.FamilyName != nil}, {"first_name", f.FirstName != nil},
		{"patronymic", f.Patronymic != nil}, {"birth_date", f.BirthDate != nil}, {"sex", f.Sex != nil},
		{"citizenship", f.Citizenship != nil}, {"death_date", f.DeathDate != nil}, {"address", f.Address != nil},
		{"document", f.Document != nil}, {"contacts", f.Contacts != nil}, {"bank", f.Bank != nil},
		{"clear:" + strings.Join(f.Clear, "+"), len(f.Clear) > 0},
	} {
		if x.set {
			out = append(out, x.name)
		}
	}
	return out
}

// historyRow is a row of person_history.
type historyRow struct {
	TenantID  uuid.UUID `gorm:"primaryKey"`
	ID        uuid.UUID `gorm:"primaryKey"`
	PersonID  uuid.UUID
	Version   int64
	DataEnc   []byte
	ChangedBy *uuid.UUID
	ChangedAt time.Time
	Reason    string
}

func (historyRow) TableName() string { return "person_history" }

// personSnapshot is the sealed form of a past version.
type personSnapshot struct {
	SNILS       string      `json:"snils"`
	FamilyName  string      `json:"family_name"`
	FirstName   string      `json:"first_name"`
	Patronymic  string      `json:"patronymic"`
	BirthDate   civil.Date  `json:"birth_date"`
	Sex         string      `json:"sex"`
	Citizenship string      `json:"citizenship"`
	DeathDate   *civil.Date `json:"death_date,omitempty"`
	Address     Address     `json:"address"`
	Document    *Document   `json:"document,omitempty"`
	Contacts    *Contacts   `json:"contacts,omitempty"`
	Bank        *Bank       `json:"bank,omitempty"`
	MergedInto  *uuid.UUID  `json:"merged_into,omitempty"`
}

// snapshotOf is the part of a person a history row keeps.
func snapshotOf(p Person) personSnapshot {
	return personSnapshot{
		SNILS: p.SNILS, FamilyName: p.FamilyName, FirstName: p.FirstName, Patronymic: p.Patronymic,
		BirthDate: p.BirthDate, Sex: p.Sex, Citizenship: p.Citizenship, DeathDate: p.DeathDate,
		Address: p.Address, Document: p.Document, Contacts: p.Contacts, Bank: p.Bank, MergedInto: p.MergedInto,
	}
}

// person is the version a snapshot kept of person id.
func (s personSnapshot) person(id uuid.UUID, version int64) Person {
	return Person{
		ID: id, SNILS: s.SNILS, FamilyName: s.FamilyName, FirstName: s.FirstName, Patronymic: s.Patronymic,
		BirthDate: s.BirthDate, Sex: s.Sex, Citizenship: s.Citizenship, DeathDate: s.DeathDate,
		Address: s.Address, Document: s.Document, Contacts: s.Contacts, Bank: s.Bank, MergedInto: s.MergedInto,
		Version: version,
	}
}

// sameFields reports whether two versions of a person say the same.
func sameFields(a, b Person) bool {
	x, errX := json.Marshal(snapshotOf(a))
	y, errY := json.Marshal(snapshotOf(b))
	return errX == nil && errY == nil && bytes.Equal(x, y)
}

// historyAAD binds a sealed history row to its id.
func historyAAD(id uuid.UUID) []byte { return append([]byte("person_history:"), id[:]...) }

// historyOf seals the version old into a history row.
func historyOf(k sealer, tid uuid.UUID, old Person, reason string, changedBy *uuid.UUID, now time.Time) (historyRow, error) {
	b, err := json.Marshal(snapshotOf(old))
	if err != nil {
		return historyRow{}, err
	}
	id := uuid.Must(uuid.NewV7())
	enc, err := k.Seal(b, historyAAD(id))
	if err != nil {
		return historyRow{}, err
	}
	return historyRow{TenantID: tid, ID: id, PersonID: old.ID, Version: old.Version, DataEnc: enc, ChangedBy: changedBy, ChangedAt: now, Reason: reason}, nil
}

func (s *Service) keepHistory(ctx context.Context, tx *gorm.DB, k sealer, old Person, reason string) error {
	h, err := historyOf(k, uuid.Nil, old, reason, actorOf(ctx), time.Now().UTC())
	if err != nil {
		return err
	}
	return tx.Create(&h).Error
}

// PersonVersion is an earlier version of a person.
type PersonVersion struct {
	Version   int64
	ChangedAt time.Time
	ChangedBy *uuid.UUID
	Reason    string
	Person    Person
}

// History returns a person's earlier versions, oldest first (audited as
// person.history).
func (s *Service) History(ctx context.Context, id uuid.UUID) ([]PersonVersion, error) {
	var out []PersonVersion
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		k, err := s.keyring(ctx, tx)
		if err != nil {
			return err
		}
		if _, _, err := loadPerson(tx, k, id); err != nil {
			return err
		}
		var rows []historyRow
		if err := tx.Where("person_id = ?", id).Order("version").Find(&rows).Error; err != nil {
			return err
		}
		for _, h := range rows {
			b, err := k.Open(h.DataEnc, historyAAD(h.ID))
			if err != nil {
				return err
			}
			var snap personSnapshot
			if err := json.Unmarshal(b, &snap); err != nil {
				return err
			}
			out = append(out, PersonVersion{Version: h.Version, ChangedAt: h.ChangedAt, ChangedBy: h.ChangedBy, Reason: h.Reason,
				Person: snap.person(id, h.Version)})
		}
		return record(ctx, tx, "person.history", id, "")
	})
	return out, err
}

// IDsBySNILS finds, in one query, the persons with these SNILS (already
// normalized, 11 digits) and gives each found one's id: the person a
// merged duplicate was merged into, where it was. Those not found are
// absent. Each person found is recorded as searched for, and the searches
// that found nobody once, with their number.
func (s *Service) IDsBySNILS(ctx context.Context, snils []string) (map[string]uuid.UUID, error) {
	out := make(map[string]uuid.UUID, len(snils))
	if len(snils) == 0 {
		return out, nil
	}
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		k, err := s.keyring(ctx, tx)
		if err != nil {
			return err
		}
		byIndex := make(map[string]string, len(snils))
		indexes := make([][]byte, 0, len(snils))
		for _, n := range snils {
			ix := k.BlindIndex(snilsIndexInput(n))
			byIndex[string(ix)] = n
			indexes = append(indexes, ix)
		}
		var rows []personRow
		if err := tx.Select("id", "snils_index", "merged_into").Where("snils_index IN ?", indexes).Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			n, ok := byIndex[string(r.SNILSIndex)]
			if !ok {
				continue
			}
			id := r.ID
			if r.MergedInto != nil {
				id = *r.MergedInto
			}
			out[n] = id
			// Each person found is recorded as found, as by FindBySNILS.
			if err := record(ctx, tx, "person.search", r.ID, "by=snils results=1"); err != nil {
				return err
			}
		}
		if missed := len(snils) - len(out); missed > 0 {
			return record(ctx, tx, "person.search", uuid.Nil, "by=snils results=0 searches="+strconv.Itoa(missed))
		}
		return nil
	})
	return out, err
}

// FindBySNILS finds the person with a SNILS (audited as person.search; the
// record names the person found, never the SNILS asked for).
func (s *Service) FindBySNILS(ctx context.Context, snils string) (Person, error) {
	n, err := ident.NormalizeSNILS(snils)
	if err != nil {
		v := &fault.Invalid{}
		v.Add("snils", "is not a valid SNILS: "+err.Error(), nil)
		return Person{}, v
	}
	var p Person
	found := false
	err = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		k, err := s.keyring(ctx, tx)
		if err != nil {
			return err
		}
		var row personRow
		err = tx.Where("snils_index = ?", k.BlindIndex(snilsIndexInput(n))).Take(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			// A search that finds nobody is recorded too (and committed).
			return record(ctx, tx, "person.search", uuid.Nil, "by=snils results=0")
		}
		if err != nil {
			return err
		}
		if p, err = fromRow(k, row); err != nil {
			return err
		}
		found = true
		return record(ctx, tx, "person.search", p.ID, "by=snils results=1")
	})
	if err == nil && !found {
		return Person{}, fault.NotFoundf("a person with this SNILS")
	}
	return p, err
}

// SearchLimit bounds a name search.
const SearchLimit = 100

// Search finds persons by family name (case-insensitive, exact) and birth
// date, optionally narrowed by first name; every person found is audited.
func (s *Service) Search(ctx context.Context, familyName, firstName string, birth civil.Date) ([]Person, error) {
	v := &fault.Invalid{}
	familyName, firstName = strings.TrimSpace(familyName), strings.TrimSpace(firstName)
	if !nameOK(familyName, true) {
		v.Add("family_name", "is required: 1 to 100 characters", nil)
	}
	if birth.IsZero() {
		v.Add("birth_date", "is required", nil)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out []Person
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		k, err := s.keyring(ctx, tx)
		if err != nil {
			return err
		}
		var rows []personRow
		if err := tx.Where("name_key = ? AND birth_date = ?", nameKey(familyName), birth).Order("id").Limit(SearchLimit).Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			if firstName != "" && nameKey(r.FirstName) != nameKey(firstName) {
				continue
			}
			p, err := fromRow(k, r)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		if len(out) == 0 {
			return record(ctx, tx, "person.search", uuid.Nil, "by=name results=0")
		}
		for _, p := range out {
			if err := record(ctx, tx, "person.search", p.ID, "by=name results="+strconv.Itoa(len(out))); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func actorOf(ctx context.Context) *uuid.UUID {
	if id := audit.ActorFrom(ctx); id != uuid.Nil {
		return &id
	}
	return nil
}

// firstID returns the id of the first row q finds (uuid.Nil: none).
func firstID(q *gorm.DB) (uuid.UUID, error) {
	var ids []uuid.UUID
	if err := q.Limit(1).Pluck("id", &ids).Error; err != nil || len(ids) == 0 {
		return uuid.Nil, err
	}
	return ids[0], nil
}

// IDs pages through the ids of the region's persons (merged duplicates
// left out) in id order, after the given id: what a run over the whole
// registry walks. Ids are not personal data; nothing is audited.
func (s *Service) IDs(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Model(&personRow{}).Where("id > ? AND merged_into IS NULL", after).Order("id").Limit(limit).Pluck("id", &ids).Error
	})
	return ids, err
}
