package local

import (
	"context"
	"os"
	osexec "os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// BenchmarkPutWaitTrue runs /bin/true through the pool: Put, Wait,
// Remove. Compare with BenchmarkBareExecTrue for the pool's overhead.
func BenchmarkPutWaitTrue(b *testing.B) {
	ctx := context.Background()
	p := newPool(b, Config{})
	a := accept(b, p, nil)
	cfg := pool.ExecConfig{Argv: []string{"/bin/true"}}
	ids := execIDs(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e, err := a.Put(ctx, ids[i], cfg)
		if err != nil {
			b.Fatal(err)
		}
		r, err := e.Wait(ctx)
		if err != nil || !r.OK() {
			b.Fatalf("Wait = %+v, %v", r, err)
		}
		if err := a.Remove(ctx, ids[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareExecTrue runs /bin/true with os/exec alone.
func BenchmarkBareExecTrue(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := osexec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTruePaired runs /bin/true by turns through the pool (Put,
// Wait, Remove) and with os/exec alone, timing each, and reports both
// and their ratio: on a shared machine whose load wanders, execs taken
// by turns see the same load, where two benchmarks run one after the
// other may not.
func BenchmarkTruePaired(b *testing.B) {
	ctx := context.Background()
	p := newPool(b, Config{})
	a := accept(b, p, nil)
	cfg := pool.ExecConfig{Argv: []string{"/bin/true"}}
	ids := execIDs(b.N)
	var bare, pooled time.Duration
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if err := osexec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		e, err := a.Put(ctx, ids[i], cfg)
		if err != nil {
			b.Fatal(err)
		}
		r, err := e.Wait(ctx)
		if err != nil || !r.OK() {
			b.Fatalf("Wait = %+v, %v", r, err)
		}
		if err := a.Remove(ctx, ids[i]); err != nil {
			b.Fatal(err)
		}
		bare += t1.Sub(t0)
		pooled += time.Since(t1)
	}
	b.ReportMetric(float64(bare.Nanoseconds())/float64(b.N), "bare-ns/exec")
	b.ReportMetric(float64(pooled.Nanoseconds())/float64(b.N), "pool-ns/exec")
	b.ReportMetric(float64(bare)/float64(pooled), "bare/pool")
}

// BenchmarkTrueContained runs /bin/true by turns with os/exec alone and
// through pools that contain their execs each way this machine allows
// (Put, Wait, Remove), and reports each pool's time and the ratio of the
// bare exec's to it: "group" is the process group alone, as the pool ran
// before it contained execs, "cgroup" a cgroup per exec, "subreaper" the
// sweep of orphans.
func BenchmarkTrueContained(b *testing.B) {
	ctx := context.Background()
	cfg := pool.ExecConfig{Argv: []string{"/bin/true"}}
	type arm struct {
		name string
		a    pool.Alloc
		d    time.Duration
	}
	var arms []*arm
	for _, mode := range []containMode{containGroup, containCgroup, containSubreaper} {
		if mode == containCgroup {
			c, err := newContainer("probe", containCgroup)
			if err != nil {
				b.Logf("no cgroups here: %v", err)
				continue
			}
			c.close()
		}
		p := newPool(b, Config{contain: mode})
		name := map[containMode]string{containGroup: "group", containCgroup: "cgroup", containSubreaper: "subreaper"}[mode]
		arms = append(arms, &arm{name: name, a: accept(b, p, nil)})
	}
	ids := execIDs(b.N)
	var bare time.Duration
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if err := osexec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
		bare += time.Since(t0)
		for _, arm := range arms {
			t0 := time.Now()
			e, err := arm.a.Put(ctx, ids[i], cfg)
			if err != nil {
				b.Fatal(err)
			}
			r, err := e.Wait(ctx)
			if err != nil || !r.OK() {
				b.Fatalf("%s: Wait = %+v, %v", arm.name, r, err)
			}
			if err := arm.a.Remove(ctx, ids[i]); err != nil {
				b.Fatal(err)
			}
			arm.d += time.Since(t0)
		}
	}
	b.ReportMetric(float64(bare.Nanoseconds())/float64(b.N), "bare-ns/exec")
	for _, arm := range arms {
		b.ReportMetric(float64(arm.d.Nanoseconds())/float64(b.N), arm.name+"-ns/exec")
		b.ReportMetric(float64(bare)/float64(arm.d), "bare/"+arm.name)
	}
}

// BenchmarkFuncNoop runs a func that does nothing through the pool: Put,
// Wait, Remove. This is the path in-process flows take per task.
func BenchmarkFuncNoop(b *testing.B) {
	ctx := context.Background()
	p := newPool(b, Config{})
	a := accept(b, p, nil)
	cfg := pool.ExecConfig{Func: func(context.Context, ebb.FuncEnv) error { return nil }}
	ids := execIDs(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e, err := a.Put(ctx, ids[i], cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		if err := a.Remove(ctx, ids[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFuncNoopParallel is BenchmarkFuncNoop from GOMAXPROCS
// goroutines sharing one alloc.
func BenchmarkFuncNoopParallel(b *testing.B) {
	ctx := context.Background()
	p := newPool(b, Config{})
	a := accept(b, p, nil)
	cfg := pool.ExecConfig{Func: func(context.Context, ebb.FuncEnv) error { return nil }}
	ids := execIDs(b.N)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[next.Add(1)-1]
			e, err := a.Put(ctx, id, cfg)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := e.Wait(ctx); err != nil {
				b.Fatal(err)
			}
			if err := a.Remove(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// execIDs makes n distinct exec IDs ahead of the timed loop, as a flow's
// task digests are computed ahead of running them.
func execIDs(n int) []pool.ExecID {
	ids := make([]pool.ExecID, n)
	for i := range ids {
		ids[i] = id(strconv.Itoa(i))
	}
	return ids
}

// BenchmarkExecCgroup takes an exec's cgroup and gives it back, with no
// process in it: what containment adds to a command exec that leaves
// nothing behind, but for the process's birth into the cgroup.
func BenchmarkExecCgroup(b *testing.B) {
	c, err := newContainer("bench"+strconv.Itoa(os.Getpid()), containCgroup)
	if err != nil {
		b.Skipf("no cgroups here: %v", err)
	}
	defer c.close()
	b.ReportAllocs()
	for b.Loop() {
		g, err := c.execCgroup()
		if err != nil {
			b.Fatal(err)
		}
		if err := c.release(g); err != nil {
			b.Fatal(err)
		}
	}
}
