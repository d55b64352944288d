package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/proctest"
)

// A flow of four parallel tasks on a primary that holds one runs its
// other tasks on workers, started by procs or by the command provider's
// model scripts, with the same result; no worker is left afterwards.
func TestRunOnWorkers(t *testing.T) {
	bin := buildEbb(t)
	scripts, err := filepath.Abs("../../cluster/command/testdata")
	if err != nil {
		t.Fatal(err)
	}
	// command+token_file: the command provider hands the token in a file
	// ($EBB_TOKEN_FILE) to a worker started under a shell that does not
	// exec it.
	for _, variant := range []string{"procs", "command", "command+token_file", "slurm"} {
		provider, tokenFile := strings.CutSuffix(variant, "+token_file")
		t.Run(variant, func(t *testing.T) {
			if provider == "slurm" {
				proctest.NeedSlurm(t, proctest.SlurmErr())
			}
			dir := t.TempDir()
			state := filepath.Join(dir, "workers-state")
			workers := fmt.Sprintf("provider: %s\nworker: [%s, worker]\nidle_timeout: 1s\nlatency: 100ms\nshapes:\n  - {name: one, resources: \"cpu=1,mem=512MiB\"}\n", provider, bin)
			if provider == "slurm" {
				// The workers fetch their inputs from ebb and store
				// their outputs there, over the protocol.
				workers += fmt.Sprintf("slurm: {job_prefix: ebbrun%d-, poll_interval: 200ms, time_limit: 10m}\n", os.Getpid())
			}
			if provider == "command" {
				start := "start-worker"
				if tokenFile {
					start = "start-worker-shell"
				}
				workers += fmt.Sprintf("command:\n  start: [%[1]s/%[3]s, %[2]s, \"{{.ID}}\", \"{{.Worker}}\", -dir, \"%[2]s/{{.ID}}.dir\"]\n  list: [%[1]s/list-workers, %[2]s]\n  stop: [%[1]s/stop-worker, %[2]s, \"{{.ID}}\"]\n  check_interval: 200ms\n", scripts, state, start)
				if tokenFile {
					workers += "  token_file: true\n"
				}
			}
			// Long enough that a worker often comes up before the
			// primary has run them all: a Slurm job takes about a second.
			sleep := "0.5"
			if provider == "slurm" {
				sleep = "3"
			}
			var tasks strings.Builder
			for i := range 4 {
				fmt.Fprintf(&tasks, "  - {name: t%d, argv: [sh, -c, \"sleep %s; echo %d > out\"], resources: \"cpu=1,mem=64MiB\", outputs: [out]}\n", i, sleep, i)
			}
			// sum needs more memory than the primary has: it runs on
			// a worker however slowly workers come up.
			tasks.WriteString("  - {name: sum, argv: [sh, -c, \"cat t* | awk '{s += $1} END {print s}' > sum\"], resources: \"cpu=1,mem=128MiB\", outputs: [sum], inputs: [{name: t0, task: t0, output: out}, {name: t1, task: t1, output: out}, {name: t2, task: t2, output: out}, {name: t3, task: t3, output: out}]}\n")
			write := func(name, content string) string {
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				return path
			}
			wf := write("workers.yaml", workers)
			flow := write("flow.yaml", "tasks:\n"+tasks.String())
			code, out, errs := runEbb(t, dir, "run", "-workers", wf, "-primary", "cpu=1,mem=64MiB", "-outputs", "out", flow)
			if code != 0 {
				t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
			}
			if !strings.Contains(errs, "granted alloc") {
				t.Errorf("no task ran on a worker: the stealer said:\n%s", errs)
			}
			if sum, err := os.ReadFile(filepath.Join(dir, "out", "sum", "sum")); err != nil || strings.TrimSpace(string(sum)) != "6" {
				t.Errorf("sum = %q, %v; want 6", sum, err)
			}
			if tokenFile {
				// start-worker-shell saw each worker's token file, 0600.
				modes, _ := filepath.Glob(filepath.Join(state, "*.mode"))
				for _, m := range modes {
					if b, err := os.ReadFile(m); err != nil || string(b) != "600\n" {
						t.Errorf("%s: %q, %v; want the token file's mode, 600", m, b, err)
					}
				}
				if len(modes) == 0 {
					t.Error("no worker was started with a token file")
				}
			}
			left := func() bool { return len(processesWith(bin)) == 0 }
			if !proctest.Eventually(10*time.Second, left) {
				t.Errorf("worker processes left: %v", processesWith(bin))
			}
		})
	}
}

func TestWorkersFileErrors(t *testing.T) {
	for _, tc := range []struct{ file, says string }{
		{"provider: moon\n", `provider "moon"`},
		{"provider: command\nshapes: [{name: a, resources: cpu=1}]\n", "without a command section"},
		{"provider: procs\ncommand: {start: [a], stop: [b]}\n", "a command section, but provider"},
		{"provider: command\ncommand: {start: [a], stop: [b]}\n", "needs shapes"},
		{"provider: slurm\n", "provider slurm needs shapes"},
		{"provider: procs\nslurm: {partition: a}\n", "a slurm section, but provider"},
		{"provider: slurm\nshapes: [{name: a, resources: cpu=1}]\nslurm: {time_limit: forever}\n", "want a duration"},
		{"provider: procs\nidle_timeout: soon\n", "want a duration"},
		{"provider: procs\nmax_workers: -1\n", "max_workers -1"},
		{"provider: procs\nmax_worker: 1\n", `unknown field "max_worker"`},
	} {
		_, err := parseWorkers([]byte(tc.file), "w.yaml")
		if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%q: %v, want ErrInvalid saying %q", tc.file, err, tc.says)
		}
	}
	w, err := parseWorkers([]byte("provider: procs\nshapes: [{name: a, resources: cpu=-1}]\n"), "w.yaml")
	if err == nil {
		_, err = w.shapes()
	}
	if !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("a shape of -1 cpu: %v, want ErrInvalid", err)
	}
}
