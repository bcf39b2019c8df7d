// Package pdcrypt protects personal data at rest (docs/personal-data.md).
//
// Each region (tenant) has its own keys, kept in tenant_keys wrapped
// (AES-256-GCM) by the platform's master key: a data key that encrypts
// personal data — SNILS, identity documents, bank details — with AES-256-GCM,
// and an index key that turns a normalised value into a blind index
// (HMAC-SHA-256) so that an exact look-up ("the person with this SNILS")
// needs no plaintext in the database. A ciphertext names the data key that
// made it, so rotating the data key leaves old data readable; rotating the
// master key rewraps the regions' keys and re-encrypts no data.
//
// Unwrapped keys live only in memory, in a bounded cache. Neither keys nor
// plaintext ever reach a log line or an error message.
package pdcrypt
