package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// DirectoryFile names a directory file and whose entries it holds.
type DirectoryFile struct {
	Directory string
	// Tenant is a region's code for its own entries; empty: the platform's.
	Tenant string
	Path   string
	// Format is csv or json; empty: from the file's extension.
	Format string
	// AsOf restricts an export to the versions in force on a date.
	AsOf string
}

// openDirectories opens the database (which must be migrated) for the
// directory commands. They work as the operator's database role, with no
// HTTP body limit: a full KMSZ classifier loads this way.
func openDirectories(ctx context.Context, cfg Config) (*directory.Service, *tenancy.Service, func(), error) {
	log := NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	db, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxOpenConns: 2, Logger: log})
	if err != nil {
		return nil, nil, nil, err
	}
	fail := func(err error) (*directory.Service, *tenancy.Service, func(), error) {
		_ = db.Close()
		return nil, nil, nil, err
	}
	m, err := store.NewMigrator(db, nil)
	if err != nil {
		return fail(err)
	}
	if err := m.Check(ctx); err != nil {
		return fail(err)
	}
	if _, err := tenancy.Guard(ctx, db); err != nil {
		return fail(err)
	}
	return directory.NewService(db.Gorm), tenancy.NewService(db.Gorm), func() { _ = db.Close() }, nil
}

func (f DirectoryFile) format() (directory.Format, error) {
	v := f.Format
	if v == "" {
		v = strings.TrimPrefix(strings.ToLower(filepath.Ext(f.Path)), ".")
	}
	switch v {
	case "csv":
		return directory.CSV, nil
	case "json":
		return directory.JSON, nil
	}
	return "", configErrorf("--format: %q is not csv or json", v)
}

func regionContext(ctx context.Context, tenants *tenancy.Service, code string) (context.Context, error) {
	if code == "" {
		return ctx, nil
	}
	t, err := tenants.ByCode(ctx, code)
	if err != nil {
		return ctx, configErrorf("--tenant: %v", err)
	}
	return tenancy.WithTenant(ctx, t.ID), nil
}

// ImportDirectory loads a CSV or JSON file into a directory (a region's own
// entries with Tenant) and prints what changed to out, or every bad line to
// errOut.
func ImportDirectory(ctx context.Context, cfg Config, f DirectoryFile, out, errOut io.Writer) error {
	format, err := f.format()
	if err != nil {
		return err
	}
	file, err := os.Open(f.Path)
	if err != nil {
		return configErrorf("%v", err)
	}
	defer file.Close()
	dirs, tenants, closeDB, err := openDirectories(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeDB()
	ctx, err = regionContext(ctx, tenants, f.Tenant)
	if err != nil {
		return err
	}
	var res directory.Result
	if f.Tenant != "" {
		res, err = dirs.RegionImport(ctx, f.Directory, format, file)
	} else {
		res, err = dirs.Import(ctx, f.Directory, format, file)
	}
	if err != nil {
		return fileProblems(err, f.Path, errOut)
	}
	fmt.Fprintf(out, "%s: %d created, %d updated, %d closed, %d unchanged\n", f.Directory, res.Created, res.Updated, res.Closed, res.Unchanged)
	return nil
}

// ImportKMSZ loads a KMSZ classifier version from an EGISSO file.
func ImportKMSZ(ctx context.Context, cfg Config, path string, out, errOut io.Writer) error {
	file, err := os.Open(path)
	if err != nil {
		return configErrorf("%v", err)
	}
	defer file.Close()
	dirs, _, closeDB, err := openDirectories(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeDB()
	res, err := dirs.ImportKMSZ(ctx, file)
	if err != nil {
		return fileProblems(err, path, errOut)
	}
	fmt.Fprintf(out, "KMSZ version %d (%s, status %d) in force from %s\n", res.Version, res.Message, res.Status, res.Start)
	names := make([]string, 0, len(res.Directories))
	for n := range res.Directories {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := res.Directories[n]
		fmt.Fprintf(out, "  %s: %d created, %d updated, %d closed, %d unchanged\n", n, r.Created, r.Updated, r.Closed, r.Unchanged)
	}
	return nil
}

// ExportDirectory writes a directory (a region's own entries with Tenant)
// to out.
func ExportDirectory(ctx context.Context, cfg Config, f DirectoryFile, out io.Writer) error {
	if f.Format == "" {
		f.Format = "csv"
	}
	format, err := f.format()
	if err != nil {
		return err
	}
	var asOf civil.Date
	if f.AsOf != "" {
		if asOf, err = civil.Parse(f.AsOf); err != nil {
			return configErrorf("--as-of: %v", err)
		}
	}
	dirs, tenants, closeDB, err := openDirectories(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeDB()
	ctx, err = regionContext(ctx, tenants, f.Tenant)
	if err != nil {
		return err
	}
	if f.Tenant != "" {
		return dirs.RegionExport(ctx, f.Directory, format, asOf, out)
	}
	return dirs.Export(ctx, f.Directory, format, asOf, out)
}

// fileProblems prints a refused file's problems, one a line, and returns a
// one-line error that counts them.
func fileProblems(err error, path string, out io.Writer) error {
	var inv *fault.Invalid
	if !errors.As(err, &inv) {
		return err
	}
	for _, p := range inv.Fields {
		fmt.Fprintf(out, "%s: %s\n", path, p.Message)
	}
	n := fmt.Sprintf("%d problems", len(inv.Fields))
	if len(inv.Fields) == 1 {
		n = "a problem"
	}
	return fmt.Errorf("%s: %s; nothing was loaded", path, n)
}
