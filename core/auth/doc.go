// Package auth tells who is calling: local users with argon2id passwords,
// short-lived Ed25519-signed access tokens with rotating refresh tokens,
// API keys for service accounts, and bearer tokens of a configured OIDC
// issuer. What a caller may do is package access's business.
package auth
