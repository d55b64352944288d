package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb/internal/proctest"
)

// fanFlowFile is a fan-out/fan-in flow: gens tasks each write a distinct
// intermediate of size bytes; users tasks each read all of them and
// write a line; one sink concatenates the lines. Every task needs more
// memory than a primary of 32 MiB has, so that all run on workers.
func fanFlowFile(gens, users int, size int64) string {
	var b strings.Builder
	b.WriteString("tasks:\n")
	res := `resources: "cpu=1,mem=256MiB"`
	var all []string
	for i := range gens {
		fmt.Fprintf(&b, "  - {name: gen%d, argv: [sh, -c, \"sleep 0.3; { echo %d; head -c %d /dev/zero; } > out\"], %s, outputs: [out]}\n", i, i, size, res)
		all = append(all, fmt.Sprintf("{name: in%d, task: gen%d, output: out}", i, i))
	}
	var lines []string
	for j := range users {
		fmt.Fprintf(&b, "  - {name: use%d, argv: [sh, -c, \"sleep 0.3; { echo %d; cat in* | wc -c; } > out\"], %s, outputs: [out], inputs: [%s]}\n", j, j, res, strings.Join(all, ", "))
		lines = append(lines, fmt.Sprintf("{name: line%d, task: use%d, output: out}", j, j))
	}
	fmt.Fprintf(&b, "  - {name: sum, argv: [sh, -c, \"cat line* > sum\"], %s, outputs: [sum], inputs: [%s]}\n", res, strings.Join(lines, ", "))
	return b.String()
}

var (
	throughEbb = regexp.MustCompile(`blobs through ebb: (\d+) bytes sent to workers, (\d+) received from them, (\d+) copied from their peer servers`)
	cacheLine  = regexp.MustCompile(`msg="blob cache".* fetched_bytes=(\d+)`)
)

// TestRunPeersFanOutFanIn runs a fan-out/fan-in flow with large
// intermediates through ebb run on workers that fetch their blobs from
// ebb (the command provider, as Slurm's and Kubernetes' workers do),
// and counts the bytes. With -peers (the default) nothing crosses ebb's
// blob server, ebb copies in only the sink's output, and each worker
// fetches each intermediate at most once; with -peers=false every
// intermediate goes up to ebb and down again.
//
// EBB_FAN_GENS and EBB_FAN_SIZE make it bigger, for BENCHMARKS.md: the
// test logs each run's wall time.
func TestRunPeersFanOutFanIn(t *testing.T) {
	const users = 3
	gens, size := 4, int64(1<<20)
	if v, err := strconv.Atoi(os.Getenv("EBB_FAN_GENS")); err == nil && v > 0 {
		gens = v
	}
	if v, err := strconv.ParseInt(os.Getenv("EBB_FAN_SIZE"), 10, 64); err == nil && v > 0 {
		size = v
	}
	bin := buildEbb(t)
	scripts, err := filepath.Abs("../../cluster/command/testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, peers := range []bool{true, false} {
		t.Run(fmt.Sprint("peers=", peers), func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "workers-state")
			workers := fmt.Sprintf("provider: command\nworker: [%s, worker]\nidle_timeout: 2s\nlatency: 100ms\nmax_workers: 3\nshapes:\n  - {name: one, resources: \"cpu=1,mem=512MiB\"}\n", bin)
			workers += fmt.Sprintf("command:\n  start: [%[1]s/start-worker, %[2]s, \"{{.ID}}\", \"{{.Worker}}\", -dir, \"%[2]s/{{.ID}}.dir\"]\n  list: [%[1]s/list-workers, %[2]s]\n  stop: [%[1]s/stop-worker, %[2]s, \"{{.ID}}\"]\n  check_interval: 200ms\n", scripts, state)
			wf := filepath.Join(dir, "workers.yaml")
			flow := filepath.Join(dir, "flow.yaml")
			if err := os.WriteFile(wf, []byte(workers), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(flow, []byte(fanFlowFile(gens, users, size)), 0o644); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			code, out, errs := runEbb(t, dir, "run", "-workers", wf, "-peers="+fmt.Sprint(peers), "-primary", "cpu=1,mem=32MiB", "-outputs", "out", "-events", "events.jsonl", flow)
			if code != 0 {
				t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
			}
			t.Logf("%d × %d bytes, %d users: ebb run took %v", gens, size, users, time.Since(start).Round(time.Millisecond))
			sum, err := os.ReadFile(filepath.Join(dir, "out", "sum", "sum"))
			want := fmt.Sprint(int64(gens) * (size + 2)) // each intermediate: its number, a newline and size zeros
			if err != nil || strings.Count(string(sum), want) != users {
				t.Fatalf("sum = %q, %v; want %d lines of %s bytes", sum, err, users, want)
			}
			left := func() bool { return len(processesWith(bin)) == 0 }
			if !proctest.Eventually(10*time.Second, left) {
				t.Errorf("worker processes left: %v", processesWith(bin))
			}
			if peers {
				// The workers are stopped: where they kept blobs is
				// forgotten, so that a later run does not wait on them.
				if b, err := os.ReadFile(filepath.Join(dir, ".ebb", peerLocationsFile)); err != nil || len(b) != 0 {
					t.Errorf("%s after the run: %q, %v; want it empty", peerLocationsFile, b, err)
				}
			}
			checkStaging(t, filepath.Join(dir, "events.jsonl"), peers, size+2)
			intermediates := int64(gens) * (size + 2)
			m := throughEbb.FindStringSubmatch(errs)
			if m == nil {
				t.Fatalf("ebb run said nothing of the blobs through it:\n%s", errs)
			}
			sent, _ := strconv.ParseInt(m[1], 10, 64)
			received, _ := strconv.ParseInt(m[2], 10, 64)
			copied, _ := strconv.ParseInt(m[3], 10, 64)
			t.Logf("%s", m[0])
			if !peers {
				// Up once, and down to each worker that reads them.
				if received < intermediates || sent < intermediates || copied != 0 {
					t.Errorf("-peers=false: %s; want each intermediate up and down through ebb", m[0])
				}
				return
			}
			if sent != 0 || received != 0 {
				t.Errorf("ebb's blob server sent %d and received %d bytes, want 0: the intermediates crossed it", sent, received)
			}
			if copied != int64(len(sum)) {
				t.Errorf("ebb copied %d bytes from the workers, want %d: the sink's output alone", copied, len(sum))
			}
			checkPeerToken(t, dir, state)
			logs, _ := filepath.Glob(filepath.Join(state, "*.log"))
			var fetched int64
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				m := cacheLine.FindSubmatch(b)
				if m == nil {
					t.Errorf("worker log %s has no blob cache line:\n%s", l, b)
					continue
				}
				n, _ := strconv.ParseInt(string(m[1]), 10, 64)
				fetched += n
				// Each intermediate at most once, and the users' lines.
				if limit := intermediates + int64(users*32); n > limit {
					t.Errorf("worker %s fetched %d bytes, want at most %d (each intermediate once)", filepath.Base(l), n, limit)
				}
			}
			if fetched < size {
				t.Errorf("the workers' caches fetched %d bytes (%d logs): nothing moved between workers, the test shows nothing", fetched, len(logs))
			}
			t.Logf("%d workers' caches fetched %d bytes (from each other, or from ebb when it says so above)", len(logs), fetched)
		})
	}
}

