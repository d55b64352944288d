package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/internal/kubetest"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/stealer"
)

// task is what each task of the elastic tests holds: half a core.
var task = ebb.Resources{ebb.CPU: 0.5, ebb.Mem: 64 << 20}

// elasticRun is a run whose primary alloc is one task of this machine's
// pool and whose auxiliary allocs come from an Elastic over p, sharing
// the repository in dir with its pods.
type elasticRun struct {
	repo    *repository.Dir
	runner  *runner.Runner
	elastic *cluster.Elastic
}

// newElasticRun prepares a run of flow; start it with run. The Elastic
// idles out workers after idle, and stops when t ends.
func newElasticRun(t *testing.T, ctx context.Context, dir string, p cluster.Provider, flow *ebb.Flow, idle time.Duration) *elasticRun {
	t.Helper()
	repo, err := repository.Open(filepath.Join(dir, "repository"))
	if err != nil {
		t.Fatal(err)
	}
	machine, err := local.New(local.Config{Dir: filepath.Join(dir, "pool"), Repository: repo, Resources: task})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { machine.Close(context.Background()) })
	elastic, err := cluster.NewElastic(cluster.ElasticConfig{
		Provider: p, MaxWorkers: 3, BatchWindow: 10 * time.Millisecond, IdleTimeout: idle,
		PollInterval: 200 * time.Millisecond, BackoffMin: 500 * time.Millisecond, BackoffMax: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ectx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- elastic.Run(ectx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Elastic.Run: %v", err)
		}
	})
	policy, err := stealer.NewDefault(stealer.DefaultConfig{LatencyPrior: 2 * time.Second, TaskDuration: time.Minute, IdleTimeout: idle})
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Config{
		Flow: flow, Cluster: cluster.NewStatic(machine), Repository: repo,
		Primary: ebb.Requirements{Min: task}, Aux: elastic,
		Steal:  runner.StealConfig{Policy: policy, Tick: 100 * time.Millisecond},
		Labels: ebb.Labels{"run": t.Name()},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &elasticRun{repo: repo, runner: r, elastic: elastic}
}

