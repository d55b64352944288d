// Package atomicfile writes files so that readers, and a machine that
// crashes, see either the old content or the new one, whole, never a part.
package atomicfile

import (
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically: to a temporary file in the same
// directory (so the rename is atomic), synced, renamed over path, and then
// the directory is synced so the rename itself survives a crash. On error
// path is left as it was and the temporary file is removed. The error is
// the file system's, naming the path.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if tmp != "" {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	tmp = ""
	return SyncDir(dir)
}

// SyncDir flushes dir's entries to stable storage.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
