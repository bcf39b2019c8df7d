package store

import (
	"bytes"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

func TestUUIDsTravelAsTheirBytes(t *testing.T) {
	m := pgtype.NewMap()
	registerTypes(m)
	u := uuid.New()
	if _, ok := m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, u).(encodeUUID); !ok {
		t.Fatalf("a uuid.UUID parameter is not encoded as bytes")
	}
	buf, err := m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, u, nil)
	if err != nil || !bytes.Equal(buf, u[:]) {
		t.Fatalf("encoded %x, %v; want %x", buf, err, u[:])
	}
	var got uuid.UUID
	if _, ok := m.PlanScan(pgtype.UUIDOID, pgtype.BinaryFormatCode, &got).(scanUUID); !ok {
		t.Fatalf("a uuid column is not scanned from bytes")
	}
	if err := m.Scan(pgtype.UUIDOID, pgtype.BinaryFormatCode, u[:], &got); err != nil || got != u {
		t.Fatalf("scanned %v, %v; want %v", got, err, u)
	}
	if err := m.Scan(pgtype.UUIDOID, pgtype.BinaryFormatCode, nil, &got); err == nil {
		t.Fatalf("NULL scanned into a uuid.UUID")
	}
	var maybe *uuid.UUID
	if err := m.Scan(pgtype.UUIDOID, pgtype.BinaryFormatCode, nil, &maybe); err != nil || maybe != nil {
		t.Fatalf("NULL into *uuid.UUID: %v, %v", maybe, err)
	}
	if err := m.Scan(pgtype.UUIDOID, pgtype.BinaryFormatCode, u[:], &maybe); err != nil || maybe == nil || *maybe != u {
		t.Fatalf("into *uuid.UUID: %v, %v", maybe, err)
	}
	// Arrays of them, and a uuid.UUID bound to a text parameter, still work.
	if _, err := m.Encode(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, []uuid.UUID{u, uuid.New()}, nil); err != nil {
		t.Fatalf("array: %v", err)
	}
	buf, err = m.Encode(pgtype.TextOID, pgtype.TextFormatCode, u, nil)
	if err != nil || string(buf) != u.String() {
		t.Fatalf("as text: %q, %v; want %q", buf, err, u.String())
	}
}
