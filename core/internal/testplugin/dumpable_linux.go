package main

import (
	"strconv"
	"syscall"
)

// dumpable is PR_GET_DUMPABLE's answer for this process.
func dumpable() string {
	const prGetDumpable = 3 // linux/prctl.h
	r, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prGetDumpable, 0, 0)
	if errno != 0 {
		return "error: " + errno.Error()
	}
	return strconv.Itoa(int(r))
}
