package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// snilsOf is the valid SNILS whose first nine digits are n.
func snilsOf(n int64) string { return ident.SNILSOf(int(n)) }

// formatted writes eleven SNILS digits as XXX-XXX-XXX YY.
func formatted(s string) string { return s[0:3] + "-" + s[3:6] + "-" + s[6:9] + " " + s[9:11] }

// wrongCheck is a SNILS whose check number is off by one.
func wrongCheck(s string) string {
	return s[:10] + string(rune('0'+(int(s[10]-'0')+1)%10))
}

// noSNILS fails the test if an answer carries a SNILS, in either form, or
// its first nine digits.
func noSNILS(t *testing.T, what string, body []byte, snils ...string) {
	t.Helper()
	for _, s := range snils {
		for _, form := range []string{s[:9], s[:3] + "-" + s[3:6] + "-" + s[6:9]} {
			if strings.Contains(string(body), form) {
				t.Errorf("%s carries the SNILS %s: %s", what, s, body)
			}
		}
	}
}

type personOut struct {
	ID          string `json:"id"`
	SNILS       string `json:"snils"`
	FamilyName  string `json:"family_name"`
	FirstName   string `json:"first_name"`
	Patronymic  string `json:"patronymic"`
	BirthDate   string `json:"birth_date"`
	Sex         string `json:"sex"`
	Citizenship string `json:"citizenship"`
	Address     *struct {
		OKTMO string `json:"oktmo"`
		Text  string `json:"text"`
	} `json:"address"`
	Document *struct {
		Type   string `json:"type"`
		Number string `json:"number"`
	} `json:"document"`
	Bank *struct {
		Account string `json:"account"`
	} `json:"bank"`
	Origin     string `json:"origin"`
	MergedInto string `json:"merged_into"`
	Version    int64  `json:"version"`
}

type factOut struct {
	ID            string  `json:"id"`
	PersonID      string  `json:"person_id"`
	RelativeID    string  `json:"relative_id"`
	Kind          string  `json:"kind"`
	Month         string  `json:"month"`
	AmountKopecks int64   `json:"amount_kopecks"`
	Source        string  `json:"source"`
	Group         int     `json:"group"`
	Code          string  `json:"code"`
	ValidFrom     string  `json:"valid_from"`
	ValidTo       string  `json:"valid_to"`
	Origin        string  `json:"origin"`
	SupersededAt  *string `json:"superseded_at"`
	Outcome       string  `json:"outcome"`
}

type factsOut struct {
	Relations    []factOut `json:"relations"`
	Incomes      []factOut `json:"incomes"`
	Disabilities []factOut `json:"disabilities"`
	Categories   []factOut `json:"categories"`
}

func decode[T any](t *testing.T, r apptest.Response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("%v: %s", err, r.Body)
	}
	return v
}

// personBody is a valid person to register.
func personBody(snils, family, first, birth, sex string) map[string]any {
	return map[string]any{"snils": snils, "family_name": family, "first_name": first, "birth_date": birth, "sex": sex}
}

// newPerson registers a person through the API and returns its id.
func newPerson(t *testing.T, c *client, region string, body map[string]any) string {
	t.Helper()
	r := c.expect(c.do(http.MethodPost, "/api/v1/tenants/"+region+"/persons", body), http.StatusCreated)
	return azID(t, r)
}

func personsOf(t *testing.T, r apptest.Response) []string {
	t.Helper()
	var l struct{ Items []personOut }
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, p := range l.Items {
		ids = append(ids, p.ID)
	}
	return ids
}

// A SNILS is checked by its check number, and no answer about a wrong one
// repeats it — whatever part of the request is wrong, and however.
func TestPersonSNILSIsNeverEchoed(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		c := newClient(t, d).as("specialist", "66")
		base := "/api/v1/tenants/66/persons"
		good := snilsOf(112233445)
		bad := wrongCheck(good)
		for _, sent := range []string{bad, formatted(bad)} {
			r := c.expect(c.do(http.MethodPost, base, personBody(sent, "Иванова", "Мария", "1990-05-10", "female")), 422)
			if locs := locations(t, r); len(locs) != 1 || locs[0] != "body.snils" {
				t.Fatalf("locations %v, want [body.snils]: %s", locs, r.Body)
			}
			noSNILS(t, "the answer to a wrong check number", r.Body, good, bad)
		}
		// Malformed: too short, letters, a JSON number, an object.
		for _, sent := range []any{"11223344", "112-233-445 9x", 11223344595, map[string]any{"v": good}} {
			body := personBody("", "Иванова", "Мария", "1990-05-10", "female")
			body["snils"] = sent
			r := c.expect(c.do(http.MethodPost, base, body), 422)
			hasLocation(t, r, "body.snils")
			noSNILS(t, fmt.Sprintf("the answer to snils %v", sent), r.Body, good)
		}
		// Other fields wrong: Huma's own errors echo the whole body they looked in.
		missing := personBody(formatted(good), "Иванова", "Мария", "1990-05-10", "female")
		delete(missing, "first_name")
		r := c.expect(c.do(http.MethodPost, base, missing), 422)
		if !strings.Contains(string(r.Body), "expected required property first_name") {
			t.Errorf("the answer to a missing field does not name it: %s", r.Body)
		}
		noSNILS(t, "the answer to a missing field", r.Body, good)
		extra := personBody(good, "Иванова", "Мария", "1990-05-10", "female")
		extra["status"] = "active"
		extra["document"] = map[string]any{"type": "21", "number": "123456", "serial": "6512"}
		r = c.expect(c.do(http.MethodPost, base, extra), 422)
		hasLocation(t, r, "body.status")
		hasLocation(t, r, "body.document.serial")
		noSNILS(t, "the answer to an unexpected field", r.Body, good)
		if strings.Contains(string(r.Body), "123456") {
			t.Errorf("the answer repeats the document number: %s", r.Body)
		}
		r = c.do(http.MethodPost, base, `{"snils": "`+good+`", "family_name": `)
		if r.Status != 400 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("a body that does not parse: %d %s", r.Status, r.Body)
		}
		noSNILS(t, "the answer to a body that does not parse", r.Body, good)
		// Searches and changes too.
		r = c.expect(c.do(http.MethodGet, base+"?snils="+bad, nil), 422)
		hasLocation(t, r, "query.snils")
		noSNILS(t, "the answer to a search by a wrong SNILS", r.Body, good)
		r = c.expect(c.do(http.MethodPost, base+"/search", map[string]any{"snils": formatted(bad)}), 422)
		hasLocation(t, r, "body.snils")
		noSNILS(t, "the answer to a search by a wrong SNILS", r.Body, good)
		id := newPerson(t, c, "66", personBody(good, "Иванова", "Мария", "1990-05-10", "female"))
		r = c.expect(c.do(http.MethodPatch, base+"/"+id, map[string]any{"snils": bad}, "If-Match", `"1"`), 422)
		hasLocation(t, r, "body.snils")
		noSNILS(t, "the answer to a change to a wrong SNILS", r.Body, good)

		// A birth date in the future is refused; the check number of the
		// SNILS is what makes it valid, not its form.
		future := civil.Today().AddDays(40).String()
		r = c.expect(c.do(http.MethodPost, base, personBody(snilsOf(112233446), "Петров", "Пётр", future, "male")), 422)
		if locs := locations(t, r); len(locs) != 1 || locs[0] != "body.birth_date" {
			t.Fatalf("locations %v, want [body.birth_date]: %s", locs, r.Body)
		}
		hasLocation(t, c.expect(c.do(http.MethodPost, base, personBody(snilsOf(112233447), "Петров", "Пётр", "1990-02-30", "male")), 422), "body.birth_date")
	})
}

