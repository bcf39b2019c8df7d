package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// plaintextTables are the tables the registry's work writes to, scanned
// whole for a SNILS.
var plaintextTables = []string{
	"persons", "person_history", "relations", "incomes", "disabilities", "person_categories", "person_merges",
	"imports", "import_errors", "import_chunks", "audit_pending", "audit_records",
}

// TestNoPlaintextSNILSAtRestOrInLogs works the registry the way a region
// does — through the HTTP API, a file import, a queued import run by the
// background runner — and then reads every column of every row the work
// wrote, and every line the platform logged: no SNILS it used may appear,
// in either of its forms.
func TestNoPlaintextSNILSAtRestOrInLogs(t *testing.T) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) { plaintextScenario(t, d) })
	}
}

// lockedBuffer is a log sink several goroutines write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// snilsForms are the two ways a SNILS is written: eleven digits and
// XXX-XXX-XXX YY.
func snilsForms(s string) []string {
	return []string{s, s[0:3] + "-" + s[3:6] + "-" + s[6:9] + " " + s[9:11]}
}

func formattedSNILS(s string) string { return snilsForms(s)[1] }

// wrongCheckSNILS is s with its check number off by one.
func wrongCheckSNILS(s string) string {
	return s[:10] + string(rune('0'+(int(s[10]-'0')+1)%10))
}

type httpAnswer struct {
	status int
	header http.Header
	body   []byte
}

