package statusview

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/grailbio/base/status"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Not on a terminal, a View prints a plain line per group that changed,
// at most every Every, and the last status when it stops; lines printed
// through it come as they are. No carriage return, no escape code.
func TestPlain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s status.Status
		run := s.Group("run")
		workers := s.Group("workers")
		var out syncBuffer
		v := New(&out, &s, Config{Every: 5 * time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		// Both groups have a status before the View first looks: Run
		// might otherwise see the first alone, and hold the second back
		// for Every.
		run.Print("tasks: 0 done")
		workers.Print("0 up")
		go func() { v.Run(ctx); close(done) }()
		synctest.Wait()
		run.Print("tasks: 1 done") // within Every: waits
		run.Start("task a").Print("on alloc 1")
		synctest.Wait()
		v.Println("stealer: requested 4 cpu")
		time.Sleep(5 * time.Second)
		synctest.Wait()
		run.Print("tasks: 2 done") // within Every again
		synctest.Wait()
		run.Print("tasks: 3 done") // only the last is printed, at the end
		cancel()
		<-done
		got := out.String()
		want := "run: tasks: 0 done\nworkers: 0 up\n" +
			"stealer: requested 4 cpu\n" +
			"run: tasks: 1 done\n" +
			"run: tasks: 3 done\n"
		if got != want {
			t.Errorf("plain output:\n%q\nwant\n%q", got, want)
		}
		if strings.ContainsAny(got, "\r\x1b") {
			t.Errorf("plain output has \\r or an escape code: %q", got)
		}
	})
}

// On a terminal, a View draws the groups and their tasks, erases and
// redraws them when they change, and prints other lines above them.
func TestTerminal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s status.Status
		run := s.Group("run")
		var out syncBuffer
		v := New(&out, &s, Config{Terminal: true, Width: 40, MaxTasks: 2})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		// The group has its status before the View first draws: a draw
		// of nothing would hold it back for Redraw.
		run.Print("tasks: 0 done")
		go func() { v.Run(ctx); close(done) }()
		synctest.Wait()
		if got, want := out.String(), "run: tasks: 0 done\n"; got != want {
			t.Fatalf("first draw %q, want %q", got, want)
		}
		for _, name := range []string{"a", "b", "c"} {
			run.Start(name).Print("on alloc 1")
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		erase := "\x1b[1A\x1b[2K"
		want := "run: tasks: 0 done\n" + erase + "\r" +
			"run: tasks: 0 done\n  a: on alloc 1  0s\n  b: on alloc 1  0s\n  ... and 1 more\n"
		if got := out.String(); got != want {
			t.Fatalf("redraw with tasks:\n%q\nwant\n%q", got, want)
		}
		v.Println("stealer: granted alloc 2 and a long reason that is not cut")
		got := out.String()[len(want):]
		wantEvent := strings.Repeat(erase, 4) + "\r" + "stealer: granted alloc 2 and a long reason that is not cut\n" +
			"run: tasks: 0 done\n  a: on alloc 1  0s\n  b: on alloc 1  0s\n  ... and 1 more\n"
		if got != wantEvent {
			t.Errorf("a line above the status:\n%q\nwant\n%q", got, wantEvent)
		}
		// With nothing new, it is redrawn every second, for the elapsed
		// times; lines are cut to Width.
		mark := len(out.String())
		run.Print("tasks: 0 done, and a status far too long for forty columns")
		time.Sleep(1200 * time.Millisecond)
		synctest.Wait()
		got = out.String()[mark:]
		if !strings.Contains(got, "  a: on alloc 1  1s\n") {
			t.Errorf("elapsed time not updated after a second:\n%q", got)
		}
		if !strings.Contains(got, "run: tasks: 0 done, and a status far too\n") {
			t.Errorf("long line not cut to 40 columns:\n%q", got)
		}
		cancel()
		<-done
	})
}

// On a terminal, the status takes at most Height lines, so that its
// redraw can always reach its first line.
func TestTerminalHeight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s status.Status
		for _, name := range []string{"a", "b", "c", "d"} {
			s.Group(name).Print("busy")
		}
		var out syncBuffer
		v := New(&out, &s, Config{Terminal: true, Height: 3})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { v.Run(ctx); close(done) }()
		synctest.Wait()
		if got, want := out.String(), "a: busy\nb: busy\nc: busy\n"; got != want {
			t.Errorf("status on 3 lines: %q, want %q", got, want)
		}
		cancel()
		<-done
		if got := out.String(); strings.Count(got, "\x1b[1A") != 3 {
			t.Errorf("the last draw erased %d lines, want the 3 drawn: %q", strings.Count(got, "\x1b[1A"), got)
		}
	})
}
