package grpcplugin

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// sameAsProtobuf fails unless the request written by hand for the cases
// is the one proto.Marshal writes.
func sameAsProtobuf(t testing.TB, cs []measure.Case) {
	t.Helper()
	c := casesInto(new(pluginv1.Cases), cs, everyColumn)
	want, err := proto.Marshal(&pluginv1.EvaluateRequest{Cases: c})
	if err != nil {
		t.Fatal(err)
	}
	got := appendCasesField([]byte("before"), c)
	if !bytes.HasPrefix(got, []byte("before")) {
		t.Fatal("what the buffer held is gone")
	}
	if got = got[len("before"):]; !bytes.Equal(got, want) {
		at := 0
		for at < min(len(got), len(want)) && got[at] == want[at] {
			at++
		}
		t.Fatalf("%d bytes, protobuf's %d; they differ from byte %d", len(got), len(want), at)
	}
}

// The columns marshalled by hand are the bytes protobuf writes: a
// plug-in reads them as it read protobuf's.
func TestCasesMarshalledAsProtobufDoes(t *testing.T) {
	negative := benchCases(3)
	negative[0].Person.Age, negative[1].Household.PerCapitaKopecks, negative[2].Assignments = -1, -5, []measure.Assignment{{AmountKopecks: -7}}
	negative[2].Household.Members[0].Age = -3
	// Columns whose lengths take one byte, three and four.
	long := benchCases(2)
	long[0].ID, long[1].Person.OKTMO = strings.Repeat("я", 20_000), strings.Repeat("x", 3<<20)
	for range 5000 { // a packed column past 16 KiB
		long[0].Household.Members = append(long[0].Household.Members, measure.Member{BirthDate: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)})
	}
	for name, cs := range map[string][]measure.Case{
		"none": nil, "one": benchCases(1), "bench": benchCases(1000), "mixed": mixedCases(), "negative": negative, "long": long,
		"empty values": {{}, {ID: "x"}, {Household: measure.Household{Members: []measure.Member{{}}}}},
	} {
		t.Run(name, func(t *testing.T) { sameAsProtobuf(t, cs) })
	}
}

// FuzzCasesMarshalled holds cases made of the input to protobuf's bytes.
func FuzzCasesMarshalled(f *testing.F) {
	f.Add("019a-1", int64(30), "female", "low_income", uint8(3), int64(-1), "active", int32(20260615))
	f.Add("", int64(0), "", "", uint8(0), int64(0), "", int32(0))
	f.Add("x", int64(-9e18), "м", "a,b,c", uint8(9), int64(9e18), "", int32(99999999))
	f.Fuzz(func(t *testing.T, id string, number int64, text, categories string, members uint8, amount int64, status string, date int32) {
		d, err := fromYMD(date)
		if err != nil {
			d = time.Time{}
		}
		var cats []string
		if categories != "" {
			cats = strings.Split(categories, ",")
		}
		c := measure.Case{ID: id, Date: d, Person: measure.Subject{Age: number, Sex: text, Categories: cats, BirthDate: d, IncomeKopecks: amount},
			Household: measure.Household{Size: int64(members), PerCapitaKopecks: number}, Minimum: measure.Minimums{Children: amount}}
		for j := range int(members % 8) {
			c.Household.Members = append(c.Household.Members, measure.Member{Relation: text, Age: number + int64(j), Categories: cats, BirthDate: d})
		}
		if status != "" {
			c.Assignments = []measure.Assignment{{Measure: text, Status: status, AmountKopecks: amount}}
			c.Application = map[string]string{status: text}
		}
		sameAsProtobuf(t, []measure.Case{c, {ID: fmt.Sprint(number)}, c})
	})
}

