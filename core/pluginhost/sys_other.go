//go:build !linux

package pluginhost

import "os/exec"

// Outside Linux the host sets no limits and relies on go-plugin's own
// clean-up when the host exits normally.
func isolate(*exec.Cmd)      {}
func limit(int, uint64)      {}
func killGroup(pid int)      {}
func lowerThisThread()       {}
func hideFromPlugins() error { return nil }