func plaintextScenario(t *testing.T, d store.Dialect) {
	ctx := context.Background()
	env := storetest.New(t, d)
	logs := &lockedBuffer{}
	log := app.NewLogger(logs, "debug", "json")

	// The platform as production opens it, its store and services logging
	// into the buffer.
	dir := env.DataDir
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := apptest.Config(dir)
	cfg.DatabaseURL = env.AppURL
	p, err := app.Open(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	tenants := map[string]uuid.UUID{}
	for _, r := range apptest.Regions {
		tn, err := p.Tenants.Create(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		active := tenancy.StatusActive
		if _, err := p.Tenants.Update(ctx, tn.Code, tn.Version, tenancy.Change{Status: &active}); err != nil {
			t.Fatal(err)
		}
		tenants[r.Code] = tn.ID
	}
	user, err := p.Auth.CreateUser(ctx, auth.NewUser{Username: "specialist@66", Tenant: tenants["66"], Password: apptest.Password})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Access.SetTenantRoles(ctx, user.ID, "66", []string{"specialist"}); err != nil {
		t.Fatal(err)
	}
	login, err := p.Auth.Login(ctx, "specialist@66", apptest.Password)
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path string, body any, want int, headers ...string) httpAnswer {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(raw)
		}
		req := httptest.NewRequest(method, path, rd)
		if rd != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+login.AccessToken)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := p.Server.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Fatalf("%s %s: status %d, want %d: %s\nthe log:\n%s", method, path, resp.StatusCode, want, raw, logs.Bytes())
		}
		return httpAnswer{status: resp.StatusCode, header: resp.Header, body: raw}
	}
	idOf := func(a httpAnswer) string {
		t.Helper()
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(a.body, &v); err != nil || v.ID == "" {
			t.Fatalf("no id in %s (%v)", a.body, err)
		}
		return v.ID
	}
	countItems := func(a httpAnswer) int {
		t.Helper()
		var v struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(a.body, &v); err != nil {
			t.Fatalf("%v: %s", err, a.body)
		}
		return len(v.Items)
	}

	// Every SNILS the scenario uses, each made once.
	var used []string
	next := 137000000
	newSNILS := func() string {
		next += 7
		s := ident.SNILSOf(next)
		used = append(used, s)
		return s
	}
	sA, sA2, sB, sC := newSNILS(), newSNILS(), newSNILS(), newSNILS()
	sImp1, sImp2, sKey, sNone := newSNILS(), newSNILS(), newSNILS(), newSNILS()
	sHeader, sQueued := newSNILS(), newSNILS()
	sBad := wrongCheckSNILS(newSNILS())
	used = append(used, sBad)

	base := "/api/v1/tenants/66/persons"
	person := func(snils, family, first, birth, sex string) map[string]any {
		return map[string]any{"snils": snils, "family_name": family, "first_name": first, "birth_date": birth, "sex": sex}
	}
	// Registered through the API: one SNILS written with separators, with a
	// purpose that quotes it; one with every sealed part.
	idA := idOf(do(http.MethodPost, base, person(formattedSNILS(sA), "Плейнтекстова", "Анна", "1985-03-01", "female"), 201,
		"X-Purpose", "заявление заявителя СНИЛС "+formattedSNILS(sA)))
	bBody := person(sB, "Плейнтекстов", "Борис", "1983-07-12", "male")
	bBody["address"] = map[string]any{"oktmo": "65701000", "text": "г. Екатеринбург, ул. Ленина, д. 1"}
	bBody["document"] = map[string]any{"type": "21", "series": "6512", "number": "123456", "issued_on": "2005-04-01", "issuer": "УФМС"}
	bBody["contacts"] = map[string]any{"phone": "+79001234567", "email": "boris@example.ru"}
	bBody["bank"] = map[string]any{"bik": "046577674", "account": "40817810099910004312"}
	idB := idOf(do(http.MethodPost, base, bBody, 201, "X-Purpose", "обращение "+sB))
	idC := idOf(do(http.MethodPost, base, person(sC, "Дубликатова", "Вера", "1990-01-01", "female"), 201))
	// Refused: the same SNILS again, and one with a wrong check number.
	do(http.MethodPost, base, person(sA, "Плейнтекстова", "Анна", "1985-03-01", "female"), 409)
	do(http.MethodPost, base, person(sBad, "Ошибкина", "Ольга", "1985-03-01", "female"), 422)

	// Searches by SNILS, in the body and in the query, found and not.
	if n := countItems(do(http.MethodPost, base+"/search", map[string]any{"snils": sA}, 200)); n != 1 {
		t.Fatalf("search by SNILS found %d persons", n)
	}
	if n := countItems(do(http.MethodPost, base+"/search", map[string]any{"snils": formattedSNILS(sB)}, 200)); n != 1 {
		t.Fatalf("search by a formatted SNILS found %d persons", n)
	}
	do(http.MethodGet, base+"?snils="+sB, nil, 200)
	do(http.MethodPost, base+"/search", map[string]any{"snils": sNone}, 200)
	do(http.MethodPost, base+"/search", map[string]any{"snils": sBad}, 422)

	// Facts, a card, a change of SNILS (the old one goes into the history),
	// a refused change, the history, a merge.
	do(http.MethodPost, base+"/"+idA+"/relations", map[string]any{"relative_id": idB, "kind": "spouse", "valid_from": "2010-06-01"}, 201)
	do(http.MethodPost, base+"/"+idB+"/incomes", map[string]any{"month": "2025-01", "kind": "salary", "amount_kopecks": 5500000, "source": "fns"}, 201)
	do(http.MethodPost, base+"/"+idA+"/disabilities", map[string]any{"group": 2, "valid_from": "2020-01-01"}, 201)
	do(http.MethodPost, base+"/"+idB+"/categories", map[string]any{"code": "large_family", "valid_from": "2025-01-01"}, 201)
	do(http.MethodPost, base+"/"+idC+"/incomes", map[string]any{"month": "2025-02", "kind": "salary", "amount_kopecks": 100, "source": "sfr"}, 201)
	do(http.MethodGet, base+"/"+idA, nil, 200)
	do(http.MethodGet, base+"/"+idA+"/card?as_of=2026-01-15", nil, 200)
	do(http.MethodPatch, base+"/"+idA, map[string]any{"snils": formattedSNILS(sA2), "family_name": "Новоплейнтекстова"}, 200,
		"If-Match", `"1"`)
	do(http.MethodPatch, base+"/"+idB, map[string]any{"snils": sBad}, 422, "If-Match", `"1"`)
	do(http.MethodPatch, base+"/"+idB, map[string]any{"snils": sA2}, 409, "If-Match", `"1"`)
	do(http.MethodGet, base+"/"+idA+"/history", nil, 200)
	do(http.MethodPost, base+"/"+idC+"/merge", map[string]any{"into": idB}, 200)

	// A file imported in this process: persons (one new SNILS written with
	// separators, one known person changed), facts, and bad lines — a
	// wrong check number, a SNILS as a field name, a fact of nobody.
	rctx := audit.WithActor(tenancy.WithTenant(ctx, tenants["66"]), user.ID, "specialist@66")
	file := strings.Join([]string{
		fmt.Sprintf(`{"type":"person","snils":%q,"family_name":"Импортова","first_name":"Ия","birth_date":"1975-05-05","sex":"female"}`, formattedSNILS(sImp1)),
		fmt.Sprintf(`{"type":"person","snils":%q,"family_name":"Импортов","first_name":"Иван","birth_date":"2010-02-02","sex":"male"}`, sImp2),
		fmt.Sprintf(`{"type":"person","snils":%q,"family_name":"Новоплейнтекстова","first_name":"Анастасия","birth_date":"1985-03-01","sex":"female"}`, sA2),
		fmt.Sprintf(`{"type":"relation","snils":%q,"relative_snils":%q,"kind":"child","valid_from":"2010-02-02"}`, sImp1, formattedSNILS(sImp2)),
		fmt.Sprintf(`{"type":"income","snils":%q,"month":"2025-03","kind":"salary","amount_kopecks":4200000}`, sImp1),
		fmt.Sprintf(`{"type":"person","snils":%q,"family_name":"Ошибкин","first_name":"Олег","birth_date":"1980-01-01","sex":"male"}`, sBad),
		fmt.Sprintf(`{"type":"person",%q:{"family_name":"Ключев"}}`, formattedSNILS(sKey)),
		fmt.Sprintf(`{"type":"income","snils":%q,"month":"2025-03","kind":"salary","amount_kopecks":1}`, sNone),
	}, "\n") + "\n"
	im, err := p.Persons.ImportFile(rctx, registry.ImportRequest{Format: registry.FormatNDJSON}, strings.NewReader(file), nil)
	if err != nil {
		t.Fatal(err)
	}
	if im.Status != registry.StatusDone || im.Progress.Imported != 5 || im.Progress.Rejected != 3 {
		errs, _, _ := p.Persons.ImportErrors(rctx, im.ID, 0, 100)
		t.Fatalf("import %+v: want done, 5 lines imported, 3 rejected; errors %+v", im, errs)
	}
	// A CSV file without its header line: the first line, a person's, is
	// read as the header and refused.
	headerless := sHeader + ",Безголовый,Игорь,1980-01-01,male\n"
	if im, err = p.Persons.ImportFile(rctx, registry.ImportRequest{Format: registry.FormatCSV, Type: registry.TypePerson}, strings.NewReader(headerless), nil); err == nil || im.Status != registry.StatusFailed {
		t.Fatalf("a CSV file without a header: %+v, %v", im, err)
	}
	// The same mistake uploaded and run by the background runner, which logs.
	queued, err := p.Persons.SubmitImport(rctx, registry.ImportRequest{Format: registry.FormatCSV, Type: registry.TypePerson},
		strings.NewReader(sQueued+",Очередной,Пётр,1981-01-01,male\n"))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { p.Persons.RunImports(runCtx, 10*time.Millisecond, log.With("component", "import")); close(ran) }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		got, err := p.Persons.GetImport(rctx, queued.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == registry.StatusFailed || got.Status == registry.StatusDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queued import is still %s", got.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-ran

	// Chain what is pending, then read once more, so that both audit tables
	// hold records.
	if err := p.Audit.Flush(tenancy.WithTenant(ctx, tenants["66"])); err != nil {
		t.Fatal(err)
	}
	do(http.MethodGet, base+"/"+idB+"/card", nil, 200)
	do(http.MethodPost, base+"/search", map[string]any{"snils": sImp1}, 200)

	// Every column of every row.
	scan := scanTables(t, env, []uuid.UUID{tenants["66"], tenants["16"]})
	for _, table := range plaintextTables {
		if scan[table].rows == 0 && table != "import_chunks" {
			t.Errorf("%s: no row read; the scan proves nothing", table)
		}
	}
	// An upload is kept as sent only until its import ends.
	if n := scan["import_chunks"].rows; n != 0 {
		t.Errorf("import_chunks: %d chunks of finished imports are kept", n)
	}
	// The scan does see what is stored in the clear, and the sealed bytes.
	for table, want := range map[string]string{
		"persons": "Новоплейнтекстова", "audit_records": "person.create", "audit_pending": "person.search",
		"import_errors": "is not a valid SNILS", "person_history": "update",
	} {
		if !bytes.Contains(scan[table].text, []byte(want)) {
			t.Errorf("%s: the scan did not read %q, which the table holds in the clear", table, want)
		}
	}
	if scan["persons"].binary == 0 || scan["person_history"].binary == 0 {
		t.Errorf("the scan read no sealed column: persons %d, person_history %d", scan["persons"].binary, scan["person_history"].binary)
	}
	logged := logs.Bytes()
	for _, want := range []string{`"msg":"request"`, `"path":"/api/v1/tenants/66/persons"`, `"msg":"import failed"`} {
		if !bytes.Contains(logged, []byte(want)) {
			t.Errorf("the log holds no %s; the capture proves nothing:\n%s", want, logged)
		}
	}

	for _, s := range used {
		for _, form := range snilsForms(s) {
			for _, table := range plaintextTables {
				if i := bytes.Index(scan[table].text, []byte(form)); i >= 0 {
					t.Errorf("%s holds the SNILS %q: %q", table, form, around(scan[table].text, i, len(form)))
				}
			}
			if i := bytes.Index(logged, []byte(form)); i >= 0 {
				t.Errorf("the log holds the SNILS %q: %q", form, around(logged, i, len(form)))
			}
		}
	}
}

