//go:build !linux

package pluginhost

import (
	"os"
	"os/exec"
)

// Outside Linux the host sets no limits and relies on go-plugin's own
// clean-up when the host exits normally.
func isolate(*exec.Cmd)      {}
func limit(int, uint64)      {}
func killGroup(pid int)      {}
func lowerThisThread()       {}
func hideFromPlugins() error { return nil }

// frozenCopy has no sealed memory files to copy into outside Linux: the
// process starts from the binary's path, checked by go-plugin's checksum.
func frozenCopy(string) (*os.File, []byte, error) { return nil, nil, nil }

const childExe = ""
