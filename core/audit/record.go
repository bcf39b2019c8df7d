package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/reqid"
)

// Outcomes of an audited action.
const (
	OutcomeSuccess = "success"
	OutcomeDenied  = "denied"
	OutcomeFailure = "failure"
)

// Record is what happened: who did what to which object, why, and how it
// ended. Fields left empty are filled from the context where it knows them
// (actor, purpose, request id) and with defaults (now, success).
type Record struct {
	At         time.Time
	Actor      uuid.UUID // uuid.Nil: the platform itself
	ActorName  string
	Action     string // dotted lower case: "person.read", "delegation.grant"
	ObjectType string
	ObjectID   string
	Purpose    string // why: the X-Purpose header or a purpose field
	RequestID  string
	Outcome    string
	// Detail is a short machine-written note ("roles=specialist,auditor");
	// never personal data.
	Detail string
}

// Entry is a chained record.
type Entry struct {
	Seq int64
	Record
	PrevHash []byte
	Hash     []byte
}

// ErrInvalid is a record the trail refuses (an empty or malformed action, an
// unknown outcome, an oversized field): the audited work fails with it.
var ErrInvalid = errors.New("audit: invalid record")

type actorKey struct{}

type actor struct {
	id   uuid.UUID
	name string
}

type purposeKey struct{}

// WithActor returns a context whose records name this actor by default.
func WithActor(ctx context.Context, id uuid.UUID, name string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor{id: id, name: name})
}

// ActorFrom returns the actor a context names (uuid.Nil: none).
func ActorFrom(ctx context.Context) uuid.UUID {
	a, _ := ctx.Value(actorKey{}).(actor)
	return a.id
}

// ActorRef is ActorFrom for a nullable column: nil when no user acts.
func ActorRef(ctx context.Context) *uuid.UUID {
	if a := ActorFrom(ctx); a != uuid.Nil {
		return &a
	}
	return nil
}

// WithPurpose returns a context whose records carry this purpose by default.
func WithPurpose(ctx context.Context, purpose string) context.Context {
	return context.WithValue(ctx, purposeKey{}, purpose)
}

var (
	actionRe = regexp.MustCompile(`^[a-z][a-z_]*(\.[a-z][a-z_]*)*$`)
	// snilsLike matches what could be a SNILS (11 digits, with or without
	// its separators) or any longer run of digits: a purpose is typed by a
	// person, and must not carry one into the trail.
	snilsLike = regexp.MustCompile(`\d{3}[- ]?\d{3}[- ]?\d{3}[- ]?\d{2}\d*`)
)

const (
	maxPurpose = 500
	maxName    = 200
)

// complete fills defaults from ctx and checks the record.
func (r Record) complete(ctx context.Context, now time.Time) (Record, error) {
	if r.At.IsZero() {
		r.At = now
	}
	r.At = r.At.UTC().Truncate(time.Microsecond)
	if a, ok := ctx.Value(actorKey{}).(actor); ok && (r.Actor == uuid.Nil || r.Actor == a.id) {
		r.Actor = a.id
		if r.ActorName == "" {
			r.ActorName = a.name
		}
	}
	if p, ok := ctx.Value(purposeKey{}).(string); ok && r.Purpose == "" {
		r.Purpose = p
	}
	if r.RequestID == "" {
		r.RequestID = reqid.From(ctx)
	}
	if r.Outcome == "" {
		r.Outcome = OutcomeSuccess
	}
	r.Purpose = truncate(snilsLike.ReplaceAllString(strings.TrimSpace(r.Purpose), "[masked]"), maxPurpose)
	r.ActorName = truncate(r.ActorName, maxName)
	var bad []string
	if !actionRe.MatchString(r.Action) || len(r.Action) > 100 {
		bad = append(bad, fmt.Sprintf("action %q", r.Action))
	}
	switch r.Outcome {
	case OutcomeSuccess, OutcomeDenied, OutcomeFailure:
	default:
		bad = append(bad, fmt.Sprintf("outcome %q", r.Outcome))
	}
	for name, v := range map[string]string{"object_type": r.ObjectType, "object_id": r.ObjectID, "request_id": r.RequestID} {
		if len(v) > 200 || !utf8.ValidString(v) {
			bad = append(bad, name)
		}
	}
	if len(r.Detail) > 1000 || !utf8.ValidString(r.Detail) {
		bad = append(bad, "detail")
	}
	if len(bad) > 0 {
		return r, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(bad, ", "))
	}
	return r, nil
}

func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// timeLayout renders At in the canonical encoding: UTC, microseconds.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// canonical is the record's canonical encoding, version 1: a label, then
// each field as its length (uvarint) and its bytes, in a fixed order. The
// region and the sequence number are part of it, so a record cannot be
// moved to another region or position unnoticed.
func canonical(tenant uuid.UUID, e *Entry) []byte {
	b := make([]byte, 0, 256)
	b = append(b, "treasury.audit.v1"...)
	field := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	actorID := ""
	if e.Actor != uuid.Nil {
		actorID = e.Actor.String()
	}
	field(tenant.String())
	field(strconv.FormatInt(e.Seq, 10))
	field(e.At.UTC().Format(timeLayout))
	field(actorID)
	field(e.ActorName)
	field(e.Action)
	field(e.ObjectType)
	field(e.ObjectID)
	field(e.Purpose)
	field(e.RequestID)
	field(e.Outcome)
	field(e.Detail)
	return b
}

// chainHash is SHA-256(prev || canonical(record)).
func chainHash(tenant uuid.UUID, prev []byte, e *Entry) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(canonical(tenant, e))
	return h.Sum(nil)
}

// genesis is the prev_hash of a region's first record.
var genesis = make([]byte, sha256.Size)