// One SNILS, one person in a region: a second is refused naming the first;
// another region has its own persons, which the first cannot see.
func TestPersonDuplicatesAndRegions(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		root := newClient(t, d)
		c66, c16 := root.as("specialist", "66"), root.as("specialist", "16")
		s := snilsOf(123456789)
		r := c66.expect(c66.do(http.MethodPost, "/api/v1/tenants/66/persons", map[string]any{
			"snils": formatted(s), "family_name": " Иванова ", "first_name": "Мария", "patronymic": "Петровна",
			"birth_date": "1990-05-10", "sex": "female", "address": map[string]any{"oktmo": "65701000", "text": "Екатеринбург"},
			"document": map[string]any{"type": "21", "series": "6512", "number": "654321", "issued_on": "2010-06-01"},
			"bank":     map[string]any{"bik": "046577674", "account": "40817810099910004312"},
		}), 201)
		p := decode[personOut](t, r)
		if r.Header.Get("ETag") != `"1"` || r.Header.Get("Location") != "/api/v1/tenants/66/persons/"+p.ID {
			t.Fatalf("headers %v", r.Header)
		}
		if p.SNILS != s || p.FamilyName != "Иванова" || p.Citizenship != "643" || p.Origin != "manual" || p.Version != 1 ||
			p.Address == nil || p.Address.OKTMO != "65701000" || p.Document == nil || p.Document.Number != "654321" ||
			p.Bank == nil || p.Bank.Account != "40817810099910004312" {
			t.Fatalf("created %s", r.Body)
		}

		for _, again := range []string{s, formatted(s)} {
			r = c66.expect(c66.do(http.MethodPost, "/api/v1/tenants/66/persons", personBody(again, "Иванова", "Мария", "1990-05-10", "female")), 409)
			var problem struct {
				Detail string
				Errors []struct {
					Location string
					Value    string
				}
			}
			_ = json.Unmarshal(r.Body, &problem)
			if !strings.Contains(problem.Detail, p.ID) || len(problem.Errors) != 1 || problem.Errors[0].Value != p.ID ||
				problem.Errors[0].Location != "body.snils" {
				t.Fatalf("the conflict does not name %s: %s", p.ID, r.Body)
			}
			noSNILS(t, "the duplicate's conflict", r.Body, s)
		}

		id16 := newPerson(t, c16, "16", personBody(s, "Иванова", "Мария", "1990-05-10", "female"))
		if id16 == p.ID {
			t.Fatal("region 16's person has region 66's id")
		}
		c66.expect(c66.do(http.MethodGet, "/api/v1/tenants/66/persons/"+id16, nil), 404)
		c66.expect(c66.do(http.MethodGet, "/api/v1/tenants/16/persons/"+id16, nil), 404)
		c66.expect(c66.do(http.MethodGet, "/api/v1/tenants/66/persons/"+id16+"/card", nil), 404)
		c66.expect(c66.do(http.MethodGet, "/api/v1/tenants/66/persons/"+id16+"/facts", nil), 404)
		c66.expect(c66.do(http.MethodPatch, "/api/v1/tenants/66/persons/"+id16, map[string]any{"first_name": "Захват"}, "If-Match", `"1"`), 404)
		c66.expect(c66.do(http.MethodPost, "/api/v1/tenants/66/persons/"+id16+"/merge", map[string]any{"into": p.ID}), 404)
		c66.expect(c66.do(http.MethodPost, "/api/v1/tenants/66/persons/"+p.ID+"/relations",
			map[string]any{"relative_id": id16, "kind": "child", "valid_from": "2020-01-01"}), 404)
		fact16 := azID(t, c16.expect(c16.do(http.MethodPost, "/api/v1/tenants/16/persons/"+id16+"/incomes",
			map[string]any{"month": "2024-01", "kind": "salary", "amount_kopecks": 100}), 201))
		c66.expect(c66.do(http.MethodDelete, "/api/v1/tenants/66/persons/"+id16+"/incomes/"+fact16, nil), 404)
		c66.expect(c66.do(http.MethodDelete, "/api/v1/tenants/66/persons/"+p.ID+"/incomes/"+fact16, nil), 404)
		if f := decode[factsOut](t, c16.expect(c16.do(http.MethodGet, "/api/v1/tenants/16/persons/"+id16+"/facts", nil), 200)); len(f.Incomes) != 1 {
			t.Fatalf("region 66 retracted region 16's income: %+v", f.Incomes)
		}

		for _, who := range []struct {
			c      *client
			region string
			want   string
		}{{c66, "66", p.ID}, {c16, "16", id16}} {
			base := "/api/v1/tenants/" + who.region + "/persons"
			for _, r := range []apptest.Response{
				who.c.expect(who.c.do(http.MethodGet, base+"?snils="+s, nil), 200),
				who.c.expect(who.c.do(http.MethodPost, base+"/search", map[string]any{"snils": formatted(s)}), 200),
				who.c.expect(who.c.do(http.MethodGet, base+"?family_name=иванова&birth_date=1990-05-10", nil), 200),
				who.c.expect(who.c.do(http.MethodPost, base+"/search", map[string]any{"family_name": "ИВАНОВА", "first_name": "мария", "birth_date": "1990-05-10"}), 200),
			} {
				got := personsOf(t, r)
				if !slices.Equal(got, []string{who.want}) {
					t.Fatalf("region %s finds %v, want [%s]", who.region, got, who.want)
				}
			}
		}
		// Nobody found is an empty list; no criteria, or both kinds, are refused.
		for _, r := range []apptest.Response{
			c66.expect(c66.do(http.MethodGet, "/api/v1/tenants/66/persons?snils="+snilsOf(123456790), nil), 200),
			c66.expect(c66.do(http.MethodPost, "/api/v1/tenants/66/persons/search", map[string]any{"family_name": "Петрова", "birth_date": "1990-05-10"}), 200),
		} {
			if !strings.Contains(string(r.Body), `"items":[]`) {
				t.Fatalf("nobody found answers %s", r.Body)
			}
		}
		hasLocation(t, c66.expect(c66.do(http.MethodGet, "/api/v1/tenants/66/persons", nil), 422), "query.snils")
		hasLocation(t, c66.expect(c66.do(http.MethodPost, "/api/v1/tenants/66/persons/search", map[string]any{}), 422), "body.snils")
		hasLocation(t, c66.expect(c66.do(http.MethodGet, "/api/v1/tenants/66/persons?snils="+s+"&family_name=Иванова", nil), 422), "query.snils")
		hasLocation(t, c66.expect(c66.do(http.MethodGet, "/api/v1/tenants/66/persons?family_name=Иванова", nil), 422), "query.birth_date")

		// A service account's persons come from a connector.
		_, _, key := newServiceKey(t, root.p, "robot-registry", nil)
		r = apptest.Expect(t, root.p.Do(key, http.MethodPost, "/api/v1/tenants/66/persons", personBody(snilsOf(123456791), "Сидоров", "Иван", "1985-01-01", "male")), 201)
		if o := decode[personOut](t, r).Origin; o != "connector" {
			t.Fatalf("a service account's person has origin %q", o)
		}
	})
}

