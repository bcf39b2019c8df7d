package serve

import "syscall"

// hide makes the plug-in's process non-dumpable. Every region's plug-in
// runs as the platform's user, and a process of the same user may
// otherwise read another's /proc/<pid>/environ (its region's configuration,
// with whatever credentials it holds) and mem (its cases). The host, also
// non-dumpable, still reads the 0444 files it watches (stat, limits).
func hide() {
	const prSetDumpable = 4 // PR_SET_DUMPABLE, linux/prctl.h
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0)
}
