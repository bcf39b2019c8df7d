//go:build unix

// These tests hold the command-line contract: they build the real binary
// once and run it as a subprocess, because what they assert — exit codes,
// the exact stderr an operator sees, graceful shutdown on SIGTERM — belongs
// to the process, not to any function inside it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
)

// binary is the treasury binary TestMain builds for this run.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "treasury-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "treasury")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	out, err := exec.CommandContext(ctx, "go", "build", "-o", binary, ".").CombinedOutput()
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building treasury: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// result is how one run of the binary ended.
type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %s\nstdout:\n%s\nstderr:\n%s", r.code, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// baseEnv is the test process's environment without any TREASURY_ variable,
// so that a developer's own settings cannot change what the binary does.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TREASURY_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// command prepares the binary in a fresh working directory, so that the
// default ./data never lands in the source tree.
func command(t *testing.T, ctx context.Context, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = baseEnv(env...)
	cmd.Dir = t.TempDir()
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// treasury runs the binary to completion within timeout.
func treasury(t *testing.T, timeout time.Duration, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := command(t, ctx, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("treasury %s did not finish within %s\n%s", strings.Join(args, " "), timeout, r)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("treasury %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustSucceed runs the binary and fails the test unless it exits 0.
func mustSucceed(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := treasury(t, time.Minute, env, args...)
	if r.code != 0 {
		t.Fatalf("treasury %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// requireOneLineError checks the failure contract: a non-zero exit (exactly
// code when code is not 0), and exactly one line on stderr that starts with
// "treasury: ", contains want, and is no panic or stack trace.
func requireOneLineError(t *testing.T, r result, code int, want string) {
	t.Helper()
	switch {
	case code != 0 && r.code != code:
		t.Errorf("exit code %d, want %d", r.code, code)
	case code == 0 && r.code <= 0:
		t.Errorf("exit code %d, want a failure status", r.code)
	}
	if !strings.HasSuffix(r.stderr, "\n") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr is not exactly one line")
	}
	if !strings.HasPrefix(r.stderr, "treasury: ") {
		t.Errorf(`stderr does not start with "treasury: "`)
	}
	for _, bad := range []string{"goroutine", "panic:"} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("stderr holds %q: a panic or stack trace", bad)
		}
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr does not mention %q", want)
	}
	if t.Failed() {
		t.Logf("%s", r)
	}
}

// writeFile writes a file with an exact mode (regardless of the umask).
func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrorsAreOneLineWithStatus2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "master.key")
	writeFile(t, key, strings.Repeat("ab", 32)+"\n", 0o644)
	sqliteDir := t.TempDir()

	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"log level", nil, []string{"serve", "--log-level", "loud"}, "--log-level"},
		{"listen not host:port", nil, []string{"serve", "--listen", "nonsense"}, "--listen"},
		{"listen port out of range", nil, []string{"serve", "--listen", "127.0.0.1:99999"}, "--listen"},
		{"database scheme", nil, []string{"serve", "--database-url", "mysql://x"}, "--database-url"},
		{"body limit", nil, []string{"serve", "--body-limit", "5"}, "--body-limit"},
		{"negative timeout", nil, []string{"serve", "--read-timeout", "-1s"}, "--read-timeout"},
		{"unknown flag", nil, []string{"serve", "--frobnicate"}, "--frobnicate"},
		{"unknown command", nil, []string{"frobnicate"}, "frobnicate"},
		{"unexpected argument", nil, []string{"serve", "extra"}, "no arguments"},
		{"unknown sub-command", nil, []string{"migrate", "sideways"}, "sideways"},
		{"bad duration", nil, []string{"serve", "--read-timeout", "soon"}, "--read-timeout"},
		{"environment variable", []string{"TREASURY_LOG_FORMAT=xml"}, []string{"serve"}, "--log-format"},
		{"environment variable of a number", []string{"TREASURY_BODY_LIMIT=lots"}, []string{"serve"}, "TREASURY_BODY_LIMIT"},
		{"missing key file", nil, []string{"serve", "--encryption-key-file", "/nonexistent"}, "--encryption-key-file"},
		{"key file readable by others", nil, []string{"serve", "--encryption-key-file", key}, "chmod 600"},
		{"app role on sqlite", nil, []string{"migrate", "up", "--app-role", "x", "--data-dir", sqliteDir}, "--app-role"},
		{"migrate database scheme", nil, []string{"migrate", "status", "--database-url", "mysql://x"}, "--database-url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := treasury(t, 30*time.Second, c.env, c.args...)
			requireOneLineError(t, r, 2, c.want)
		})
	}
	// The refused --app-role must not have created a database first.
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(sqliteDir, store.SQLiteFile)); err == nil {
			t.Errorf("migrate up --app-role on SQLite created %s before refusing", store.SQLiteFile)
		}
	})
}