// Changes need the current ETag; the version replaced is kept.
func TestPersonUpdateAndHistory(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		root := newClient(t, d)
		c := root.as("specialist", "66")
		base := "/api/v1/tenants/66/persons/"
		id := newPerson(t, c, "66", personBody(snilsOf(200000001), "Смирнова", "Ольга", "1980-03-03", "female"))
		other := newPerson(t, c, "66", personBody(snilsOf(200000002), "Смирнов", "Олег", "1979-04-04", "male"))
		change := map[string]any{"first_name": "Анна", "address": map[string]any{"oktmo": "65701000", "text": "Екатеринбург"}}
		c.expect(c.do(http.MethodPatch, base+id, change), 428)
		c.expect(c.do(http.MethodPatch, base+id, change, "If-Match", `"7"`), 412)
		r := c.expect(c.do(http.MethodPatch, base+id, change, "If-Match", `"1"`), 200)
		p := decode[personOut](t, r)
		if r.Header.Get("ETag") != `"2"` || p.FirstName != "Анна" || p.FamilyName != "Смирнова" || p.Address == nil || p.Version != 2 {
			t.Fatalf("after the change: %v %s", r.Header, r.Body)
		}
		c.expect(c.do(http.MethodPatch, base+id, map[string]any{"first_name": "Вера"}, "If-Match", `"1"`), 412)
		// Another person's SNILS is a conflict naming it.
		r = c.expect(c.do(http.MethodPatch, base+id, map[string]any{"snils": snilsOf(200000002)}, "If-Match", `"2"`), 409)
		if !strings.Contains(string(r.Body), other) {
			t.Fatalf("the conflict does not name %s: %s", other, r.Body)
		}
		noSNILS(t, "the conflict", r.Body, snilsOf(200000002))
		hasLocation(t, c.expect(c.do(http.MethodPatch, base+id, map[string]any{"version": 9}, "If-Match", `"2"`), 422), "body.version")
		if g := c.expect(c.do(http.MethodGet, base+id, nil), 200); g.Header.Get("ETag") != `"2"` {
			t.Fatalf("refused changes changed the person: %v %s", g.Header, g.Body)
		}

		r = c.expect(c.do(http.MethodGet, base+id+"/history", nil), 200)
		var h struct {
			Items []struct {
				Version   int64     `json:"version"`
				ChangedAt time.Time `json:"changed_at"`
				ChangedBy string    `json:"changed_by"`
				Reason    string    `json:"reason"`
				Person    personOut `json:"person"`
			}
		}
		if err := json.Unmarshal(r.Body, &h); err != nil {
			t.Fatal(err)
		}
		if len(h.Items) != 1 {
			t.Fatalf("history %s", r.Body)
		}
		v := h.Items[0]
		if v.Version != 1 || v.Reason != "update" || v.Person.FirstName != "Ольга" || v.Person.Address != nil ||
			v.Person.SNILS != snilsOf(200000001) || v.ChangedBy != root.p.User("specialist", "66").String() || v.ChangedAt.IsZero() {
			t.Fatalf("the old version: %s", r.Body)
		}
	})
}

