package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// crashFlow is a pipeline of real commands: 12 producers, each writing a
// number, and a sink that sums them. Every task appends its name to the
// file at $EXECLOG when it starts, so the test can count executions.
func crashFlow(log string) *ebb.Flow {
	env := []string{"PATH=/usr/bin:/bin", "EXECLOG=" + log}
	flow := &ebb.Flow{Name: "crash"}
	var inputs []ebb.Input
	for i := range 12 {
		name := fmt.Sprintf("produce-%02d", i)
		flow.Tasks = append(flow.Tasks, ebb.Task{
			Name:      name,
			Argv:      []string{"sh", "-c", fmt.Sprintf(`echo %s >> "$EXECLOG"; sleep 0.2; echo %d > n`, name, i+1)},
			Env:       env,
			Outputs:   []string{"n"},
			Resources: ebb.Resources{ebb.CPU: 0.5},
		})
		inputs = append(inputs, ebb.Input{Name: name, Task: name, Output: "n"})
	}
	flow.Tasks = append(flow.Tasks, ebb.Task{
		Name:      "sum",
		Argv:      []string{"sh", "-c", `echo sum >> "$EXECLOG"; cat produce-* | awk '{s += $1} END {print s}' > total`},
		Env:       env,
		Inputs:    inputs,
		Outputs:   []string{"total"},
		Resources: ebb.Resources{ebb.CPU: 0.5},
	})
	return flow
}

