// Command ebb runs flows and the pieces around them:
//
//	ebb run FLOW       run a flow file (YAML or JSON) on this machine
//	ebb resume STATE   resume a run from its state file
//	ebb state STATE    print a run's state
//	ebb sim ...        simulate policies on workloads
//	ebb worker ...     serve this machine's pool to a driver
//	ebb workers STATE  list a run's workers (of -workers)
//
// Each subcommand has its own flags; "ebb help COMMAND" prints them.
//
// run, resume, sim and worker log through log/slog to stderr or to -log
// FILE, as text or JSON (-log-format). run, resume and sim log WARN and
// above, worker INFO; each -v logs one level more, -debug everything.
//
// run, resume and sim show their status on stderr (package
// internal/statusview): on a terminal, redrawn in place below their
// events and log records; otherwise as plain lines, a group's status
// ("run: tasks: 3 done, 0 cached, 2 running, 5 waiting") when it changed,
// at most every 5 s.
//
// On SIGINT or SIGTERM, ebb run and ebb resume stop their tasks, free
// what the run holds, save its state and exit with 130 (SIGINT) or 143
// (SIGTERM), printing "interrupted; resume with: ebb resume PATH". A
// second signal ends ebb at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"syscall"
)

// A command is one subcommand of ebb.
type command struct {
	name, summary string
	// run runs the command with its arguments (after the name); its
	// output goes to stdout, its messages to stderr.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands; each is defined in a file of its name.
func commands() []command {
	return []command{
		{"run", "run a flow file on this machine", runCmd},
		{"resume", "resume a run from its state file", resumeCmd},
		{"state", "print a run's state", stateCmd},
		{"sim", "simulate allocation policies on workloads", simCmd},
		{"worker", "serve this machine's pool to a driver", workerCmd},
		{"gc", "prune a run directory's repository and cache", gcCmd},
		{"workers", "list a run's workers", workersCmd},
	}
}

// errUsage marks a usage error: the message is printed with the usage.
var errUsage = errors.New("usage")

// errFlags marks flags that did not parse; the flag set has printed why.
var errFlags = errors.New("bad flags")

func main() {
	os.Exit(mainSignals(os.Args[1:], os.Stdout, os.Stderr))
}

// mainSignals runs ebb with args as mainCode does, under a context that
// SIGINT and SIGTERM cancel: the first signal cancels it and the command
// winds down (freeing allocs, stopping workers); a second one ends ebb at
// once.
func mainSignals(args []string, stdout, stderr io.Writer) int {
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return mainCode(ctx, args, stdout, stderr)
}

// mainCode runs ebb with args and returns the exit code: 0 on success and
// when help was asked for ("ebb help", "ebb -h", "ebb help COMMAND", "ebb
// COMMAND -h"), 2 on a usage error, 128 plus the signal's number when a
// signal interrupted a run (130 for SIGINT, 143 for SIGTERM), 1 on any
// other error.
func mainCode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		usage(stderr, cmds)
		return 2
	}
	name, rest := args[0], args[1:]
	switch {
	case isHelpFlag(name) || (name == "help" && len(rest) == 0):
		usage(stdout, cmds)
		return 0
	case name == "help" && len(rest) == 1:
		name, rest = rest[0], []string{"-h"}
	}
	i := slices.IndexFunc(cmds, func(c command) bool { return c.name == name })
	if i < 0 {
		fmt.Fprintf(stderr, "ebb: unknown command %q\n", name)
		usage(stderr, cmds)
		return 2
	}
	err := cmds[i].run(ctx, rest, stdout, stderr)
	var ie *interruptError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0 // the flag set printed the command's usage, as asked
	case errors.Is(err, errFlags):
		return 2 // the flag set printed the error and the usage
	case errors.As(err, &ie):
		fmt.Fprintf(stderr, "ebb %s: %v\n", name, err)
		return ie.code()
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "ebb %s: %v\n", name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "ebb %s: %v\n", name, err)
		return 1
	}
}

func isHelpFlag(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func usage(w io.Writer, cmds []command) {
	fmt.Fprintln(w, "usage: ebb COMMAND [flags] [args]")
	fmt.Fprintln(w)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\n\"ebb help COMMAND\" prints a command's flags.")
	fmt.Fprintln(w, "\nOn SIGINT or SIGTERM, run and resume stop their tasks, free what the run")
	fmt.Fprintln(w, "holds, save its state and exit with 130 (SIGINT) or 143 (SIGTERM), printing")
	fmt.Fprintln(w, "\"interrupted; resume with: ebb resume PATH\". A second signal ends ebb at once.")
	fmt.Fprintln(w, "\nrun, resume, sim and worker log through log/slog to stderr, or to -log FILE,")
	fmt.Fprintln(w, "as text or -log-format json. run, resume and sim log WARN and above (their")
	fmt.Fprintln(w, "progress lines are the view), worker INFO; each -v logs one level more")
	fmt.Fprintln(w, "(-v INFO, -v -v DEBUG), -debug everything. On a terminal, run, resume and sim")
	fmt.Fprintln(w, "redraw their status in place (progress, running tasks, the stealer's allocs")
	fmt.Fprintln(w, "and requests, the workers) under their events and log; otherwise they print")
	fmt.Fprintln(w, "it as plain lines, at most every 5 s.")
}

// newFlags returns a flag set for a subcommand that reports errors to
// stderr and returns them instead of exiting.
func newFlags(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ebb "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ebb %s [flags] %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args with fs. It returns flag.ErrHelp for -h, and
// other failures wrapped in errFlags, so that both exit as they should.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return fmt.Errorf("%w: %w", errFlags, err)
}
