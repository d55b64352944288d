package slurm

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
)

// TestLaunchLabels checks what a worker's job carries: its name is the
// worker's ID, its comment the labels, sorted.
func TestLaunchLabels(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newProvider(t, Config{})
	w, err := p.Launch(ctx, p.Shapes()[0], ebb.Labels{"run": "r1", "flow": "f"})
	if err != nil {
		t.Fatal(err)
	}
	j, ok := p.lookup(ctx, w.ID)
	if !ok {
		t.Fatalf("no job named %s in squeue", w.ID)
	}
	if j.ID != jobOf(t, p, w.ID) || j.Comment != "flow=f,run=r1" {
		t.Errorf("job %+v; want ID %s, comment flow=f,run=r1", j, jobOf(t, p, w.ID))
	}
	if ws, _ := p.Workers(ctx); len(ws) != 1 || ws[0].Labels["run"] != "r1" || ws[0].Shape.Name != "small" {
		t.Errorf("Workers = %+v, want the small worker labelled run=r1", ws)
	}
}

// TestPendingTimeout launches a worker whose job cannot start for an
// hour: it is cancelled after PendingTimeout, and Launch fails with
// ErrUnavailable, leaving no job. A Launch whose context ends while its
// job pends leaves none either.
func TestPendingTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newProvider(t, Config{SbatchArgs: []string{"--begin=now+1hour"}, PendingTimeout: 2 * time.Second})
	start := time.Now()
	_, err := p.Launch(ctx, p.Shapes()[0], nil)
	if !errors.Is(err, ebb.ErrUnavailable) || !strings.Contains(err.Error(), "pending") {
		t.Errorf("Launch of a job that pends: %v, want ErrUnavailable, still pending", err)
	}
	if d := time.Since(start); d < p.cfg.PendingTimeout || d > 20*time.Second {
		t.Errorf("Launch of a job that pends returned after %v, want soon after %v", d, p.cfg.PendingTimeout)
	}
	if left := activeJobs(p.cfg.JobPrefix); len(left) > 0 {
		t.Errorf("jobs left after the pending timeout: %v", left)
	}

	lctx, lcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer lcancel()
	if _, err := p.Launch(lctx, p.Shapes()[0], nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Launch whose context ends while its job pends: %v, want the context's error", err)
	}
	if left := activeJobs(p.cfg.JobPrefix); len(left) > 0 {
		t.Errorf("jobs left after a cancelled launch: %v", left)
	}
	if ws, _ := p.Workers(ctx); len(ws) != 0 {
		t.Errorf("Workers = %v, want none", ws)
	}
}

// TestLaunchFails launches workers whose job ends at once: a command that
// fails, and one that does not exist. Launch fails with ErrUnavailable,
// naming the job's output file.
func TestLaunchFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, argv := range [][]string{{"/bin/false"}, {"/no/such/ebb", "worker"}} {
		p := newProvider(t, Config{Bootstrap: bootstrap.Config{Command: argv}})
		_, err := p.Launch(ctx, p.Shapes()[0], nil)
		if !errors.Is(err, ebb.ErrUnavailable) || !strings.Contains(err.Error(), p.dir) {
			t.Errorf("Launch of %q: %v, want ErrUnavailable naming the output in %s", argv, err, p.dir)
		}
		if ws, _ := p.Workers(ctx); len(ws) != 0 {
			t.Errorf("Workers = %v, want none", ws)
		}
	}
}

