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
	"time"

	"github.com/ebbflow/ebb/pool"

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
	e.files.work = w
	work := w.path
	if len(e.files.inputs) == 0 {
		return work, nil
	}
	root, err := os.OpenRoot(work)
	if err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	defer root.Close()
	e.res.StageIn = make([]pool.Transfer, 0, len(e.files.inputs))
	for _, name := range slices.Sorted(maps.Keys(e.files.inputs)) {
		d := e.files.inputs[name]
		start := time.Now()
		n, where, err := e.stage(ctx, root, name, d)
		if err != nil {
			return "", fmt.Errorf("input %q (%s): %w", name, d, err)
		}
		e.res.StageIn = append(e.res.StageIn, pool.Transfer{Name: name, Digest: d, Bytes: n,
			Start: start, Duration: time.Since(start), Where: where})
	}
	return work, nil
}

// stage copies the blob d from the repository to name under root, by way
// of the alloc's copy of it (see alloc.blob). Inputs are plain files
// (mode 0644), each exec's its own to change: a script among them is run
// through its interpreter, as in {"sh", "script"}.
//
// It returns the bytes staged and where they came from (pool.Transfer's
// Where).
func (e *exec) stage(ctx context.Context, root *os.Root, name string, d digest.Digest) (int64, string, error) {
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return 0, "", err
		}
	}
	path, where, err := e.a.blob(ctx, d)
	if err != nil {
		return 0, "", err
	}
	r, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		r.Close()
		return 0, "", err
	}
	n, err := io.Copy(f, r)
	return n, where, errors.Join(err, r.Close(), f.Close())
}

// storeOutputs puts each output file into the repository and returns the
// digests. An output that is missing, or is not a regular file (a FIFO, a
// device, a symbolic link), fails the exec; such a file is never opened
// in a way that could block. Outputs are opened through an os.Root, so a
// symbolic link cannot carry a file from outside the work directory into
// the repository. A hard link can: it is the file itself, as a copy would
// be, and the task could only link a file it could read (Linux's
// fs.protected_hardlinks) and so copy anyway. An output is what its name
// holds when the exec ends, wherever else that file is also named.
func (e *exec) storeOutputs(ctx context.Context, work string) (map[string]digest.Digest, error) {
	if e.files == nil || len(e.files.outputs) == 0 {
		return nil, nil
	}
	root, err := os.OpenRoot(work)
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	defer root.Close()
	out := make(map[string]digest.Digest, len(e.files.outputs))
	staged := make([]pool.Transfer, 0, len(e.files.outputs))
	where := putWhere(e.a.p.cfg.Repository)
	for _, name := range e.files.outputs {
		start := time.Now()
		d, n, err := e.store(ctx, root, name)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		out[name] = d
		staged = append(staged, pool.Transfer{Name: name, Digest: d, Bytes: n, Start: start, Duration: time.Since(start), Where: where})
	}
	e.res.StageOut = staged
	return out, nil
}

// A Placer is a repository that says where the blobs put into it go
// (pool.Transfer's Where); one that does not is a pool.WhereRepository.
type Placer interface {
	PutWhere() string
}

func putWhere(r pool.Repository) string {
	if p, ok := r.(Placer); ok {
		return p.PutWhere()
	}
	return pool.WhereRepository
}

func (e *exec) store(ctx context.Context, root *os.Root, name string) (digest.Digest, int64, error) {
	// Never a blocking open: a FIFO would wait for a writer forever.
	f, err := regfile.OpenIn(root, name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", 0, errors.New("missing")
	}
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	cr := &countReader{r: f}
	d, err := e.a.p.cfg.Repository.Put(ctx, cr)
	return d, cr.n, err
}

// countReader counts the bytes read through it. It seeks, so that a
// repository that failed to store it in a transient way (a remote one
// whose server restarts) can send it again from the start; n is then
// the position it read to.
type countReader struct {
	r io.ReadSeeker
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countReader) Seek(offset int64, whence int) (int64, error) {
	n, err := c.r.Seek(offset, whence)
	if err == nil {
		c.n = n
	}
	return n, err
}