// Facts are recorded, corrected and retracted without losing what they
// said; a card puts them together as of a date.
func TestPersonFactsAndCard(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		c := newClient(t, d).as("specialist", "66")
		base := "/api/v1/tenants/66/persons/"
		mother := newPerson(t, c, "66", personBody(snilsOf(300000001), "Кузнецова", "Елена", "1990-05-10", "female"))
		child := newPerson(t, c, "66", personBody(snilsOf(300000002), "Кузнецов", "Миша", "2020-03-01", "male"))
		put := func(id, kind string, body map[string]any, status int, outcome string) factOut {
			t.Helper()
			f := decode[factOut](t, c.expect(c.do(http.MethodPost, base+id+"/"+kind, body), status))
			if f.Outcome != outcome || f.ID == "" || f.PersonID != id || f.Origin != "manual" {
				t.Fatalf("%s of %s: %+v, want outcome %s", kind, id, f, outcome)
			}
			return f
		}
		rel := map[string]any{"relative_id": child, "kind": "child", "valid_from": "2020-03-01"}
		r1 := put(mother, "relations", rel, 201, "added")
		if r2 := put(mother, "relations", rel, 200, "unchanged"); r2.ID != r1.ID {
			t.Fatalf("an unchanged fact got a new id: %s, was %s", r2.ID, r1.ID)
		}
		salary := map[string]any{"month": "2024-06", "kind": "salary", "amount_kopecks": 3_000_000}
		first := put(mother, "incomes", salary, 201, "added")
		put(mother, "incomes", salary, 200, "unchanged")
		salary["amount_kopecks"] = 3_600_000
		corrected := put(mother, "incomes", salary, 201, "corrected")
		if corrected.ID == first.ID || corrected.AmountKopecks != 3_600_000 {
			t.Fatalf("the correction %+v", corrected)
		}
		put(mother, "incomes", map[string]any{"month": "2023-12", "kind": "salary", "amount_kopecks": 1_000_000}, 201, "added")
		put(child, "incomes", map[string]any{"month": "2024-07", "kind": "benefit", "amount_kopecks": 600_000, "source": "sfr"}, 201, "added")
		put(child, "disabilities", map[string]any{"group": 4, "valid_from": "2021-01-01"}, 201, "added")
		cat := put(mother, "categories", map[string]any{"code": "large_family", "valid_from": "2024-01-01", "valid_to": "2026-12-31"}, 201, "added")
		if cat.ValidTo != "2026-12-31" {
			t.Fatalf("category %+v", cat)
		}
		// The registry's own checks, located in the body.
		hasLocation(t, c.expect(c.do(http.MethodPost, base+mother+"/incomes", map[string]any{"month": "2024-06", "kind": "lottery", "amount_kopecks": 1}), 422), "body.kind")
		hasLocation(t, c.expect(c.do(http.MethodPost, base+mother+"/incomes", map[string]any{"month": "2024-06", "kind": "salary", "amount_kopecks": -1}), 422), "body.amount_kopecks")
		hasLocation(t, c.expect(c.do(http.MethodPost, base+mother+"/disabilities", map[string]any{"group": 5, "valid_from": "2021-01-01"}), 422), "body.group")
		hasLocation(t, c.expect(c.do(http.MethodPost, base+mother+"/relations", map[string]any{"relative_id": mother, "kind": "child", "valid_from": "2020-01-01"}), 422), "body.relative_id")
		c.expect(c.do(http.MethodPost, base+mother+"/relations", map[string]any{"relative_id": uuid.NewString(), "kind": "child", "valid_from": "2020-01-01"}), 404)

		now := decode[factsOut](t, c.expect(c.do(http.MethodGet, base+mother+"/facts", nil), 200))
		if len(now.Incomes) != 2 || len(now.Relations) != 1 || len(now.Categories) != 1 {
			t.Fatalf("current facts %+v", now)
		}
		for _, in := range now.Incomes {
			if in.Month == "2024-06" && in.AmountKopecks != 3_600_000 {
				t.Fatalf("the current income of 2024-06 is %d", in.AmountKopecks)
			}
		}
		all := decode[factsOut](t, c.expect(c.do(http.MethodGet, base+mother+"/facts?history=true", nil), 200))
		var superseded *factOut
		for i, in := range all.Incomes {
			if in.ID == first.ID {
				superseded = &all.Incomes[i]
			}
		}
		if len(all.Incomes) != 3 || superseded == nil || superseded.SupersededAt == nil || superseded.AmountKopecks != 3_000_000 {
			t.Fatalf("the history of incomes %+v", all.Incomes)
		}

		var card struct {
			Person    personOut `json:"person"`
			AsOf      string    `json:"as_of"`
			Age       int       `json:"age"`
			Alive     bool      `json:"alive"`
			Relatives []struct {
				ID         string `json:"id"`
				Kind       string `json:"kind"`
				FirstName  string `json:"first_name"`
				BirthDate  string `json:"birth_date"`
				RelationID string `json:"relation_id"`
				ValidFrom  string `json:"valid_from"`
			} `json:"relatives"`
			Household    []string  `json:"household"`
			Incomes      []factOut `json:"incomes"`
			Disabilities []factOut `json:"disabilities"`
			Categories   []factOut `json:"categories"`
			PerCapita    struct {
				From           string `json:"from"`
				To             string `json:"to"`
				Members        int    `json:"members"`
				TotalKopecks   int64  `json:"total_kopecks"`
				MonthlyKopecks int64  `json:"monthly_kopecks"`
			} `json:"per_capita"`
		}
		r := c.expect(c.do(http.MethodGet, base+mother+"/card?as_of=2025-01-15", nil), 200)
		if err := json.Unmarshal(r.Body, &card); err != nil {
			t.Fatal(err)
		}
		if card.Person.ID != mother || card.AsOf != "2025-01-15" || card.Age != 34 || !card.Alive {
			t.Fatalf("card %s", r.Body)
		}
		if len(card.Relatives) != 1 || card.Relatives[0].ID != child || card.Relatives[0].Kind != "child" ||
			card.Relatives[0].RelationID != r1.ID || card.Relatives[0].FirstName != "Миша" || card.Relatives[0].ValidFrom != "2020-03-01" {
			t.Fatalf("relatives %s", r.Body)
		}
		if len(card.Household) != 2 || card.Household[0] != mother || card.Household[1] != child {
			t.Fatalf("household %v", card.Household)
		}
		// The window is 2024-01..2024-12: the mother's 2023-12 is outside it.
		if len(card.Incomes) != 1 || card.Incomes[0].ID != corrected.ID {
			t.Fatalf("incomes of the window %+v", card.Incomes)
		}
		pc := card.PerCapita
		if pc.From != "2024-01" || pc.To != "2024-12" || pc.Members != 2 || pc.TotalKopecks != 4_200_000 || pc.MonthlyKopecks != 175_000 {
			t.Fatalf("per capita %+v", pc)
		}
		if len(card.Categories) != 1 || card.Categories[0].Code != "large_family" || len(card.Disabilities) != 0 {
			t.Fatalf("categories %+v, disabilities %+v", card.Categories, card.Disabilities)
		}
		r = c.expect(c.do(http.MethodGet, base+child+"/card?as_of=2025-01-15", nil), 200)
		if err := json.Unmarshal(r.Body, &card); err != nil {
			t.Fatal(err)
		}
		if len(card.Relatives) != 1 || card.Relatives[0].ID != mother || card.Relatives[0].Kind != "parent" || len(card.Disabilities) != 1 || card.Age != 4 {
			t.Fatalf("the child's card %s", r.Body)
		}
		// Before the child was born there is no relation and no household.
		r = c.expect(c.do(http.MethodGet, base+mother+"/card?as_of=2019-06-01", nil), 200)
		if err := json.Unmarshal(r.Body, &card); err != nil {
			t.Fatal(err)
		}
		if len(card.Relatives) != 0 || len(card.Household) != 1 || len(card.Categories) != 0 || card.PerCapita.Members != 1 {
			t.Fatalf("the card of 2019 %s", r.Body)
		}
		hasLocation(t, c.expect(c.do(http.MethodGet, base+mother+"/card?as_of=15.01.2025", nil), 422), "query.as_of")
		c.expect(c.do(http.MethodGet, base+mother+"/card", nil), 200)

		// A retraction supersedes without a replacement.
		c.expect(c.do(http.MethodDelete, base+mother+"/categories/"+cat.ID, nil), 204)
		c.expect(c.do(http.MethodDelete, base+mother+"/categories/"+cat.ID, nil), 404)
		c.expect(c.do(http.MethodDelete, base+child+"/incomes/"+corrected.ID, nil), 404) // another person's
		c.expect(c.do(http.MethodDelete, base+mother+"/pets/"+cat.ID, nil), 422)
		now = decode[factsOut](t, c.expect(c.do(http.MethodGet, base+mother+"/facts", nil), 200))
		all = decode[factsOut](t, c.expect(c.do(http.MethodGet, base+mother+"/facts?history=true", nil), 200))
		if len(now.Categories) != 0 || len(all.Categories) != 1 || all.Categories[0].SupersededAt == nil {
			t.Fatalf("after the retraction: now %+v, history %+v", now.Categories, all.Categories)
		}
	})
}

