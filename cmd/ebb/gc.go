package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/runner"
	"github.com/opencontainers/go-digest"
)

// historyOutput is the one output of a flow's history entry in the cache
// (runner/history.go): gc keeps those entries under -max-size.
const historyOutput = "durations.json"

// gcCmd prunes the repository and cache of a run directory:
// ebb gc [-dir DIR] [-older-than D] [-max-size SIZE] [-keep STATE]... [-keep-none] [-n].
//
// The outputs of every state given with -keep, and of DIR/state.json
// unless -keep-none, are never removed, nor the cache entries that made
// them, so that running those flows again is served from the cache. A
// state file that cannot be read fails gc before it removes anything. A
// state of a run that has not finished names no outputs and so keeps
// nothing: resuming it after gc recomputes what gc removed.
func gcCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gc", "", stderr)
	dir := fs.String("dir", ".ebb", "the run directory whose repository and cache to prune")
	olderThan := fs.Duration("older-than", -1, "remove blobs and cache entries not used or written within this long (0s: all not kept)")
	maxSize := fs.String("max-size", "", "remove blobs, least recently used first, until the rest take at most this much (as 10GiB)")
	var keep []string
	fs.Func("keep", "a state file whose outputs to keep (repeatable; DIR/state.json is kept too unless -keep-none)", func(s string) error {
		keep = append(keep, s)
		return nil
	})
	keepNone := fs.Bool("keep-none", false, "do not keep DIR/state.json's outputs")
	dryRun := fs.Bool("n", false, "say what would be removed, remove nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("want no arguments, got %d: %w", fs.NArg(), errUsage)
	}
	var p repository.Policy
	if *olderThan >= 0 {
		p.Before = time.Now().Add(-*olderThan)
	}
	if *maxSize != "" {
		n, err := ebb.ParseQuantity(*maxSize)
		if err != nil || n > math.MaxInt64 {
			return fmt.Errorf("-max-size %q: not a size: %w", *maxSize, errUsage)
		}
		p.MaxSize = max(int64(n), 1) // 0 means "no limit" to Plan
	}
	if _, err := os.Stat(filepath.Join(*dir, "repository")); err != nil {
		return fmt.Errorf("run directory %s: %w", *dir, err)
	}
	if !*keepNone {
		def := filepath.Join(*dir, "state.json")
		if _, err := os.Stat(def); err == nil {
			keep = append(keep, def)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	p.Keep = make(map[digest.Digest]bool)
	for _, path := range keep {
		s, err := runner.FileStore{Path: path}.Load(ctx)
		if err != nil {
			return fmt.Errorf("state to keep: %w", err)
		}
		if s.Result != nil {
			for _, dg := range s.Result.Outputs {
				p.Keep[dg] = true
			}
		}
	}
	p.Pinned = func(e repository.Entry) bool {
		_, ok := e.Result.Outputs[historyOutput]
		return ok && len(e.Result.Outputs) == 1
	}

	repo, err := repository.Open(filepath.Join(*dir, "repository"))
	if err != nil {
		return err
	}
	cache, err := repository.OpenCache(filepath.Join(*dir, "repository"))
	if err != nil {
		return err
	}
	g, err := repository.Collect(ctx, repo, cache, p, *dryRun)
	if err != nil {
		return err
	}
	verb := "removed"
	if *dryRun {
		verb = "would remove"
	}
	fmt.Fprintf(stdout, "%s %d blobs (%s), %d cache entries; kept %d blobs (%s) needed by %d states\n",
		verb, len(g.Blobs), ebb.FormatBytes(float64(repository.Size(g.Blobs))), len(g.Entries),
		len(g.Kept), ebb.FormatBytes(float64(repository.Size(g.Kept))), len(keep))
	return nil
}
