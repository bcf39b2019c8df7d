package grpcplugin

import (
	"encoding/binary"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
)

// A batch crosses as protobuf's bytes, but neither side leaves them to
// protobuf's generic code, which walked each packed column two or three
// times to write it (the message's size, the column's size, its values)
// and allocated every column afresh to read it — a tenth of the host's
// work on a 1,000-case batch, more of a plug-in's. Each side writes its
// message's columns itself (appendCasesField, appendOutcomesField: the
// bytes proto.Marshal writes, wire_test.go holds them to it) into the
// message's unknown fields, which protobuf sends as they are; and reads
// the other's into columns it keeps (casesReader, outcomesReader). A
// plug-in built with any SDK reads and writes what it always did.

// The bytes a length is given before the content it measures is
// written: a column of a part of a batch is under 16 KiB, a whole part
// under 2 MiB. Longer content is moved along.
const (
	columnRoom  = 2
	messageRoom = 3
)

// beginLen starts a length-delimited field: its tag and room bytes for
// its length. It returns where the content starts.
func beginLen(b []byte, num protowire.Number, room int) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = append(b, make([]byte, room)...)
	return b, len(b)
}

// endLen writes the length of the content from start on into the room
// beginLen left, moving the content to fit it.
func endLen(b []byte, start, room int) []byte {
	var l [binary.MaxVarintLen64]byte
	length := protowire.AppendVarint(l[:0], uint64(len(b)-start))
	at := start - room
	switch shift := len(length) - room; {
	case shift < 0:
		copy(b[at+len(length):], b[start:])
		b = b[:len(b)+shift]
	case shift > 0:
		b = append(b, l[:shift]...) // room; overwritten by the move
		copy(b[start+shift:], b[start:len(b)-shift])
	}
	copy(b[at:], length)
	return b
}

// packed writes a packed repeated field; proto.Marshal leaves an empty
// one out.
func packed[T int32 | int64 | uint32](b []byte, num protowire.Number, values []T) []byte {
	if len(values) == 0 {
		return b
	}
	b, start := beginLen(b, num, columnRoom)
	for _, v := range values {
		if u := uint64(v); u < 0x80 { // most of a batch's values, inline
			b = append(b, byte(u))
		} else {
			b = protowire.AppendVarint(b, u)
		}
	}
	return endLen(b, start, columnRoom)
}

func packedBools(b []byte, num protowire.Number, values []bool) []byte {
	if len(values) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(len(values)))
	for _, v := range values {
		b = append(b, byte(protowire.EncodeBool(v)))
	}
	return b
}

// stringsField writes a Strings field; nil, none (as protobuf leaves out
// an unset message).
func stringsField(b []byte, num protowire.Number, s *pluginv1.Strings) []byte {
	if s == nil {
		return b
	}
	b, start := beginLen(b, num, messageRoom) // a column's text may pass 16 KiB
	if len(s.Data) > 0 {
		b = protowire.AppendTag(b, fieldStringsData, protowire.BytesType)
		b = protowire.AppendBytes(b, s.Data)
	}
	b = packed(b, fieldStringsEnds, s.Ends)
	return endLen(b, start, messageRoom)
}

// appendOutcomesField appends o as field 1 of an EvaluateResponse.
func appendOutcomesField(b []byte, o *pluginv1.Outcomes) []byte {
	b, start := beginLen(b, 1, messageRoom)
	b = stringsField(b, 1, o.CaseId)
	b = packedBools(b, 2, o.Eligible)
	b = packed(b, 3, o.AmountKopecks)
	b = packed(b, 4, o.Start)
	b = packed(b, 5, o.End)
	b = stringsField(b, 6, o.Error)
	b = stringsField(b, 7, o.ConditionNames)
	b = packed(b, 8, o.ConditionsEnd)
	b = packed(b, 9, o.Condition)
	b = packedBools(b, 10, o.Held)
	b = stringsField(b, 11, o.ExplanationRu)
	b = stringsField(b, 12, o.ExplanationEn)
	b = packed(b, 13, o.Explanation)
	b = packed(b, 14, o.FiguresEnd)
	b = packed(b, 15, o.FigureKind)
	b = packed(b, 16, o.FigureValue)
	b = stringsField(b, 17, o.FigureText)
	return endLen(b, start, messageRoom)
}

