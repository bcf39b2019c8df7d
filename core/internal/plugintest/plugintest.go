// Package plugintest builds the fault-test plug-in (core/internal/testplugin)
// for the core's tests that run a real plug-in process.
package plugintest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	once  sync.Once
	built []byte
	err   error
)

// Binary is the test plug-in's binary, built once per test binary (the Go
// toolchain's cache makes it quick after the first).
func Binary(t testing.TB) []byte {
	t.Helper()
	once.Do(func() {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			err = fmt.Errorf("plugintest: where is this file")
			return
		}
		dir, e := os.MkdirTemp("", "testplugin")
		if e != nil {
			err = e
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "testplugin")
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "testplugin")
		if out, e := cmd.CombinedOutput(); e != nil {
			err = fmt.Errorf("go build %s: %v\n%s", cmd.Dir, e, out)
			return
		}
		built, err = os.ReadFile(bin)
	})
	if err != nil {
		t.Fatal(err)
	}
	return built
}
