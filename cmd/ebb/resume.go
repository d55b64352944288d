package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/ebbflow/ebb/runner"
)

// resumeCmd resumes a run from its state file: ebb resume [flags] STATE.
// The flow file, the directory and the flags are the ones the run was
// started with (recorded in the State), from any working directory; flags
// given here override them and are recorded in turn.
func resumeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("resume", "STATE", stderr)
	var f runFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want one state file, got %d arguments: %w", fs.NArg(), errUsage)
	}
	statePath, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	store := runner.FileStore{Path: statePath}
	state, err := store.Load(ctx)
	if err != nil {
		return err
	}
	if f, err = resumeFlags(state, fs, f); err != nil {
		return err
	}
	if err := f.absolute(); err != nil {
		return err
	}
	path, err := flowOf(state)
	if err != nil {
		return err
	}
	flow, err := readFlow(path)
	if err != nil {
		return err
	}
	return execute(ctx, f, flow, path, store, state, stdout, stderr)
}