func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	r := treasury(t, 15*time.Second, nil, "serve", "--database-url", "postgres://nobody@127.0.0.1:1/x", "--listen", "127.0.0.1:0")
	requireOneLineError(t, r, 0, "database unreachable")
}

// A database that a newer binary migrated is never touched: neither serve
// nor migrate up guesses what the unknown versions did.
func TestSchemaNewerThanBinary(t *testing.T) {
	t.Parallel()
	const future = 99999
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		mustSucceed(t, nil, "migrate", "up", "--data-dir", dir)
		db, err := store.Open(context.Background(), store.Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.SQL.Exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)", future)
		_ = db.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := treasury(t, time.Minute, nil, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
		requireOneLineError(t, r, 0, "newer")
		r = treasury(t, time.Minute, nil, "migrate", "up", "--data-dir", dir)
		requireOneLineError(t, r, 0, "newer")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		env := storetest.Empty(t, store.Postgres)
		migrateWithAppRole(t, env.OwnerURL, "")
		if _, err := env.Owner.SQL.Exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)", future); err != nil {
			t.Fatal(err)
		}
		r := treasury(t, time.Minute, nil, "serve", "--database-url", env.AppURL, "--listen", "127.0.0.1:0")
		requireOneLineError(t, r, 0, "newer")
		r = treasury(t, time.Minute, nil, "migrate", "up", "--database-url", env.OwnerURL)
		requireOneLineError(t, r, 0, "newer")
	})
}

