package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ebbflow/ebb/internal/kubetest"
	"github.com/ebbflow/ebb/internal/proctest"
)

// adoptKills is how many times TestKilledDriverAdoptsWorkers kills the
// driver of each run; EBB_ADOPT_KILLS overrides it.
const adoptKills = 10

// A driver of an elastic run on procs workers (and on Slurm workers and
// on Kubernetes pods, when the test clusters are up: scripts/slurm-test-cluster,
// scripts/kube-test-cluster), SIGKILLed at moments drawn from a seeded
// RNG and resumed each time with `ebb resume STATE` alone from another
// directory, adopts the workers its predecessor launched,
// the machine worker that holds the primary alloc among them: every task
// starts once and completes once, on the primary or on a worker, even one
// running across several kills, the result is right, and after the last
// resume no worker process, worker directory, exec directory, record,
// alloc, Slurm job, pod or Secret is left.
//
// Every task appends "start NAME PID DIR" (DIR: its exec's, which says
// where it ran) and "end NAME" to a log outside the exec; the test
// appends "kill N" when it kills the driver.
func TestKilledDriverAdoptsWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and resumes real drivers")
	}
	bin := buildEbb(t)
	kills := adoptKills
	if s := os.Getenv("EBB_ADOPT_KILLS"); s != "" {
		var err error
		if kills, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprintf("procs/seed%d", seed), func(t *testing.T) {
			killedRunOnWorkers(t, bin, "procs", seed, kills)
		})
	}
	t.Run("slurm/seed1", func(t *testing.T) {
		proctest.NeedSlurm(t, proctest.SlurmErr())
		killedRunOnWorkers(t, bin, "slurm", 1, kills)
	})
	// Pods start in seconds: fewer kills, each a longer run.
	t.Run("kube/seed1", func(t *testing.T) {
		killedRunOnWorkers(t, bin, "kube", 1, min(kills, adoptKillsKube))
	})
}

// adoptKillsKube bounds the kills of the kube subtest.
const adoptKillsKube = 5

