package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/casework"
	"github.com/socialtreasury/treasury/core/facts"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/measure/measuretest"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/access"
	"github.com/socialtreasury/treasury/core/agency"
	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/core/pdcrypt"
	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// seeders put at least one row for the context's tenant into each
// tenant-owned table, through the owning package's service. The test below
// discovers the tables from the catalog and fails for any table that has no
// seeder, so a new tenant-owned table cannot slip past the isolation checks.
var seeders = map[string]func(ctx context.Context, db *gorm.DB, n int) error{
	"delegations": func(ctx context.Context, db *gorm.DB, n int) error {
		authz, err := access.New(ctx, db, nil)
		if err != nil {
			return err
		}
		dom := map[int]string{0: "66", 1: "16"}[n]
		_, err = access.NewDelegations(db, authz).Grant(ctx, dom, access.NewDelegation{
			Object: "measure:isolation", ValidFrom: "2026-01-01",
		}, uuid.Must(uuid.NewV7()))
		return err
	},
	"agencies": func(ctx context.Context, db *gorm.DB, n int) error {
		s := func(v string) *string { return &v }
		_, err := agency.NewService(db).Create(ctx, agency.Fields{
			OSZCode: s(fmt.Sprintf("TEST.%06d", n)), Name: s("Орган"), INN: s("7707083893"), OKTMO: s("65701000"),
		})
		return err
	},
	"tenant_keys": func(ctx context.Context, db *gorm.DB, n int) error {
		m, err := pdcrypt.NewMasterKey(make([]byte, pdcrypt.KeySize))
		if err != nil {
			return err
		}
		svc, err := pdcrypt.New(db, m, pdcrypt.Options{})
		if err != nil {
			return err
		}
		_, err = svc.Seal(ctx, []byte("isolation"), nil)
		return err
	},
	"audit_pending": func(ctx context.Context, db *gorm.DB, n int) error {
		return audit.New(db, audit.Options{}).Log(ctx, audit.Record{Action: "isolation.seed"})
	},
	"audit_records": func(ctx context.Context, db *gorm.DB, n int) error {
		tr := audit.New(db, audit.Options{})
		if err := tr.Log(ctx, audit.Record{Action: "isolation.seed"}); err != nil {
			return err
		}
		return tr.Flush(ctx)
	},
	"audit_heads": func(ctx context.Context, db *gorm.DB, n int) error {
		tr := audit.New(db, audit.Options{})
		if err := tr.Log(ctx, audit.Record{Action: "isolation.seed"}); err != nil {
			return err
		}
		return tr.Flush(ctx)
	},
	"directory_overlay_entries": func(ctx context.Context, db *gorm.DB, n int) error {
		_, err := directory.NewService(db).RegionCreate(ctx, "recipient_categories", directory.Fields{
			Code: fmt.Sprintf("isolation-%d", n), Name: "Региональная категория", EffectiveFrom: civil.MustParse("2026-01-01"),
		})
		return err
	},
	"persons": func(ctx context.Context, db *gorm.DB, n int) error {
		reg, err := isolationRegistry(db)
		if err != nil {
			return err
		}
		_, err = isolationPerson(ctx, reg)
		return err
	},
	"person_history": func(ctx context.Context, db *gorm.DB, n int) error {
		reg, err := isolationRegistry(db)
		if err != nil {
			return err
		}
		p, err := isolationPerson(ctx, reg)
		if err != nil {
			return err
		}
		name := "Изменённая"
		_, err = reg.Update(ctx, p.ID, 1, registry.PersonFields{FamilyName: &name}, registry.Manual)
		return err
	},
	"relations": factSeeder(func(ctx context.Context, reg *registry.Service, a, b registry.Person) error {
		_, _, err := reg.PutRelation(ctx, registry.Relation{PersonID: a.ID, RelativeID: b.ID, Kind: "spouse",
			ValidFrom: civil.MustParse("2010-01-01"), Origin: registry.Manual})
		return err
	}),
	"incomes": factSeeder(func(ctx context.Context, reg *registry.Service, a, _ registry.Person) error {
		_, _, err := reg.PutIncome(ctx, registry.Income{PersonID: a.ID, Month: "2025-01", Kind: "salary",
			AmountKopecks: 3000000, Source: "fns", Origin: registry.Manual})
		return err
	}),
	"disabilities": factSeeder(func(ctx context.Context, reg *registry.Service, a, _ registry.Person) error {
		_, _, err := reg.PutDisability(ctx, registry.Disability{PersonID: a.ID, Group: 2,
			ValidFrom: civil.MustParse("2020-01-01"), Origin: registry.Manual})
		return err
	}),
	"person_categories": factSeeder(func(ctx context.Context, reg *registry.Service, a, _ registry.Person) error {
		_, _, err := reg.PutCategory(ctx, registry.Category{PersonID: a.ID, Code: "large_family",
			ValidFrom: civil.MustParse("2025-01-01"), Origin: registry.Manual})
		return err
	}),
	"person_merges": factSeeder(func(ctx context.Context, reg *registry.Service, a, b registry.Person) error {
		_, err := reg.Merge(ctx, b.ID, a.ID)
		return err
	}),
	"imports":      importSeeder,
	"measures":     measureSeeder,
	"applications": caseworkSeeder,
	"simulation_outcomes": func(ctx context.Context, db *gorm.DB, n int) error {
		reg, err := isolationRegistry(db)
		if err != nil {
			return err
		}
		if _, err := isolationPerson(ctx, reg); err != nil {
			return err
		}
		ms := measure.NewService(db, isolationCases{reg})
		code := fmt.Sprintf("isolation_sim_%d", isolationSeq.Add(1))
		v := measuretest.Spec()
		v.Conditions = v.Conditions[1:2] // adult
		if _, err := ms.PutDraft(ctx, code, v); err != nil {
			return err
		}
		sim, err := ms.SubmitSimulation(ctx, code, 1, civil.MustParse("2026-03-10"), nil)
		if err != nil {
			return err
		}
		if !ms.RunQueued(context.WithoutCancel(ctx), nil) {
			return fmt.Errorf("no simulation ran")
		}
		done, err := ms.GetSimulation(ctx, code, sim.ID)
		if err != nil || done.Status != "done" || done.Outcome.Version.Eligible == 0 {
			return fmt.Errorf("simulation %+v, %v", done, err)
		}
		return nil
	},
	"simulations": func(ctx context.Context, db *gorm.DB, n int) error {
		ms := measure.NewService(db, nil)
		code := fmt.Sprintf("isolation_sim_%d", isolationSeq.Add(1))
		if _, err := ms.PutDraft(ctx, code, measuretest.Spec()); err != nil {
			return err
		}
		_, err := ms.SubmitSimulation(ctx, code, 1, civil.MustParse("2026-03-10"), nil)
		return err
	},
	"plugin_enablements": func(ctx context.Context, db *gorm.DB, n int) error {
		tid, _ := tenancy.FromContext(ctx)
		region, err := tenancy.NewService(db).ByID(ctx, tid)
		if err != nil {
			return err
		}
		c := pluginhost.NewCatalog(db)
		name := fmt.Sprintf("isolation-%d", isolationSeq.Add(1))
		if _, err := c.Register(ctx, pluginhost.NewEntry{Name: name, Version: "1.0.0", Kind: "measure",
			SHA256: strings.Repeat("ab", 32), File: name}); err != nil {
			return err
		}
		_, err = c.Enable(ctx, region, name, "1.0.0", nil)
		return err
	},
	"decisions":           caseworkSeeder,
	"assignments":         caseworkSeeder,
	"assignment_versions": caseworkSeeder,
	"measure_versions":    measureSeeder,
	"import_errors":       importSeeder,
	"import_chunks": func(ctx context.Context, db *gorm.DB, n int) error {
		reg, err := isolationRegistry(db)
		if err != nil {
			return err
		}
		body := fmt.Sprintf(`{"type":"person","snils":"%s","family_name":"Иванов","first_name":"Иван","birth_date":"1980-01-01","sex":"male"}`+"\n",
			isolationSNILS())
		im, err := reg.SubmitImport(ctx, registry.ImportRequest{Format: registry.FormatNDJSON}, strings.NewReader(body))
		if err != nil {
			return err
		}
		if im.Status != registry.StatusQueued {
			return fmt.Errorf("submitted import is %s, want queued (its chunks kept)", im.Status)
		}
		return nil
	},
}