// A running server stays ready when the next release migrates the schema
// ahead of it (a rollout: it serves until it is replaced), and is not ready
// while the schema is behind it.
func TestReadyThroughARollout(t *testing.T) {
	t.Parallel()
	const future = 99999
	check := func(t *testing.T, url string, exec func(query string, args ...any)) {
		if code := getJSON(t, url+"/readyz", nil); code != http.StatusOK {
			t.Fatalf("GET /readyz: %d", code)
		}
		exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)", future)
		if code := getJSON(t, url+"/readyz", nil); code != http.StatusOK {
			t.Errorf("GET /readyz with the schema ahead: %d, want 200", code)
		}
		// The newest two versions undone: behind.
		exec("DELETE FROM goose_db_version WHERE version_id >= (SELECT MAX(version_id) FROM goose_db_version WHERE version_id < $1)", future)
		if code := getJSON(t, url+"/readyz", nil); code != http.StatusServiceUnavailable {
			t.Errorf("GET /readyz with the schema behind: %d, want 503", code)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		s := startServer(t, nil, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
		db, err := store.Open(context.Background(), store.Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		check(t, s.url, func(q string, args ...any) {
			if _, err := db.SQL.Exec(strings.ReplaceAll(strings.ReplaceAll(q, "$1", "?"), "true", "1"), args...); err != nil {
				t.Fatal(err)
			}
		})
		s.stop(t)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		env := storetest.Empty(t, store.Postgres)
		migrateWithAppRole(t, env.OwnerURL, "")
		s := startServer(t, nil, "serve", "--database-url", env.AppURL, "--listen", "127.0.0.1:0", "--no-migrate")
		check(t, s.url, func(q string, args ...any) {
			if _, err := env.Owner.SQL.Exec(q, args...); err != nil {
				t.Fatal(err)
			}
		})
		s.stop(t)
	})
}

// migrateWithAppRole runs `migrate up --app-role` as the owner, retrying
// when another test process alters the cluster-wide role at the same moment.
func migrateWithAppRole(t *testing.T, ownerURL, passwordFile string) result {
	t.Helper()
	args := []string{"migrate", "up", "--database-url", ownerURL, "--app-role", storetest.AppRole}
	if passwordFile != "" {
		args = append(args, "--app-password-file", passwordFile)
	}
	var r result
	for i := 0; i < 5; i++ {
		if r = treasury(t, time.Minute, nil, args...); r.code == 0 || !strings.Contains(r.stderr, "concurrently") {
			break
		}
		time.Sleep(time.Duration(100*(i+1)) * time.Millisecond)
	}
	if r.code != 0 {
		t.Fatalf("migrate up --app-role: %s", r)
	}
	return r
}

func TestPostgresRefusesPrivilegedRole(t *testing.T) {
	t.Parallel()
	env := storetest.Empty(t, store.Postgres)
	r := treasury(t, time.Minute, nil, "serve", "--database-url", env.OwnerURL, "--listen", "127.0.0.1:0")
	requireOneLineError(t, r, 0, "row-level security")
	// The refusal comes before migrating: a superuser changed nothing.
	var table *string
	if err := env.Owner.SQL.QueryRow("SELECT to_regclass('goose_db_version')::text").Scan(&table); err != nil {
		t.Fatal(err)
	}
	if table != nil {
		t.Errorf("serve as a superuser migrated the database before refusing")
	}
}

func TestPostgresServeAsAppRole(t *testing.T) {
	t.Parallel()
	env := storetest.Empty(t, store.Postgres)
	pwd := filepath.Join(t.TempDir(), "app.password")
	writeFile(t, pwd, storetest.AppRole+"\n", 0o600)
	r := migrateWithAppRole(t, env.OwnerURL, pwd)
	if !strings.Contains(r.stdout, "app role "+storetest.AppRole) {
		t.Errorf("migrate up --app-role did not report the grant:\n%s", r.stdout)
	}
	s := startServer(t, nil, "serve", "--database-url", env.AppURL, "--listen", "127.0.0.1:0")
	if code := getJSON(t, s.url+"/readyz", nil); code != http.StatusOK {
		t.Errorf("GET /readyz: %d", code)
	}
	s.stop(t)
}

func TestDemoServeAndMigrate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	password := ""
	for run := 1; run <= 2; run++ {
		s := startServer(t, nil, "serve", "--demo", "--data-dir", dir, "--listen", "127.0.0.1:0")
		if code := getJSON(t, s.url+"/readyz", nil); code != http.StatusOK {
			t.Errorf("run %d: GET /readyz: %d", run, code)
		}
		var list struct {
			Items []struct {
				Code string `json:"code"`
			} `json:"items"`
		}
		// The demo password is kept in the data dir: the same on both runs.
		pw, err := os.ReadFile(filepath.Join(dir, "demo-password"))
		if err != nil {
			t.Fatal(err)
		}
		if password == "" {
			password = strings.TrimSpace(string(pw))
		} else if password != strings.TrimSpace(string(pw)) {
			t.Fatalf("run %d: the demo password changed", run)
		}
		// The summary follows the ready line; give the pipe a moment.
		printed := false
		for deadline := time.Now().Add(5 * time.Second); !printed && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			printed = strings.Contains(s.stdout.String(), password)
		}
		if !printed {
			t.Errorf("run %d: the demo password is not printed", run)
		}
		token := login(t, s.url, "federal_admin@federal", password)
		if code := getJSONAs(t, token, s.url+"/api/v1/tenants", &list); code != http.StatusOK {
			t.Fatalf("run %d: GET /api/v1/tenants: %d", run, code)
		}
		var codes []string
		for _, it := range list.Items {
			codes = append(codes, it.Code)
		}
		slices.Sort(codes)
		if !slices.Equal(codes, []string{"16", "66"}) {
			t.Errorf("run %d: regions %v, want exactly [16 66]", run, codes)
		}
		s.stop(t)
	}

	// Down to nothing, everything pending, and up again.
	r := mustSucceed(t, nil, "migrate", "down", "--to", "0", "--data-dir", dir)
	latest := versionLine(t, r.stdout, -1, "down --to 0")
	if n := countPrefix(r.stdout, "reversed"); n != latest {
		t.Errorf("migrate down --to 0 reversed %d migrations, want %d:\n%s", n, latest, r.stdout)
	}
	versionLine(t, r.stdout, 0, "down --to 0")
	r = mustSucceed(t, nil, "migrate", "status", "--data-dir", dir)
	if n := countPrefix(r.stdout, "pending"); n != latest || countPrefix(r.stdout, "applied") != 0 {
		t.Errorf("migrate status after down --to 0: want all %d pending:\n%s", latest, r.stdout)
	}
	versionLine(t, r.stdout, 0, "status")
	r = mustSucceed(t, nil, "migrate", "up", "--data-dir", dir)
	if n := countPrefix(r.stdout, "applied"); n != latest {
		t.Errorf("migrate up applied %d migrations, want %d:\n%s", n, latest, r.stdout)
	}
	versionLine(t, r.stdout, latest, "up")
	r = mustSucceed(t, nil, "migrate", "status", "--data-dir", dir)
	if n := countPrefix(r.stdout, "applied"); n != latest || countPrefix(r.stdout, "pending") != 0 {
		t.Errorf("migrate status after up: want all %d applied:\n%s", latest, r.stdout)
	}
}

