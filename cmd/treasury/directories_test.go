//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The directory commands load a KMSZ version and files straight into the
// database, print what changed, and list every bad line of a refused file
// on stderr before the one-line error.
func TestDirectoriesCommands(t *testing.T) {
	data := t.TempDir()
	flags := []string{"--data-dir", data}
	mustSucceed(t, nil, append([]string{"migrate", "up"}, flags...)...)
	kmsz, err := filepath.Abs("../../core/directory/testdata/kmsz-10.01.O-1.0.3-v1.xml")
	if err != nil {
		t.Fatal(err)
	}
	r := mustSucceed(t, nil, append([]string{"directories", "kmsz", kmsz}, flags...)...)
	if !strings.Contains(r.stdout, "KMSZ version 41") || !strings.Contains(r.stdout, "kmsz: 3 created") {
		t.Errorf("kmsz: %s", r)
	}
	r = mustSucceed(t, nil, append([]string{"directories", "export", "kmsz"}, flags...)...)
	if !strings.HasPrefix(r.stdout, "code,name,effective_from,effective_to,measure,") || strings.Count(r.stdout, "\n") != 4 {
		t.Errorf("export: %s", r)
	}

	bad := filepath.Join(t.TempDir(), "units.csv")
	if err := os.WriteFile(bad, []byte("code,name,effective_from,short_name\n12,x,2026-01-01,x\n999,y,2026-13-01,y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = treasury(t, time.Minute, nil, append([]string{"directories", "import", "units", bad}, flags...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "line 2: does not match") || !strings.Contains(r.stderr, "line 3: must be a date") ||
		!strings.HasSuffix(r.stderr, "treasury: "+bad+": 2 problems; nothing was loaded\n") {
		t.Errorf("bad file: %s", r)
	}
	good := filepath.Join(t.TempDir(), "categories.json")
	if err := os.WriteFile(good, []byte(`{"entries": [{"code": "999", "name": "Новая", "effective_from": "2026-01-01", "attributes": {"short_name": "н"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mustSucceed(t, nil, append([]string{"directories", "import", "units", good}, flags...)...)
	if r.stdout != "units: 1 created, 0 updated, 0 closed, 0 unchanged\n" {
		t.Errorf("good file: %s", r)
	}
	for _, args := range [][]string{
		{"directories", "import", "units"},
		{"directories", "import", "units", good, "--format", "xml"},
		{"directories", "import", "recipient_categories", good, "--tenant", "66"},
	} {
		if r := treasury(t, time.Minute, nil, append(args, flags...)...); r.code != 2 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: %s", args, r)
		}
	}
}
