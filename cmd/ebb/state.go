package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/ebbflow/ebb/runner"
)

// stateCmd prints a run's state: ebb state [-json] STATE.
func stateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("state", "STATE", stderr)
	asJSON := fs.Bool("json", false, "print the state file's JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want one state file, got %d arguments: %w", fs.NArg(), errUsage)
	}
	s, err := runner.FileStore{Path: fs.Arg(0)}.Load(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := s.Marshal()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(stdout, "run      %s\n", s.ID)
	fmt.Fprintf(stdout, "program  %s %v\n", s.Program, s.Args)
	if len(s.Command) > 0 {
		var b bytes.Buffer
		if json.Compact(&b, s.Command) == nil {
			fmt.Fprintf(stdout, "command  %s\n", b.Bytes())
		}
	}
	fmt.Fprintf(stdout, "phase    %s (try %d)\n", s.Phase, s.NumTries)
	fmt.Fprintf(stdout, "created  %s\n", s.Created.Format(time.RFC3339))
	if !s.Completion.IsZero() {
		fmt.Fprintf(stdout, "done     %s (%v)\n", s.Completion.Format(time.RFC3339), s.Completion.Sub(s.Created).Round(time.Millisecond))
	}
	if s.Primary != nil {
		fmt.Fprintf(stdout, "primary  %s in %s: %s\n", s.Primary.ID, s.Primary.Pool, s.Primary.Inspect.Resources)
	}
	for _, a := range s.Aux {
		fmt.Fprintf(stdout, "aux      %s in %s: %s\n", a.ID, a.Pool, a.Inspect.Resources)
	}
	fmt.Fprintf(stdout, "allocs   %d taken; %s (resource-minutes)\n", s.Allocs, s.TotalResources)
	switch {
	case s.Result != nil:
		fmt.Fprintf(stdout, "result   %d tasks: %d run, %d from the cache, %d not needed\n", s.Result.Tasks, s.Result.Ran, s.Result.Cached, s.Result.Skipped)
		for name, d := range s.Result.Outputs {
			fmt.Fprintf(stdout, "  %s  %s\n", d, name)
		}
	case s.Err != "":
		fmt.Fprintf(stdout, "error    %s\n", s.Err)
	}
	return nil
}
