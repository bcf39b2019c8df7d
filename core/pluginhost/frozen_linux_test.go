package pluginhost

import (
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Where no executable memory file can be made, a plug-in starts from the
// descriptor its checksum was read through: the file itself, not a path
// that could be renamed over meanwhile.
func TestFrozenCopyWithoutMemoryFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugin-1.0.0")
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256([]byte("#!/bin/sh\nexit 0\n"))
	for _, refused := range []bool{false, true} {
		if refused {
			memfdCreate = func(string, int) (int, error) { return -1, unix.EACCES }
			t.Cleanup(func() { memfdCreate = unix.MemfdCreate })
		}
		exe, sum, err := frozenCopy(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(sum) != string(want[:]) {
			t.Errorf("refused %v: a checksum of other bytes", refused)
		}
		var got, orig syscall.Stat_t
		if err := syscall.Fstat(int(exe.Fd()), &got); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Stat(path, &orig); err != nil {
			t.Fatal(err)
		}
		if same := got.Ino == orig.Ino && got.Dev == orig.Dev; same != refused {
			t.Errorf("memory files refused %v: the descriptor is the file itself: %v", refused, same)
		}
		if _, err := exe.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(exe); err != nil || string(b) != "#!/bin/sh\nexit 0\n" {
			t.Errorf("refused %v: the descriptor reads %q, %v", refused, b, err)
		}
		_ = exe.Close()
	}
}