func killedRunOnWorkers(t *testing.T, bin, provider string, seed uint64, kills int) {
	var kc *kubetest.Cluster
	if provider == "kube" {
		kc = kubetest.Get(t)
	}
	dir, elsewhere := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "tasks.log")
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	workers := fmt.Sprintf(`provider: procs
worker: [%s, worker]
max_workers: 3
idle_timeout: 2s
latency: 100ms
shapes:
  - {name: w, resources: "cpu=2,mem=1GiB"}
`, bin)
	prefix := fmt.Sprintf("ebbadopt%d-", os.Getpid())
	if provider == "slurm" {
		// One cpu a worker: two fit the test cluster's node. The
		// workers fetch their inputs from ebb and store their outputs
		// there, over the protocol, at the address the driver keeps.
		workers = fmt.Sprintf(`provider: slurm
worker: [%s, worker]
max_workers: 2
idle_timeout: 5s
latency: 1s
shapes:
  - {name: w, resources: "cpu=1,mem=256MiB"}
slurm: {job_prefix: %s, poll_interval: 200ms, time_limit: 10m}
`, bin, prefix)
	}
	// Tasks sleep this many times longer on pods, which take seconds
	// to start, so that some tasks run there.
	slow := 1.0
	runFor := 5 * time.Minute
	var runArgs []string
	if provider == "kube" {
		// Two pods of one cpu fit the test cluster's node. The pods
		// run the image's ebb, with this machine's programs, and the
		// run's directory mounted where it is here, for the task log.
		prefix = fmt.Sprintf("ebbadopt%d", os.Getpid())
		tmpl := strings.Replace(kubePodTemplate, "        - {name: alternatives, mountPath: /etc/alternatives, readOnly: true}\n",
			fmt.Sprintf("        - {name: alternatives, mountPath: /etc/alternatives, readOnly: true}\n        - {name: run, mountPath: %s}\n", dir), 1)
		if tmpl == kubePodTemplate {
			t.Fatal("kubePodTemplate has no /etc/alternatives mount to add the run's directory after")
		}
		tmpl += fmt.Sprintf("    - {name: run, hostPath: {path: %s, type: Directory}}\n", dir)
		write("worker-pod.yaml", tmpl)
		workers = fmt.Sprintf(`provider: kube
max_workers: 2
idle_timeout: 5s
latency: 1s
shapes:
  - {name: w, resources: "cpu=1,mem=256MiB"}
kube:
  image: %s
  kubeconfig: %s
  namespace: %s
  name: %s
  pod_template: worker-pod.yaml
  pending_timeout: 1m
`, kc.Image, kc.Kubeconfig, kc.Namespace, prefix)
		slow, runFor = 4, 8*time.Minute
		// Blobs staged through ebb: the primary is a machine worker,
		// which outlives the driver, not a pool inside it.
		runArgs = []string{"-peers=false"}
	}
	wf := write("workers.yaml", workers)
	// Tasks of cpu=1 run two at a time on the primary of cpu=2, the
	// others on workers. The long task runs across several kills.
	const n = 10
	task := func(name string, sleep float64, out string) string {
		script := fmt.Sprintf(`echo "start %[1]s $$ $PWD" >> %[2]s; sleep %[3]g; echo "end %[1]s" >> %[2]s; %[4]s`, name, log, sleep*slow, out)
		return fmt.Sprintf("  - {name: %s, argv: [/bin/sh, -c, %q], resources: \"cpu=1,mem=64MiB\", outputs: [out]",
			name, script)
	}
	var flow strings.Builder
	flow.WriteString("tasks:\n")
	var inputs []string
	fmt.Fprintf(&flow, "%s}\n", task("long", 8, "echo 100 > out"))
	inputs = append(inputs, "{name: long, task: long, output: out}")
	for i := range n {
		name := fmt.Sprintf("t%02d", i)
		fmt.Fprintf(&flow, "%s}\n", task(name, 0.4+0.1*float64(i%4), fmt.Sprintf("echo %d > out", i+1)))
		inputs = append(inputs, fmt.Sprintf("{name: %s, task: %s, output: out}", name, name))
	}
	fmt.Fprintf(&flow, "%s, inputs: [%s]}\n", task("sum", 0.1, "cat t* long | awk '{s += $1} END {print s}' > out"), strings.Join(inputs, ", "))
	flowPath := write("flow.yaml", flow.String())
	state := filepath.Join(dir, "d", "state.json")

	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("the task log:\n%s", b)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 0xebb))
	deadline := time.Now().Add(runFor)
	done, killed := false, 0
	for try := 0; !done; try++ {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not end within %v, after %d kills", runFor, killed)
		}
		var cmd *exec.Cmd
		if try == 0 {
			args := []string{"run", "-quiet", "-v", "-workers", wf, "-dir", "d", "-primary", "cpu=2,mem=256MiB", "-outputs", "out"}
			cmd = exec.Command(bin, append(append(args, runArgs...), flowPath)...)
			cmd.Dir = dir
		} else {
			cmd = exec.Command(bin, "resume", "-quiet", "-v", state)
			cmd.Dir = elsewhere
		}
		var stderr syncBuffer
		cmd.Stderr = &stderr
		defer func() {
			if t.Failed() {
				t.Logf("driver %d said:\n%s", try, &stderr)
			}
		}()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exitc := make(chan error, 1)
		go func() { exitc <- cmd.Wait() }()
		if killed == kills {
			select {
			case err := <-exitc:
				if err != nil {
					t.Fatalf("the last resume failed: %v\n%s", err, &stderr)
				}
			case <-time.After(2 * time.Minute):
				cmd.Process.Kill()
				<-exitc
				t.Fatalf("the last resume did not end within 2 minutes:\n%s", &stderr)
			}
			done = true
			continue
		}
		// Kill once the log has grown by 1 to 3 lines (the first time,
		// once a task has started, so that the state exists; on Slurm
		// and kube, once one has started on a worker, so that there is
		// a worker to adopt and not only a job or pod still pending:
		// those take seconds to start on a loaded machine), or after a
		// moment drawn up to 1.5 s.
		before := len(logLines(t, log))
		grow := 1 + rng.IntN(3)
		wait := time.Duration(rng.IntN(1500)) * time.Millisecond
		start := time.Now()
		exited := false
		proctest.Eventually(time.Minute, func() bool {
			select {
			case err := <-exitc:
				exitc <- err
				exited = true
				return true
			default:
			}
			ll := logLines(t, log)
			lines := len(ll)
			if provider != "procs" && !startedOffPrimary(ll, dir) {
				return false // kill while workers run tasks
			}
			return lines >= before+grow || (lines > 0 && time.Since(start) > wait)
		})
		if exited {
			if err := <-exitc; err != nil {
				t.Fatalf("the driver failed before it was killed: %v\n%s", err, &stderr)
			}
			done = true
			continue
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-exitc
		killed++
		appendLine(t, log, fmt.Sprintf("kill %d", killed))
		checkRecords(t, filepath.Join(dir, "d"), state)
	}
	t.Logf("seed %d: killed the driver %d times", seed, killed)
	if killed < kills/2 {
		t.Errorf("the run ended after %d kills, want at least %d: the flow is too short for the test", killed, kills/2)
	}

	// Each task started once and ended once; the long one ran across at
	// least two kills; some ran on the primary (in the machine worker's
	// directory), some on workers.
	starts, ends := map[string]int{}, map[string]int{}
	onPrimary := map[bool]int{}
	longKills := 0
	inLong := false
	for _, l := range logLines(t, log) {
		f := strings.Fields(l)
		switch f[0] {
		case "start":
			starts[f[1]]++
			onPrimary[len(f) > 3 && ranOnPrimary(f[3], dir)]++
			inLong = inLong || f[1] == "long"
		case "end":
			ends[f[1]]++
			inLong = inLong && f[1] != "long"
		case "kill":
			if inLong {
				longKills++
			}
		}
	}
	for _, name := range append(taskNames(n), "long", "sum") {
		if starts[name] != 1 || ends[name] != 1 {
			t.Errorf("task %s started %d times and ended %d times, want once each", name, starts[name], ends[name])
		}
	}
	t.Logf("seed %d: the long task ran across %d kills; %d tasks ran on the primary, %d on workers", seed, longKills, onPrimary[true], onPrimary[false])
	if onPrimary[true] < 2 || onPrimary[false] < 2 {
		t.Errorf("%d tasks ran on the primary and %d on workers, want at least 2 on each", onPrimary[true], onPrimary[false])
	}
	if killed >= kills && longKills < 2 {
		t.Errorf("the long task ran across %d kills, want at least 2", longKills)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "out", "sum", "out")); err != nil || strings.TrimSpace(string(b)) != "155" {
		t.Errorf("sum = %q, %v; want 155", b, err)
	}

	// Nothing is left: no worker process, directory or record, the
	// machine worker's (with its execs' directories) among them.
	if !proctest.Eventually(10*time.Second, func() bool { return len(processesWith(bin)) == 0 }) {
		t.Errorf("worker processes left: %v", processesWith(bin))
	}
	if _, err := os.Stat(filepath.Join(dir, "d", "machine")); !os.IsNotExist(err) {
		left, _ := filepath.Glob(filepath.Join(dir, "d", "machine", "*", "*"))
		t.Errorf("the machine worker's directory is left (%v): %v", err, left)
	}
	switch provider {
	case "procs":
		if _, err := os.Stat(filepath.Join(dir, "d", "workers")); !os.IsNotExist(err) {
			left, _ := filepath.Glob(filepath.Join(dir, "d", "workers", "*", "*"))
			t.Errorf("the workers directory is left (%v): %v", err, left)
		}
	case "slurm":
		recs, _ := filepath.Glob(filepath.Join(dir, "d", "slurm", "*", "records", "*.worker.json"))
		if len(recs) > 0 {
			t.Errorf("worker records left: %v", recs)
		}
		var jobs []string
		active := func() bool {
			out, err := exec.Command("squeue", "--noheader", "--format=%j %T").Output()
			if err != nil {
				t.Fatalf("squeue: %v", err)
			}
			jobs = nil
			for _, l := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(l, prefix) {
					jobs = append(jobs, l)
				}
			}
			return len(jobs) == 0
		}
		if !proctest.Eventually(30*time.Second, active) {
			t.Errorf("Slurm jobs left: %v", jobs)
		}
	case "kube":
		client := kc.Client(t)
		sel := metav1.ListOptions{LabelSelector: "ebbflow.io/provider=" + prefix}
		var left []string
		gone := func() bool {
			ctx := context.Background()
			pods, err := client.CoreV1().Pods(kc.Namespace).List(ctx, sel)
			if err != nil {
				t.Fatalf("listing pods: %v", err)
			}
			secrets, err := client.CoreV1().Secrets(kc.Namespace).List(ctx, sel)
			if err != nil {
				t.Fatalf("listing Secrets: %v", err)
			}
			left = nil
			for _, p := range pods.Items {
				left = append(left, "pod "+p.Name)
			}
			for _, s := range secrets.Items {
				left = append(left, "Secret "+s.Name)
			}
			return len(left) == 0
		}
		if !proctest.Eventually(30*time.Second, gone) {
			t.Errorf("left of the run in the cluster: %v", left)
			// Free the node for the tests after this one.
			ctx := context.Background()
			client.CoreV1().Pods(kc.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
			client.CoreV1().Secrets(kc.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
		}
	}
	var st struct {
		Primary json.RawMessage   `json:"primary"`
		Aux     []json.RawMessage `json:"aux"`
	}
	if b, err := os.ReadFile(state); err != nil || json.Unmarshal(b, &st) != nil || st.Primary != nil || len(st.Aux) > 0 {
		t.Errorf("the state after the run holds allocs (%v):\n%s", err, b)
	}
}

