package measure

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/checker"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"

	"github.com/socialtreasury/treasury/core/fault"
)

// CostLimit bounds a rule's estimated cost (CEL cost units) for a case
// within the schema's sizes: a rule that could cost more is refused when
// saved.
const CostLimit = 10_000

// MaxStringSize bounds a case's strings (codes, OKTMO, an application's
// values and keys) for the cost estimate; Evaluate refuses a case with a
// longer one.
const MaxStringSize = 256

// Size bounds of the case's lists and maps: the cost estimate assumes them
// and Evaluate refuses a case beyond them.
const (
	maxMembers     = 20
	maxAssignments = 100
	maxCategories  = 50
	maxFields      = 100
)

var sizeHints = map[string]uint64{
	"household.members":            maxMembers,
	"assignments":                  maxAssignments,
	"person.categories":            maxCategories,
	"household.members.categories": maxCategories,
	"application":                  maxFields,
}

// env is the CEL environment of the case schema, built once.
var env = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(ext.ParseStructTags(true), reflect.TypeFor[Case](), reflect.TypeFor[Subject](), reflect.TypeFor[Member](),
			reflect.TypeFor[Household](), reflect.TypeFor[Minimums](), reflect.TypeFor[Assignment]()),
		cel.Variable("date", cel.TimestampType),
		cel.Variable("person", cel.ObjectType("measure.Subject")),
		cel.Variable("household", cel.ObjectType("measure.Household")),
		cel.Variable("minimum", cel.ObjectType("measure.Minimums")),
		cel.Variable("assignments", cel.ListType(cel.ObjectType("measure.Assignment"))),
		cel.Variable("application", cel.MapType(cel.StringType, cel.StringType)),
		ext.Strings(),
		cel.Function("rub", cel.Overload("rub_int", []*cel.Type{cel.IntType}, cel.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { return types.String(Rubles(int64(v.(types.Int)))) }))),
		cel.Function("add_months", cel.Overload("add_months_timestamp_int", []*cel.Type{cel.TimestampType, cel.IntType}, cel.TimestampType,
			cel.BinaryBinding(addMonths))),
		cel.Function("add_years", cel.Overload("add_years_timestamp_int", []*cel.Type{cel.TimestampType, cel.IntType}, cel.TimestampType,
			cel.BinaryBinding(func(t, n ref.Val) ref.Val { return addMonths(t, n.(types.Int)*12) }))),
		cel.Function("day", cel.Overload("day_string", []*cel.Type{cel.StringType}, cel.TimestampType,
			cel.UnaryBinding(parseDay))),
	)
})

// expr is one compiled expression.
type expr struct {
	src  string
	prog cel.Program
}

// template is a reason: literal text and expressions, alternating.
type template struct {
	parts []string // literal text; parts[i] comes before exprs[i]
	exprs []expr
}

// Program is a version's compiled rules.
type Program struct {
	version    *Version
	conditions []compiledCondition
	amount     expr
	start, end expr
}

type compiledCondition struct {
	cond       expr
	reasonRU   template
	reasonEN   template
	name       string
	title      Text
	reasonText Text
}

