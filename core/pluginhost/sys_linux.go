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
// right after the start: a plug-in's first milliseconds run without it.
func limit(pid int, memoryBytes uint64) {
	if pid <= 0 {
		return
	}
	if memoryBytes > 0 {
		_ = unix.Prlimit(pid, unix.RLIMIT_AS, &unix.Rlimit{Cur: memoryBytes, Max: memoryBytes}, nil)
	}
	_ = unix.Setpriority(unix.PRIO_PROCESS, pid, 5)
}

func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
