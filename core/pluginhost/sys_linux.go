package pluginhost

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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

// frozenCopy is the binary at path copied, through a descriptor that
// followed no link, into a sealed memory file, and the SHA-256 of what was
// copied; the process is then started from the copy (childExe). A plug-in
// runs as the host's user and can write the plug-in directory: started
// from its path, a binary renamed into place or written over between the
// checksum and exec would run in another region's name, with its
// configuration and cases. Sealed, the copy can be neither written nor
// resized, so what runs is what was hashed.
func frozenCopy(path string) (exe *os.File, sum []byte, err error) {
	src, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	keep := false
	defer func() {
		if !keep {
			_ = src.Close()
		}
	}()
	if err := checkMode(src); err != nil {
		return nil, nil, err
	}
	fd, err := memfdCreate(filepath.Base(path), unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) { // a kernel before 6.3, which has no MFD_EXEC: executable already
		fd, err = memfdCreate(filepath.Base(path), unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS) {
		// No executable memory files here (vm.memfd_noexec=2, a sandbox
		// without memfd_create): the process starts from the descriptor
		// opened above and hashed now. A file renamed over the path no
		// longer runs in its place; one written into in place still could.
		h := sha256.New()
		if _, err := io.Copy(h, src); err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", path, err)
		}
		keep = true
		return src, h.Sum(nil), nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("a memory file for %s: %w", path, err)
	}
	exe = os.NewFile(uintptr(fd), filepath.Base(path))
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(exe, h), src); err != nil {
		_ = exe.Close()
		return nil, nil, fmt.Errorf("copying %s: %w", path, err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE); err != nil {
		_ = exe.Close()
		return nil, nil, fmt.Errorf("sealing the copy of %s: %w", path, err)
	}
	return exe, h.Sum(nil), nil
}

// childExe is the path a child execs its frozen copy by: the copy is the
// child's first extra file (descriptor 3), put there before exec and left
// open across it, so that an interpreter named by a script's first line
// can open it too. The host's own descriptor of it is close-on-exec: no
// other child sees it.
const childExe = "/proc/self/fd/3"

// memfdCreate is unix.MemfdCreate; a test takes it away.
var memfdCreate = unix.MemfdCreate
