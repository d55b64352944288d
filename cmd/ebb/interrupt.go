package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// interrupted is the cause of ebb's context once a signal stopped it.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string { return i.sig.String() + " signal received" }

// notifyContext returns a context that the first of signals cancels, with
// an interrupted cause. From then on the signals have their default
// action again, so a second one ends ebb at once. stop releases the
// signals and cancels the context.
func notifyContext(parent context.Context, signals ...os.Signal) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	c := make(chan os.Signal, 1)
	signal.Notify(c, signals...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case s := <-c:
			signal.Stop(c)
			cancel(interrupted{s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(c)
		cancel(context.Canceled)
		<-done
	}
}

// An interruptError ends a run or resume that a signal stopped: its State
// was saved, and the message says how to go on.
type interruptError struct {
	sig   os.Signal
	state string // the state file's path
}

func (e *interruptError) Error() string {
	return "interrupted; resume with: ebb resume " + e.state
}

// code is the exit status: 128 plus the signal's number, as a shell
// reports a command a signal ended (130 for SIGINT, 143 for SIGTERM).
func (e *interruptError) code() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// asInterrupt returns the interruptError that err becomes when ctx was
// cancelled by a signal, and err unchanged otherwise.
func asInterrupt(ctx context.Context, err error, statePath string) error {
	in, ok := context.Cause(ctx).(interrupted)
	if err == nil || !ok {
		return err
	}
	return &interruptError{sig: in.sig, state: statePath}
}
