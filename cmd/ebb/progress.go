package main

import (
	"context"
	"io"
	"time"

	"github.com/ebbflow/ebb/internal/statusview"
	"github.com/grailbio/base/status"
)

// progressEvery is how often at most the progress lines are printed
// again when stderr is not a terminal (and only those that changed).
const progressEvery = 5 * time.Second

// progress is what ebb run, resume and sim show while they work: a
// status.Status whose groups the runner ("run"), the stealer ("stealer"),
// the workers' Elastic ("workers") and the simulator ("sim") report to,
// shown on stderr by a statusview.View. On a terminal the status is
// redrawn in place; otherwise its groups are printed as plain lines
// ("run: tasks: 3 done, ..."), at most every progressEvery and only when
// they changed. Event lines (the stealer's decisions, the workers'
// launches and stops) and log records are printed above it, as they
// come.
//
// A quiet progress shows nothing: its groups are nil, which the runner,
// the stealer and the Elastic take as "no status", and its lines are
// dropped.
type progress struct {
	st   status.Status
	view *statusview.View // nil when quiet
	// w is where other output goes so as to land above the status: the
	// view, or stderr itself when quiet.
	w    io.Writer
	stop func()
}

// startProgress shows a status on stderr until stop is called: redrawn
// when tty, plain lines otherwise; nothing when quiet.
func startProgress(ctx context.Context, stderr io.Writer, tty, quiet bool) *progress {
	p := &progress{w: stderr, stop: func() {}}
	if quiet {
		return p
	}
	p.view = statusview.New(stderr, &p.st, statusview.Config{Terminal: tty, Every: progressEvery})
	p.w = p.view
	vctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.view.Run(vctx)
	}()
	p.stop = func() {
		cancel()
		<-done
	}
	return p
}

// group returns the status group named name, or nil when quiet.
func (p *progress) group(name string) *status.Group {
	if p.view == nil {
		return nil
	}
	return p.st.Group(name)
}

// event prints line above the status, unless quiet.
func (p *progress) event(line string) {
	if p.view != nil {
		p.view.Println(line)
	}
}
