package grpcplugin

import (
	"encoding/binary"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
)

// The host marshals a request's Cases columns itself: protobuf's generic
// marshalling walks every packed column twice or three times (the
// message's size, each column's size, then its values), which was the
// larger part of the host's work on a batch. The bytes are the ones
// proto.Marshal writes for the columns (wire_test.go holds them to it),
// and they go in the request's unknown fields, which protobuf sends as
// they are: a plug-in reads an ordinary Cases message, whatever SDK it
// was built with.

// lengthRoom is the bytes a length is given before the content it
// measures is written: enough for content under 16 KiB (a column of a
// part of a batch); longer content is moved along.
const lengthRoom = 2

// beginLen starts a length-delimited field: its tag and room for its
// length. It returns where the content starts.
func beginLen(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = append(b, 0, 0)
	return b, len(b)
}

// endLen writes the length of the content from start on into the room
// beginLen left, moving the content to fit it.
func endLen(b []byte, start int) []byte {
	var l [binary.MaxVarintLen64]byte
	length := protowire.AppendVarint(l[:0], uint64(len(b)-start))
	at := start - lengthRoom
	switch shift := len(length) - lengthRoom; {
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
	b, start := beginLen(b, num)
	for _, v := range values {
		b = protowire.AppendVarint(b, uint64(v))
	}
	return endLen(b, start)
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

// stringsField writes a Strings field (present, if empty, as casesInto sets
// every one).
func stringsField(b []byte, num protowire.Number, s *pluginv1.Strings) []byte {
	b, start := beginLen(b, num)
	if len(s.Data) > 0 {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, s.Data)
	}
	b = packed(b, 2, s.Ends)
	return endLen(b, start)
}

// appendCasesField appends c as field 1 of an EvaluateRequest.
func appendCasesField(b []byte, c *pluginv1.Cases) []byte {
	b, start := beginLen(b, 1)
	b = stringsField(b, 1, c.Id)
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
	return endLen(b, start)
}
