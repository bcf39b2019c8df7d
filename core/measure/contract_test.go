package measure_test

import (
	"testing"

	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/measure/measuretest"
)

// The CEL evaluator keeps the batch contract; the plug-in adapter runs the
// same suite.
func TestCELKeepsTheContract(t *testing.T) {
	v := measuretest.Spec()
	p, err := measure.Compile(&v)
	if err != nil {
		t.Fatal(err)
	}
	measuretest.Contract(t, p)
}

// The contract can fail: an evaluator of other logic breaks it.
func TestContractNoticesOtherLogic(t *testing.T) {
	v := measuretest.Spec()
	v.Conditions[1].Expr = "person.age > 18"
	p, err := measure.Compile(&v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Evaluate(t.Context(), measuretest.Cases(500))
	if err != nil {
		t.Fatal(err)
	}
	differ := 0
	for i, o := range out {
		if o.Eligible != measuretest.Expected(measuretest.Cases(500)[i]).Eligible {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("the cases do not tell age >= 18 from age > 18")
	}
}
