package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// afterConnect teaches every new PostgreSQL connection the platform's
// parameter and column types.
func afterConnect(_ context.Context, c *pgx.Conn) error {
	registerTypes(c.TypeMap())
	return nil
}

// registerTypes makes pgx move a uuid.UUID to and from PostgreSQL's binary
// uuid as the 16 bytes it is. pgx honours a type's driver.Valuer and
// sql.Scanner before anything else, and uuid.UUID's are text: each id
// parameter was a string pgx failed to encode as binary and parsed back
// (an error allocated per parameter), each id column a string parsed again
// — a tenth of what a person card cost.
func registerTypes(m *pgtype.Map) {
	t := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(t)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: t}})
}

// uuidCodec is pgx's uuid codec with uuid.UUID's binary form built in.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return encodeUUID{}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return scanUUID{}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

type encodeUUID struct{}

func (encodeUUID) Encode(v any, buf []byte) ([]byte, error) {
	u := v.(uuid.UUID)
	return append(buf, u[:]...), nil
}

type scanUUID struct{}

func (scanUUID) Scan(src []byte, dst any) error {
	if src == nil {
		return fmt.Errorf("cannot scan NULL into %T", dst)
	}
	if len(src) != 16 {
		return fmt.Errorf("a binary uuid of %d bytes", len(src))
	}
	copy(dst.(*uuid.UUID)[:], src)
	return nil
}