func measureSeeder(ctx context.Context, db *gorm.DB, n int) error {
	v := measuretest.Spec()
	_, err := measure.NewService(db, nil).PutDraft(ctx, fmt.Sprintf("isolation_%d", n), v)
	return err
}

// caseworkSeeder grants an application automatically: an application, a
// decision, an assignment and its first version.
func caseworkSeeder(ctx context.Context, db *gorm.DB, n int) error {
	reg, err := isolationRegistry(db)
	if err != nil {
		return err
	}
	p, err := isolationPerson(ctx, reg)
	if err != nil {
		return err
	}
	ms := measure.NewService(db, isolationCases{reg})
	code := fmt.Sprintf("isolation_auto_%d", isolationSeq.Add(1))
	v := measuretest.Spec()
	v.AutoDecision = true
	v.Conditions = v.Conditions[1:2] // adult
	if _, err := ms.PutDraft(ctx, code, v); err != nil {
		return err
	}
	if _, err := ms.Publish(ctx, code, 1); err != nil {
		return err
	}
	a, err := casework.NewService(db, ms, weekdays{}).Submit(ctx, casework.NewApplication{Measure: code, PersonID: p.ID, Channel: casework.BySpecialist})
	if err != nil {
		return err
	}
	if a.Status != casework.Decided {
		return fmt.Errorf("the application is %s, want decided", a.Status)
	}
	return nil
}

