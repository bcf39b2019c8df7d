//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/pluginhost"
)

// TestTutorial follows docs/plugins.md's tutorial as written: a regional
// developer's module made by step 1's commands from an empty directory,
// with the files the tutorial shows and its tests passing; then, on the
// demo, the federal operator's and the region's commands of steps 7 and
// 8, and step 9's measure version evaluated through the platform. A
// tutorial that no longer builds, or a command it shows that fails, fails
// here rather than for the first region that follows it.
func TestTutorial(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module from the tutorial and its plug-in")
	}
	t.Parallel()
	doc, err := os.ReadFile("../../docs/plugins.md")
	if err != nil {
		t.Fatal(err)
	}
	tut := tutorialOf(t, string(doc))
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}

	// Steps 1 to 5: the module, its files, its tests.
	work := t.TempDir()
	step1 := tut.shell[0]
	if !strings.Contains(step1, "$HOME/src/treasury") {
		t.Fatalf("step 1 no longer takes the SDK from $HOME/src/treasury:\n%s", step1)
	}
	runIn(t, work, 2*time.Minute, "sh", "-ec", strings.ReplaceAll(step1, "$HOME/src/treasury", root))
	mod := filepath.Join(work, "socialcontract")
	for _, name := range []string{"contract.go", "main.go", "testdata/cases.yaml", "contract_test.go"} {
		text, ok := tut.files[name]
		if !ok {
			t.Fatalf("the tutorial shows no %s (it shows %v)", name, slices.Sorted(maps.Keys(tut.files)))
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(mod, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(mod, name), text, 0o644)
	}
	runIn(t, mod, 3*time.Minute, "go", "mod", "tidy")
	out := runIn(t, mod, 5*time.Minute, "go", "test", "-v", "./...")
	for _, test := range []string{"TestGolden", "TestBinary"} {
		if !strings.Contains(out, "--- PASS: "+test) {
			t.Errorf("the tutorial's %s did not pass:\n%s", test, out)
		}
	}

	// Steps 7 and 8 on the demo, as "Trying it on the demo" says: the
	// commands beside the server, on its data directory.
	data := t.TempDir()
	s := startServer(t, nil, "serve", "--demo", "--demo-plugins", "", "--data-dir", data, "--listen", "127.0.0.1:0")
	var commands int
	for _, block := range tut.shell {
		for line := range strings.SplitSeq(block, "\n") {
			cmd, ok := strings.CutPrefix(strings.TrimSpace(line), "treasury plugins ")
			if !ok {
				continue
			}
			commands++
			args := append([]string{"plugins"}, shellWords(t, strings.ReplaceAll(cmd, "/path/to/socialcontract", mod))...)
			r := treasury(t, 3*time.Minute, nil, append(args, "--data-dir", data)...)
			if r.code != 0 {
				t.Fatalf("treasury %s: %s", strings.Join(args, " "), r)
			}
			if args[1] == "build" {
				checkBuilt(t, r.stdout, filepath.Join(data, "plugins", "my-social-contract-1.0.0"))
			}
		}
	}
	if commands < 4 {
		t.Fatalf("the tutorial shows %d `treasury plugins` commands; build, register, list and enable at least", commands)
	}

	// Step 9: the measure version that names the plug-in, published and
	// evaluated for the demo's first person of region 16.
	snils := regexp.MustCompile(`Region 16's synthetic persons have SNILS from (\d{11})`).FindStringSubmatch(s.stdout.String())
	if snils == nil {
		t.Fatalf("serve --demo does not say which SNILS region 16's persons have:\n%s", s.stdout)
	}
	if !strings.Contains(tut.text, snils[1]) {
		t.Errorf("the tutorial does not name the SNILS the demo prints, %s", snils[1])
	}
	password, err := os.ReadFile(filepath.Join(data, "demo-password"))
	if err != nil {
		t.Fatal(err)
	}
	token := login(t, s.url, "tenant_admin@16", strings.TrimSpace(string(password)))
	var found struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if code := getJSONAs(t, token, s.url+"/api/v1/tenants/16/persons?snils="+snils[1], &found); code != http.StatusOK || len(found.Items) != 1 {
		t.Fatalf("the person with SNILS %s: %d, %d found", snils[1], code, len(found.Items))
	}
	base := s.url + "/api/v1/tenants/16/measures/my_social_contract"
	call(t, http.StatusOK, http.MethodPut, base+"/versions/1", token, tut.version)
	call(t, http.StatusOK, http.MethodPost, base+"/versions/1/publish", token, "")
	body := strings.Replace(tut.evaluate, `"…"`, `"`+found.Items[0].ID+`"`, 1)
	var got struct {
		Status  string `json:"status"`
		Outcome struct {
			CaseID     string `json:"case_id"`
			Eligible   bool   `json:"eligible"`
			Start, End string
			Conditions []struct {
				Name        string `json:"name"`
				Held        bool   `json:"held"`
				Explanation struct{ RU, EN string }
			} `json:"conditions"`
		} `json:"outcome"`
	}
	if err := json.Unmarshal(call(t, http.StatusOK, http.MethodPost, base+"/evaluate", token, body), &got); err != nil {
		t.Fatal(err)
	}
	o := got.Outcome
	if got.Status != "published" || o.CaseID != found.Items[0].ID {
		t.Errorf("evaluated by a %q version for case %q, want the published one for %s", got.Status, o.CaseID, found.Items[0].ID)
	}
	var names []string
	allHeld := true
	for _, c := range o.Conditions {
		names = append(names, c.Name)
		allHeld = allHeld && c.Held
		if c.Explanation.RU == "" || c.Explanation.EN == "" {
			t.Errorf("condition %s is not explained in both languages: %+v", c.Name, c.Explanation)
		}
	}
	if want := []string{"resident", "adult", "low_income", "activity"}; !slices.Equal(names, want) {
		t.Errorf("conditions %v, want the tutorial's %v", names, want)
	}
	if o.Eligible != allHeld || o.Eligible && (o.Start != "2026-06-15" || o.End != "2027-03-14") {
		t.Errorf("outcome %+v: eligible only when every condition held, then for the nine months the region configured", o)
	}
}

