package grpcplugin

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// sameAsProtobuf fails unless the request written by hand for the cases
// is the one proto.Marshal writes.
func sameAsProtobuf(t testing.TB, cs []measure.Case) {
	t.Helper()
	c := casesInto(new(pluginv1.Cases), cs)
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
	c := casesInto(new(pluginv1.Cases), benchCases(1000))
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
