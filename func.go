package ebb

import (
	"context"
	"io"
)

// Func is work done by a Go function inside the process that hosts its
// alloc, instead of a command: for embedded use and tests. It must return
// when ctx is done (the task was killed or its alloc freed).
//
// ctx and env are the func's for the length of the call only, as an
// http.Handler's ResponseWriter: a pool may reuse them for another
// func once it has returned, so a func must not keep them, nor leave a
// goroutine that uses them, past its return.
type Func func(ctx context.Context, env FuncEnv) error

// FuncEnv is what a [Func] gets from the pool that runs it.
type FuncEnv struct {
	// Dir is the work directory, holding the task's inputs and where it
	// writes its outputs. It is empty when the task has neither, so that
	// in-process tasks that touch no files cost no file system calls.
	Dir string
	// Stdout and Stderr are captured like a process's streams.
	Stdout, Stderr io.Writer
}