// A merge moves the duplicate's facts to the person kept and leaves the
// duplicate pointing at it.
func TestPersonMerge(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		root := newClient(t, d)
		c := root.as("specialist", "66")
		base := "/api/v1/tenants/66/persons/"
		kept := newPerson(t, c, "66", personBody(snilsOf(400000001), "Орлова", "Нина", "1970-07-07", "female"))
		dup := newPerson(t, c, "66", personBody(snilsOf(400000002), "Орлова", "Нина", "1970-07-07", "female"))
		son := newPerson(t, c, "66", personBody(snilsOf(400000003), "Орлов", "Илья", "2000-01-01", "male"))
		post := func(id, kind string, body map[string]any) {
			t.Helper()
			c.expect(c.do(http.MethodPost, base+id+"/"+kind, body), 201)
		}
		post(kept, "incomes", map[string]any{"month": "2024-05", "kind": "pension", "amount_kopecks": 2_000_000})
		post(dup, "incomes", map[string]any{"month": "2024-05", "kind": "pension", "amount_kopecks": 1_999_999}) // kept's wins
		post(dup, "incomes", map[string]any{"month": "2024-04", "kind": "pension", "amount_kopecks": 2_000_000})
		post(dup, "categories", map[string]any{"code": "labour_veteran", "valid_from": "2015-01-01"})
		post(son, "relations", map[string]any{"relative_id": dup, "kind": "parent", "valid_from": "2000-01-01"})

		root.as("approver", "66").expect(root.as("approver", "66").do(http.MethodPost, base+dup+"/merge", map[string]any{"into": kept}), 403)
		hasLocation(t, c.expect(c.do(http.MethodPost, base+dup+"/merge", map[string]any{"into": dup}), 422), "body.into")
		r := c.expect(c.do(http.MethodPost, base+dup+"/merge", map[string]any{"into": kept}), 200)
		var m struct {
			MergeID    string    `json:"merge_id"`
			FactsMoved int64     `json:"facts_moved"`
			Into       personOut `json:"into"`
		}
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		if m.MergeID == "" || m.FactsMoved != 3 || m.Into.ID != kept || r.Header.Get("ETag") != `"1"` {
			t.Fatalf("merge %v %s", r.Header, r.Body)
		}

		g := c.expect(c.do(http.MethodGet, base+dup, nil), 200)
		if p := decode[personOut](t, g); p.MergedInto != kept || p.Version != 2 || g.Header.Get("ETag") != `"2"` {
			t.Fatalf("the duplicate after the merge: %v %s", g.Header, g.Body)
		}
		f := decode[factsOut](t, c.expect(c.do(http.MethodGet, base+kept+"/facts", nil), 200))
		amounts := map[string]int64{}
		for _, in := range f.Incomes {
			amounts[in.Month] = in.AmountKopecks
		}
		if len(f.Incomes) != 2 || amounts["2024-05"] != 2_000_000 || amounts["2024-04"] != 2_000_000 ||
			len(f.Categories) != 1 || f.Categories[0].Code != "labour_veteran" ||
			len(f.Relations) != 1 || f.Relations[0].PersonID != son || f.Relations[0].RelativeID != kept {
			t.Fatalf("the kept person's facts %+v", f)
		}
		f = decode[factsOut](t, c.expect(c.do(http.MethodGet, base+dup+"/facts", nil), 200))
		if len(f.Incomes)+len(f.Categories)+len(f.Relations)+len(f.Disabilities) != 0 {
			t.Fatalf("the duplicate still has current facts %+v", f)
		}
		f = decode[factsOut](t, c.expect(c.do(http.MethodGet, base+dup+"/facts?history=true", nil), 200))
		if len(f.Incomes) != 2 || f.Incomes[0].SupersededAt == nil {
			t.Fatalf("the duplicate's history %+v", f)
		}
		var h struct{ Items []struct{ Reason string } }
		if err := json.Unmarshal(c.expect(c.do(http.MethodGet, base+dup+"/history", nil), 200).Body, &h); err != nil || len(h.Items) != 1 || h.Items[0].Reason != "merged" {
			t.Fatalf("the duplicate's history %+v %v", h, err)
		}

		// The duplicate is done with.
		c.expect(c.do(http.MethodPost, base+dup+"/merge", map[string]any{"into": kept}), 409)
		c.expect(c.do(http.MethodPost, base+son+"/merge", map[string]any{"into": dup}), 409)
		c.expect(c.do(http.MethodPatch, base+dup, map[string]any{"first_name": "Н."}, "If-Match", `"2"`), 409)
		c.expect(c.do(http.MethodPost, base+dup+"/incomes", map[string]any{"month": "2024-06", "kind": "pension", "amount_kopecks": 1}), 409)
		// The region's administrator merges too.
		admin := root.as("tenant_admin", "66")
		admin.expect(admin.do(http.MethodPost, base+son+"/merge", map[string]any{"into": kept}), 200)
	})
}

