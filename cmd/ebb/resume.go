package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ebbflow/ebb/runner"
)

// resumeCmd resumes a run from its state file: ebb resume [flags] STATE.
// The flow file is the one the run was started with.
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
	store := runner.FileStore{Path: fs.Arg(0)}
	state, err := store.Load(ctx)
	if err != nil {
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
