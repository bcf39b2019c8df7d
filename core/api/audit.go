package api

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/page"
)

// headerPurpose carries why a caller reads or changes personal data; it
// goes into every audit record the request causes.
const headerPurpose = "X-Purpose"

type auditEntryJSON struct {
	Seq        int64     `json:"seq" doc:"Position in the region's chain, from 1 without gaps."`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor,omitempty" format:"uuid" doc:"The user who acted; absent for the platform itself."`
	ActorName  string    `json:"actor_name"`
	Action     string    `json:"action" example:"delegation.grant"`
	ObjectType string    `json:"object_type"`
	ObjectID   string    `json:"object_id"`
	Purpose    string    `json:"purpose"`
	RequestID  string    `json:"request_id"`
	Outcome    string    `json:"outcome" enum:"success,denied,failure"`
	Detail     string    `json:"detail,omitempty"`
	PrevHash   string    `json:"prev_hash" doc:"Hex SHA-256 of the previous record (zeros before the first)."`
	Hash       string    `json:"hash" doc:"Hex SHA-256(prev_hash || canonical record); see docs/audit.md."`
}

func auditOut(e audit.Entry) auditEntryJSON {
	out := auditEntryJSON{Seq: e.Seq, At: e.At.UTC(), ActorName: e.ActorName, Action: e.Action,
		ObjectType: e.ObjectType, ObjectID: e.ObjectID, Purpose: e.Purpose, RequestID: e.RequestID,
		Outcome: e.Outcome, Detail: e.Detail, PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash)}
	if e.Actor != uuid.Nil {
		out.Actor = e.Actor.String()
	}
	return out
}

type auditList struct {
	Body struct {
		Items      []auditEntryJSON `json:"items"`
		NextCursor string           `json:"next_cursor,omitempty"`
	}
}

// The audit cursor is the last sequence number read: a version byte (3)
// and the number as a uvarint.
func auditCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString(binary.AppendUvarint([]byte{3}, uint64(seq)))
}

func parseAuditCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(raw) < 2 || raw[0] != 3 {
		return 0, page.ErrBadCursor
	}
	seq, n := binary.Uvarint(raw[1:])
	if n != len(raw)-1 || seq == 0 || seq > 1<<62 {
		return 0, page.ErrBadCursor
	}
	return int64(seq), nil
}

func (s *Server) registerAudit() {
	register(s, Permission{Object: "audit", Action: "read"}, huma.Operation{
		OperationID: "listAuditRecords", Method: http.MethodGet, Path: "/api/v1/tenants/{tenant}/audit",
		Tags:    []string{"Audit"},
		Summary: "Read the region's audit trail",
		Description: "Records in chain order (by seq): who did what to which object, why (the X-Purpose header of " +
			"the request) and how it ended, each with its hash. Records committed before the call are included. " +
			"Reading the trail is itself recorded (action audit.read). The chain is checked with `treasury audit verify`.",
	}, func(ctx context.Context, in *struct {
		TenantPath
		Pagination
		Action     string `query:"action" maxLength:"100" doc:"Only records of this action."`
		ObjectType string `query:"object_type" maxLength:"200" doc:"Only records about objects of this type."`
		ObjectID   string `query:"object_id" maxLength:"200" doc:"Only records about this object."`
		Actor      string `query:"actor" format:"uuid" doc:"Only records of this user."`
	}) (*auditList, error) {
		if s.deps.Audit == nil {
			return nil, huma.Error500InternalServerError("the audit trail is not configured")
		}
		after, err := parseAuditCursor(in.Cursor)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		q := audit.Query{After: after, Limit: in.Limit, Action: in.Action, ObjectType: in.ObjectType, ObjectID: in.ObjectID}
		if in.Actor != "" {
			q.Actor = uuid.MustParse(in.Actor)
		}
		es, more, err := s.deps.Audit.Read(ctx, q)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &auditList{}
		out.Body.Items = make([]auditEntryJSON, len(es))
		for i, e := range es {
			out.Body.Items[i] = auditOut(e)
		}
		if more && len(es) > 0 {
			out.Body.NextCursor = auditCursor(es[len(es)-1].Seq)
		}
		return out, nil
	})
}