// appendCasesField appends c as field 1 of an EvaluateRequest.
func appendCasesField(b []byte, c *pluginv1.Cases) []byte {
	b, start := beginLen(b, 1, messageRoom)
	b = stringsField(b, colID, c.Id)
	b = packed(b, 2, c.Date)
	b = packed(b, 3, c.Age)
	b = packed(b, 4, c.AgeMonths)
	b = stringsField(b, 5, c.Sex)
	b = packed(b, 6, c.BirthDate)
	b = packedBools(b, 7, c.Alive)
	b = packedBools(b, 8, c.Resident)
	b = stringsField(b, 9, c.Oktmo)
	b = packed(b, 10, c.CategoriesEnd)
	b = stringsField(b, 11, c.Categories)
	b = packed(b, 12, c.DisabilityGroup)
	b = packed(b, 13, c.IncomeKopecks)
	b = packedBools(b, 14, c.Working)
	b = packed(b, 15, c.HouseholdSize)
	b = packed(b, 16, c.PerCapitaIncome)
	b = packed(b, 17, c.PerCapitaIncome_3M)
	b = packed(b, 18, c.MembersEnd)
	b = stringsField(b, 19, c.MemberRelation)
	b = packed(b, 20, c.MemberAge)
	b = packed(b, 21, c.MemberAgeMonths)
	b = stringsField(b, 22, c.MemberSex)
	b = packed(b, 23, c.MemberBirthDate)
	b = packed(b, 24, c.MemberCategoriesEnd)
	b = stringsField(b, 25, c.MemberCategories)
	b = packed(b, 26, c.MemberDisabilityGroup)
	b = packed(b, 27, c.MinimumPerCapita)
	b = packed(b, 28, c.MinimumWorkingAge)
	b = packed(b, 29, c.MinimumPensioners)
	b = packed(b, 30, c.MinimumChildren)
	b = packed(b, 31, c.AssignmentsEnd)
	b = stringsField(b, 32, c.AssignmentMeasure)
	b = stringsField(b, 33, c.AssignmentStatus)
	b = packed(b, 34, c.AssignmentAmount)
	b = packed(b, 35, c.ApplicationEnd)
	b = stringsField(b, 36, c.ApplicationKey)
	b = stringsField(b, 37, c.ApplicationValue)
	return endLen(b, start, messageRoom)
}

// A message is received whole into an emptypb.Empty, as unknown fields
// (one copy, into an array of its own), and read from there. The hand
// reader knows the form a Go SDK writes — each field once, repeated
// numbers packed — and declines anything else (ok false), which protobuf
// then reads: a message any protobuf encoder wrote is read as protobuf
// reads it (wire_test.go holds the two to the same answers, and fuzzes
// them). Text columns' data are parts of the received array, which
// nothing writes again: the strings made of them share it (textsFrom).

// columnReader reads one length-delimited field's content into a column.
type columnReader func(content []byte) bool

// readFields reads a message's fields, each length-delimited field with
// its column's reader. A field seen twice, a repeated number not packed,
// a known field of another wire type: ok false. Unknown fields are
// skipped, as protobuf keeps and the SDK ignores them.
func readFields(b []byte, columns []columnReader) bool {
	var seen [64]bool
	if len(columns) > len(seen) {
		return false // a message with fields past 63: protobuf's to read
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || !num.IsValid() {
			return false
		}
		b = b[n:]
		if int(num) >= len(columns) || columns[num] == nil {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return false
			}
			b = b[n:]
			continue
		}
		if typ != protowire.BytesType || seen[num] {
			return false
		}
		seen[num] = true
		v, n := protowire.ConsumeBytes(b)
		if n < 0 || !columns[num](v) {
			return false
		}
		b = b[n:]
	}
	return true
}

// varints reads a packed column's values into dst (emptied first). A
// one-byte value (ends, ages, flags: most of a batch) is read inline.
func varints[T int32 | int64 | uint32](dst *[]T, b []byte) bool {
	s := (*dst)[:0]
	for len(b) > 0 {
		if c := b[0]; c < 0x80 {
			s, b = append(s, T(c)), b[1:]
			continue
		}
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return false
		}
		s, b = append(s, T(v)), b[n:]
	}
	*dst = s
	return true
}

