// Quickstart runs a small word-count pipeline with ebb on this machine: it
// splits a text into parts, counts the words of each part in parallel with
// real commands, and merges the counts into the twenty most common words.
//
//	go run ./examples/quickstart
//
// The run is elastic: it holds a small primary alloc (one core), and when
// the burst of counting tasks is more than that can run, a stealer carves
// auxiliary allocs out of the rest of the machine, and gives them back once
// they are idle. Its decisions are printed as they happen.
//
// With -aux procs, the auxiliary allocs come from worker processes
// instead (`ebb worker`, started by cluster/procs and reached over the
// pool protocol), as they would from a real engine; with -aux slurm, from
// workers that are Slurm jobs on this machine's Slurm cluster
// (scripts/slurm-test-cluster up brings one up); with -aux kube, from
// workers that are pods of a Kubernetes cluster (scripts/kube-test-cluster
// up brings one up on this machine; $EBB_KUBECONFIG and
// $EBB_KUBE_WORKER_IMAGE name another). -ebb names the ebb
// binary (default: ebb in PATH; `go build -o /tmp/ebb ./cmd/ebb` makes
// one). The result is the same.
//
// It shows progress while it runs (package internal/statusview shows the
// grailbio/base status that the runner, the stealer and the cluster
// report to: a redrawn status on a terminal, plain lines otherwise) and a
// summary at the end. Its repository,
// cache and state live in a directory (-dir, by default ebb-quickstart in
// the system's temporary directory), so a second run finds every task in
// the cache and runs nothing; -fresh starts over.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/statusview"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/stealer"
	"github.com/grailbio/base/status"
)

func main() {
	dir := flag.String("dir", filepath.Join(os.TempDir(), "ebb-quickstart"), "where the repository, cache and state live")
	parts := flag.Int("parts", 8, "how many parts to count in parallel")
	work := flag.Duration("work", 0, "make each count take at least this long, as heavier work would: the stealer then has time to bring workers of a slow engine")
	fresh := flag.Bool("fresh", false, "forget earlier runs first")
	aux := flag.String("aux", "local", "where auxiliary allocs come from: local (this machine's pool), procs (ebb worker processes), slurm (Slurm jobs) or kube (Kubernetes pods)")
	ebbBin := flag.String("ebb", "", "the ebb binary the procs workers run (default: ebb in PATH)")
	flag.Parse()
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, options{dir: *dir, parts: *parts, work: *work, fresh: *fresh, aux: *aux, ebb: *ebbBin}); err != nil {
		log.Fatal(err)
	}
}

// options are the quickstart's flags.
type options struct {
	dir   string
	parts int
	work  time.Duration // each count takes at least this long
	fresh bool
	aux   string // "local" or "procs"
	ebb   string // the ebb binary, for procs
}

