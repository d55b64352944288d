package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/ebbflow/ebb/internal/statusview"
)

// logFlags are the logging flags of the subcommands that run something
// (run, resume, sim, worker): -v (repeatable), -debug, -log-format and
// -log. Each subcommand has a base level: WARN for run, resume and sim
// (their progress lines are the user's view), INFO for worker; each -v
// lowers it one step (WARN, INFO, DEBUG), and -debug makes it DEBUG.
type logFlags struct {
	base    slog.Level
	verbose verbosity
	debug   bool
	format  string
	file    string
}

// verbosity counts the -v flags given; -v=false resets it.
type verbosity int

func (v *verbosity) String() string   { return strconv.Itoa(int(*v)) }
func (v *verbosity) IsBoolFlag() bool { return true }
func (v *verbosity) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	if on {
		*v++
	} else {
		*v = 0
	}
	return nil
}

// register adds the logging flags to fs, with base the level logged
// without -v.
func (l *logFlags) register(fs *flag.FlagSet, base slog.Level) {
	l.base = base
	fs.Var(&l.verbose, "v", fmt.Sprintf("log more: once for one level below %s, twice for two (levels WARN, INFO, DEBUG); repeatable", base))
	fs.BoolVar(&l.debug, "debug", false, "log at DEBUG, as -v -v")
	fs.StringVar(&l.format, "log-format", "text", "log records' `format`: text or json (log/slog's handlers)")
	fs.StringVar(&l.file, "log", "", "append the log to `FILE` instead of stderr")
}

// level returns the level the flags ask for.
func (l *logFlags) level() slog.Level {
	if l.debug {
		return slog.LevelDebug
	}
	return max(l.base-slog.Level(4*int(l.verbose)), slog.LevelDebug)
}

// logger returns the logger the flags describe, writing to stderr or to
// -log, and a function that closes -log's file (a no-op otherwise). Every
// subcommand builds its logger here.
func (l *logFlags) logger(stderr io.Writer) (*slog.Logger, func() error, error) {
	if l.format != "text" && l.format != "json" {
		return nil, nil, fmt.Errorf("-log-format %q: want text or json: %w", l.format, errUsage)
	}
	w, closeFn := stderr, func() error { return nil }
	if l.file != "" {
		f, err := os.OpenFile(l.file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("-log: %w", err)
		}
		w, closeFn = f, f.Close
	}
	opts := &slog.HandlerOptions{Level: l.level()}
	var h slog.Handler
	if l.format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h), closeFn, nil
}

// isTerminal says whether w is a terminal (a pipe, a file or /dev/null
// is not).
func isTerminal(w io.Writer) bool { return statusview.IsTerminal(w) }
