package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb/internal/proctest"
)

// The quickstart runs its pipeline, and a second run finds it all in the
// cache.
func TestQuickstart(t *testing.T) {
	dir := t.TempDir()
	first := capture(t, func() error { return run(t.Context(), options{dir: dir, parts: 3, aux: "local"}) })
	for _, want := range []string{"5 tasks: 5 run, 0 found in the cache", "most common words:", "the\n", "\nrun: tasks: 5 done, 0 cached, 0 running, 0 waiting\n"} {
		if !strings.Contains(first, want) {
			t.Errorf("first run does not say %q:\n%s", want, first)
		}
	}
	if strings.ContainsAny(first, "\r\x1b") {
		t.Errorf("output to a pipe has \\r or an escape code:\n%q", first)
	}
	second := capture(t, func() error { return run(t.Context(), options{dir: dir, parts: 3, aux: "local"}) })
	if !strings.Contains(second, "5 tasks: 0 run, 1 found in the cache, 4 not needed") {
		t.Errorf("second run was not served from the cache:\n%s", second)
	}
	if err := run(t.Context(), options{dir: dir, parts: 0, aux: "local"}); err == nil {
		t.Error("-parts 0 accepted")
	}
	if err := run(t.Context(), options{dir: dir, parts: 3, aux: "moon"}); err == nil {
		t.Error("-aux moon accepted")
	}
}

// On worker processes, the quickstart gets the same result as on the
// local pool, and leaves no worker behind.
func TestQuickstartOnWorkerProcesses(t *testing.T) {
	bin, err := proctest.BuildEbb(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	onLocal := capture(t, func() error { return run(t.Context(), options{dir: t.TempDir(), parts: 6, aux: "local"}) })
	onProcs := capture(t, func() error {
		return run(t.Context(), options{dir: t.TempDir(), parts: 6, work: time.Second, aux: "procs", ebb: bin})
	})
	for _, want := range []string{"auxiliary allocs from ebb worker processes", "8 tasks: 8 run, 0 found in the cache", "granted alloc", ") up: launch 1 up after"} {
		if !strings.Contains(onProcs, want) {
			t.Errorf("the run on worker processes does not say %q:\n%s", want, onProcs)
		}
	}
	if a, b := topWords(onLocal), topWords(onProcs); a == "" || a != b {
		t.Errorf("the results differ:\nlocal pool:\n%s\nworker processes:\n%s", a, b)
	}
	if kids := proctest.Children(); len(kids) != 0 {
		t.Errorf("child processes left: %v", kids)
	}
}

// As Slurm jobs, the quickstart gets the same result, and afterwards
// squeue shows no job of its.
func TestQuickstartOnSlurm(t *testing.T) {
	proctest.NeedSlurm(t, proctest.SlurmErr())
	bin, err := proctest.BuildEbb(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	onLocal := capture(t, func() error { return run(t.Context(), options{dir: t.TempDir(), parts: 6, aux: "local"}) })
	onSlurm := capture(t, func() error {
		return run(t.Context(), options{dir: t.TempDir(), parts: 6, work: 3 * time.Second, aux: "slurm", ebb: bin})
	})
	for _, want := range []string{"auxiliary allocs from Slurm jobs", "8 tasks: 8 run, 0 found in the cache", "granted alloc"} {
		if !strings.Contains(onSlurm, want) {
			t.Errorf("the run on Slurm does not say %q:\n%s", want, onSlurm)
		}
	}
	if a, b := topWords(onLocal), topWords(onSlurm); a == "" || a != b {
		t.Errorf("the results differ:\nlocal pool:\n%s\nSlurm:\n%s", a, b)
	}
	out, err := exec.Command("squeue", "--noheader", "--format=%j %T").CombinedOutput()
	if err != nil {
		t.Fatalf("squeue: %v: %s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "ebb-") {
			t.Errorf("squeue shows a job of the quickstart after it ended: %s", line)
		}
	}
}

// topWords returns the "most common words" part of the quickstart's
// output.
func topWords(out string) string {
	_, rest, _ := strings.Cut(out, "most common words:")
	top, _, _ := strings.Cut(rest, "\n\n")
	return top
}

// capture runs f with standard output going to a buffer.
func capture(t *testing.T, f func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&buf, r); close(done) }()
	ferr := f()
	w.Close()
	os.Stdout = stdout
	<-done
	if ferr != nil {
		t.Fatalf("run: %v\n%s", ferr, buf.String())
	}
	return buf.String()
}
