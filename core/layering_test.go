package core

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/socialtreasury/treasury"

// rule forbids a package (by its path below the repository root) to import
// another; the check reads every non-test Go file, so the layering cannot
// rot silently.
type rule struct {
	why     string
	applies func(pkg string) bool
	forbids func(pkg, imp string) bool
}

func under(prefix string) func(string) bool {
	return func(p string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
}

var rules = []rule{
	{
		why:     "only the composition root wires: nothing in core imports core/app",
		applies: func(p string) bool { return under("core")(p) && !under("core/app")(p) },
		forbids: func(_, imp string) bool { return under("core/app")(imp) },
	},
	{
		why: "domain packages do not import the HTTP or console layers",
		applies: func(p string) bool {
			return under("core")(p) && !under("core/app")(p) && !under("core/api")(p) && !under("core/web")(p)
		},
		forbids: func(_, imp string) bool { return under("core/api")(imp) || under("core/web")(imp) },
	},
	{
		why:     "api and web call services, not tables: they do not import core/store",
		applies: func(p string) bool { return under("core/api")(p) || under("core/web")(p) },
		forbids: func(_, imp string) bool { return under("core/store")(imp) },
	},
	{
		why:     "the store is the bottom layer: it imports no other core package",
		applies: func(p string) bool { return p == "core/store" },
		forbids: func(_, imp string) bool { return under("core")(imp) && !under("core/store")(imp) },
	},
	{
		why:     "cmd reaches the core only through core/app",
		applies: under("cmd"),
		forbids: func(_, imp string) bool { return under("core")(imp) && !under("core/app")(imp) },
	},
	{
		why:     "the core never imports a region's code",
		applies: under("core"),
		forbids: func(_, imp string) bool { return under("plugins")(imp) || under("tenants")(imp) },
	},
	{
		why:     "the SDK imports nothing from the core, and a plug-in imports only the SDK",
		applies: func(p string) bool { return under("sdk")(p) || under("plugins")(p) },
		forbids: func(_, imp string) bool { return under("core")(imp) || under("cmd")(imp) },
	},
}

func TestLayering(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "data") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if imports[pkg] == nil {
			imports[pkg] = map[string]bool{}
		}
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			if strings.HasPrefix(p, module+"/") {
				imports[pkg][strings.TrimPrefix(p, module+"/")] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) < 5 {
		t.Fatalf("read only %d packages from %s", len(imports), root)
	}
	for pkg, imps := range imports {
		for imp := range imps {
			for _, r := range rules {
				if r.applies(pkg) && r.forbids(pkg, imp) {
					t.Errorf("%s imports %s: %s", pkg, imp, r.why)
				}
			}
		}
	}
}

// The rules themselves must catch what they promise to.
func TestLayeringRulesBite(t *testing.T) {
	for _, c := range []struct{ pkg, imp string }{
		{"core/agency", "core/api"},
		{"core/api", "core/store"},
		{"core/store", "core/tenancy"},
		{"cmd/treasury", "core/store"},
		{"core/tenancy", "core/app"},
		{"core/measure", "plugins/socialcontract"},
		{"sdk/serve", "core/measure"},
	} {
		caught := false
		for _, r := range rules {
			caught = caught || (r.applies(c.pkg) && r.forbids(c.pkg, c.imp))
		}
		if !caught {
			t.Errorf("no rule forbids %s → %s", c.pkg, c.imp)
		}
	}
	if _, err := os.Stat("../go.mod"); err != nil {
		t.Fatalf("layering test must run from core/: %v", err)
	}
}
