package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// pluginManifest is a region's plugins.json: the plug-ins it runs, built
// from the example plug-ins' packages, and its configuration of each
// ("{data}" stands for the data directory).
type pluginManifest struct {
	Plugins []struct {
		Name    string          `json:"name"`
		Version string          `json:"version"`
		Kind    string          `json:"kind"`
		Package string          `json:"package"`
		Config  json.RawMessage `json:"config"`
	} `json:"plugins"`
}

// seedRegionPlugins builds, registers and enables a demo region's
// plug-ins. It reports false, with the reason logged, when they cannot be
// had here (no plug-in sources, no Go toolchain): the demo then goes on
// without them and without the measures that name them.
func seedRegionPlugins(ctx context.Context, p *Platform, t tenancy.Tenant, dir string) (bool, error) {
	raw, err := fs.ReadFile(p.cfg.Regions, path.Join(dir, "plugins.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	var m pluginManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return false, fmt.Errorf("%s/plugins.json: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(p.cfg.DemoPluginSources, "go.mod")); p.cfg.DemoPluginSources == "" || err != nil {
		p.log.Info("demo: the region's plug-ins are not built: no plug-in sources (--demo-plugins)", "region", t.Code)
		return false, nil
	}
	if _, err := exec.LookPath("go"); err != nil {
		p.log.Warn("demo: the region's plug-ins are not built: no Go toolchain on PATH", "region", t.Code)
		return false, nil
	}
	data, err := filepath.Abs(p.cfg.DataDir)
	if err != nil {
		return false, err
	}
	if err := demoPluginData(data, t); err != nil {
		return false, err
	}
	for _, pl := range m.Plugins {
		if _, err := p.Catalog.Entry(ctx, pl.Name, pl.Version); errors.Is(err, fault.ErrNotFound) {
			file := pl.Name + "-" + pl.Version
			bin := filepath.Join(p.Plugins.Dir(), file)
			cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./"+pl.Package)
			cmd.Dir = p.cfg.DemoPluginSources
			if out, err := cmd.CombinedOutput(); err != nil {
				p.log.Warn("demo: a plug-in could not be built; the region goes without its plug-ins", "region", t.Code,
					"plugin", pl.Name, "err", err, "output", strings.TrimSpace(string(out)))
				return false, nil
			}
			sum, err := pluginhost.FileSHA256(bin)
			if err != nil {
				return false, err
			}
			if _, err := p.Plugins.Register(ctx, pluginhost.NewEntry{Name: pl.Name, Version: pl.Version, Kind: pl.Kind,
				SHA256: sum, File: file, Regions: []string{t.Code}}); err != nil {
				return false, fmt.Errorf("plug-in %s: %w", pl.Name, err)
			}
		} else if err != nil {
			return false, err
		}
		config := strings.ReplaceAll(string(pl.Config), "{data}", data)
		if _, err := p.Catalog.Enable(ctx, t, pl.Name, pl.Version, json.RawMessage(config)); err != nil {
			return false, fmt.Errorf("plug-in %s: %w", pl.Name, err)
		}
	}
	return true, nil
}

// demoPluginData writes what the demo plug-ins read: a register of large
// families naming some of the region's synthetic persons, and the
// directory the bank collects registries from.
func demoPluginData(data string, t tenancy.Tenant) error {
	dir := filepath.Join(data, "demo", t.Code)
	if err := os.MkdirAll(filepath.Join(dir, "bank"), 0o755); err != nil {
		return err
	}
	register := filepath.Join(dir, "large-families.csv")
	if _, err := os.Stat(register); err == nil {
		return nil
	}
	code, _ := strconv.Atoi(t.Code)
	var b strings.Builder
	b.WriteString("snils,children,valid_from,valid_to\n")
	for k := 0; k < 400; k += 7 {
		fmt.Fprintf(&b, "%s,%d,2024-01-01,\n", ident.SNILSOf(demoSNILSFrom(code)+k), 3+k%3)
	}
	return os.WriteFile(register, []byte(b.String()), 0o644)
}

// namesPlugin: a measure's version names a plug-in.
func namesPlugin(m *measure.Measure) bool {
	for _, v := range m.Versions {
		if v.Plugin != nil {
			return true
		}
	}
	return false
}