func around(b []byte, i, n int) string {
	from, to := max(0, i-120), min(len(b), i+n+60)
	return string(b[from:to])
}

// tableScan is what reading a table whole gave: every value of every row,
// one after another, and how many rows and non-empty binary values it had.
type tableScan struct {
	rows   int
	binary int
	text   []byte
}

// scanTables reads every column of every row of the tables, bypassing the
// application: SQLite has no row-level security; on PostgreSQL the owner
// connection reads each region's rows with the region set.
func scanTables(t *testing.T, env *storetest.Env, tenants []uuid.UUID) map[string]*tableScan {
	t.Helper()
	ctx := context.Background()
	out := map[string]*tableScan{}
	for _, table := range plaintextTables {
		s := &tableScan{}
		out[table] = s
		if env.App.Dialect == store.SQLite {
			rows, err := env.App.SQL.QueryContext(ctx, "SELECT * FROM "+table)
			if err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			readRows(t, table, rows, s)
			continue
		}
		for _, tid := range tenants {
			tx, err := env.Owner.SQL.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', $1, true)", tid.String()); err != nil {
				t.Fatal(err)
			}
			rows, err := tx.QueryContext(ctx, "SELECT * FROM "+table+" WHERE tenant_id = $1", tid.String())
			if err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			readRows(t, table, rows, s)
			_ = tx.Rollback()
		}
	}
	return out
}

func readRows(t *testing.T, table string, rows *sql.Rows, s *tableScan) {
	t.Helper()
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		s.rows++
		for i, v := range vals {
			s.text = append(s.text, cols[i]...)
			s.text = append(s.text, '=')
			switch x := v.(type) {
			case nil:
			case []byte:
				if len(x) > 0 {
					s.binary++
				}
				s.text = append(s.text, x...)
			case string:
				s.text = append(s.text, x...)
			case time.Time:
				s.text = append(s.text, x.Format(time.RFC3339Nano)...)
			default:
				s.text = fmt.Append(s.text, x)
			}
			s.text = append(s.text, '\t')
		}
		s.text = append(s.text, '\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", table, err)
	}
}
