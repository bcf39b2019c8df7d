package synth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"github.com/socialtreasury/treasury/core/civil"
)

func TestDeterministicAndExact(t *testing.T) {
	o := Options{Seed: 66, Persons: 2000, RegionOKTMO: "65000000", Today: civil.MustParse("2026-12-01"), FirstSNILS: 200_000_000}
	var a, b bytes.Buffer
	sa, err := Write(&a, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(&b, o); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two writes with the same options differ")
	}
	if sa.Persons != o.Persons || sa.Relations == 0 || sa.Incomes == 0 || sa.Categories == 0 {
		t.Fatalf("%+v", sa)
	}
	kinds := map[string]int{}
	sc := bufio.NewScanner(&a)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		kinds[l["type"].(string)]++
	}
	if kinds["person"] != o.Persons || kinds["relation"] != sa.Relations || kinds["income"] != sa.Incomes {
		t.Fatalf("lines by type %v, stats %+v", kinds, sa)
	}
}
