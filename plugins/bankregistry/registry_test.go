package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/sdk/connector"
)

func TestRegistryRoundTrip(t *testing.T) {
	reg := &registry{ID: "20260614-000001", Date: day(2026, 6, 14), Bank: "ПАО Сбербанк",
		Orders: []connector.PaymentOrder{order("o1", 1_234_567), with(order("o11", 1), func(o *connector.PaymentOrder) {
			o.Period = connector.Period{}
			o.SNILS, o.Purpose = "", ""
		})}}
	data := reg.format()
	if string(data) != wantRegistry {
		t.Errorf("format:\n%s\nwant\n%s", data, wantRegistry)
	}
	back, err := parseRegistry(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, reg) {
		t.Errorf("read back\n%+v\nwant\n%+v", back, reg)
	}

	empty := &registry{ID: "x", Date: day(2026, 1, 1), Bank: "B"}
	if back, err := parseRegistry(empty.format()); err != nil || !reflect.DeepEqual(back, empty) {
		t.Errorf("an empty registry read back %+v, %v", back, err)
	}
}

func TestParseRegistryErrors(t *testing.T) {
	head := "REGISTRY|20260614-000001|2026-06-14|B|1|100\n"
	line := "ORDER|1|o1|100|40817810099910004312|044525225|11223344595|Р|m|||p\n"
	tail := "TOTAL|1|100\n"
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"no header", line + tail, "line 1: not a header"},
		{"a bad date", strings.Replace(head, "2026-06-14", "2026-06-31", 1) + line + tail, `line 1: date "2026-06-31"`},
		{"a bad count", strings.Replace(head, "|1|", "|-1|", 1) + line + tail, `line 1: count "-1"`},
		{"a total in roubles", strings.Replace(head, "|100\n", "|1.00\n", 1) + line + tail, `line 1: total "1.00"`},
		{"no trailer", head + line, "no trailer after line 2"},
		{"a line after the trailer", head + line + tail + line, "line 4: a line after the trailer"},
		{"the trailer disagrees", head + line + "TOTAL|1|101\n", "line 3: the trailer"},
		{"the orders disagree", head + strings.Replace(line, "|100|", "|99|", 1) + tail, "1 orders of 99 kopecks, the header says 1 of 100"},
		{"an order missing", head + tail, "0 orders of 0 kopecks"},
		{"orders out of number", head + strings.Replace(line, "ORDER|1|", "ORDER|2|", 1) + tail, `line 2: order number "2", want 1`},
		{"an order short of a field", head + strings.Replace(line, "|p\n", "\n", 1) + tail, "line 2: 11 fields, an order has 12"},
		{"an amount in roubles", head + strings.Replace(line, "|100|", "|1.00|", 1) + tail, `line 2: amount "1.00" is not kopecks`},
		{"a bad account", head + strings.Replace(line, "40817810099910004312", "408", 1) + tail, "line 2: account is not 20 digits"},
		{"a bad period", head + strings.Replace(line, "|||p", "|2026-13-01||p", 1) + tail, `line 2: period date "2026-13-01"`},
		{"an unknown line", head + "NOTE|x\n" + line + tail, "line 2: not an order or a trailer"},
		{"the last line cut", head + line + strings.TrimSuffix(tail, "\n"), "the last line does not end"},
		{"CRLF", strings.ReplaceAll(head+line+tail, "\n", "\r\n"), "line 1 is not as the sink writes it"},
		{"a plus sign", head + strings.Replace(line, "|100|", "|+100|", 1) + tail, "line 2 is not as the sink writes it"},
		{"a leading zero", head + strings.Replace(line, "ORDER|1|", "ORDER|01|", 1) + tail, "line 2 is not as the sink writes it"},
		{"a count with a sign", strings.Replace(head, "|1|", "|+1|", 1) + line + "TOTAL|+1|100\n", "line 3: the trailer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseRegistry([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzParseRegistry: reading never panics, and a registry read is one the
// sink could have written: its orders pass checkOrder, and written out
// again it reads back the same.
func FuzzParseRegistry(f *testing.F) {
	f.Add([]byte(wantRegistry))
	f.Add([]byte("REGISTRY|x|2026-01-01|B|0|0\nTOTAL|0|0\n"))
	f.Add([]byte("REGISTRY|x|2026-01-01|B|1|9223372036854775807\nORDER|1|o|9223372036854775807|40817810099910004312|044525225||||||\nTOTAL|1|9223372036854775807\n"))
	f.Add([]byte("REGISTRY|x|2026-01-01|B|1|100\r\nORDER|01|o|0100|40817810099910004312|044525225|||m|2026-01-01|2026-01-31|\r\nTOTAL|1|100\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		reg, err := parseRegistry(data)
		if err != nil {
			return
		}
		if !bytes.Equal(reg.format(), data) {
			t.Fatalf("read, though the sink would write it otherwise:\n%q\n%q", data, reg.format())
		}
		for i := range reg.Orders {
			if reason := checkOrder(&reg.Orders[i]); reason != "" {
				t.Fatalf("order %d read though %s", i, reason)
			}
		}
		again, err := parseRegistry(reg.format())
		if err != nil {
			t.Fatalf("written out again it does not read: %v", err)
		}
		if !reflect.DeepEqual(again, reg) {
			t.Fatalf("written out again it reads\n%+v\nnot\n%+v", again, reg)
		}
	})
}