// BenchmarkCasesMarshalled is a 1,000-case request marshalled by hand and
// by protobuf, as the codec does (its size first).
func BenchmarkCasesMarshalled(b *testing.B) {
	c := casesInto(new(pluginv1.Cases), benchCases(1000), everyColumn)
	var buf []byte
	b.Run("by hand", func(b *testing.B) {
		for b.Loop() {
			buf = appendCasesField(buf[:0], c)
		}
	})
	b.Run("protobuf", func(b *testing.B) {
		req := &pluginv1.EvaluateRequest{Cases: c}
		for b.Loop() {
			buf = slices.Grow(buf[:0], proto.Size(req)) // the codec's buffers are pooled
			buf, _ = proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(buf, req)
		}
	})
}

// readAsProtobuf fails unless the hand reader reads the request as
// protobuf does, or declines it: the same cases (or the same refusal),
// the same explain and deadline. It returns whether the hand reader read
// it.
func readAsProtobuf(t testing.TB, r *casesReader, b []byte) bool {
	t.Helper()
	c, h, ok := r.request(b)
	if !ok {
		return false
	}
	var req pluginv1.EvaluateRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatalf("the hand reader read a request protobuf refuses: %v", err)
	}
	if h.explain != req.GetExplain() || h.deadlineUnixMicros != req.GetDeadlineUnixMicros() || h.byPosition != req.GetOutcomesByPosition() ||
		!slices.Equal(h.leftOut, req.GetLeftOut()) {
		t.Fatalf("read %+v, protobuf's explain %t deadline %d by position %t left out %v", h, req.GetExplain(), req.GetDeadlineUnixMicros(),
			req.GetOutcomesByPosition(), req.GetLeftOut())
	}
	leftOut, _ := columnsOf(h.leftOut)
	got, gotErr := new(caseArrays).read(c, leftOut)
	want, wantErr := new(caseArrays).read(req.GetCases(), leftOut)
	if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
		t.Fatalf("read (%v):\n%+v\nprotobuf's (%v):\n%+v", gotErr, got, wantErr, want)
	}
	return true
}

// The host's requests are read by hand, batch after batch on the same
// columns, as protobuf reads them; forms the hand reader does not know
// are left to protobuf.
func TestRequestsReadAsProtobufDoes(t *testing.T) {
	r := newCasesReader()
	some, _ := columnsRead([]string{"date", "person.categories", "household.members.age", "application"})
	sent := everyColumn
	request := func(cs []measure.Case, explain bool, deadline int64) []byte {
		req := new(casesRequest).set(cs, explain, deadline, sent)
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i, b := range [][]byte{
		request(benchCases(1000), true, 1_700_000_000_000_000), request(mixedCases(), false, 0), request(nil, true, 5),
		request(benchCases(2), false, -1), {}, func() []byte { sent = some; return request(mixedCases(), true, 9) }(),
	} {
		if !readAsProtobuf(t, r, b) {
			t.Errorf("request %d: the hand reader declined the host's own request", i)
		}
	}
	// Cases as protobuf writes them (the cases first), an unknown field,
	// explain given twice.
	var explainTwice []byte
	explainTwice = protowire.AppendTag(explainTwice, 2, protowire.VarintType)
	explainTwice = protowire.AppendVarint(explainTwice, 1)
	explainTwice = protowire.AppendTag(explainTwice, 99, protowire.BytesType)
	explainTwice = protowire.AppendBytes(explainTwice, []byte("later"))
	explainTwice = protowire.AppendTag(explainTwice, 2, protowire.VarintType)
	explainTwice = protowire.AppendVarint(explainTwice, 0)
	protobufs, err := proto.Marshal(&pluginv1.EvaluateRequest{Cases: casesInto(new(pluginv1.Cases), mixedCases(), everyColumn), Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range [][]byte{protobufs, append(slices.Clone(protobufs), explainTwice...)} {
		if !readAsProtobuf(t, r, b) {
			t.Errorf("request %d declined", i)
		}
	}
	// Cases given twice (protobuf merges them), a column unpacked, the
	// cases as a number: protobuf's to read.
	twice := append(slices.Clone(protobufs), protobufs...)
	unpacked := protowire.AppendTag(nil, 1, protowire.BytesType)
	unpacked = protowire.AppendBytes(unpacked, protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 30))
	number := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 7)
	for name, b := range map[string][]byte{"twice": twice, "unpacked": unpacked, "number": number} {
		if readAsProtobuf(t, r, b) {
			t.Errorf("%s: read by hand, not left to protobuf", name)
		}
	}
}

// FuzzRequestRead holds the hand reader to protobuf on any bytes: it
// reads them as protobuf does or leaves them to it.
func FuzzRequestRead(f *testing.F) {
	some, _ := columnsRead([]string{"person.age", "household.members.relation"})
	for _, cs := range [][]measure.Case{benchCases(2), mixedCases(), nil} {
		for _, sent := range []columnSet{everyColumn, some} {
			b, err := proto.Marshal(new(casesRequest).set(cs, true, 7, sent))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00})
	r := newCasesReader()
	f.Fuzz(func(t *testing.T, b []byte) { readAsProtobuf(t, r, b) })
}

// answerAsProtobuf fails unless the hand reader reads the answer to the
// cases as protobuf does, or declines it; it returns whether it read it.
func answerAsProtobuf(t testing.TB, r *outcomesReader, b []byte, cases []measure.Case, explain bool) bool {
	t.Helper()
	o, ok := r.response(b)
	if !ok {
		return false
	}
	var resp pluginv1.EvaluateResponse
	if err := proto.Unmarshal(b, &resp); err != nil {
		t.Fatalf("the hand reader read an answer protobuf refuses: %v", err)
	}
	got, gotErr := outcomesFrom(nil, o, cases, explain)
	want, wantErr := outcomesFrom(nil, resp.GetOutcomes(), cases, explain)
	if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
		t.Fatalf("read (%v):\n%+v\nprotobuf's (%v):\n%+v", gotErr, got, wantErr, want)
	}
	return true
}

