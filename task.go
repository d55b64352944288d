package ebb

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// A Task is one node of a [Flow]: a command (Argv) or a Go function (Func)
// that runs in an alloc with Resources, after the tasks it depends on.
//
// A task's identity for the cache is its digest (see [Graph.Digests]),
// computed from what determines its result: its command or FuncKey, its
// environment, its inputs (names and the digests of what feeds them) and
// its output names. Its name, its resources, its attempts and its timeout
// do not count, so renaming a task or giving it more memory keeps its
// cache entry, and changing its command does not.
type Task struct {
	// Name identifies the task within its flow: 1 to 255 bytes, no
	// control characters, and one path element (no / or \, not . or
	// ..), as it names a directory of the task's outputs.
	Name string `json:"name"`

	// Argv is the command and its arguments, run without a shell (use
	// "sh", "-c", script for one). Exactly one of Argv and Func is set.
	Argv []string `json:"argv,omitempty"`
	// Env is the command's whole environment, as "KEY=value" entries.
	Env []string `json:"env,omitempty"`
	// Func runs a Go function in the process that hosts the alloc,
	// instead of a command.
	Func Func `json:"-"`
	// FuncKey says what Func computes, for the digest: a name and a
	// version such as "count-words/v2". Required with Func; change it
	// whenever the function's result would change.
	FuncKey string `json:"func_key,omitempty"`

	// Resources is what one run of the task holds.
	Resources Resources `json:"resources,omitempty"`

	// Inputs are files placed in the task's work directory before it runs.
	Inputs []Input `json:"inputs,omitempty"`
	// Outputs are files, relative to the work directory, that the task
	// writes; they are stored by digest for the tasks that use them. Each
	// must be a regular file when the task ends: a symbolic link, FIFO or
	// device fails the task. A hard link is stored as the file it names,
	// as a copy of it would be.
	Outputs []string `json:"outputs,omitempty"`
	// After names tasks that must succeed before this one starts without
	// passing it any file. Tasks named by Inputs are waited for already.
	After []string `json:"after,omitempty"`

	// Attempts is how many times the task is tried when it fails in a
	// way that may pass on another try (see the runner). 0 means 1.
	Attempts int `json:"attempts,omitempty"`
	// Timeout, when positive, bounds each try of the task: a try still
	// running after Timeout is killed, and counts as a failure that may
	// pass on another try, so the task is tried again while Attempts
	// remain; the run's error then wraps [ErrTimeout]. 0 means no bound;
	// negative is invalid. It is not part of the digest.
	Timeout time.Duration `json:"timeout,omitempty"`

	// Kind says what kind of work the task does, so that the durations
	// of finished tasks of a kind predict the rest of that kind: "align",
	// "index", "render-frame". Default: derived from what the task runs
	// (see [Task.KindName]). It is not part of the digest.
	Kind string `json:"kind,omitempty"`
	// Estimate, when set, is how long the task is expected to run: a
	// hint the stealer's policy trusts until tasks of its kind have been
	// seen to run. It is not part of the digest.
	Estimate time.Duration `json:"estimate,omitempty"`
}

// An Input is one file placed in a task's work directory. Exactly one of
// (Task, Output), Digest and Path says where it comes from.
type Input struct {
	// Name is the file's path relative to the task's work directory.
	Name string `json:"name"`
	// Task and Output name an output of another task of the flow; the
	// task waits for that one.
	Task   string `json:"task,omitempty"`
	Output string `json:"output,omitempty"`
	// Digest names a blob already in the run's repository.
	Digest digest.Digest `json:"digest,omitempty"`
	// Path names a local file, stored into the repository when the run
	// starts; its content's digest feeds the task's digest.
	Path string `json:"path,omitempty"`
}

// appendDigest appends the task's digest to dst given the digest that
// stands for each input: for an output of another task, that task's
// digest and the output name; for a blob, the blob's digest. d is reset
// and used as scratch.
func (t *Task) appendDigest(d *Digester, inputs []digest.Digest, dst []byte) []byte {
	d.Reset()
	d.WriteString("ebb.task/v1")
	if t.Func != nil {
		d.WriteString("func")
		d.WriteString(t.FuncKey)
	} else {
		d.WriteString("argv")
		d.WriteStrings(t.Argv)
	}
	d.WriteStrings(sortedCopy(t.Env))
	d.writeLen(len(t.Inputs))
	if len(t.Inputs) == 1 {
		d.WriteString(t.Inputs[0].Name)
		d.WriteDigest(inputs[0])
	} else {
		for _, i := range inputOrder(t.Inputs) {
			d.WriteString(t.Inputs[i].Name)
			d.WriteDigest(inputs[i])
		}
	}
	d.WriteStrings(t.Outputs)
	return d.appendDigest(dst)
}