// Reading the registry leaves records naming who, why and whom — never a
// SNILS.
func TestPersonAudit(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		root := newClient(t, d)
		c := root.as("specialist", "66")
		s, nobody := snilsOf(500000001), snilsOf(500000002)
		id := newPerson(t, c, "66", personBody(formatted(s), "Лебедева", "Ирина", "1975-09-09", "female"))
		why := []string{"X-Purpose", "заявление 7/2025, СНИЛС " + formatted(s)}
		c.expect(c.do(http.MethodGet, "/api/v1/tenants/66/persons/"+id, nil, why...), 200)
		c.expect(c.do(http.MethodGet, "/api/v1/tenants/66/persons/"+id+"/card?as_of=2025-01-01", nil, why...), 200)
		c.expect(c.do(http.MethodPost, "/api/v1/tenants/66/persons/search", map[string]any{"snils": s}, why...), 200)
		c.expect(c.do(http.MethodGet, "/api/v1/tenants/66/persons?snils="+nobody, nil, why...), 200)
		c.expect(c.do(http.MethodGet, "/api/v1/tenants/66/persons?family_name=Лебедева&birth_date=1975-09-09", nil, why...), 200)

		for _, role := range []string{"auditor", "tenant_admin"} {
			a := root.as(role, "66")
			r := a.expect(a.do(http.MethodGet, "/api/v1/tenants/66/audit?object_type=person&limit=1000", nil), 200)
			noSNILS(t, "the audit trail", r.Body, s, nobody)
			var page auditPage
			if err := json.Unmarshal(r.Body, &page); err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, it := range page.Items {
				if it.Action == "person.create" && it.ObjectID == id && it.ActorName == "specialist@66" {
					seen["create"]++
				}
				if it.Purpose != "заявление 7/2025, СНИЛС [masked]" {
					continue
				}
				switch {
				case it.Action == "person.read" && it.ObjectID == id:
					seen["read"]++
				case it.Action == "person.card" && it.ObjectID == id && it.Detail == "as_of=2025-01-01":
					seen["card"]++
				case it.Action == "person.search" && it.ObjectID == id && it.Detail == "by=snils results=1":
					seen["snils"]++
				case it.Action == "person.search" && it.ObjectID == "" && it.Detail == "by=snils results=0":
					seen["nobody"]++
				case it.Action == "person.search" && it.ObjectID == id && strings.HasPrefix(it.Detail, "by=name"):
					seen["name"]++
				}
			}
			for _, k := range []string{"create", "read", "card", "snils", "nobody", "name"} {
				if seen[k] != 1 {
					t.Errorf("as %s: %d records of %s, want 1 (all %v) in %s", role, seen[k], k, seen, r.Body)
				}
			}
		}
	})
}

// Who may do what with the registry (the golden table has every cell).
func TestPersonRoles(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		root := newClient(t, d)
		spec := root.as("specialist", "66")
		id := newPerson(t, spec, "66", personBody(snilsOf(600000001), "Новикова", "Дарья", "1995-02-02", "female"))
		base := "/api/v1/tenants/66/persons"
		create := personBody(snilsOf(600000002), "Новиков", "Денис", "1994-03-03", "male")
		for _, x := range []struct {
			role, method, path string
			body               any
			want               int
		}{
			{"approver", http.MethodPost, base, create, 403},
			{"approver", http.MethodGet, base + "/" + id, nil, 200},
			{"approver", http.MethodPost, base + "/" + id + "/incomes", map[string]any{"month": "2024-01", "kind": "salary", "amount_kopecks": 1}, 403},
			{"auditor", http.MethodGet, base + "/" + id, nil, 403},
			{"auditor", http.MethodPost, base + "/search", map[string]any{"snils": snilsOf(600000001)}, 403},
			{"auditor", http.MethodGet, base + "/" + id + "/card", nil, 403},
			{"tenant_admin", http.MethodPost, base, create, 403},
			{"tenant_admin", http.MethodGet, base + "/" + id + "/facts", nil, 200},
			{"treasurer", http.MethodGet, base + "/" + id, nil, 403},
			{"integration", http.MethodPost, base, create, 201},
		} {
			c := root.as(x.role, "66")
			if r := c.do(x.method, x.path, x.body); r.Status != x.want {
				t.Errorf("%s %s as %s: %d, want %d: %s", x.method, x.path, x.role, r.Status, x.want, r.Body)
			}
		}
		for _, role := range []string{"federal_admin", "federal_auditor"} {
			c := root.as(role, "federal")
			c.expect(c.do(http.MethodGet, base+"/"+id, nil), 403)
		}
	})
}

