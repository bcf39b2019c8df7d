//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/pluginhost"
)

// The plug-in commands build an example plug-in into the plug-in
// directory, register it with the checksum build printed, list it, and
// refuse what the catalog cannot take.
func TestPluginsCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plug-in")
	}
	data := t.TempDir()
	flags := []string{"--data-dir", data}
	mustSucceed(t, nil, append([]string{"migrate", "up"}, flags...)...)
	src, err := filepath.Abs("../../plugins/socialcontract")
	if err != nil {
		t.Fatal(err)
	}
	r := treasury(t, 3*time.Minute, nil, append([]string{"plugins", "build", src, "--name", "social-contract", "--version", "1.0.0"}, flags...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "sha256 ") {
		t.Fatalf("build: %s", r)
	}
	sum := strings.Fields(r.stdout[strings.Index(r.stdout, "sha256 "):])[1]
	bin := filepath.Join(data, "plugins", "social-contract-1.0.0")
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("the binary: %v %v", fi, err)
	}
	r = mustSucceed(t, nil, append([]string{"plugins", "register", "social-contract-1.0.0", "--name", "social-contract", "--version", "1.0.0",
		"--kind", "measure", "--sha256", sum, "--regions", "16"}, flags...)...)
	if !strings.Contains(r.stdout, "registered social-contract 1.0.0 (measure) sha256 "+sum) {
		t.Errorf("register: %s", r)
	}
	// The same source again is no change; other source under the same
	// name and version would be refused by every region that uses it.
	r = treasury(t, 3*time.Minute, nil, append([]string{"plugins", "build", src, "--name", "social-contract", "--version", "1.0.0"}, flags...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "sha256 "+sum) {
		t.Errorf("the same build again: %s", r)
	}
	other, err := filepath.Abs("../../plugins/lowincomechild")
	if err != nil {
		t.Fatal(err)
	}
	r = treasury(t, 3*time.Minute, nil, append([]string{"plugins", "build", other, "--name", "social-contract", "--version", "1.0.0"}, flags...)...)
	if r.code == 0 || !strings.Contains(r.stderr, "built from other source: a new binary is a new version") {
		t.Errorf("another build under a registered name and version: %s", r)
	}
	if now, err := pluginhost.FileSHA256(bin); err != nil || now != sum {
		t.Errorf("the registered binary changed: %s, %v", now, err)
	}
	if left, _ := filepath.Glob(filepath.Join(data, "plugins", ".*")); len(left) != 0 {
		t.Errorf("a build left %v behind", left)
	}
	r = mustSucceed(t, nil, append([]string{"plugins", "list"}, flags...)...)
	if !strings.Contains(r.stdout, "social-contract  1.0.0") || !strings.Contains(r.stdout, sum[:16]) {
		t.Errorf("list: %s", r)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"plugins", "register", "social-contract-1.0.0", "--name", "social-contract", "--version", "1.0.0", "--kind", "measure"}, "registered already"},
		{[]string{"plugins", "register", bin, "--name", "other", "--version", "1.0.0", "--kind", "measure", "--sha256", strings.Repeat("0", 64)}, "has SHA-256 " + sum},
		{[]string{"plugins", "enable", "social-contract", "--tenant", "16", "--version", "1.0.0"}, "--tenant"},
		{[]string{"plugins", "enable", "social-contract", "--version", "1.0.0"}, "--tenant is required"},
	} {
		if r := treasury(t, time.Minute, nil, append(c.args, flags...)...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: %s, want an error with %q", c.args, r, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "plugins", "other-1.0.0")); err == nil {
		t.Error("a refused binary was left in the plug-in directory")
	}
}
