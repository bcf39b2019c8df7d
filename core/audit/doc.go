// Package audit keeps each region's append-only, hash-chained audit trail of
// access to personal data and of security-relevant changes (docs/audit.md).
//
// A record is appended with Append inside the tenancy.Tx of the work it
// describes, so it commits or rolls back with that work, and a failure to
// write it fails the work. Appends do not wait for one another: they land in
// audit_pending, and the chainer — a few goroutines per process, batching
// like a group commit — moves committed pending records into audit_records,
// giving each the next sequence number of its region and
//
//	hash = SHA-256(prev_hash || canonical encoding of the record)
//
// under a per-region lock that only chainers take. Verify walks a region's
// chain and names the first sequence number at which it is broken.
package audit
