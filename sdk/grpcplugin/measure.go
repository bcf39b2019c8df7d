package grpcplugin

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// MeasurePlugin is the go-plugin type of a measure: Impl is set on the
// plug-in's side; the host's client is a *MeasureClient.
type MeasurePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl measure.Measure
}

func (p *MeasurePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterMeasureServer(s, &measureServer{impl: p.Impl})
	return nil
}

func (p *MeasurePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &MeasureClient{c: pluginv1.NewMeasureClient(c)}, nil
}

// MeasureClient calls a measure plug-in. It implements measure.Measure and
// measure.ApplicationValidator (sdk.ErrUnsupported when the plug-in does
// not validate).
type MeasureClient struct {
	c pluginv1.MeasureClient
}

func (m *MeasureClient) Describe(ctx context.Context) (measure.Description, error) {
	r, err := m.c.Describe(outgoing(ctx), &pluginv1.DescribeRequest{})
	if err != nil {
		return measure.Description{}, fromStatus(err)
	}
	d := measure.Description{Code: r.GetCode(), Name: textFrom(r.GetName()), Needs: r.GetNeeds()}
	for _, c := range r.GetConditions() {
		d.Conditions = append(d.Conditions, measure.ConditionInfo{Name: c.GetName(), Title: textFrom(c.GetTitle())})
	}
	if d.Code == "" {
		return d, badAnswer("Describe gave no code")
	}
	return d, nil
}

// Evaluate sends the batch in one call. The answer must have one outcome a
// case with the case's id, in order: anything else is the plug-in's
// error, never outcomes put on the wrong persons.
func (m *MeasureClient) Evaluate(ctx context.Context, cases []measure.Case) ([]measure.Outcome, error) {
	req := &pluginv1.EvaluateRequest{Cases: make([]*pluginv1.Case, len(cases))}
	for i := range cases {
		req.Cases[i] = caseTo(&cases[i])
	}
	r, err := m.c.Evaluate(outgoing(ctx), req)
	if err != nil {
		return nil, fromStatus(err)
	}
	if len(r.GetOutcomes()) != len(cases) {
		return nil, badAnswer("%d outcomes for %d cases", len(r.GetOutcomes()), len(cases))
	}
	out := make([]measure.Outcome, len(cases))
	for i, o := range r.GetOutcomes() {
		if o.GetCaseId() != cases[i].ID {
			return nil, badAnswer("outcome %d is of case %q, not %q", i, o.GetCaseId(), cases[i].ID)
		}
		if out[i], err = outcomeFrom(o); err != nil {
			return nil, badAnswer("outcome of case %q: %v", cases[i].ID, err)
		}
	}
	return out, nil
}

func (m *MeasureClient) ValidateApplication(ctx context.Context, application map[string]string) ([]measure.FieldProblem, error) {
	r, err := m.c.ValidateApplication(outgoing(ctx), &pluginv1.ValidateApplicationRequest{Application: application})
	if err != nil {
		return nil, fromStatus(err)
	}
	var out []measure.FieldProblem
	for _, p := range r.GetProblems() {
		out = append(out, measure.FieldProblem{Field: p.GetField(), Message: textFrom(p.GetMessage())})
	}
	return out, nil
}

type measureServer struct {
	pluginv1.UnimplementedMeasureServer
	impl measure.Measure
}

func (s *measureServer) Describe(ctx context.Context, _ *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	d, err := s.impl.Describe(incoming(ctx))
	if err != nil {
		return nil, toStatus(err)
	}
	r := &pluginv1.DescribeResponse{Code: d.Code, Name: textTo(d.Name), Needs: d.Needs}
	for _, c := range d.Conditions {
		r.Conditions = append(r.Conditions, &pluginv1.ConditionInfo{Name: c.Name, Title: textTo(c.Title)})
	}
	return r, nil
}