// The authorization table's requests for the registry's operations. Their
// objects are made through the service, so that they can be made in a
// suspended region too.
func init() {
	for id, b := range map[string]func(e *azEnv, tmpl, region string) azReq{
		"createPerson": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azFill(tmpl, region, ""), body: personBody(snilsOf(700000000+e.next()), "Азова", "Ада", "1980-01-01", "female")}
		},
		"findPersons": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azFill(tmpl, region, "") + "?family_name=Азова&birth_date=1980-01-01"}
		},
		"searchPersons": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azFill(tmpl, region, ""), body: map[string]any{"snils": snilsOf(799999999)}}
		},
		"getPerson":        azPersonPlain,
		"getPersonCard":    azPersonPlain,
		"getPersonHistory": azPersonPlain,
		"getPersonFacts":   azPersonPlain,
		"updatePerson": func(e *azEnv, tmpl, region string) azReq {
			id := azPerson(e, region, "subject")
			p, err := e.p.Persons.Get(azCtx(e, region), id)
			if err != nil {
				e.t.Fatal(err)
			}
			return azReq{path: azFill(tmpl, region, id.String()), body: map[string]any{"patronymic": fmt.Sprint("Аз", e.next())},
				headers: []string{"If-Match", fmt.Sprintf(`"%d"`, p.Version)}}
		},
		"recordRelation": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azFill(tmpl, region, azPerson(e, region, "subject").String()), body: map[string]any{
				"relative_id": azPerson(e, region, "relative").String(), "kind": "child", "valid_from": "2020-01-01"}}
		},
		"recordIncome": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azFill(tmpl, region, azPerson(e, region, "subject").String()),
				body: map[string]any{"month": "2025-01", "kind": "salary", "amount_kopecks": 100}}
		},
		"recordDisability": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azFill(tmpl, region, azPerson(e, region, "subject").String()),
				body: map[string]any{"group": 3, "valid_from": "2020-01-01"}}
		},
		"recordCategory": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azFill(tmpl, region, azPerson(e, region, "subject").String()),
				body: map[string]any{"code": "low_income", "valid_from": "2020-01-01"}}
		},
		"retractPersonFact": func(e *azEnv, tmpl, region string) azReq {
			id := azPerson(e, region, "subject")
			in, _, err := e.p.Persons.PutIncome(azCtx(e, region), registry.Income{PersonID: id, Month: "2025-02", Kind: "salary",
				AmountKopecks: 100, Source: fmt.Sprint("az-", e.next()), Origin: registry.Manual})
			if err != nil {
				e.t.Fatal(err)
			}
			return azReq{path: strings.NewReplacer("{tenant}", region, "{id}", id.String(), "{kind}", "incomes", "{fact_id}", in.ID.String()).Replace(tmpl)}
		},
		"mergePerson": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azFill(tmpl, region, azNewPerson(e, region).String()), body: map[string]any{"into": azNewPerson(e, region).String()}}
		},
	} {
		azBuilders[id] = b
	}
}

func azPersonPlain(e *azEnv, tmpl, region string) azReq {
	return azReq{path: azFill(tmpl, region, azPerson(e, region, "subject").String())}
}

func azCtx(e *azEnv, region string) context.Context {
	return tenancy.WithTenant(context.Background(), e.tenant[region])
}

func azNewPerson(e *azEnv, region string) uuid.UUID {
	e.t.Helper()
	f := registry.PersonFields{SNILS: ptrTo(snilsOf(700000000 + e.next())), FamilyName: ptrTo("Азов"), FirstName: ptrTo("Аким"),
		BirthDate: ptrTo(civil.MustParse("1980-01-01")), Sex: ptrTo("male")}
	p, err := e.p.Persons.Create(azCtx(e, region), f, registry.Manual)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.ID
}

type azPersonKey struct {
	e            *azEnv
	region, role string
}

var azPersons sync.Map // azPersonKey → uuid.UUID

// azPerson is a person of a region the table's requests share.
func azPerson(e *azEnv, region, role string) uuid.UUID {
	k := azPersonKey{e, region, role}
	if id, ok := azPersons.Load(k); ok {
		return id.(uuid.UUID)
	}
	id := azNewPerson(e, region)
	azPersons.Store(k, id)
	e.t.Cleanup(func() { azPersons.Delete(k) })
	return id
}

func ptrTo[T any](v T) *T { return &v }

