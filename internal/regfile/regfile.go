// Package regfile opens files that must be regular files, without ever
// blocking in open: a FIFO opened for reading waits for a writer, and a
// device may never end (/dev/zero) or have effects when opened. Open and
// OpenIn check the type before opening where they can (Lstat) and always
// after (fstat of a descriptor opened with O_NONBLOCK, which a FIFO
// answers at once), so a file swapped in between is caught too.
package regfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

// Open opens the file at path for reading, following symbolic links. If it
// is not a regular file it fails with an error wrapping ebb.ErrInvalid that
// names path and its type; errors from open are returned as they are
// (fs.ErrNotExist among them).
func Open(path string) (*os.File, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, notRegular(path, fi.Mode())
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	return checked(f, path)
}

// OpenIn is Open for name under root, which it never leaves; unlike Open
// it does not follow a symbolic link named by name itself, which fails
// as not a regular file.
func OpenIn(root *os.Root, name string) (*os.File, error) {
	if fi, err := root.Lstat(name); err == nil && !fi.Mode().IsRegular() {
		return nil, notRegular(name, fi.Mode())
	}
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	return checked(f, name)
}

// checked returns f if it is a regular file; otherwise it closes it.
func checked(f *os.File, name string) (*os.File, error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notRegular(name, fi.Mode())
	}
	return f, nil
}

func notRegular(name string, mode fs.FileMode) error {
	t := "irregular file"
	switch {
	case mode&fs.ModeNamedPipe != 0:
		t = "named pipe (FIFO)"
	case mode&fs.ModeCharDevice != 0:
		t = "character device"
	case mode&fs.ModeDevice != 0:
		t = "device"
	case mode&fs.ModeSocket != 0:
		t = "socket"
	case mode&fs.ModeSymlink != 0:
		t = "symbolic link"
	case mode.IsDir():
		t = "directory"
	}
	return fmt.Errorf("%s is a %s, not a regular file: %w", name, t, ebb.ErrInvalid)
}

// Put stores the content of the regular file at path with put, never
// opening what is not a regular file (a FIFO, a device): the PutFile of
// a store that has no better way. It fails with an error wrapping
// ebb.ErrNotExist (and fs.ErrNotExist) if there is no file at path, and
// with ebb.ErrInvalid if it is not a regular file.
func Put(ctx context.Context, path string, put func(context.Context, io.Reader) (digest.Digest, error)) (digest.Digest, error) {
	f, err := Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("put file: %w: %w", err, ebb.ErrNotExist)
	} else if err != nil {
		return "", fmt.Errorf("put file: %w", err)
	}
	defer f.Close()
	return put(ctx, f)
}
