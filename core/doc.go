// Package core holds nothing but the checks that keep the shared core's
// packages layered as ARCHITECTURE.md draws them; the core itself lives in
// its sub-packages.
package core
