package pool

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

// ExecID identifies an exec within its alloc: the digest of the task it
// runs, computed from what determines the result (see ExecConfig.Digest).
type ExecID = digest.Digest

// ExecConfig says what an exec runs. Exactly one of Argv and Func is set.
type ExecConfig struct {
	// Argv is the command and its arguments. It is run directly, never
	// through a shell; a caller who wants a shell says so, as in
	// []string{"sh", "-c", script}. A command without a slash is looked
	// up in the pool's PATH.
	Argv []string `json:"argv,omitempty"`

	// Env is the exec's whole environment, as "KEY=value" entries; nothing
	// is inherited from the pool's process.
	Env []string `json:"env,omitempty"`

	// Func, instead of Argv, runs a Go function inside the pool's process:
	// for embedded use and tests. Its context is cancelled when the exec
	// is killed. A Func exec cannot cross a process boundary, so remote
	// pools refuse it with ebb.ErrInvalid.
	Func ebb.Func `json:"-"`

	// Resources is what the exec holds while it runs. It must fit in what
	// its alloc has free.
	Resources ebb.Resources `json:"resources,omitempty"`

	// Inputs maps a file name, relative to the exec's work directory, to
	// the digest of a blob in the pool's repository. The pool places each
	// blob at its name before the exec starts.
	Inputs map[string]digest.Digest `json:"inputs,omitempty"`

	// Outputs are file names, relative to the exec's work directory, that
	// the exec must write. After a successful exit the pool stores each in
	// its repository and reports their digests in Result.Outputs; a
	// missing output fails the exec.
	Outputs []string `json:"outputs,omitempty"`
}

// Validate returns an error wrapping ebb.ErrInvalid that names what is
// wrong: neither or both of Argv and Func, an empty argv[0], an Env entry
// without '=', invalid Resources, or an input or output name that is empty,
// absolute, or escapes the work directory.
func (c ExecConfig) Validate() error {
	switch {
	case len(c.Argv) == 0 && c.Func == nil:
		return fmt.Errorf("exec: empty argv and no func: %w", ebb.ErrInvalid)
	case len(c.Argv) > 0 && c.Func != nil:
		return fmt.Errorf("exec: both argv %q and a func: %w", c.Argv, ebb.ErrInvalid)
	case len(c.Argv) > 0 && c.Argv[0] == "":
		return fmt.Errorf("exec: argv[0] is empty in %q: %w", c.Argv, ebb.ErrInvalid)
	}
	for _, e := range c.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("exec: env entry %q: want KEY=value: %w", e, ebb.ErrInvalid)
		}
	}
	if err := c.Resources.Validate(); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Inputs)) {
		if err := validPath(name); err != nil {
			return fmt.Errorf("exec: input %w", err)
		}
		if err := c.Inputs[name].Validate(); err != nil {
			return fmt.Errorf("exec: input %q: digest %q: %v: %w", name, c.Inputs[name], err, ebb.ErrInvalid)
		}
	}
	for _, name := range c.Outputs {
		if err := validPath(name); err != nil {
			return fmt.Errorf("exec: output %w", err)
		}
	}
	return nil
}

func validPath(name string) error {
	if name == "" || filepath.IsAbs(name) || !filepath.IsLocal(name) {
		return fmt.Errorf("%q: want a relative path inside the work directory: %w", name, ebb.ErrInvalid)
	}
	return nil
}

// Digest returns the digest of what determines a command exec's result:
// its argv, its environment and its inputs (names and digests). Resources,
// and the order of Env entries, do not count. A Func exec has no digest of
// its own (a function cannot be hashed); its caller names it.
func (c ExecConfig) Digest() digest.Digest {
	d := ebb.NewDigester()
	d.WriteString("exec")
	d.WriteStrings(c.Argv)
	d.WriteStrings(slices.Sorted(slices.Values(c.Env)))
	names := slices.Sorted(maps.Keys(c.Inputs))
	d.WriteStrings(names)
	for _, n := range names {
		d.WriteDigest(c.Inputs[n])
	}
	d.WriteStrings(c.Outputs)
	return d.Digest()
}

// An Exec is one task running, or finished, inside an alloc.
// Implementations must be safe for concurrent use.
type Exec interface {
	// ID is the exec's ID within its alloc.
	ID() ExecID

	// Wait blocks until the exec has finished and returns its result. How
	// the task went (its exit code, a missing output, a Kill) is in the
	// Result; the error reports only that no result can be had: ctx is
	// done, or the alloc ended (freed, expired or lost) while the exec
	// ran, which fails with ebb.ErrExpired, so that callers know to run
	// the task elsewhere. An exec that finished before its alloc ended
	// keeps its Result until then.
	Wait(ctx context.Context) (Result, error)

	// Inspect returns the exec's state without blocking.
	Inspect(ctx context.Context) (ExecInspect, error)

	// Logs returns the exec's standard output or error. Without follow it
	// returns what was written so far; with follow it streams until the
	// exec finishes or ctx is done. The caller closes the reader.
	Logs(ctx context.Context, stream Stream, follow bool) (io.ReadCloser, error)

	// Kill stops a running exec; its Result says it was killed. Killing a
	// finished exec does nothing.
	Kill(ctx context.Context) error
}

