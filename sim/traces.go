package sim

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// FindTraces looks for the directory of real workflow traces that sits
// beside the checkout, ../shared/traces: relative to dir and to each of
// its parents up to the module root (the first holding a go.mod), one
// above it, and two above it (a worktree in a folder beside the main
// checkout). It returns the path and whether it was found.
func FindTraces(dir string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for range 16 {
		for _, rel := range []string{filepath.Join("..", "shared", "traces"), filepath.Join("shared", "traces")} {
			p := filepath.Join(dir, rel)
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				return filepath.Clean(p), true
			}
		}
		_, err := os.Stat(filepath.Join(dir, "go.mod"))
		parent := filepath.Dir(dir)
		if err == nil {
			// A checkout in a folder of worktrees (…/wt/NAME) finds
			// the traces two levels above its root.
			p := filepath.Join(parent, "..", "shared", "traces")
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				return filepath.Clean(p), true
			}
			break
		}
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", false
}

// ReadTraceDir reads every trace (*.json, WfFormat or the simulator's own)
// in dir, in name order. Each workload is named after its file, without
// the extension and without a trailing "-001" (the instance number
// WfInstances gives every file).
//
// Every file is read, so that one bad file does not hide another: the
// error names each bad file (errors.Join of their errors).
func ReadTraceDir(dir string) ([]*Workload, error) {
	return TraceReader{}.ReadDir(dir)
}

// ReadDir is [ReadTraceDir] with tr's options.
func (tr TraceReader) ReadDir(dir string) ([]*Workload, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	var (
		out  []*Workload
		errs []error
	)
	for _, p := range paths {
		w, err := tr.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		w.Source = filepath.Base(p)
		w.Name = strings.TrimSuffix(w.Name, "-001")
		out = append(out, w)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