func (s *measureServer) Evaluate(ctx context.Context, req *pluginv1.EvaluateRequest) (*pluginv1.EvaluateResponse, error) {
	cases := make([]measure.Case, len(req.GetCases()))
	for i, c := range req.GetCases() {
		cases[i] = caseFrom(c)
	}
	out, err := s.impl.Evaluate(incoming(ctx), cases)
	if err != nil {
		return nil, toStatus(err)
	}
	r := &pluginv1.EvaluateResponse{Outcomes: make([]*pluginv1.Outcome, len(out))}
	for i := range out {
		r.Outcomes[i] = outcomeTo(&out[i])
	}
	return r, nil
}

func (s *measureServer) ValidateApplication(ctx context.Context, req *pluginv1.ValidateApplicationRequest) (*pluginv1.ValidateApplicationResponse, error) {
	v, ok := s.impl.(measure.ApplicationValidator)
	if !ok {
		return s.UnimplementedMeasureServer.ValidateApplication(ctx, req)
	}
	ps, err := v.ValidateApplication(incoming(ctx), req.GetApplication())
	if err != nil {
		return nil, toStatus(err)
	}
	r := &pluginv1.ValidateApplicationResponse{}
	for _, p := range ps {
		r.Problems = append(r.Problems, &pluginv1.FieldProblem{Field: p.Field, Message: textTo(p.Message)})
	}
	return r, nil
}

var _ measure.ApplicationValidator = (*MeasureClient)(nil)

func textTo(t measure.Text) *pluginv1.Text { return &pluginv1.Text{Ru: t.RU, En: t.EN} }
func textFrom(t *pluginv1.Text) measure.Text {
	return measure.Text{RU: t.GetRu(), EN: t.GetEn()}
}

// dateTo is a calendar date on the wire; the zero time is no date.
func dateTo(t time.Time) *pluginv1.Date {
	if t.IsZero() {
		return nil
	}
	y, m, d := t.Date()
	return &pluginv1.Date{Year: int32(y), Month: int32(m), Day: int32(d)}
}

func dateFrom(d *pluginv1.Date) time.Time {
	if d == nil {
		return time.Time{}
	}
	return time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, time.UTC)
}

func caseTo(c *measure.Case) *pluginv1.Case {
	p := &c.Person
	pc := &pluginv1.Case{
		Id: c.ID, Date: dateTo(c.Date),
		Person: &pluginv1.Subject{Age: p.Age, AgeMonths: p.AgeMonths, Sex: p.Sex, BirthDate: dateTo(p.BirthDate), Alive: p.Alive,
			Resident: p.Resident, Oktmo: p.OKTMO, Categories: p.Categories, DisabilityGroup: p.DisabilityGroup,
			IncomeKopecks: p.IncomeKopecks, Working: p.Working},
		Household: &pluginv1.Household{Size: c.Household.Size, PerCapitaIncome: c.Household.PerCapitaKopecks,
			PerCapitaIncome_3M: c.Household.PerCapita3Kopecks, Members: make([]*pluginv1.Member, len(c.Household.Members))},
		Minimum: &pluginv1.Minimums{PerCapita: c.Minimum.PerCapita, WorkingAge: c.Minimum.WorkingAge,
			Pensioners: c.Minimum.Pensioners, Children: c.Minimum.Children},
		Application: c.Application,
	}
	for i, m := range c.Household.Members {
		pc.Household.Members[i] = &pluginv1.Member{Relation: m.Relation, Age: m.Age, AgeMonths: m.AgeMonths, Sex: m.Sex,
			BirthDate: dateTo(m.BirthDate), Categories: m.Categories, DisabilityGroup: m.DisabilityGroup}
	}
	for _, a := range c.Assignments {
		pc.Assignments = append(pc.Assignments, &pluginv1.Assignment{Measure: a.Measure, Status: a.Status, Amount: a.AmountKopecks})
	}
	return pc
}