func bools(dst *[]bool, b []byte) bool {
	s := (*dst)[:0]
	for len(b) > 0 {
		if c := b[0]; c < 0x80 {
			s, b = append(s, c != 0), b[1:]
			continue
		}
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return false
		}
		s, b = append(s, protowire.DecodeBool(v)), b[n:]
	}
	*dst = s
	return true
}

// texts reads a Strings message into *dst, its data a part of b.
func texts(dst **pluginv1.Strings, b []byte) bool {
	if *dst == nil {
		*dst = new(pluginv1.Strings)
	}
	s := *dst
	s.Data, s.Ends = nil, s.Ends[:0]
	if len(b) == 0 {
		return true
	}
	return readFields(b, []columnReader{
		fieldStringsData: func(v []byte) bool { s.Data = v[:len(v):len(v)]; return true },
		fieldStringsEnds: func(v []byte) bool { return varints(&s.Ends, v) },
	})
}

const (
	fieldStringsData protowire.Number = 1
	fieldStringsEnds protowire.Number = 2
)

// casesReader reads a Cases message into columns it keeps.
type casesReader struct {
	c       pluginv1.Cases
	columns []columnReader
	leftOut []uint32
}

func newCasesReader() *casesReader {
	r := &casesReader{}
	c := &r.c
	r.columns = []columnReader{
		1: func(b []byte) bool { return texts(&c.Id, b) }, 2: func(b []byte) bool { return varints(&c.Date, b) },
		3: func(b []byte) bool { return varints(&c.Age, b) }, 4: func(b []byte) bool { return varints(&c.AgeMonths, b) },
		5: func(b []byte) bool { return texts(&c.Sex, b) }, 6: func(b []byte) bool { return varints(&c.BirthDate, b) },
		7: func(b []byte) bool { return bools(&c.Alive, b) }, 8: func(b []byte) bool { return bools(&c.Resident, b) },
		9: func(b []byte) bool { return texts(&c.Oktmo, b) }, 10: func(b []byte) bool { return varints(&c.CategoriesEnd, b) },
		11: func(b []byte) bool { return texts(&c.Categories, b) }, 12: func(b []byte) bool { return varints(&c.DisabilityGroup, b) },
		13: func(b []byte) bool { return varints(&c.IncomeKopecks, b) }, 14: func(b []byte) bool { return bools(&c.Working, b) },
		15: func(b []byte) bool { return varints(&c.HouseholdSize, b) }, 16: func(b []byte) bool { return varints(&c.PerCapitaIncome, b) },
		17: func(b []byte) bool { return varints(&c.PerCapitaIncome_3M, b) }, 18: func(b []byte) bool { return varints(&c.MembersEnd, b) },
		19: func(b []byte) bool { return texts(&c.MemberRelation, b) }, 20: func(b []byte) bool { return varints(&c.MemberAge, b) },
		21: func(b []byte) bool { return varints(&c.MemberAgeMonths, b) }, 22: func(b []byte) bool { return texts(&c.MemberSex, b) },
		23: func(b []byte) bool { return varints(&c.MemberBirthDate, b) }, 24: func(b []byte) bool { return varints(&c.MemberCategoriesEnd, b) },
		25: func(b []byte) bool { return texts(&c.MemberCategories, b) }, 26: func(b []byte) bool { return varints(&c.MemberDisabilityGroup, b) },
		27: func(b []byte) bool { return varints(&c.MinimumPerCapita, b) }, 28: func(b []byte) bool { return varints(&c.MinimumWorkingAge, b) },
		29: func(b []byte) bool { return varints(&c.MinimumPensioners, b) }, 30: func(b []byte) bool { return varints(&c.MinimumChildren, b) },
		31: func(b []byte) bool { return varints(&c.AssignmentsEnd, b) }, 32: func(b []byte) bool { return texts(&c.AssignmentMeasure, b) },
		33: func(b []byte) bool { return texts(&c.AssignmentStatus, b) }, 34: func(b []byte) bool { return varints(&c.AssignmentAmount, b) },
		35: func(b []byte) bool { return varints(&c.ApplicationEnd, b) }, 36: func(b []byte) bool { return texts(&c.ApplicationKey, b) },
		37: func(b []byte) bool { return texts(&c.ApplicationValue, b) },
	}
	return r
}