// Compile checks a version's rules and compiles them: every error — an
// unknown field, a wrong type, a condition that is not a bool, a cost
// above CostLimit — names the field, the position in the expression, and
// the expression.
func Compile(v *Version) (*Program, error) {
	inv := &fault.Invalid{}
	if v.Plugin != nil {
		return nil, fmt.Errorf("measure version %d is decided by plug-in %s, not by rules", v.Number, v.Plugin.Name)
	}
	p := compile(v, inv, "")
	if err := inv.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

func compile(v *Version, inv *fault.Invalid, prefix string) *Program {
	if v.Plugin != nil {
		return nil // a plug-in decides: nothing to compile
	}
	e, err := env()
	if err != nil {
		inv.Add(prefix, "the rules environment: "+err.Error(), "")
		return nil
	}
	p := &Program{version: v}
	for i, c := range v.Conditions {
		f := fmt.Sprintf("%sconditions[%d].", prefix, i)
		cc := compiledCondition{name: c.Name, title: c.Title, reasonText: c.Reason}
		cc.cond = compileExpr(e, inv, f+"expr", c.Expr, cel.BoolType)
		cc.reasonRU = compileTemplate(e, inv, f+"reason.ru", c.Reason.RU)
		cc.reasonEN = compileTemplate(e, inv, f+"reason.en", c.Reason.EN)
		p.conditions = append(p.conditions, cc)
	}
	p.amount = compileExpr(e, inv, prefix+"amount", v.Amount, cel.IntType)
	p.start = compileExpr(e, inv, prefix+"period.start", v.Period.Start, cel.TimestampType)
	if v.Period.End != "" {
		p.end = compileExpr(e, inv, prefix+"period.end", v.Period.End, cel.TimestampType)
	}
	return p
}

func compileExpr(e *cel.Env, inv *fault.Invalid, field, src string, want *cel.Type) expr {
	if strings.TrimSpace(src) == "" {
		if !inv.Has(field) {
			inv.Add(field, "is required", "")
		}
		return expr{}
	}
	ast, iss := e.Compile(src)
	if iss.Err() != nil {
		for _, d := range iss.Errors() {
			loc := d.Location
			inv.Add(field, fmt.Sprintf("%d:%d: %s", loc.Line(), loc.Column()+1, d.Message), src)
		}
		return expr{}
	}
	if want != nil && !ast.OutputType().IsExactType(want) {
		inv.Add(field, fmt.Sprintf("1:1: is of type %s, must be %s", ast.OutputType(), want), src)
		return expr{}
	}
	cost, err := e.EstimateCost(ast, estimator{})
	if err != nil {
		inv.Add(field, "cost: "+err.Error(), src)
		return expr{}
	}
	if cost.Max > CostLimit {
		inv.Add(field, fmt.Sprintf("1:1: may cost up to %d, above the limit of %d", cost.Max, CostLimit), src)
		return expr{}
	}
	// No run-time cost tracking (a third of an evaluation's time): the
	// estimate above is a bound for every case within sizeHints and
	// MaxStringSize, and Evaluate refuses cases beyond them.
	prog, err := e.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		inv.Add(field, err.Error(), src)
		return expr{}
	}
	return expr{src: src, prog: prog}
}

// compileTemplate compiles the {expressions} of a reason; "{{" and "}}"
// are literal braces.
func compileTemplate(e *cel.Env, inv *fault.Invalid, field, src string) template {
	var t template
	var lit strings.Builder
	for i := 0; i < len(src); i++ {
		switch {
		case strings.HasPrefix(src[i:], "{{"), strings.HasPrefix(src[i:], "}}"):
			lit.WriteByte(src[i])
			i++
		case src[i] == '{':
			j := strings.IndexByte(src[i:], '}')
			if j < 0 {
				inv.Add(field, fmt.Sprintf("1:%d: an unclosed {", i+1), src)
				return template{}
			}
			t.parts = append(t.parts, lit.String())
			lit.Reset()
			x := compileExpr(e, inv, field, src[i+1:i+j], nil)
			t.exprs = append(t.exprs, x)
			i += j
		case src[i] == '}':
			inv.Add(field, fmt.Sprintf("1:%d: a } without its {", i+1), src)
			return template{}
		default:
			lit.WriteByte(src[i])
		}
	}
	t.parts = append(t.parts, lit.String())
	return t
}

// estimator gives the cost estimate the sizes of the case's lists.
type estimator struct{}

func (estimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	if h, ok := sizeHints[strings.Join(n.Path(), ".")]; ok {
		return &checker.SizeEstimate{Min: 0, Max: h}
	}
	if n.Type() != nil && n.Type().IsExactType(cel.StringType) {
		return &checker.SizeEstimate{Min: 0, Max: MaxStringSize}
	}
	return nil
}

func (estimator) EstimateCallCost(function, overloadID string, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	return nil
}
