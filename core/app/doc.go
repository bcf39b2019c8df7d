// Package app is the composition root: it turns configuration into a store,
// services and an HTTP server, and nothing else in the platform wires
// concrete implementations together.
package app