func run(ctx context.Context, o options) (err error) {
	dir, parts := o.dir, o.parts
	if parts < 1 || parts > 100 {
		return fmt.Errorf("-parts %d: want 1 to 100", parts)
	}
	if o.work < 0 || o.work > time.Hour {
		return fmt.Errorf("-work %v: want 0 to 1h", o.work)
	}
	if o.fresh {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	input := filepath.Join(dir, "input.txt")
	if err := writeInput(input); err != nil {
		return err
	}
	repoDir := filepath.Join(dir, "repository")
	repo, err := repository.Open(repoDir)
	if err != nil {
		return err
	}
	cache, err := repository.OpenCache(repoDir)
	if err != nil {
		return err
	}
	machine, err := local.New(local.Config{Dir: filepath.Join(dir, "pool"), Repository: repo})
	if err != nil {
		return err
	}
	defer machine.Close(context.Background())

	flow := wordCount(input, parts, o.work)
	local := cluster.NewStatic(machine)
	// The runner, the stealer and the workers' cluster report to groups
	// of one status, which a view shows on standard output: redrawn in
	// place on a terminal, as plain lines elsewhere. Their events are
	// printed above it.
	var st status.Status
	view := statusview.New(os.Stdout, &st, statusview.Config{Terminal: statusview.IsTerminal(os.Stdout)})
	aux, where, stopAux, err := auxCluster(ctx, o, local, repoDir, cluster.ElasticConfig{
		Status:   st.Group("workers"),
		OnWorker: func(ev cluster.WorkerEvent) { view.Println("  " + ev.String()) },
	})
	if err != nil {
		return err
	}
	defer func() {
		if serr := stopAux(); err == nil {
			err = serr
		}
	}()
	// Allocations on this machine are immediate: tell the policy, so that
	// it buys capacity for any backlog longer than that.
	policy, err := stealer.NewDefault(stealer.DefaultConfig{LatencyPrior: 10 * time.Millisecond})
	if err != nil {
		return err
	}
	r, err := runner.New(runner.Config{
		Flow:       flow,
		Cluster:    local,
		Repository: repo,
		Cache:      cache,
		Store:      runner.FileStore{Path: filepath.Join(dir, "state.json")},
		Program:    "quickstart",
		// A primary of one task's size, and auxiliary allocs while the
		// burst lasts.
		Primary: ebb.Requirements{Min: taskResources},
		Aux:     aux,
		Steal: runner.StealConfig{Policy: policy, Status: st.Group("stealer"), OnEvent: func(ev stealer.Event) {
			view.Println("  stealer: " + ev.Reason)
		}},
		Status: st.Group("run"),
	}, nil)
	if err != nil {
		return err
	}
	fmt.Printf("word count of %s in %d parts, on %s; auxiliary allocs from %s\n", input, parts, capacityOf(ctx, machine), where)

	start := time.Now()
	vctx, stopView := context.WithCancel(ctx)
	viewed := make(chan struct{})
	go func() {
		defer close(viewed)
		view.Run(vctx)
	}()
	err = r.Run(ctx)
	stopView()
	<-viewed
	if err != nil {
		return err
	}
	return summarize(ctx, r, repo, time.Since(start))
}

// wordCount builds the flow: split → count (one task per part) → merge.
// taskResources is what each task of the pipeline holds.
var taskResources = ebb.Resources{ebb.CPU: 1, ebb.Mem: 256 << 20}

func wordCount(input string, parts int, work time.Duration) *ebb.Flow {
	task := taskResources
	flow := &ebb.Flow{Name: "wordcount"}
	var names []string
	for i := range parts {
		names = append(names, fmt.Sprintf("part-%02d", i))
	}
	flow.Tasks = append(flow.Tasks, ebb.Task{
		Name:      "split",
		Argv:      []string{"split", "--number=l/" + fmt.Sprint(parts), "--numeric-suffixes", "--suffix-length=2", "input.txt", "part-"},
		Inputs:    []ebb.Input{{Name: "input.txt", Path: input}},
		Outputs:   names,
		Resources: task,
	})
	sleep := "" // -work: part of the command, so the cache tells the runs apart
	if work > 0 {
		sleep = fmt.Sprintf("sleep %.3f; ", work.Seconds())
	}
	var merge []ebb.Input
	for i, part := range names {
		count := fmt.Sprintf("count-%02d", i)
		flow.Tasks = append(flow.Tasks, ebb.Task{
			Name: count,
			Argv: []string{"sh", "-c", sleep + "tr -cs 'A-Za-z' '\\n' < part | tr 'A-Z' 'a-z' | grep . | sort | uniq -c > counts"},
			Env:  []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"},
			Inputs: []ebb.Input{
				{Name: "part", Task: "split", Output: part},
			},
			Outputs:   []string{"counts"},
			Resources: task,
		})
		merge = append(merge, ebb.Input{Name: count, Task: count, Output: "counts"})
	}
	flow.Tasks = append(flow.Tasks, ebb.Task{
		Name:      "merge",
		Argv:      []string{"sh", "-c", "cat count-* | awk '{c[$2] += $1} END {for (w in c) print c[w], w}' | sort -k1,1nr -k2 | head -20 > top.txt"},
		Env:       []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"},
		Inputs:    merge,
		Outputs:   []string{"top.txt"},
		Resources: task,
	})
	return flow
}

func summarize(ctx context.Context, r *runner.Runner, repo *repository.Dir, wall time.Duration) error {
	s := r.State()
	res := s.Result
	top, err := repo.Get(ctx, res.Outputs["merge/top.txt"])
	if err != nil {
		return err
	}
	defer top.Close()
	fmt.Println("\nmost common words:")
	words, err := io.ReadAll(top)
	if err != nil {
		return err
	}
	for line := range strings.Lines(string(words)) {
		fmt.Print("  ", line)
	}
	fmt.Printf("\n%d tasks: %d run, %d found in the cache, %d not needed (they only feed cached tasks)\n",
		res.Tasks, res.Ran, res.Cached, res.Skipped)
	if res.Ran == 0 {
		fmt.Println("everything came from the cache: nothing ran (-fresh starts over)")
	}
	fmt.Printf("allocs taken: %d; resources held: %s\n", s.Allocs, minutes(s.TotalResources))
	fmt.Printf("wall time: %v\n", wall.Round(time.Millisecond))
	return nil
}

func minutes(r ebb.Resources) string {
	if r.IsZero() {
		return "0"
	}
	return fmt.Sprintf("%.3f cpu-minutes, %s-minutes of memory", r[ebb.CPU], ebb.FormatBytes(r[ebb.Mem]))
}

func capacityOf(ctx context.Context, p *local.Pool) string {
	caps, err := p.Capacity(ctx)
	if err != nil || len(caps) == 0 {
		return "this machine"
	}
	return "this machine (" + caps[0].String() + ")"
}

// writeInput writes a text of 200,000 lines (about 13 MB), the same every
// time, unless it is there already.
func writeInput(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	words := strings.Fields(`the flow runs where the work is and grows when work waits
		elastic allocation holds a primary alloc and steals auxiliary allocs for ready tasks
		a task has resources a digest inputs and outputs and its result goes to the cache
		workers drain when idle and nothing finished is ever lost`)
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for range 200_000 {
		n := 5 + rng.IntN(10)
		for i := range n {
			if i > 0 {
				b.WriteByte(' ')
			}
			// Zipf-like: early words are more common.
			b.WriteString(words[min(len(words)-1, int(rng.ExpFloat64()*8))])
		}
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
