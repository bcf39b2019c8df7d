// Package tenants holds the regions' own data — for each demo region its
// measures as files (README.md) — embedded in the binary, which hands them
// to the platform when it seeds the demo.
package tenants

import "embed"

// Files are the regions' directories: <code>-<name>/measures/*.json.
//
//go:embed */measures/*.json */plugins.json
var Files embed.FS
