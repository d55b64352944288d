package regfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ebbflow/ebb"
)

// Nothing here may block: a FIFO without a writer, or a device, is
// refused without waiting, and a regular file reads as usual.
func TestOpenRefusesWhatIsNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("fifo", filepath.Join(dir, "tofifo")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file", filepath.Join(dir, "tofile")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, tc := range []struct {
		name string
		open func() (*os.File, error)
		says string // "" for a regular file holding "data"
	}{
		{"fifo", func() (*os.File, error) { return Open(fifo) }, "named pipe"},
		{"link to fifo", func() (*os.File, error) { return Open(filepath.Join(dir, "tofifo")) }, "named pipe"},
		{"dev/zero", func() (*os.File, error) { return Open("/dev/zero") }, "character device"},
		{"dev/null", func() (*os.File, error) { return Open(os.DevNull) }, "character device"},
		{"directory", func() (*os.File, error) { return Open(dir) }, "directory"},
		{"file", func() (*os.File, error) { return Open(file) }, ""},
		{"link to file", func() (*os.File, error) { return Open(filepath.Join(dir, "tofile")) }, ""},
		{"root: fifo", func() (*os.File, error) { return OpenIn(root, "fifo") }, "named pipe"},
		{"root: link to fifo", func() (*os.File, error) { return OpenIn(root, "tofifo") }, "symbolic link"},
		{"root: file", func() (*os.File, error) { return OpenIn(root, "file") }, ""},
	} {
		f, err := tc.open()
		if tc.says != "" {
			if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("%s: Open = %v, want ErrInvalid saying %q", tc.name, err, tc.says)
			}
			if f != nil {
				f.Close()
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		b, err := io.ReadAll(f)
		f.Close()
		if string(b) != "data" || err != nil {
			t.Errorf("%s: read %q, %v", tc.name, b, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of nothing = %v, want ErrNotExist", err)
	}
}
