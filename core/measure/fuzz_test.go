package measure

import (
	"os"
	"testing"
)

// Any file is parsed or refused, never a panic.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"../../tenants/66-sverdlovsk/measures/low_income_child.json", "../../tenants/16-tatarstan/measures/utility_subsidy.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"code":"x","versions":[{"number":1,"conditions":[{"name":"a","expr":"person.age >"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err == nil && m == nil {
			t.Fatal("no measure and no error")
		}
	})
}
