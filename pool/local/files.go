package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/ebbflow/ebb/internal/regfile"
	"github.com/opencontainers/go-digest"
)

// makeWork takes an empty work directory for the exec from its alloc and
// stages the exec's inputs there. It returns the directory's path.
func (e *exec) makeWork(ctx context.Context) (string, error) {
	w, err := e.a.takeWork()
	if err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	e.work = w
	work := w.path
	if len(e.cfg.Inputs) == 0 {
		return work, nil
	}
	root, err := os.OpenRoot(work)
	if err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	defer root.Close()
	for _, name := range slices.Sorted(maps.Keys(e.cfg.Inputs)) {
		d := e.cfg.Inputs[name]
		if err := e.stage(ctx, root, name, d); err != nil {
			return "", fmt.Errorf("input %q (%s): %w", name, d, err)
		}
	}
	return work, nil
}

// stage copies the blob d from the repository to name under root, by way
// of the alloc's copy of it (see alloc.blob). Inputs are plain files
// (mode 0644), each exec's its own to change: a script among them is run
// through its interpreter, as in {"sh", "script"}.
func (e *exec) stage(ctx context.Context, root *os.Root, name string, d digest.Digest) error {
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	path, err := e.a.blob(ctx, d)
	if err != nil {
		return err
	}
	r, err := os.Open(path)
	if err != nil {
		return err
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		r.Close()
		return err
	}
	_, err = io.Copy(f, r)
	return errors.Join(err, r.Close(), f.Close())
}

// storeOutputs puts each output file into the repository and returns the
// digests. An output that is missing, or is not a regular file (a FIFO, a
// device, a symbolic link), fails the exec; such a file is never opened
// in a way that could block. Outputs are opened through an os.Root, so a symbolic link cannot
// carry a file from outside the work directory into the repository.
func (e *exec) storeOutputs(ctx context.Context, work string) (map[string]digest.Digest, error) {
	if len(e.cfg.Outputs) == 0 {
		return nil, nil
	}
	root, err := os.OpenRoot(work)
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	defer root.Close()
	out := make(map[string]digest.Digest, len(e.cfg.Outputs))
	for _, name := range e.cfg.Outputs {
		d, err := e.store(ctx, root, name)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		out[name] = d
	}
	return out, nil
}

func (e *exec) store(ctx context.Context, root *os.Root, name string) (digest.Digest, error) {
	// Never a blocking open: a FIFO would wait for a writer forever.
	f, err := regfile.OpenIn(root, name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", errors.New("missing")
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	return e.a.p.cfg.Repository.Put(ctx, f)
}