// The mass-assignment cases of the registry's operations (see
// massassign_test.go).
func maPersonCases(t *testing.T, p *apptest.Platform) map[string]maCase {
	t.Helper()
	spec := p.Token("specialist", azOwn)
	base := "/api/v1/tenants/" + azOwn + "/persons"
	create := func(n int64, first string) string {
		return azID(t, apptest.Expect(t, p.Do(spec, http.MethodPost, base, personBody(snilsOf(n), "Масова", first, "1990-01-01", "female")), 201))
	}
	subject, relative, dup, into := create(900000001, "Ада"), create(900000002, "Ася"), create(900000003, "Аня"), create(900000004, "Аля")
	read := func(paths ...string) func() string {
		return func() string {
			var b strings.Builder
			for _, path := range paths {
				r := apptest.Expect(t, p.Do(spec, http.MethodGet, path, nil), 200)
				b.WriteString(r.Header.Get("ETag") + " " + string(r.Body) + "\n")
			}
			return b.String()
		}
	}
	fixed := func(m map[string]any) func() map[string]any {
		return func() map[string]any {
			out := make(map[string]any, len(m))
			for k, v := range m {
				out[k] = v
			}
			return out
		}
	}
	facts := read(base + "/" + subject + "/facts?history=true")
	return map[string]maCase{
		"createPerson": {
			token: spec, path: base, control: 201,
			body: fixed(personBody(snilsOf(900000005), "Масова", "Ива", "1990-01-01", "female")),
			state: func() string {
				return string(apptest.Expect(t, p.Do(spec, http.MethodPost, base+"/search", map[string]any{"snils": snilsOf(900000005)}), 200).Body)
			},
		},
		"updatePerson": {
			token: spec, path: base + "/" + subject, control: 200,
			headers: func() []string {
				return []string{"If-Match", apptest.Expect(t, p.Do(spec, http.MethodGet, base+"/"+subject, nil), 200).Header.Get("ETag")}
			},
			body:  fixed(map[string]any{"first_name": "Ида"}),
			state: read(base + "/" + subject),
		},
		"searchPersons": {
			token: spec, path: base + "/search", control: 200,
			body:  fixed(map[string]any{"snils": snilsOf(900000001)}),
			state: func() string { return "" },
		},
		"recordRelation": {
			token: spec, path: base + "/" + subject + "/relations", control: 201,
			body:  fixed(map[string]any{"relative_id": relative, "kind": "child", "valid_from": "2020-01-01"}),
			state: facts,
		},
		"recordIncome": {
			token: spec, path: base + "/" + subject + "/incomes", control: 201,
			body:  fixed(map[string]any{"month": "2025-01", "kind": "salary", "amount_kopecks": 100}),
			state: facts,
		},
		"recordDisability": {
			token: spec, path: base + "/" + subject + "/disabilities", control: 201,
			body:  fixed(map[string]any{"group": 2, "valid_from": "2020-01-01"}),
			state: facts,
		},
		"recordCategory": {
			token: spec, path: base + "/" + subject + "/categories", control: 201,
			body:  fixed(map[string]any{"code": "low_income", "valid_from": "2020-01-01"}),
			state: facts,
		},
		"mergePerson": {
			token: spec, path: base + "/" + dup + "/merge", control: 200,
			body:  fixed(map[string]any{"into": into}),
			state: read(base+"/"+dup, base+"/"+into, base+"/"+dup+"/facts?history=true"),
		},
	}
}

// Region 16's persons and facts for the cross-region storm (see
// crosstenant_test.go): their names and SNILS must not show in any answer
// to region 66, and they must stay exactly as they are.
func xtPersonVictims(v *xtVictim) {
	v.t.Helper()
	spec := v.p.Token("specialist", azOther)
	base := "/api/v1/tenants/" + azOther + "/persons/"
	for i := range int64(3) {
		s, name := snilsOf(810000000+i), fmt.Sprintf("xt16-Фамилия-%d", i)
		r := apptest.Expect(v.t, v.p.Do(spec, http.MethodPost, base, personBody(s, name, "Имя", "1980-01-01", "female")), 201)
		id := azID(v.t, r)
		v.ids["person"] = append(v.ids["person"], id)
		v.all = append(v.all, id)
		v.etags[id] = r.Header.Get("ETag")
		v.secret = append(v.secret, name, s[:9])
		r = apptest.Expect(v.t, v.p.Do(spec, http.MethodPost, base+id+"/incomes",
			map[string]any{"month": "2024-01", "kind": "salary", "amount_kopecks": 4242_00 + i}), 201)
		fact := azID(v.t, r)
		v.ids["income"] = append(v.ids["income"], fact)
		v.all = append(v.all, fact)
		if i > 0 {
			apptest.Expect(v.t, v.p.Do(spec, http.MethodPost, base+id+"/relations",
				map[string]any{"relative_id": v.ids["person"][0], "kind": "parent", "valid_from": "2000-01-01"}), 201)
		}
	}
	v.secret = append(v.secret, "424200", "424201", "424202")
}

// xtPersonRequest fills in the body (and the fact) of a registry request
// carrying region 16's ids.
func xtPersonRequest(v *xtVictim, rng *rand.Rand, op xtOp, id, tag string, r *xtRequest) {
	other := func() string {
		for _, p := range v.ids["person"] {
			if p != id {
				return p
			}
		}
		return uuid.NewString()
	}
	switch op.id {
	case "updatePerson":
		r.body, r.headers = map[string]any{"family_name": "Захват", "snils": snilsOf(811111111)}, []string{"If-Match", tag}
	case "recordRelation":
		r.body = map[string]any{"relative_id": other(), "kind": "child", "valid_from": "2020-01-01"}
	case "recordIncome":
		r.body = map[string]any{"month": "2024-01", "kind": "salary", "amount_kopecks": 1}
	case "recordDisability":
		r.body = map[string]any{"group": 1, "valid_from": "2020-01-01"}
	case "recordCategory":
		r.body = map[string]any{"code": "low_income", "valid_from": "2020-01-01"}
	case "mergePerson":
		r.body = map[string]any{"into": other()}
	case "retractPersonFact":
		facts := v.ids["income"]
		r.path = strings.NewReplacer("{kind}", "incomes", "{fact_id}", facts[rng.IntN(len(facts))]).Replace(r.path)
	}
}

// xtPersonSnapshot reads region 16's persons and their facts, history
// included.
func xtPersonSnapshot(v *xtVictim, out map[string]string) {
	v.t.Helper()
	base := "/api/v1/tenants/" + azOther + "/persons/"
	for _, id := range v.ids["person"] {
		for _, path := range []string{base + id, base + id + "/facts?history=true", base + id + "/history"} {
			r := apptest.Expect(v.t, v.p.Do(v.admin, http.MethodGet, path, nil), 200)
			out[path] = r.Header.Get("ETag") + " " + string(r.Body)
		}
	}
}
