package proctest

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestHold checks that a held cluster's lock keeps out every other open
// of its file (as another test process's would be) until the last test
// of this process holding it has ended.
func TestHold(t *testing.T) {
	name := "ebb-proctest-hold-" + filepath.Base(t.TempDir()) + ".lock"
	path := filepath.Join(os.TempDir(), name)
	t.Cleanup(func() { os.Remove(path) })
	free := func() bool {
		t.Helper()
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != nil && !errors.Is(err, syscall.EWOULDBLOCK) {
			t.Fatal(err)
		}
		return err == nil // closing f releases it
	}
	t.Run("outer", func(t *testing.T) {
		Hold(t, name)
		if free() {
			t.Fatal("the lock is free while a test holds it")
		}
		t.Run("inner", func(t *testing.T) {
			Hold(t, name)
		})
		if free() {
			t.Fatal("the lock is free after the inner test ended while the outer one holds it")
		}
	})
	if !free() {
		t.Fatal("the lock is still held after every test holding it ended")
	}
}
