// Package registry keeps a region's registry of recipients: persons, their
// relations, monthly incomes, disabilities and recipient categories, and
// the bulk import that loads millions of them from files.
//
// SNILS, identity documents, contacts and bank details are sealed with the
// region's data key (core/pdcrypt) and a SNILS is found through its blind
// index; neither it nor any of them reaches a log, an error or the audit
// trail in plaintext. Facts are never changed in place: a correction
// supersedes the current row with a new one, so the history stays; a person
// is never deleted: a duplicate is merged into the person kept. Every read
// of a person and every write of personal data appends an audit record in
// the same transaction (core/audit), so a request whose record cannot be
// written fails.
package registry
