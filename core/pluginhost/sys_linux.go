package pluginhost

import (
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// isolate puts the plug-in in a process group of its own (so that a kill
// reaches what it started) and has the kernel kill it when the host dies.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// limit caps the process's address space and lowers its CPU priority below
// the host's, so a busy plug-in yields to the platform. It is applied
// right after the handshake: a plug-in's start runs without it.
//
// Linux keeps a nice value for each thread, and PRIO_PROCESS sets only
// the one whose id it is given: a Go program has several threads by the
// time it has answered the handshake. The plug-in leads a process group
// of its own (isolate), and PRIO_PGRP sets every thread of the group;
// threads started later take their creator's.
func limit(pid int, memoryBytes uint64) {
	if pid <= 0 {
		return
	}
	if memoryBytes > 0 {
		_ = unix.Prlimit(pid, unix.RLIMIT_AS, &unix.Rlimit{Cur: memoryBytes, Max: memoryBytes}, nil)
	}
	_ = unix.Setpriority(unix.PRIO_PGRP, pid, pluginNice)
}

// pluginNice is a plug-in's CPU priority: nice 5, below the default 0.
const pluginNice = 5

func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// hideFromPlugins makes the host's process non-dumpable. A plug-in runs as
// the host's user, and a process of the same user may otherwise read the
// host's /proc/<pid>/environ (the database URL), mem (keys, personal data)
// and fd: for a non-dumpable process those are root's. Its children are
// dumpable again once they exec, so the host still reads theirs. It also
// means no core dumps of the host, which would hold the same secrets.
func hideFromPlugins() error { return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0) }

// lowerThisThread gives the calling OS thread the plug-in's priority.
func lowerThisThread() { _ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), pluginNice) }
