// Package connector is a connector written as a plug-in: the code that
// joins the platform to one of a region's own systems. There are four
// kinds, each a small interface; a plug-in implements one, and its main is
// one call to package serve:
//
//   - DataSource (serve.DataSource) answers facts about persons from a
//     regional system — a register of large families, of disabilities, of
//     incomes — so that the platform does not need a copy of it.
//   - EventSource (serve.EventSource) gives life events (a birth, a death,
//     a retirement) in order, from a cursor, so that the platform can act
//     on them without the region having to push anything.
//   - PaymentSink (serve.PaymentSink) hands payment orders to the region's
//     bank or treasury and reports what became of them.
//   - Notifier (serve.Notifier) delivers notices to persons: a portal, SMS,
//     e-mail or post.
//
// The types are plain Go: money is int64 kopecks (never floats, which
// cannot hold a kopeck exactly); a date is a time.Time at midnight UTC and
// the zero time is no date. A batch's answer refers to its request by ids
// (SNILS, order and notice ids): the platform checks the answer against
// them and refuses one that names what it did not ask about, so a result
// never lands on the wrong person. Empty slices and maps arrive as nil.
//
// An error fails the whole call. Wrap the error of the system behind the
// plug-in in sdk.Upstream — the register did not answer — so that the
// region is told its system failed, not its plug-in.
package connector

import (
	"context"
	"fmt"
	"time"
)

// DataSource is the interface a data source plug-in implements.
type DataSource interface {
	// Facts are the facts the source has about persons as of a date (the
	// zero time: now). A person the source does not know is absent from
	// the answer; each one it knows is there once, with the SNILS exactly
	// as asked.
	Facts(ctx context.Context, persons []PersonRef, asOf time.Time) ([]PersonFacts, error)
}

// EventSource is the interface an event source plug-in implements.
type EventSource interface {
	// Events are the events after cursor ("" is the beginning), at most
	// limit of them (0: as many as the source likes), and the cursor the
	// next call continues from. With nothing new the answer is no events
	// and the same cursor; with events the cursor must move on, or the
	// platform would read the same events for ever. Each event's ID is
	// unique and stable, so that the platform can tell one it has already
	// seen.
	Events(ctx context.Context, cursor string, limit int) (events []Event, next string, err error)
}

// PaymentSink is the interface a payment sink plug-in implements.
type PaymentSink interface {
	// Submit hands orders over: one status an order, by its ID. An order
	// the sink refuses (a malformed account) is PaymentRejected with the
	// reason in Detail, not a failed call, so that one bad order does not
	// hold up the others. Submitting an order again (the platform retries
	// after a failed call) must not pay it twice: the sink answers the
	// status it already has.
	Submit(ctx context.Context, orders []PaymentOrder) ([]PaymentStatus, error)
	// Statuses are the current statuses of orders submitted before. An
	// order the sink does not know is absent from the answer.
	Statuses(ctx context.Context, orderIDs []string) ([]PaymentStatus, error)
}

// Notifier is the interface a notifier plug-in implements.
type Notifier interface {
	// Deliver sends notices: one delivery a notice, by its ID. A notice
	// that could not be delivered is DeliveryFailed with the reason, not a
	// failed call.
	Deliver(ctx context.Context, notices []Notice) ([]Delivery, error)
}

// Text is a text in Russian and English.
type Text struct {
	RU, EN string
}

// Period is a span of days, both ends included. A zero To is open-ended.
type Period struct {
	From, To time.Time
}

// ---- DataSource ---------------------------------------------------------

// PersonRef names a person the platform asks about. The SNILS is the
// platform's: 11 digits.
type PersonRef struct {
	SNILS string
}

// PersonFacts is what a source knows of one person.
type PersonFacts struct {
	SNILS      string // as in the PersonRef asked
	Categories []CategoryFact
	Incomes    []IncomeFact
	// Source names the regional system the facts come from: the audit
	// shows it next to each fact.
	Source string
}

// CategoryFact is a category the person belongs to ("large_family") over
// a period.
type CategoryFact struct {
	Code   string
	Period Period
}

// IncomeFact is an income of one month: Month is "YYYY-MM" (see Month and
// ParseMonth), Kind a code of the income's kind ("salary", "pension").
type IncomeFact struct {
	Month         string
	Kind          string
	AmountKopecks int64
}

// ---- EventSource --------------------------------------------------------

// Event is a life event of a person.
type Event struct {
	ID         string
	Kind       string // "birth", "death", "retirement", "disability", ...
	SNILS      string
	Date       time.Time // when it happened
	Attributes map[string]string
}

// ---- PaymentSink --------------------------------------------------------

// The statuses of a payment order.
const (
	PaymentAccepted = "accepted" // taken by the sink, not yet paid
	PaymentPaid     = "paid"
	PaymentReturned = "returned" // paid, and the bank sent it back
	PaymentRejected = "rejected" // refused; Detail says why
)

// PaymentOrder is one payment to one recipient.
type PaymentOrder struct {
	ID        string // the platform's, unique
	SNILS     string
	Recipient string // the recipient's full name
	Account   string // the recipient's bank account: 20 digits
	BIK       string // the bank's BIK: 9 digits
	// AmountKopecks is what is paid, in kopecks.
	AmountKopecks int64
	Measure       string // the measure's code
	Period        Period // the period the payment is for
	Purpose       string // the purpose of payment, as the bank shows it
}

// PaymentStatus is what became of an order.
type PaymentStatus struct {
	OrderID string
	Status  string // one of the Payment* constants
	Detail  string
}

// ---- Notifier -----------------------------------------------------------

// The channels a notice goes by.
const (
	ChannelPortal = "portal"
	ChannelSMS    = "sms"
	ChannelEmail  = "email"
	ChannelPost   = "post"
)

// The statuses of a delivery.
const (
	DeliveryDelivered = "delivered"
	DeliveryQueued    = "queued" // taken, to be delivered later
	DeliveryFailed    = "failed" // Detail says why
)

// Notice is one message to one person.
type Notice struct {
	ID      string // the platform's, unique
	SNILS   string
	Channel string // one of the Channel* constants
	Address string // the phone, e-mail or postal address the channel needs
	Subject Text
	Body    Text
}

// Delivery is what became of a notice.
type Delivery struct {
	NoticeID string
	Status   string // one of the Delivery* constants
	Detail   string
}

// ---- Months -------------------------------------------------------------

// Month is the month of t as an IncomeFact has it: "YYYY-MM".
func Month(t time.Time) string {
	return t.Format("2006-01")
}

// ParseMonth reads a month "YYYY-MM" (years 0001 to 9999) into the first
// day of it, midnight UTC. It is strict — exactly seven characters — so
// that a month has one spelling and compares as a string.
func ParseMonth(s string) (time.Time, error) {
	bad := func() (time.Time, error) { return time.Time{}, fmt.Errorf("%q is not a month YYYY-MM", s) }
	if len(s) != 7 || s[4] != '-' {
		return bad()
	}
	year, month := 0, 0
	for i, c := range []byte(s) {
		if i == 4 {
			continue
		}
		if c < '0' || c > '9' {
			return bad()
		}
		if i < 4 {
			year = year*10 + int(c-'0')
		} else {
			month = month*10 + int(c-'0')
		}
	}
	if year < 1 || month < 1 || month > 12 {
		return bad()
	}
	return time.Date(year, time.Month(month), 1, 0, 0, 0, 0, time.UTC), nil
}