// isolationCases assembles cases from the registry alone.
type isolationCases struct{ reg *registry.Service }

func (c isolationCases) Case(ctx context.Context, person uuid.UUID, on civil.Date) (*facts.Record, measure.Inputs, error) {
	rec, err := c.reg.Record(ctx, person, on)
	return rec, measure.Inputs{RegionOKTMO: "65000000"}, err
}

func (isolationCases) Shared(context.Context, civil.Date) (measure.Inputs, error) {
	return measure.Inputs{}, nil
}

func (c isolationCases) IDs(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	return c.reg.IDs(ctx, after, limit)
}

func (c isolationCases) Load(ctx context.Context, ids []uuid.UUID, on civil.Date) ([]measure.Person, error) {
	from, to := measure.IncomeMonths(on)
	ss, err := c.reg.Records(ctx, ids, on, from, to)
	out := make([]measure.Person, len(ss))
	for i, s := range ss {
		out[i] = measure.Person{ID: ids[i], Record: s.Record, OKTMO: s.OKTMO}
	}
	return out, err
}

// weekdays is a calendar of Mondays to Fridays.
type weekdays struct{}

func (weekdays) WorkingDays(_ context.Context, from civil.Date, n int) (civil.Date, error) {
	d := from
	for n > 0 {
		d = d.AddDays(1)
		if d.Weekday() != time.Saturday && d.Weekday() != time.Sunday {
			n--
		}
	}
	return d, nil
}

// isolationRegistry is a registry over db that checks no directory codes.
func isolationRegistry(db *gorm.DB) (*registry.Service, error) {
	m, err := pdcrypt.NewMasterKey(make([]byte, pdcrypt.KeySize))
	if err != nil {
		return nil, err
	}
	crypt, err := pdcrypt.New(db, m, pdcrypt.Options{})
	if err != nil {
		return nil, err
	}
	return registry.NewService(db, crypt, nil, registry.Options{}), nil
}