func caseFrom(pc *pluginv1.Case) measure.Case {
	p := pc.GetPerson()
	h := pc.GetHousehold()
	mn := pc.GetMinimum()
	c := measure.Case{
		ID: pc.GetId(), Date: dateFrom(pc.GetDate()),
		Person: measure.Subject{Age: p.GetAge(), AgeMonths: p.GetAgeMonths(), Sex: p.GetSex(), BirthDate: dateFrom(p.GetBirthDate()),
			Alive: p.GetAlive(), Resident: p.GetResident(), OKTMO: p.GetOktmo(), Categories: p.GetCategories(),
			DisabilityGroup: p.GetDisabilityGroup(), IncomeKopecks: p.GetIncomeKopecks(), Working: p.GetWorking()},
		Household: measure.Household{Size: h.GetSize(), PerCapitaKopecks: h.GetPerCapitaIncome(), PerCapita3Kopecks: h.GetPerCapitaIncome_3M()},
		Minimum: measure.Minimums{PerCapita: mn.GetPerCapita(), WorkingAge: mn.GetWorkingAge(), Pensioners: mn.GetPensioners(),
			Children: mn.GetChildren()},
		Application: pc.GetApplication(),
	}
	if ms := h.GetMembers(); len(ms) > 0 {
		c.Household.Members = make([]measure.Member, len(ms))
		for i, m := range ms {
			c.Household.Members[i] = measure.Member{Relation: m.GetRelation(), Age: m.GetAge(), AgeMonths: m.GetAgeMonths(), Sex: m.GetSex(),
				BirthDate: dateFrom(m.GetBirthDate()), Categories: m.GetCategories(), DisabilityGroup: m.GetDisabilityGroup()}
		}
	}
	for _, a := range pc.GetAssignments() {
		c.Assignments = append(c.Assignments, measure.Assignment{Measure: a.GetMeasure(), Status: a.GetStatus(), AmountKopecks: a.GetAmount()})
	}
	return c
}

func outcomeTo(o *measure.Outcome) *pluginv1.Outcome {
	po := &pluginv1.Outcome{CaseId: o.CaseID, Eligible: o.Eligible, AmountKopecks: o.AmountKopecks, Start: dateTo(o.Start),
		End: dateTo(o.End), Error: o.Error, Conditions: make([]*pluginv1.ConditionResult, len(o.Conditions))}
	for i, c := range o.Conditions {
		po.Conditions[i] = &pluginv1.ConditionResult{Name: c.Name, Held: c.Held, Explanation: textTo(c.Explanation)}
	}
	return po
}

// outcomeFrom reads an outcome, refusing what no measure can mean: a
// negative amount, a date that is not in the calendar, a period ending
// before it starts.
func outcomeFrom(po *pluginv1.Outcome) (measure.Outcome, error) {
	o := measure.Outcome{CaseID: po.GetCaseId(), Eligible: po.GetEligible(), AmountKopecks: po.GetAmountKopecks(),
		Start: dateFrom(po.GetStart()), End: dateFrom(po.GetEnd()), Error: po.GetError()}
	switch {
	case o.AmountKopecks < 0:
		return o, fmt.Errorf("amount %d kopecks", o.AmountKopecks)
	case !validDate(po.GetStart()) || !validDate(po.GetEnd()):
		return o, fmt.Errorf("period %v..%v is not of calendar dates", po.GetStart(), po.GetEnd())
	case !o.End.IsZero() && o.End.Before(o.Start):
		return o, fmt.Errorf("period ends %s before it starts %s", o.End.Format(time.DateOnly), o.Start.Format(time.DateOnly))
	}
	if cs := po.GetConditions(); len(cs) > 0 {
		o.Conditions = make([]measure.ConditionResult, len(cs))
		for i, c := range cs {
			o.Conditions[i] = measure.ConditionResult{Name: c.GetName(), Held: c.GetHeld(), Explanation: textFrom(c.GetExplanation())}
		}
	}
	return o, nil
}

// validDate: no date, or one the calendar has (time.Date would quietly
// turn February 30 into March 2).
func validDate(d *pluginv1.Date) bool {
	if d == nil {
		return true
	}
	t := dateFrom(d)
	return d.GetYear() >= 1 && d.GetYear() <= 9999 && t.Year() == int(d.GetYear()) && int(t.Month()) == int(d.GetMonth()) && t.Day() == int(d.GetDay())
}
