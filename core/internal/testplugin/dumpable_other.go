//go:build !linux

package main

func dumpable() string { return "unknown" }