// isolationSeq numbers the SNILS the seeders use, so that no two persons
// of one region share one.
var isolationSeq atomic.Int64

// isolationSNILS returns a valid SNILS not used before in this process.
func isolationSNILS() string {
	return ident.SNILSOf(5000000 + int(isolationSeq.Add(1)))
}

func isolationPerson(ctx context.Context, reg *registry.Service) (registry.Person, error) {
	sn, family, first, sex := isolationSNILS(), "Петрова", "Анна", "female"
	birth := civil.MustParse("1985-03-01")
	return reg.Create(ctx, registry.PersonFields{SNILS: &sn, FamilyName: &family, FirstName: &first, BirthDate: &birth, Sex: &sex}, registry.Manual)
}

// factSeeder creates two persons of the context's region and hands them to put.
func factSeeder(put func(ctx context.Context, reg *registry.Service, a, b registry.Person) error) func(context.Context, *gorm.DB, int) error {
	return func(ctx context.Context, db *gorm.DB, n int) error {
		reg, err := isolationRegistry(db)
		if err != nil {
			return err
		}
		a, err := isolationPerson(ctx, reg)
		if err != nil {
			return err
		}
		b, err := isolationPerson(ctx, reg)
		if err != nil {
			return err
		}
		return put(ctx, reg, a, b)
	}
}

// importSeeder imports an NDJSON file of one good line and one bad one: an
// imports row and an import_errors row.
func importSeeder(ctx context.Context, db *gorm.DB, n int) error {
	reg, err := isolationRegistry(db)
	if err != nil {
		return err
	}
	file := fmt.Sprintf(`{"type":"person","snils":"%s","family_name":"Иванов","first_name":"Иван","birth_date":"1980-01-01","sex":"male"}`+"\n"+
		`{"type":"person","snils":"%s","family_name":"Иванов","first_name":"Иван","birth_date":"1980-01-01","sex":"robot"}`+"\n",
		isolationSNILS(), isolationSNILS())
	im, err := reg.ImportFile(ctx, registry.ImportRequest{Format: registry.FormatNDJSON}, bytes.NewReader([]byte(file)), nil)
	if err != nil {
		return err
	}
	if im.Status != registry.StatusDone || im.Progress.Imported != 1 || im.Progress.Rejected != 1 {
		return fmt.Errorf("import %+v: want done, one line imported and one rejected", im)
	}
	return nil
}