var versionRE = regexp.MustCompile(`(?m)^database at version (\d+) of (\d+) \(sqlite\)$`)

// versionLine reads migrate's closing "database at version N of M" line,
// checks N (unless want is negative) and returns M.
func versionLine(t *testing.T, out string, want int, what string) int {
	t.Helper()
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("migrate %s printed no version line:\n%s", what, out)
	}
	cur, _ := strconv.Atoi(m[1])
	latest, _ := strconv.Atoi(m[2])
	if latest < 1 {
		t.Fatalf("migrate %s: the binary knows no migrations:\n%s", what, out)
	}
	if want >= 0 && cur != want {
		t.Errorf("migrate %s left the database at version %d, want %d", what, cur, want)
	}
	return latest
}

func countPrefix(out, prefix string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix+" ") {
			n++
		}
	}
	return n
}

// server is a running `treasury serve`.
type server struct {
	cmd            *exec.Cmd
	url            string
	stdout, stderr *syncBuffer
	done           chan struct{}
}

var readyRE = regexp.MustCompile(`^Social Treasury \S+ is ready at (http://\S+) \(`)

// startServer runs serve and waits for its "is ready at" line, which must
// be the first line of stdout.
func startServer(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	s := &server{stdout: newSyncBuffer(), stderr: newSyncBuffer(), done: make(chan struct{})}
	s.cmd = command(t, ctx, env, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
	select {
	case <-s.stdout.line:
	case <-s.done:
		t.Fatalf("serve exited before it was ready (exit %d)\nstdout:\n%s\nstderr:\n%s", s.cmd.ProcessState.ExitCode(), s.stdout, s.stderr)
	case <-time.After(time.Minute):
		t.Fatalf("serve not ready within a minute\nstdout:\n%s\nstderr:\n%s", s.stdout, s.stderr)
	}
	first, _, _ := strings.Cut(s.stdout.String(), "\n")
	m := readyRE.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("first line of stdout is not the ready line: %q", first)
	}
	s.url = m[1]
	return s
}

// stop sends SIGTERM and expects a graceful exit with status 0 within 10 s.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("serve still running 10 s after SIGTERM\nstderr:\n%s", s.stderr)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("serve exited %d after SIGTERM, want 0\nstderr:\n%s", code, s.stderr)
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// getJSON GETs url and decodes a 200 response into out (when not nil).
func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	return getJSONAs(t, "", url, out)
}

// getJSONAs is getJSON with a bearer token ("" for none).
func getJSONAs(t *testing.T, token, url string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Logf("GET %s: %d %s", url, resp.StatusCode, body)
		return resp.StatusCode
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: %v\n%s", url, err, body)
		}
	}
	return resp.StatusCode
}

// syncBuffer collects a subprocess's output and signals its first full line.
type syncBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
	line chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{line: make(chan struct{})} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if bytes.IndexByte(b.buf.Bytes(), '\n') >= 0 {
		b.once.Do(func() { close(b.line) })
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// login returns an access token for the user.
func login(t *testing.T, base, username, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	resp, err := httpClient.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("login %s: %d %s", username, resp.StatusCode, raw)
	}
	return tok.AccessToken
}
