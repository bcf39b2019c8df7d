//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
)

// A server killed with SIGKILL in the middle of an import: the next server
// resumes the import after its last committed batch, and the registry ends
// with exactly the rows of one complete import; the same file sent again
// changes nothing.
func TestImportSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		importKill(t, []string{"--data-dir", dir}, func(t *testing.T) *store.DB {
			db, err := store.Open(context.Background(), store.Options{DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			return db
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		env := storetest.Empty(t, store.Postgres)
		migrateWithAppRole(t, env.OwnerURL, "")
		importKill(t, []string{"--database-url", env.AppURL, "--data-dir", t.TempDir()}, func(t *testing.T) *store.DB { return env.Owner })
	})
}

const killPersons = 12000 // each with 12 monthly incomes: 156,000 lines

func killFile() []byte {
	var b bytes.Buffer
	for i := range killPersons {
		sn := ident.SNILSOf(300_000_000 + i)
		fmt.Fprintf(&b, `{"type":"person","snils":"%s","family_name":"Кузнецова","first_name":"Ирина","birth_date":"1980-01-%02d","sex":"female"}`+"\n", sn, 1+i%28)
		for m := 1; m <= 12; m++ {
			fmt.Fprintf(&b, `{"type":"income","snils":"%s","month":"2025-%02d","kind":"salary","amount_kopecks":%d,"source":"fns"}`+"\n", sn, m, 4_000_000+i)
		}
	}
	return b.Bytes()
}

func postImport(t *testing.T, url, token string, file []byte) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/tenants/66/imports", bytes.NewReader(file))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST imports: %d %s", resp.StatusCode, raw)
	}
	return resp.Header.Get("Location")
}

type importJob struct {
	Status  string `json:"status"`
	Error   string `json:"error"`
	Summary struct {
		Lines, Imported, Unchanged, Rejected int64
	} `json:"summary"`
}

func awaitImport(t *testing.T, url, token string, until func(importJob) bool, within time.Duration) importJob {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var j importJob
		if code := getJSONAs(t, token, url, &j); code != http.StatusOK {
			t.Fatalf("GET %s: %d", url, code)
		}
		if until(j) {
			return j
		}
		if j.Status == "failed" || time.Now().After(deadline) {
			t.Fatalf("import %+v", j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func importKill(t *testing.T, dbArgs []string, owner func(*testing.T) *store.DB) {
	const pw = "import-kill-demo-pw"
	keyFile := filepath.Join(t.TempDir(), "token.seed")
	writeFile(t, keyFile, "0123456789abcdef0123456789abcdef", 0o600)
	args := slices.Concat([]string{"serve", "--listen", "127.0.0.1:0", "--demo", "--demo-persons", "0", "--demo-password", pw, "--token-key-file", keyFile,
		"--import-poll", "50ms", "--import-lease", "2s", "--log-level", "warn"}, dbArgs)
	file := killFile()
	lines := int64(bytes.Count(file, []byte("\n")))

	a := startServer(t, nil, args...)
	tok := login(t, a.url, "specialist@66", pw)
	loc := postImport(t, a.url, tok, file)
	running := awaitImport(t, a.url+loc, tok, func(j importJob) bool { return j.Status == "running" && j.Summary.Lines > 0 }, time.Minute)
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.done
	t.Logf("killed with %d of %d lines committed", running.Summary.Lines, lines)
	if running.Summary.Lines >= lines {
		t.Fatalf("the import ended before the kill (%d lines); make the file bigger", running.Summary.Lines)
	}

	b := startServer(t, nil, args...)
	tok = login(t, b.url, "specialist@66", pw)
	done := awaitImport(t, b.url+loc, tok, func(j importJob) bool { return j.Status == "done" }, 2*time.Minute)
	if done.Summary.Lines != lines || done.Summary.Imported != lines || done.Summary.Rejected != 0 || done.Summary.Unchanged != 0 {
		t.Fatalf("resumed import ended %+v, want %d lines all imported", done, lines)
	}
	checkRows(t, owner(t))

	again := postImport(t, b.url, tok, file)
	j := awaitImport(t, b.url+again, tok, func(j importJob) bool { return j.Status == "done" }, 2*time.Minute)
	if j.Summary.Imported != 0 || j.Summary.Unchanged != lines {
		t.Fatalf("the same file again: %+v, want everything unchanged", j)
	}
	checkRows(t, owner(t))
	b.stop(t)
}

// checkRows counts region 66's registry rows with SQL, as the schema owner.
func checkRows(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var tid string
	if err := tx.QueryRowContext(ctx, "SELECT id FROM tenants WHERE code = '66'").Scan(&tid); err != nil {
		t.Fatal(err)
	}
	if db.Dialect == store.Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', $1, true)", tid); err != nil {
			t.Fatal(err)
		}
	}
	q := func(sql string) int64 {
		var n int64
		if db.Dialect == store.Postgres {
			sql = pgPlaceholders(sql)
		}
		if err := tx.QueryRowContext(ctx, sql, tid).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	checks := []struct {
		what string
		got  int64
		want int64
	}{
		{"persons", q("SELECT count(*) FROM persons WHERE tenant_id = ?"), killPersons},
		{"distinct SNILS", q("SELECT count(DISTINCT snils_index) FROM persons WHERE tenant_id = ?"), killPersons},
		{"incomes", q("SELECT count(*) FROM incomes WHERE tenant_id = ?"), killPersons * 12},
		{"current incomes", q("SELECT count(*) FROM incomes WHERE tenant_id = ? AND superseded_at IS NULL"), killPersons * 12},
		{"person versions", q("SELECT count(*) FROM person_history WHERE tenant_id = ?"), 0},
		{"leftover chunks", q("SELECT count(*) FROM import_chunks WHERE tenant_id = ?"), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
		}
	}
}

func pgPlaceholders(sql string) string {
	return string(bytes.ReplaceAll([]byte(sql), []byte("?"), []byte("$1")))
}