// tutorial is what docs/plugins.md's tutorial shows.
type tutorial struct {
	text  string
	files map[string]string // a block introduced by a line ending in "`name`:"
	shell []string          // the sh blocks, in order
	// version is step 9's measure version; evaluate the body of its
	// evaluate request.
	version, evaluate string
}

var evaluateBodyRE = regexp.MustCompile(`-d '(\{"person_id"[^']*\})'`)

func tutorialOf(t *testing.T, doc string) tutorial {
	t.Helper()
	_, text, ok := strings.Cut(doc, "\n## Tutorial")
	if !ok {
		t.Fatal("docs/plugins.md has no tutorial section")
	}
	text, _, _ = strings.Cut(text, "\n## Connectors")
	tut := tutorial{text: text, files: map[string]string{}}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		lang, ok := strings.CutPrefix(lines[i], "```")
		if !ok {
			continue
		}
		var intro string
		for j := i - 1; j >= 0 && intro == ""; j-- {
			intro = strings.TrimSpace(lines[j])
		}
		start := i + 1
		for i++; i < len(lines) && lines[i] != "```"; i++ {
		}
		block := strings.Join(lines[start:i], "\n") + "\n"
		if m := regexp.MustCompile("`([\\w./]+)`:$").FindStringSubmatch(intro); m != nil {
			tut.files[m[1]] = block
		}
		switch {
		case lang == "sh":
			tut.shell = append(tut.shell, block)
		case lang == "json" && tut.version == "":
			tut.version = block
		}
		if m := evaluateBodyRE.FindStringSubmatch(block); m != nil {
			tut.evaluate = m[1]
		}
	}
	if len(tut.shell) == 0 || tut.version == "" || tut.evaluate == "" {
		t.Fatalf("the tutorial has %d shell blocks, a measure version: %v, an evaluation: %v", len(tut.shell), tut.version != "", tut.evaluate != "")
	}
	return tut
}

// shellWords splits a command line as sh would, for the tutorial's
// commands: words, and single-quoted words with spaces.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		case r == '#' && !quoted && !inWord:
			return words // a comment to the line's end
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("an unclosed quote in %q", line)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// checkBuilt checks that build printed the checksum of the file it wrote.
func checkBuilt(t *testing.T, stdout, bin string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^sha256 ([0-9a-f]{64})$`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("build printed no checksum:\n%s", stdout)
	}
	if sum, err := pluginhost.FileSHA256(bin); err != nil || sum != m[1] {
		t.Errorf("build printed sha256 %s; %s has %s (%v)", m[1], bin, sum, err)
	}
}

// runIn runs a command in dir with the test's environment (outside any Go
// workspace, as a region's own repository is) and returns its output.
func runIn(t *testing.T, dir string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, baseEnv("GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// call sends a request with a JSON body ("" for none) as the tutorial's
// curl commands do, and returns the response's body; any status but want
// fails the test.
func call(t *testing.T, want int, method, url, token, body string) []byte {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Purpose", "trying the plug-in")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, url, resp.StatusCode, want, b.Bytes())
	}
	return b.Bytes()
}
