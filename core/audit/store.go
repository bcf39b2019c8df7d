package audit

import (
	"time"

	"github.com/google/uuid"
)

// pendingRow is a record appended by a transaction and not chained yet.
type pendingRow struct {
	TenantID   uuid.UUID `gorm:"primaryKey"`
	ID         uuid.UUID `gorm:"primaryKey"`
	At         time.Time
	Actor      *uuid.UUID
	ActorName  string
	Action     string
	ObjectType string
	ObjectID   string
	Purpose    string
	RequestID  string
	Outcome    string
	Detail     string
}

func (pendingRow) TableName() string { return "audit_pending" }

// recordRow is a chained record.
type recordRow struct {
	TenantID   uuid.UUID `gorm:"primaryKey"`
	Seq        int64     `gorm:"primaryKey;autoIncrement:false"`
	At         time.Time
	Actor      *uuid.UUID
	ActorName  string
	Action     string
	ObjectType string
	ObjectID   string
	Purpose    string
	RequestID  string
	Outcome    string
	Detail     string
	PrevHash   []byte
	Hash       []byte
}

func (recordRow) TableName() string { return "audit_records" }

// headRow is a region's chain head: its last sequence number and hash.
type headRow struct {
	TenantID  uuid.UUID `gorm:"primaryKey"`
	Seq       int64
	Hash      []byte
	UpdatedAt time.Time
}

func (headRow) TableName() string { return "audit_heads" }

func actorPtr(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

func actorOf(p *uuid.UUID) uuid.UUID {
	if p == nil {
		return uuid.Nil
	}
	return *p
}

func (p *pendingRow) record() Record {
	return Record{At: p.At, Actor: actorOf(p.Actor), ActorName: p.ActorName, Action: p.Action,
		ObjectType: p.ObjectType, ObjectID: p.ObjectID, Purpose: p.Purpose, RequestID: p.RequestID,
		Outcome: p.Outcome, Detail: p.Detail}
}

func (r *recordRow) entry() Entry {
	return Entry{Seq: r.Seq, PrevHash: r.PrevHash, Hash: r.Hash, Record: Record{
		At: r.At, Actor: actorOf(r.Actor), ActorName: r.ActorName, Action: r.Action,
		ObjectType: r.ObjectType, ObjectID: r.ObjectID, Purpose: r.Purpose, RequestID: r.RequestID,
		Outcome: r.Outcome, Detail: r.Detail}}
}

func rowOf(tenant uuid.UUID, e *Entry) recordRow {
	return recordRow{TenantID: tenant, Seq: e.Seq, At: e.At, Actor: actorPtr(e.Actor), ActorName: e.ActorName,
		Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID, Purpose: e.Purpose,
		RequestID: e.RequestID, Outcome: e.Outcome, Detail: e.Detail, PrevHash: e.PrevHash, Hash: e.Hash}
}
