package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/ebbflow/ebb/runner"
)

// runCmd runs a flow file: ebb run [flags] FLOW.
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "FLOW", stderr)
	var f runFlags
	f.register(fs)
	state := fs.String("state", "", "where the run's state is saved, for ebb resume (default DIR/state.json)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want one flow file, got %d arguments: %w", fs.NArg(), errUsage)
	}
	path, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := f.absolute(); err != nil {
		return err
	}
	flow, err := readFlow(path)
	if err != nil {
		return err
	}
	if *state == "" {
		*state = filepath.Join(f.dir, "state.json")
	}
	if *state, err = filepath.Abs(*state); err != nil {
		return err
	}
	return execute(ctx, f, flow, path, runner.FileStore{Path: *state}, nil, stdout, stderr)
}
