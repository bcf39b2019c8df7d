package measure

import (
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/rules.md")

// docs/rules.md is RulesDoc: written from the schema's types.
func TestRulesDoc(t *testing.T) {
	const path = "../../docs/rules.md"
	want := RulesDoc()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s differs from the case schema: go test ./core/measure -run TestRulesDoc -update", path)
	}
}