// TestCancelledOutside cancels a worker's job with scancel behind the
// provider's back, as an admin or the job's time limit would end it:
// calls on its alloc fail with ErrExpired, and the worker leaves Workers.
// Slurm signals every process of the job, the exec's too, so the exec may
// end killed before its worker reports it lost: either will do.
func TestCancelledOutside(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newProvider(t, Config{})
	w, err := p.Launch(ctx, p.Shapes()[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	a, x := running(t, ctx, w)
	waited := wait(ctx, x)
	if out, err := exec.CommandContext(ctx, "scancel", string(jobOf(t, p, w.ID))).CombinedOutput(); err != nil {
		t.Fatalf("scancel: %v: %s", err, out)
	}
	select {
	case r := <-waited:
		if !errors.Is(r.err, ebb.ErrExpired) && (r.err != nil || r.res.OK()) {
			t.Errorf("Wait of an exec whose job was cancelled: %+v, %v; want ErrExpired, or a result that is not OK", r.res, r.err)
		}
	case <-ctx.Done():
		t.Fatal("Wait of an exec whose job was cancelled did not return")
	}
	if !proctest.Eventually(10*time.Second, func() bool {
		_, err := a.Keepalive(ctx, time.Minute)
		return errors.Is(err, ebb.ErrExpired)
	}) {
		t.Error("Keepalive of an alloc whose job was cancelled does not fail with ErrExpired")
	}
	if !proctest.Eventually(10*time.Second, func() bool { ws, _ := p.Workers(ctx); return len(ws) == 0 }) {
		t.Error("Workers still lists the worker whose job was cancelled")
	}
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Errorf("Terminate of the lost worker: %v, want nil", err)
	}
}

// TestTerminateDrains terminates a worker running an exec: the exec's
// Wait fails with ErrExpired (the worker reports it lost, rather than
// Slurm killing it under the worker), and the job ends by itself, as
// COMPLETED, before the grace period is out.
func TestTerminateDrains(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newProvider(t, Config{Bootstrap: bootstrap.Config{Grace: 20 * time.Second}})
	w, err := p.Launch(ctx, p.Shapes()[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	jid := jobOf(t, p, w.ID)
	_, x := running(t, ctx, w)
	waited := wait(ctx, x)
	start := time.Now()
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if ws, _ := p.Workers(ctx); len(ws) != 0 {
		t.Errorf("Workers after Terminate = %v, want none", ws)
	}
	select {
	case r := <-waited:
		if !errors.Is(r.err, ebb.ErrExpired) {
			t.Errorf("Wait of an exec whose worker was terminated: %+v, %v; want ErrExpired", r.res, r.err)
		}
	case <-ctx.Done():
		t.Fatal("Wait of an exec whose worker was terminated did not return")
	}
	var j job
	if !proctest.Eventually(30*time.Second, func() bool {
		jobs, err := p.ownJobs(ctx, p.ours)
		for _, j = range jobs {
			if j.ID == jid {
				return err == nil && j.gone()
			}
		}
		return false
	}) {
		t.Fatalf("the terminated worker's job did not end: %+v", j)
	}
	if d := time.Since(start); d >= 20*time.Second || !j.has("COMPLETED") {
		t.Errorf("the terminated worker's job ended %v after Terminate as %v; want COMPLETED, within the grace period", d, j.States)
	}
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Errorf("second Terminate: %v, want nil", err)
	}
}

type waitResult struct {
	res pool.Result
	err error
}

// running allocates a core of w and runs a long sleep in it.
func running(t *testing.T, ctx context.Context, w cluster.Worker) (pool.Alloc, pool.Exec) {
	t.Helper()
	a, err := pool.Allocate(ctx, w.Pool, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	x, err := a.Put(ctx, digest.FromString("sleep"), pool.ExecConfig{Argv: []string{"/bin/sleep", "300"}, Resources: ebb.Resources{ebb.CPU: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !proctest.Eventually(10*time.Second, func() bool {
		in, err := x.Inspect(ctx)
		return err == nil && in.State == pool.ExecRunning
	}) {
		t.Fatal("the exec is not running")
	}
	return a, x
}

// wait waits for x in a goroutine, which ends when ctx does.
func wait(ctx context.Context, x pool.Exec) <-chan waitResult {
	c := make(chan waitResult, 1)
	go func() {
		r, err := x.Wait(ctx)
		c <- waitResult{r, err}
	}()
	return c
}

// TestClose checks that Close cancels every job and waits for them, and
// that a closed provider launches nothing.
func TestClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newProvider(t, Config{})
	var ws []cluster.Worker
	for range 2 {
		w, err := p.Launch(ctx, p.Shapes()[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	// A launch in flight when Close begins fails, leaving no job.
	pending := newProvider(t, Config{SbatchArgs: []string{"--begin=now+1hour"}})
	launched := make(chan error, 1)
	go func() {
		_, err := pending.Launch(ctx, pending.Shapes()[0], nil)
		launched <- err
	}()
	if !proctest.Eventually(10*time.Second, func() bool { return len(activeJobs(pending.cfg.JobPrefix)) == 1 }) {
		t.Fatal("the pending launch submitted no job")
	}
	for _, q := range []*Provider{p, pending} {
		if err := q.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if left := activeJobs(q.cfg.JobPrefix); len(left) > 0 {
			t.Errorf("jobs in squeue once Close returned: %v", left)
		}
	}
	if err := <-launched; !errors.Is(err, ebb.ErrClosed) {
		t.Errorf("Launch in flight during Close: %v, want ErrClosed", err)
	}
	if got, _ := p.Workers(ctx); len(got) != 0 {
		t.Errorf("Workers after Close = %v, want none", got)
	}
	if _, err := ws[0].Pool.Offers(ctx); err == nil {
		t.Error("the pool of a worker of a closed provider still answers")
	}
	if _, err := p.Launch(ctx, p.Shapes()[0], nil); !errors.Is(err, ebb.ErrClosed) {
		t.Errorf("Launch after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestEarlierJobsCancelled starts a provider with the prefix of one that
// is still running, as a restarted driver would: New cancels the earlier
// provider's job, whose worker is then lost.
func TestEarlierJobsCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	earlier := newProvider(t, Config{})
	w, err := earlier.Launch(ctx, earlier.Shapes()[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := pool.Allocate(ctx, w.Pool, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	later := newProvider(t, Config{JobPrefix: earlier.cfg.JobPrefix})
	if ws, _ := later.Workers(ctx); len(ws) != 0 {
		t.Errorf("the later provider lists %v, want none (no adoption)", ws)
	}
	if !proctest.Eventually(30*time.Second, func() bool {
		_, err := a.Keepalive(ctx, time.Minute)
		return errors.Is(err, ebb.ErrExpired)
	}) {
		t.Error("the alloc on the earlier driver's worker is not expired after its job was cancelled")
	}
	noJobsLeft(t, earlier)
}

// TestElastic runs an Elastic cluster over Slurm jobs: an Allocate
// submits a job, a task runs on its worker, and once the alloc is freed
// the idle worker is terminated; afterwards squeue shows no job of ours.
func TestElastic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := newProvider(t, Config{})
	e, err := cluster.NewElastic(cluster.ElasticConfig{
		Provider:    p,
		BatchWindow: 10 * time.Millisecond,
		IdleTimeout: 500 * time.Millisecond,
		BackoffMin:  100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- e.Run(rctx) }()
	defer func() {
		stop()
		if err := <-ran; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if left := activeJobs(p.cfg.JobPrefix); len(left) > 0 {
			t.Errorf("jobs in squeue after the cluster stopped: %v", left)
		}
	}()

	a, err := e.Allocate(ctx, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, ebb.Labels{"run": "elastic"})
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	if !strings.Contains(a.ID(), "/") || !a.Resources().Equal(ebb.Resources{ebb.CPU: 1}) {
		t.Errorf("alloc %s holds %v; want WORKER/ALLOC holding 1 cpu", a.ID(), a.Resources())
	}
	ws, _ := p.Workers(ctx)
	if len(ws) != 1 || ws[0].Shape.Name != "small" || ws[0].Labels["run"] != "elastic" {
		t.Fatalf("Workers = %v, want one small worker labelled run=elastic", ws)
	}
	if j, ok := p.lookup(ctx, ws[0].ID); !ok || j.Comment != "run=elastic" || !j.has("RUNNING") {
		t.Errorf("the worker's job: %+v, %v; want it running with comment run=elastic", j, ok)
	}
	x, err := a.Put(ctx, digest.FromString("echo"), pool.ExecConfig{Argv: []string{"/bin/echo", "elastic"}, Resources: ebb.Resources{ebb.CPU: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := x.Wait(ctx); err != nil || !r.OK() || r.Stdout != "elastic\n" {
		t.Errorf("Wait = %+v, %v", r, err)
	}
	if err := a.Free(ctx); err != nil {
		t.Fatal(err)
	}
	if !proctest.Eventually(30*time.Second, func() bool { ws, _ := p.Workers(ctx); return len(ws) == 0 }) {
		t.Error("the idle worker was not terminated")
	}
	noJobsLeft(t, p)
}