// checkStaging checks the stage-in and stage-out lines of the events
// file of a fan-out/fan-in run on workers, measured on the workers and
// sent back over the pool protocol: each intermediate is size bytes,
// staged in by each user from a peer, the driver or the worker's own
// cache, and staged out by its gen into the worker's cache (peers) or
// the driver.
func checkStaging(t *testing.T, path string, peers bool, size int64) {
	t.Helper()
	wheres := map[string]int{}
	seen := map[string]bool{}
	for _, ev := range readEvents(t, path) {
		kind, _ := ev["kind"].(string)
		task, _ := ev["task"].(string)
		if kind != "stage-in" && kind != "stage-out" {
			continue
		}
		files, _ := ev["files"].([]any)
		var sum float64
		for _, f := range files {
			f := f.(map[string]any)
			b, _ := f["bytes"].(float64)
			sum += b
			where, _ := f["where"].(string)
			wheres[kind+" "+where]++
			big := strings.HasPrefix(task, "gen") && kind == "stage-out" || strings.HasPrefix(task, "use") && kind == "stage-in"
			if big && int64(b) != size {
				t.Errorf("%s of %s: file %v: want %d bytes", kind, task, f, size)
			}
		}
		if ev["bytes"] != sum || ev["duration_seconds"] == nil {
			t.Errorf("%s of %s: bytes %v, files sum to %v", kind, task, ev["bytes"], sum)
		}
		seen[kind+" "+task[:3]] = true
	}
	for _, k := range []string{"stage-out gen", "stage-in use", "stage-out use", "stage-in sum", "stage-out sum"} {
		if !seen[k] {
			t.Errorf("no %s event", k)
		}
	}
	if peers {
		// A gen's output stays in its worker's cache; a user reads
		// some from peers.
		if wheres["stage-out driver"] != 0 || wheres["stage-in peer"] == 0 {
			t.Errorf("staging places %v: want outputs kept in the cache, inputs from peers", wheres)
		}
	} else if wheres["stage-out driver"] == 0 || wheres["stage-in driver"] == 0 || wheres["stage-in peer"] != 0 {
		t.Errorf("staging places %v: want everything through the driver", wheres)
	}
	t.Logf("staging places: %v", wheres)
}

// checkPeerToken checks where the run's peer token is: in ebb's -dir,
// mode 0600, and in none of the State, the workers' logs or the command
// provider's records (which hold the workers' command lines).
func checkPeerToken(t *testing.T, dir, state string) {
	t.Helper()
	path := filepath.Join(dir, ".ebb", peerTokenFile)
	b, err := os.ReadFile(path)
	token := strings.TrimSpace(string(b))
	if err != nil || len(token) < 16 {
		t.Fatalf("peer token file: %q, %v", b, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("peer token file mode %v, %v; want 0600", fi.Mode(), err)
	}
	var files []string
	for _, pattern := range []string{filepath.Join(dir, ".ebb", "*.json"), filepath.Join(dir, ".ebb", "*", "*.json"), filepath.Join(state, "*"), filepath.Join(dir, "events.jsonl")} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	if len(files) < 3 {
		t.Errorf("only %v to look for the token in", files)
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), token) {
			t.Errorf("%s holds the peer token", f)
		}
	}
}