func TestTenantIsolationOfEveryTable(t *testing.T) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			env := storetest.New(t, d)
			ctx := context.Background()
			db := env.App.Gorm
			tables, err := env.App.TenantTables(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(tables) == 0 {
				t.Fatal("the catalog shows no tenant-owned table")
			}
			svc := tenancy.NewService(db)
			a, err := svc.Create(ctx, tenancy.NewTenant{Code: "66", Name: "A", OKATO: "65", OKTMO: "65000000"})
			if err != nil {
				t.Fatal(err)
			}
			b, err := svc.Create(ctx, tenancy.NewTenant{Code: "16", Name: "B", OKATO: "92", OKTMO: "92000000"})
			if err != nil {
				t.Fatal(err)
			}
			ctxA, ctxB := tenancy.WithTenant(ctx, a.ID), tenancy.WithTenant(ctx, b.ID)

			for _, table := range tables {
				seed, ok := seeders[table]
				if !ok {
					t.Errorf("tenant-owned table %s has no isolation seeder in this test", table)
					continue
				}
				for i, c := range []context.Context{ctxA, ctxB} {
					if err := seed(c, db, i); err != nil {
						t.Fatalf("seed %s: %v", table, err)
					}
				}
				checkPrimaryKey(t, env.App, table)

				// The application layer refuses a statement with no tenant.
				var n int64
				if err := db.WithContext(ctx).Table(table).Count(&n).Error; !errors.Is(err, tenancy.ErrNoTenant) {
					t.Errorf("%s: count without tenant: %v, want ErrNoTenant", table, err)
				}
				// Tenant A's session sees none of B's rows, however it asks.
				err := tenancy.Tx(ctxA, db, func(tx *gorm.DB) error {
					var foreign, own int64
					if err := tx.Table(table).Where("tenant_id = ?", b.ID).Count(&foreign).Error; err != nil {
						return err
					}
					if err := tx.Table(table).Count(&own).Error; err != nil {
						return err
					}
					if foreign != 0 || own == 0 {
						return fmt.Errorf("tenant A sees %d of B's rows and %d of its own", foreign, own)
					}
					return nil
				})
				if err != nil {
					t.Errorf("%s: %v", table, err)
				}
				if d == store.Postgres {
					checkRLS(t, env.App, table, a.ID, b.ID)
				}
			}
			if d == store.Postgres {
				role, err := env.App.CurrentRole(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if role.Superuser || role.BypassRLS || role.OwnsTables != 0 {
					t.Fatalf("app role %+v must be no superuser, no BYPASSRLS and own no table", role)
				}
				if err := env.App.RequireUnprivileged(ctx); err != nil {
					t.Fatal(err)
				}
				if err := env.Owner.RequireUnprivileged(ctx); !errors.Is(err, store.ErrPrivilegedRole) {
					t.Fatalf("the owner connection passed as unprivileged: %v", err)
				}
			}
		})
	}
}

// checkRLS proves, with raw SQL that the GORM scope never sees, that row-level
// security alone keeps the table's rows apart.
func checkRLS(t *testing.T, db *store.DB, table string, a, b uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	var enabled, forced bool
	var policies int
	if err := db.SQL.QueryRowContext(ctx, `
		SELECT c.relrowsecurity, c.relforcerowsecurity,
		       (SELECT count(*) FROM pg_policies p WHERE p.tablename = c.relname AND p.schemaname = current_schema())
		  FROM pg_class c WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`, table).
		Scan(&enabled, &forced, &policies); err != nil {
		t.Fatal(err)
	}
	if !enabled || !forced || policies == 0 {
		t.Errorf("%s: row-level security enabled=%v forced=%v policies=%d", table, enabled, forced, policies)
	}
	var n int
	if err := db.SQL.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%s: with no tenant set, RLS shows %d rows", table, n)
	}
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', $1, true)", a.String()); err != nil {
		t.Fatal(err)
	}
	var foreign, own int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FILTER (WHERE tenant_id = $1), count(*) FILTER (WHERE tenant_id = $2) FROM "+table, b, a).Scan(&foreign, &own); err != nil {
		t.Fatal(err)
	}
	if foreign != 0 || own == 0 {
		t.Errorf("%s: under RLS tenant A sees %d of B's rows and %d of its own", table, foreign, own)
	}
	// Nor can A push its rows into B.
	if _, err := tx.ExecContext(ctx, "UPDATE "+table+" SET tenant_id = $1", b); err == nil {
		t.Errorf("%s: tenant A moved rows into tenant B", table)
	}
}

func checkPrimaryKey(t *testing.T, db *store.DB, table string) {
	t.Helper()
	var first string
	var err error
	if db.Dialect == store.Postgres {
		err = db.SQL.QueryRow(`
			SELECT a.attname FROM pg_index i
			  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
			 WHERE i.indrelid = $1::regclass AND i.indisprimary`, table).Scan(&first)
	} else {
		err = db.SQL.QueryRow(`SELECT name FROM pragma_table_info(?) WHERE pk = 1`, table).Scan(&first)
	}
	if err != nil {
		t.Fatalf("%s primary key: %v", table, err)
	}
	if first != "tenant_id" {
		t.Errorf("%s: primary key starts with %s, want tenant_id", table, first)
	}
}