// checkRecords checks the worker records the providers keep under the
// run's directory: each is readable by its owner alone, and no token of
// theirs is in the State.
func checkRecords(t *testing.T, dir, state string) {
	t.Helper()
	st, _ := os.ReadFile(state)
	// Every provider keeps its records in DIR/PROVIDER/HASH (stateDir).
	recs, _ := filepath.Glob(filepath.Join(dir, "*", "*", "records", "*.worker.json"))
	for _, f := range recs {
		info, err := os.Stat(f)
		if err != nil {
			continue // removed meanwhile
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("worker record %s has mode %v, want 0600", f, info.Mode().Perm())
		}
		b, _ := os.ReadFile(f)
		var rec struct{ Token string }
		if json.Unmarshal(b, &rec) == nil && rec.Token != "" && strings.Contains(string(st), rec.Token) {
			t.Errorf("the State holds the token of worker record %s", f)
		}
	}
}

// startedOffPrimary says whether a task of the log started on a worker.
func startedOffPrimary(lines []string, dir string) bool {
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 3 && f[0] == "start" && !ranOnPrimary(f[3], dir) {
			return true
		}
	}
	return false
}

// ranOnPrimary says whether a task that logged execDir as its working
// directory ran on the primary: in the machine worker's directory of the
// run's directory dir.
func ranOnPrimary(execDir, dir string) bool {
	return strings.HasPrefix(execDir, filepath.Join(dir, "d", "machine")+"/")
}

func taskNames(n int) []string {
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("t%02d", i))
	}
	return names
}

// logLines returns the lines of the task log; none before it exists.
func logLines(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}

func appendLine(t *testing.T, path, line string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}