// Stream names an exec's output stream.
type Stream int

// The streams of an exec.
const (
	Stdout Stream = iota + 1
	Stderr
)

func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return fmt.Sprintf("Stream(%d)", int(s))
}

// ExecState is where an exec is in its life.
type ExecState string

// The states of an exec.
const (
	ExecRunning ExecState = "running"
	ExecDone    ExecState = "done"
)

// ExecInspect is the state of an exec at one moment.
type ExecInspect struct {
	ID        ExecID        `json:"id"`
	State     ExecState     `json:"state"`
	Argv      []string      `json:"argv,omitempty"`
	Resources ebb.Resources `json:"resources,omitempty"`
	Start     time.Time     `json:"start"`
	// Result is set once State is ExecDone.
	Result *Result `json:"result,omitempty"`
}

// Result is how a finished exec went.
type Result struct {
	// ExitCode is the process's exit status: 0 for success, -1 when it
	// was killed by a signal or never started. A Func exec exits 0 when
	// it returns nil and 1 otherwise.
	ExitCode int `json:"exit_code"`
	// Error says why the exec failed beyond its exit code: it could not
	// start, it was killed, its Func returned an error, an input could not
	// be staged or an output was missing. Empty on success.
	Error string `json:"error,omitempty"`
	// Killed is set when the exec was stopped by Kill, Free or expiry.
	Killed bool `json:"killed,omitempty"`
	// Transient is set when the failure may pass on another try: a Func
	// returned an error wrapping ebb.ErrUnavailable, or a process was
	// killed by a SIGKILL or SIGTERM nobody in ebb sent (the kernel's OOM
	// killer, an engine ending the job it ran in).
	Transient bool `json:"transient,omitempty"`
	// Start and End bound the exec's run.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Stdout and Stderr are the last bytes the exec wrote to each stream,
	// bounded by the pool's tail size.
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	// Outputs maps each of ExecConfig.Outputs to its digest in the
	// pool's repository. Set only on success.
	Outputs map[string]digest.Digest `json:"outputs,omitempty"`
	// Resources is what the exec held.
	Resources ebb.Resources `json:"resources,omitempty"`
	// StageIn measures each input placed in the exec's directory, in
	// the order staged; StageOut each output stored, once the exec
	// succeeded. A pool that does not measure staging leaves them empty.
	StageIn  []Transfer `json:"stage_in,omitempty"`
	StageOut []Transfer `json:"stage_out,omitempty"`
}

// The places a Transfer names.
const (
	// WhereCache: a copy already on the pool's machine (the alloc's, or
	// the worker's blob cache); nothing crossed the network.
	WhereCache = "cache"
	// WherePeer: another worker of the run, directly.
	WherePeer = "peer"
	// WhereDriver: the driver's repository, over the network.
	WhereDriver = "driver"
	// WhereRepository: a repository the pool reaches itself (a
	// directory on its machine or a shared file system).
	WhereRepository = "repository"
)

// A Transfer is one input staged in or one output stored out by an exec:
// the file's name in the exec's directory, its digest and size, when it
// began and how long it took, and where its content came from (stage-in)
// or went (stage-out): WhereCache, WherePeer, WhereDriver or
// WhereRepository.
type Transfer struct {
	Name     string        `json:"name"`
	Digest   digest.Digest `json:"digest,omitempty"`
	Bytes    int64         `json:"bytes"`
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration"`
	Where    string        `json:"where,omitempty"`
}

// StagedBytes returns the bytes of ts and the time from the first's start
// to the last's end.
func StagedBytes(ts []Transfer) (bytes int64, d time.Duration) {
	if len(ts) == 0 {
		return 0, 0
	}
	start, end := ts[0].Start, ts[0].Start.Add(ts[0].Duration)
	for _, t := range ts {
		bytes += t.Bytes
		if t.Start.Before(start) {
			start = t.Start
		}
		if e := t.Start.Add(t.Duration); e.After(end) {
			end = e
		}
	}
	return bytes, end.Sub(start)
}

// OK reports whether the exec succeeded: exit code 0 and no error.
func (r Result) OK() bool { return r.ExitCode == 0 && r.Error == "" }

// Duration is how long the exec ran.
func (r Result) Duration() time.Duration { return r.End.Sub(r.Start) }

// Repository is the content-addressed store a pool stages exec inputs from
// and stores exec outputs to. Package repository implements it; a pool asks
// for no more than this.
type Repository interface {
	// Get opens the blob with digest d, or fails with ebb.ErrNotExist.
	// The reader fails with ebb.ErrCorrupt at its end if the content does
	// not match d. The caller closes it.
	Get(ctx context.Context, d digest.Digest) (io.ReadCloser, error)
	// Put stores the content of r and returns its digest.
	Put(ctx context.Context, r io.Reader) (digest.Digest, error)
}
