package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// PluginBuild is what `treasury plugins build` takes.
type PluginBuild struct {
	Dir           string // the plug-in's main package
	Name, Version string
}

// BuildPlugin compiles a plug-in's main package into the plug-in directory
// as <name>-<version> (owner-writable only) and prints its SHA-256 and the
// command that registers it. It needs the Go toolchain.
func BuildPlugin(ctx context.Context, cfg Config, b PluginBuild, out, errOut io.Writer) error {
	if b.Name == "" {
		b.Name = filepath.Base(filepath.Clean(b.Dir))
	}
	if b.Version == "" {
		return configErrorf("--version is required (a semantic version, 1.0.0)")
	}
	dir := cfg.Plugins()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	file := b.Name + "-" + b.Version
	tmp := filepath.Join(dir, "."+file+".building")
	abs, err := filepath.Abs(tmp)
	if err != nil {
		return err
	}
	// Built in the package's own module (a region's plug-in is its own
	// module); -trimpath so the checksum does not depend on where.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", abs, ".")
	cmd.Dir, cmd.Stdout, cmd.Stderr = b.Dir, errOut, errOut
	if err := cmd.Run(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("go build in %s: %w", b.Dir, err)
	}
	defer os.Remove(tmp) // once linked, a second name
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	sum, err := pluginhost.FileSHA256(tmp)
	if err != nil {
		return err
	}
	// The same source builds the same bytes (-trimpath), which is no
	// change; other bytes under a name already there are refused.
	taken, err := placeNew(tmp, dir, file)
	if err != nil {
		return err
	}
	if taken {
		if was, err := pluginhost.FileSHA256(filepath.Join(dir, file)); err != nil || was != sum {
			return configErrorf("%s is in the plug-in directory already, built from other source: a new binary is a new version", file)
		}
	}
	fmt.Fprintf(out, "built %s\nsha256 %s\nregister it: treasury plugins register %s --name %s --version %s --kind <kind>\n",
		filepath.Join(dir, file), sum, file, b.Name, b.Version)
	return nil
}

// PluginRegistration is what `treasury plugins register` takes.
type PluginRegistration struct {
	File                string
	Name, Version, Kind string
	SHA256              string // empty: the file's own, as it is now
	Regions             []string
}

// RegisterPlugin adds a binary to the catalog: a name in the plug-in
// directory, or a path elsewhere, copied into it first (as
// <name>-<version>).
func RegisterPlugin(ctx context.Context, cfg Config, r PluginRegistration, out io.Writer) error {
	host, closeDB, err := openPlugins(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeDB()
	file, copied, err := intoPluginDir(host.Dir(), r.File, r.Name+"-"+r.Version)
	if err != nil {
		return err
	}
	if r.SHA256 == "" {
		if r.SHA256, err = pluginhost.FileSHA256(filepath.Join(host.Dir(), file)); err != nil {
			return err
		}
	}
	e, err := host.Register(ctx, pluginhost.NewEntry{Name: r.Name, Version: r.Version, Kind: r.Kind, SHA256: r.SHA256, File: file, Regions: r.Regions})
	if err != nil {
		if copied {
			_ = os.Remove(filepath.Join(host.Dir(), file)) // a refused binary is not left behind
		}
		return err
	}
	fmt.Fprintf(out, "registered %s %s (%s) sha256 %s, file %s, regions %s\n", e.Name, e.Version, e.Kind, e.SHA256, e.File, regionsText(e.Regions))
	return nil
}

// intoPluginDir is the name of path in the plug-in directory, copying it
// there (owner-writable only, atomically) when it is elsewhere.
func intoPluginDir(dir, path, name string) (string, bool, error) {
	if !strings.ContainsRune(path, filepath.Separator) {
		if _, err := os.Lstat(filepath.Join(dir, path)); err == nil {
			return path, false, nil // a name in the directory, as build prints it
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false, err
	}
	if filepath.Dir(abs) == dir {
		return filepath.Base(abs), false, nil
	}
	name, err = copyInto(dir, path, name)
	return name, err == nil, err
}

func copyInto(dir, path, name string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", configErrorf("%v", err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	taken, err := placeNew(tmp.Name(), dir, name)
	if err != nil {
		return "", err
	}
	if taken {
		return "", configErrorf("%s is in the plug-in directory already: a new binary is a new version", name)
	}
	return name, nil
}

// placeNew gives the file tmp the name name in dir as well, never over a
// file already there (taken): the catalog may hold that file's checksum,
// and every region using it would be refused. The caller removes tmp.
func placeNew(tmp, dir, name string) (taken bool, err error) {
	err = os.Link(tmp, filepath.Join(dir, name))
	if errors.Is(err, fs.ErrExist) {
		return true, nil
	}
	return false, err
}

// ListPlugins prints the catalog, or a region's enabled plug-ins.
func ListPlugins(ctx context.Context, cfg Config, region string, out io.Writer) error {
	host, closeDB, err := openPlugins(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeDB()
	catalog := host.Catalog()
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	defer w.Flush()
	if region == "" {
		es, err := catalog.List(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "NAME\tVERSION\tKIND\tSHA256\tFILE\tREGIONS")
		for _, e := range es {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.Version, e.Kind, e.SHA256[:16]+"…", e.File, regionsText(e.Regions))
		}
		return nil
	}
	ctx, _, err = host.region(ctx, region)
	if err != nil {
		return err
	}
	ens, err := catalog.EnabledAll(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "NAME\tVERSION\tKIND\tCONFIG\tENABLED")
	for _, en := range ens {
		_, e, err := catalog.Enabled(ctx, en.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", en.Name, e.Version, e.Kind, en.Config, en.EnabledAt.Format("2006-01-02 15:04"))
	}
	return nil
}

// EnablePlugin makes a region use a catalog plug-in's version with a
// configuration (a JSON object).
func EnablePlugin(ctx context.Context, cfg Config, region, name, version, config string, out io.Writer) error {
	if region == "" {
		return configErrorf("--tenant is required: the region that enables the plug-in")
	}
	if config == "" {
		config = "{}"
	}
	if !json.Valid([]byte(config)) {
		return configErrorf("--config: not JSON")
	}
	host, closeDB, err := openPlugins(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeDB()
	ctx, t, err := host.region(ctx, region)
	if err != nil {
		return err
	}
	if _, err := host.Catalog().Enable(ctx, t, name, version, json.RawMessage(config)); err != nil {
		return err
	}
	fmt.Fprintf(out, "region %s uses %s %s\n", region, name, version)
	return nil
}

func regionsText(rs []string) string {
	if len(rs) == 0 {
		return "all"
	}
	return strings.Join(rs, ",")
}

// openPlugins opens the database and a host of the plug-in directory that
// starts nothing (the CLI only keeps the catalog).
func openPlugins(ctx context.Context, cfg Config) (*pluginHost, func(), error) {
	db, err := openOperatorDB(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	dir := cfg.Plugins()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	tenants := tenancy.NewService(db.Gorm)
	host, err := pluginhost.New(pluginhost.NewCatalog(db.Gorm), tenants, pluginhost.DefaultOptions(dir))
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return &pluginHost{host, tenants}, func() { host.Close(); _ = db.Close() }, nil
}

type pluginHost struct {
	*pluginhost.Host
	tenants *tenancy.Service
}

func (h *pluginHost) region(ctx context.Context, code string) (context.Context, tenancy.Tenant, error) {
	t, err := h.tenants.ByCode(ctx, code)
	if err != nil {
		return ctx, t, configErrorf("--tenant: %v", err)
	}
	return tenancy.WithTenant(ctx, t.ID), t, nil
}