// output returns the content of the run's output name.
func (r *elasticRun) output(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	d, ok := r.runner.State().Result.Outputs[name]
	if !ok {
		t.Fatalf("no output %s", name)
	}
	rc, err := r.repo.Get(ctx, d)
	if err != nil {
		t.Fatalf("output %s: %v", name, err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return strings.TrimSpace(string(b))
}

// countFlow squares 1..n on as many tasks, each taking a second, and
// sums the squares.
func countFlow(n int) *ebb.Flow {
	f := &ebb.Flow{Name: "squares"}
	sum := ebb.Task{Name: "sum", Argv: []string{"sh", "-c", "cat sq* | awk '{s += $1} END {print s}' > out"}, Outputs: []string{"out"}, Resources: task}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("sq%d", i)
		f.Tasks = append(f.Tasks, ebb.Task{Name: name, Argv: []string{"sh", "-c", fmt.Sprintf("sleep 1; echo $((%d * %d)) > out", i, i)}, Outputs: []string{"out"}, Resources: task, Attempts: 3})
		sum.Inputs = append(sum.Inputs, ebb.Input{Name: name, Task: name, Output: "out"})
	}
	f.Tasks = append(f.Tasks, sum)
	return f
}

// TestElasticRun runs a flow whose burst of tasks is more than its
// primary alloc holds: pods appear while the demand lasts, run stolen
// tasks, and are deleted once idle; the result is right, and no pod,
// Secret or worker process is left.
func TestElasticRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	p := newProvider(t, Config{Bootstrap: bootstrap.Config{Repository: filepath.Join(dir, "repository")}})
	r := newElasticRun(t, ctx, dir, p, countFlow(6), time.Second)
	var most atomic.Int64 // the most pods seen at once
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for wctx.Err() == nil {
			pods, _ := p.pods.List(selector(p.cfg.Name))
			if n := int64(len(pods)); n > most.Load() {
				most.Store(n)
			}
			select {
			case <-wctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	err := r.runner.Run(ctx)
	stopWatch()
	<-watched
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := r.output(t, ctx, "sum/out"); got != "91" {
		t.Errorf("sum of the squares of 1..6 = %s, want 91", got)
	}
	if most.Load() == 0 {
		t.Error("no pod appeared for the run's demand")
	}
	if !proctest.Eventually(time.Minute, func() bool { ws, _ := p.Workers(ctx); return len(ws) == 0 }) {
		t.Error("the idle workers were not terminated")
	}
	noneLeft(t, p.cfg.Client, p.cfg.Namespace, p.cfg.Name)
	t.Logf("at most %d pods at once", most.Load())
}

// TestRunSurvivesKilledPod deletes the pod of a worker while a task runs
// on it: the task is run again elsewhere and the run succeeds with the
// right result.
func TestRunSurvivesKilledPod(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	p := newProvider(t, Config{Bootstrap: bootstrap.Config{Repository: filepath.Join(dir, "repository")}})
	// "hold" keeps the primary while "victim" runs on a pod; the victim
	// sleeps 3.083 s, which marks its process.
	flow := &ebb.Flow{Name: "rerun", Tasks: []ebb.Task{
		{Name: "hold", Argv: []string{"sh", "-c", "sleep 4; echo held > out"}, Outputs: []string{"out"}, Resources: task},
		{Name: "victim", Argv: []string{"sh", "-c", "sleep 3.083; echo survived > out"}, Outputs: []string{"out"}, Resources: task, Attempts: 3},
	}}
	r := newElasticRun(t, ctx, dir, p, flow, time.Minute)
	done := make(chan error, 1)
	go func() { done <- r.runner.Run(ctx) }()
	var victim cluster.WorkerID
	if !proctest.Eventually(2*time.Minute, func() bool {
		ws, _ := p.Workers(ctx)
		for _, w := range ws {
			if len(processesWith("3.083")) > 0 {
				victim = w.ID
				return true
			}
		}
		return false
	}) {
		t.Fatal("the victim never ran on a pod")
	}
	zero := int64(0)
	if err := p.cfg.Client.CoreV1().Pods(p.cfg.Namespace).Delete(ctx, string(victim), metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	for name, want := range map[string]string{"hold/out": "held", "victim/out": "survived"} {
		if got := r.output(t, ctx, name); got != want {
			t.Errorf("output %s = %q, want %q", name, got, want)
		}
	}
}

// processesWith returns the PIDs of the processes on this machine whose
// command line holds arg as a word.
func processesWith(arg string) []int {
	var pids []int
	for _, pid := range procs() {
		for _, a := range pid.args {
			if a == arg {
				pids = append(pids, pid.pid)
				break
			}
		}
	}
	return pids
}

// countingProvider counts the launches of a provider, by shape.
type countingProvider struct {
	*Provider
	mu       sync.Mutex
	launched map[string]int
	failed   map[string][]error
}

func (c *countingProvider) Launch(ctx context.Context, shape cluster.Shape, labels ebb.Labels) (cluster.Worker, error) {
	w, err := c.Provider.Launch(ctx, shape, labels)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.launched == nil {
		c.launched = make(map[string]int)
	}
	if err != nil {
		c.failed[shape.Name] = append(c.failed[shape.Name], err)
	} else {
		c.launched[shape.Name]++
	}
	return w, err
}

// TestElasticBackoff runs a flow on a provider whose cheapest shape
// cannot run: bigger than the node, or over the namespace's
// ResourceQuota. Its launches fail with ErrUnavailable, the Elastic backs
// the shape off and launches the one that fits, and the run completes.
func TestElasticBackoff(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape cluster.Shape
		quota bool
	}{
		{"node", cluster.Shape{Name: "huge", Resources: ebb.Resources{ebb.CPU: 64, ebb.Mem: 1 << 40}, Price: 0.5}, false},
		{"quota", cluster.Shape{Name: "large", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 512 << 20}, Price: 0.5}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			c := kubetest.Get(t)
			client := c.Client(t)
			ns := c.Namespace
			if tc.quota {
				ns = testNamespace(t, client)
				if _, err := client.CoreV1().ResourceQuotas(ns).Create(ctx, &corev1.ResourceQuota{
					ObjectMeta: metav1.ObjectMeta{Name: "ebb-test"},
					Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceLimitsCPU: resource.MustParse("900m")}},
				}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				if !proctest.Eventually(30*time.Second, func() bool {
					q, err := client.CoreV1().ResourceQuotas(ns).Get(ctx, "ebb-test", metav1.GetOptions{})
					return err == nil && len(q.Status.Hard) > 0
				}) {
					t.Fatal("the quota has no status")
				}
			}
			dir := t.TempDir()
			small := cluster.Shape{Name: "small", Resources: ebb.Resources{ebb.CPU: 0.5, ebb.Mem: 256 << 20}, Price: 1}
			p := newProvider(t, Config{
				Namespace: ns, Shapes: []cluster.Shape{tc.shape, small}, PendingTimeout: 3 * time.Second,
				Bootstrap: bootstrap.Config{Repository: filepath.Join(dir, "repository")},
			})
			cp := &countingProvider{Provider: p, failed: make(map[string][]error)}
			// Eight tasks of a second each: the primary alone takes
			// longer than PendingTimeout, so there is demand left for
			// a small worker once the huge one has failed.
			r := newElasticRun(t, ctx, dir, cp, countFlow(8), time.Second)
			if err := r.runner.Run(ctx); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := r.output(t, ctx, "sum/out"); got != "204" {
				t.Errorf("sum of the squares of 1..8 = %s, want 204", got)
			}
			cp.mu.Lock()
			defer cp.mu.Unlock()
			errs := cp.failed[tc.shape.Name]
			if len(errs) == 0 || !errors.Is(errs[0], ebb.ErrUnavailable) {
				t.Errorf("launches of %s failed with %v, want ErrUnavailable", tc.shape.Name, errs)
			}
			if cp.launched["small"] == 0 {
				t.Error("no small worker was launched")
			}
			t.Logf("%s: %d failed launches (first: %v); %d small workers", tc.shape.Name, len(errs), errs[0], cp.launched["small"])
		})
	}
}