// plugInAnswer is a plug-in's answer; with ids, as one that does not
// know outcomes_by_position writes it.
func plugInAnswer(t testing.TB, outs []measure.Outcome, explain, ids bool) []byte {
	b, err := proto.Marshal(&pluginv1.EvaluateResponse{Outcomes: outcomesInto(new(pluginv1.Outcomes), outs, explain, ids, true)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A plug-in's answers are read by hand, answer after answer on the same
// columns, as protobuf reads them.
func TestAnswersReadAsProtobufDoes(t *testing.T) {
	r := newOutcomesReader()
	cs := benchCases(1000)
	outs, err := echo{}.Evaluate(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	outs[3].Error, outs[4].Eligible = "no income data", false
	for _, explain := range []bool{true, false, true} {
		for _, ids := range []bool{true, false, true} {
			if !answerAsProtobuf(t, r, plugInAnswer(t, outs, explain, ids), cs, explain) {
				t.Errorf("explain %t, ids %t: the hand reader declined a plug-in's answer", explain, ids)
			}
		}
	}
	// An answer for fewer cases after a larger one: nothing of the larger
	// is left in the columns.
	if !answerAsProtobuf(t, r, plugInAnswer(t, outs[:2], true, true), cs[:2], true) {
		t.Error("declined")
	}
	if !answerAsProtobuf(t, r, nil, nil, true) {
		t.Error("an empty answer declined")
	}
	twice := plugInAnswer(t, outs[:2], true, true)
	if answerAsProtobuf(t, r, append(slices.Clone(twice), twice...), cs[:2], true) {
		t.Error("outcomes given twice (protobuf merges them) read by hand")
	}
}

// FuzzAnswerRead holds the hand reader to protobuf on any bytes.
func FuzzAnswerRead(f *testing.F) {
	cs := benchCases(3)
	outs, err := echo{}.Evaluate(context.Background(), cs)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plugInAnswer(f, outs, true, true), true)
	f.Add(plugInAnswer(f, outs, false, true), false)
	f.Add(plugInAnswer(f, outs, true, false), true)
	f.Add(plugInAnswer(f, figuredOutcomes(3), true, false), true) // by position: the cases' ids are not checked
	r := newOutcomesReader()
	f.Fuzz(func(t *testing.T, b []byte, explain bool) { answerAsProtobuf(t, r, b, cs, explain) })
}

// answerSameAsProtobuf fails unless the answer written by hand for the
// outcomes is the one proto.Marshal writes, with the columns reused from
// the answer before.
func answerSameAsProtobuf(t testing.TB, r *outcomesResponse, outs []measure.Outcome, explain, ids bool) {
	t.Helper()
	want := plugInAnswer(t, outs, explain, ids)
	got, err := proto.Marshal(r.set(outs, requestHeader{explain: explain, byPosition: !ids, figures: true}))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		at := 0
		for at < min(len(got), len(want)) && got[at] == want[at] {
			at++
		}
		t.Fatalf("%d bytes, protobuf's %d; they differ from byte %d", len(got), len(want), at)
	}
}

func TestOutcomesMarshalledAsProtobufDoes(t *testing.T) {
	outs, err := echo{}.Evaluate(context.Background(), benchCases(1000))
	if err != nil {
		t.Fatal(err)
	}
	outs[3].Error, outs[4].Eligible, outs[5].AmountKopecks = "no income data", false, -1
	outs[6].Conditions[0].Explanation = measure.Text{RU: strings.Repeat("я", 20_000), EN: "long"}
	r := new(outcomesResponse)
	for _, explain := range []bool{true, false, true} {
		for _, ids := range []bool{true, false, true} {
			answerSameAsProtobuf(t, r, outs, explain, ids)
		}
	}
	answerSameAsProtobuf(t, r, outs[:3], true, true)
	answerSameAsProtobuf(t, r, nil, true, true)
	answerSameAsProtobuf(t, r, []measure.Outcome{{}}, false, true)
}

// FuzzOutcomesMarshalled holds outcomes made of the input to protobuf's
// bytes.
func FuzzOutcomesMarshalled(f *testing.F) {
	f.Add("019a-1", true, int64(1_837_100), int32(20260615), "resident", "да", "yes", "", true, true)
	f.Add("", false, int64(-1), int32(0), "", "", "", "no data", false, false)
	f.Fuzz(func(t *testing.T, id string, eligible bool, amount int64, date int32, condition, ru, en, failure string, explain, ids bool) {
		d, err := fromYMD(date)
		if err != nil {
			d = time.Time{}
		}
		c := measure.ConditionResult{Name: condition, Held: eligible, Explanation: measure.Text{RU: ru, EN: en}}
		o := measure.Outcome{CaseID: id, Eligible: eligible, AmountKopecks: amount, Start: d, End: d, Error: failure,
			Conditions: []measure.ConditionResult{c, {Name: condition + "2"}, c}}
		answerSameAsProtobuf(t, new(outcomesResponse), []measure.Outcome{o, {CaseID: id}, o}, explain, ids)
	})
}

// BenchmarkCasesRead is a plug-in reading a 1,000-case request by hand
// into kept columns (after the copy into an emptypb.Empty that receiving
// it makes) and by protobuf into new ones.
func BenchmarkCasesRead(b *testing.B) {
	wire, err := proto.Marshal(new(casesRequest).set(benchCases(1000), false, 0, everyColumn))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("by hand", func(b *testing.B) {
		b.ReportAllocs()
		r := newCasesReader()
		for b.Loop() {
			var raw emptypb.Empty
			if err := proto.Unmarshal(wire, &raw); err != nil {
				b.Fatal(err)
			}
			if _, _, ok := r.request(raw.ProtoReflect().GetUnknown()); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("protobuf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := proto.Unmarshal(wire, new(pluginv1.EvaluateRequest)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