// emptyColumns empties every column of a table, through the column's own
// reader: a field the next message leaves out is empty, as protobuf
// reads it.
func emptyColumns(columns []columnReader) {
	for _, read := range columns {
		if read != nil {
			read(nil)
		}
	}
}

// requestHeader is an EvaluateRequest's fields besides its cases.
type requestHeader struct {
	explain, byPosition, figures bool
	deadlineUnixMicros           int64
	leftOut                      []uint32
}

// headerOf is the header of a request protobuf has read.
func headerOf(req *pluginv1.EvaluateRequest) requestHeader {
	return requestHeader{explain: req.GetExplain(), byPosition: req.GetOutcomesByPosition(),
		deadlineUnixMicros: req.GetDeadlineUnixMicros(), leftOut: req.GetLeftOut(), figures: req.GetFigures()}
}

// request reads an EvaluateRequest received as unknown fields. ok false:
// the caller reads it with protobuf.
func (r *casesReader) request(b []byte) (cases *pluginv1.Cases, h requestHeader, ok bool) {
	emptyColumns(r.columns)
	var seenCases, seenLeftOut bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || !num.IsValid() {
			return nil, requestHeader{}, false
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType && !seenCases:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || !readFields(v, r.columns) {
				return nil, requestHeader{}, false
			}
			b, seenCases = b[n:], true
		case num == 5 && typ == protowire.BytesType && !seenLeftOut: // packed, as a Go SDK writes it
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || !varints(&r.leftOut, v) {
				return nil, requestHeader{}, false
			}
			b, seenLeftOut, h.leftOut = b[n:], true, r.leftOut
		case (num >= 2 && num <= 4 || num == 6) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, requestHeader{}, false
			}
			b = b[n:]
			switch num {
			case 2:
				h.explain = protowire.DecodeBool(v)
			case 3:
				h.deadlineUnixMicros = int64(v)
			case 4:
				h.byPosition = protowire.DecodeBool(v)
			default:
				h.figures = protowire.DecodeBool(v)
			}
		case num <= 6:
			return nil, requestHeader{}, false
		default:
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return nil, requestHeader{}, false
			}
			b = b[n:]
		}
	}
	return &r.c, h, true
}

// outcomesReader reads an EvaluateResponse's Outcomes into columns it
// keeps.
type outcomesReader struct {
	o       pluginv1.Outcomes
	columns []columnReader
}

func newOutcomesReader() *outcomesReader {
	r := &outcomesReader{}
	o := &r.o
	r.columns = []columnReader{
		1: func(b []byte) bool { return texts(&o.CaseId, b) }, 2: func(b []byte) bool { return bools(&o.Eligible, b) },
		3: func(b []byte) bool { return varints(&o.AmountKopecks, b) }, 4: func(b []byte) bool { return varints(&o.Start, b) },
		5: func(b []byte) bool { return varints(&o.End, b) }, 6: func(b []byte) bool { return texts(&o.Error, b) },
		7: func(b []byte) bool { return texts(&o.ConditionNames, b) }, 8: func(b []byte) bool { return varints(&o.ConditionsEnd, b) },
		9: func(b []byte) bool { return varints(&o.Condition, b) }, 10: func(b []byte) bool { return bools(&o.Held, b) },
		11: func(b []byte) bool { return texts(&o.ExplanationRu, b) }, 12: func(b []byte) bool { return texts(&o.ExplanationEn, b) },
		13: func(b []byte) bool { return varints(&o.Explanation, b) }, 14: func(b []byte) bool { return varints(&o.FiguresEnd, b) },
		15: func(b []byte) bool { return varints(&o.FigureKind, b) }, 16: func(b []byte) bool { return varints(&o.FigureValue, b) },
		17: func(b []byte) bool { return texts(&o.FigureText, b) },
	}
	return r
}

// response reads an EvaluateResponse received as unknown fields. ok
// false: the caller reads it with protobuf.
func (r *outcomesReader) response(b []byte) (*pluginv1.Outcomes, bool) {
	emptyColumns(r.columns)
	ok := readFields(b, []columnReader{1: func(v []byte) bool { return readFields(v, r.columns) }})
	return &r.o, ok
}