// TestCrashDriver is the driver the crash test runs and kills: it runs the
// crash flow to its end, resuming from the state file when there is one.
// It prints each of the run's events ("EVENT started produce-03"), so the
// test can kill it at a chosen point. With $EBB_CRASH_HOLD set it prints
// HELD when its run has ended and waits on its stdin for the kill, instead
// of printing the result.
func TestCrashDriver(t *testing.T) {
	dir := os.Getenv("EBB_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestKilledDriverResumes")
	}
	ctx := context.Background()
	repo, err := repository.Open(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := repository.OpenCache(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := local.New(local.Config{Dir: filepath.Join(dir, "pool"), Repository: repo, Resources: ebb.Resources{ebb.CPU: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	store := FileStore{Path: filepath.Join(dir, "state.json")}
	state, err := store.Load(ctx)
	if err != nil && !errors.Is(err, ebb.ErrNotExist) {
		t.Fatal(err)
	}
	bus := NewEventBus()
	sub := bus.Subscribe(0)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for {
			ev, err := sub.Next(ctx)
			if err != nil {
				return
			}
			fmt.Println("EVENT", ev.Kind, ev.Task)
		}
	}()
	r, err := New(Config{
		Flow: crashFlow(filepath.Join(dir, "exec.log")), Cluster: cluster.NewStatic(p),
		Repository: repo, Cache: cache, Store: store, Program: "crash", Events: bus,
	}, state)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Run(ctx)
	sub.Close()
	<-printed
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("EBB_CRASH_HOLD") != "" {
		fmt.Println("HELD")
		os.Stdin.Read(make([]byte, 1))
		t.Fatal("stdin closed before the kill")
	}
	fmt.Println("RESULT", r.State().Result.Outputs["sum/total"])
}

// A driver killed with SIGKILL at random points of a run, and resumed from
// its State in a new process each time, ends with the right result, and no
// task whose result was in the cache when a driver died runs again. The
// first drivers are all killed: as they start, as a producer starts, or
// once their run has ended; the last one runs unharmed. The first two are
// killed as a producer that is not in the cache starts, so at least two
// die mid-run whatever the machine's speed.
func TestKilledDriverResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs driver processes")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "exec.log")
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)

	flow := crashFlow(log)
	g, err := flow.Graph()
	if err != nil {
		t.Fatal(err)
	}
	digests, err := g.Digests(nil)
	if err != nil {
		t.Fatal(err)
	}
	type crash struct {
		logLines int             // exec log lines when the driver was dead
		cached   map[string]bool // tasks in the cache then
		midRun   bool            // killed before its run ended
	}
	var crashes []crash
	var result string
	for round := 0; result == ""; round++ {
		if round > 40 {
			t.Fatalf("no driver finished in %d rounds", round)
		}
		const killed = 8
		mode := noKill
		switch {
		case round < 2:
			mode = killAtStart
		case round < killed:
			mode = []killMode{killAtLaunch, killAtStart, killAtStart, killAtEnd}[rng.IntN(4)]
		}
		// The producer start to kill at: one of those not in the cache,
		// so the kill comes while the run still has work.
		uncached := 12
		if len(crashes) > 0 {
			uncached = 0
			for _, task := range flow.Tasks[:12] {
				if !crashes[len(crashes)-1].cached[task.Name] {
					uncached++
				}
			}
		}
		starts := 1 + rng.IntN(max(uncached, 1))

		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDriver$", "-test.v")
		cmd.Env = append(os.Environ(), "EBB_CRASH_DIR="+dir)
		if mode != noKill {
			cmd.Env = append(cmd.Env, "EBB_CRASH_HOLD=1")
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		hold, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		midRun := false
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			line := lines.Text()
			kill := false
			switch {
			case strings.HasPrefix(line, "RESULT "):
				result = strings.TrimPrefix(line, "RESULT ")
			case line == "HELD":
				kill = true
			case mode == killAtLaunch && strings.HasPrefix(line, "=== RUN"):
				kill, midRun = true, true
			case mode == killAtStart && strings.HasPrefix(line, "EVENT started produce-"):
				if starts--; starts == 0 {
					kill, midRun = true, true
				}
			}
			if kill {
				cmd.Process.Kill()
				mode = noKill
			}
		}
		err = cmd.Wait()
		hold.Close()
		var exit *exec.ExitError
		if err != nil && (!errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL) {
			t.Fatalf("driver round %d ended with %v, not killed", round, err)
		}
		if result != "" {
			break // killed, if at all, after the run ended
		}
		crashes = append(crashes, crash{logLines: len(readLines(t, log)), cached: cachedTasks(t, dir, flow, digests), midRun: midRun})
	}
	mid := 0
	for _, c := range crashes {
		if c.midRun {
			mid++
		}
	}
	t.Logf("%d drivers killed before one finished, %d of them mid-run", len(crashes), mid)
	if mid < 2 {
		t.Errorf("only %d drivers killed mid-run; the test proves little", mid)
	}

	// The result is right: 1 + 2 + ... + 12.
	repo, err := repository.Open(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	total, err := readBlob(repo, digest.Digest(result))
	if err != nil || strings.TrimSpace(total) != "78" {
		t.Errorf("sum = %q, %v; want 78", total, err)
	}
	// No task cached before a crash started again after it. (A task killed
	// with its driver before its result was stored may run again: it never
	// finished.)
	execs := readLines(t, log)
	for i, c := range crashes {
		for _, name := range execs[min(c.logLines, len(execs)):] {
			if c.cached[name] {
				t.Errorf("task %s ran again after crash %d, though its result was cached", name, i)
			}
		}
	}
	// Every task finished exactly once in the cache's eyes: the log holds
	// each task at least once, and the runs beyond one are tasks that were
	// killed unfinished.
	seen := map[string]int{}
	for _, name := range execs {
		seen[name]++
	}
	for _, task := range flow.Tasks {
		if seen[task.Name] == 0 {
			t.Errorf("task %s never ran", task.Name)
		}
	}
}

// killMode says when the crash test kills a driver.
type killMode int

const (
	noKill       killMode = iota
	killAtLaunch          // as its process starts, before it reads its state
	killAtStart           // as a chosen producer task starts
	killAtEnd             // once its run has ended
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func cachedTasks(t *testing.T, dir string, flow *ebb.Flow, digests []digest.Digest) map[string]bool {
	t.Helper()
	cache, err := repository.OpenCache(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for i, d := range digests {
		if _, err := cache.Get(context.Background(), d); err == nil {
			out[flow.Tasks[i].Name] = true
		}
	}
	return out
}

func readBlob(repo *repository.Dir, d digest.Digest) (string, error) {
	r, err := repo.Get(context.Background(), d)
	if err != nil {
		return "", err
	}
	defer r.Close()
	var b strings.Builder
	_, err = bufio.NewReader(r).WriteTo(&b)
	return b.String(), err
}
