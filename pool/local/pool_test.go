package local

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

func TestConfigInvalid(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		mention string
	}{
		{"negative lease", Config{DefaultLease: -time.Second}, "Config.DefaultLease"},
		{"max below default", Config{DefaultLease: time.Hour, MaxLease: time.Minute}, "Config.MaxLease"},
		{"negative tail", Config{TailBytes: -1}, "Config.TailBytes"},
		{"NaN resources", Config{Resources: ebb.Resources{ebb.CPU: math.NaN()}}, "Config.Resources"},
		{"negative resources", Config{Resources: ebb.Resources{ebb.Mem: -5}}, "mem=-5"},
		{"bad ID", Config{ID: "my pool"}, `Config.ID "my pool"`},
		{"long ID", Config{ID: strings.Repeat("x", 64)}, "Config.ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Dir = t.TempDir()
			p, err := New(tc.cfg)
			if err == nil {
				p.Close(context.Background())
			}
			if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("New(%+v) = %v; want ErrInvalid mentioning %q", tc.cfg, err, tc.mention)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	p := newPool(t, Config{DefaultLease: 20 * time.Minute})
	if p.ID() != "local" || p.cfg.MaxLease != 20*time.Minute || p.cfg.TailBytes != 4096 {
		t.Errorf("defaults: ID %q, MaxLease %v, TailBytes %d; want local, 20m (the DefaultLease), 4096", p.ID(), p.cfg.MaxLease, p.cfg.TailBytes)
	}
}

func TestMachineResources(t *testing.T) {
	p, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	caps, err := p.Capacity(context.Background())
	if err != nil || len(caps) != 1 {
		t.Fatalf("Capacity = %v, %v; want one node", caps, err)
	}
	c := caps[0]
	if c[ebb.CPU] != float64(runtime.NumCPU()) || c[ebb.Mem] < 1<<20 || c[ebb.Disk] <= 0 {
		t.Errorf("machine capacity = %s; want %d cpu and some memory and disk", c, runtime.NumCPU())
	}
	c[ebb.CPU] = -1 // the caller owns it
	if again, _ := p.Capacity(context.Background()); again[0][ebb.CPU] != float64(runtime.NumCPU()) {
		t.Error("Capacity returned the pool's own map")
	}
}

func TestMemTotal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(path, []byte("MemFree:  10 kB\nMemTotal:       24683620 kB\n"), 0o644)
	if got, err := memTotal(path); got != 24683620*1024 || err != nil {
		t.Errorf("memTotal = %v, %v; want %v", got, err, 24683620*1024)
	}
	os.WriteFile(path, []byte("MemFree:  10 kB\n"), 0o644)
	if _, err := memTotal(path); err == nil {
		t.Error("memTotal of a file without MemTotal: no error")
	}
}

func TestRestartForgetsAllocs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// What a crashed pool left: an alloc with a command's files.
	stale := filepath.Join(dir, allocsName, "0123456789ab-1")
	os.MkdirAll(filepath.Join(stale, execsName, "abcd", workName), 0o755)
	os.WriteFile(filepath.Join(stale, execsName, "abcd", "stdout"), []byte("old"), 0o644)

	p := newPool(t, Config{Dir: dir})
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale alloc directory after New: %v, want it gone", err)
	}
	if _, err := p.Alloc(ctx, "0123456789ab-1"); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Alloc of an earlier pool's alloc: %v, want ErrNotExist", err)
	}
	if all, err := p.Allocs(ctx); len(all) != 0 || err != nil {
		t.Errorf("Allocs of a restarted pool = %v, %v; want none", all, err)
	}
	// A new pool on the same Dir never reuses an earlier pool's alloc ID.
	a := accept(t, p, nil)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	p2 := newPool(t, Config{Dir: dir})
	b := accept(t, p2, nil)
	if a.ID() == b.ID() {
		t.Errorf("pools one after the other on one Dir both gave out alloc %s", a.ID())
	}
}

func TestDirLocked(t *testing.T) {
	dir := t.TempDir()
	p := newPool(t, Config{Dir: dir})
	if p2, err := New(Config{Dir: dir}); !errors.Is(err, ebb.ErrUnavailable) {
		if p2 != nil {
			p2.Close(context.Background())
		}
		t.Fatalf("second New on a Dir in use: %v, want ErrUnavailable", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	newPool(t, Config{Dir: dir})
}

func TestTempDirRemoved(t *testing.T) {
	p, err := New(Config{Resources: ebb.Resources{ebb.CPU: 1}})
	if err != nil {
		t.Fatal(err)
	}
	a := accept(t, p, nil)
	wait(t, put(t, a, "file", sh("echo hi > f")))
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary Dir %s after Close: %v, want it gone", p.dir, err)
	}
}

func TestClosedPool(t *testing.T) {
	ctx := context.Background()
	p := newPool(t, Config{})
	offers, _ := p.Offers(ctx)
	a := accept(t, p, nil)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"Offers":   second(p.Offers(ctx)),
		"Capacity": second(p.Capacity(ctx)),
		"Allocs":   second(p.Allocs(ctx)),
		"Alloc":    second(p.Alloc(ctx, a.ID())),
		"Accept":   second(offers[0].Accept(ctx, pool.AllocMeta{})),
	} {
		if !errors.Is(err, ebb.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if _, err := a.Inspect(ctx); !errors.Is(err, ebb.ErrExpired) || !errors.Is(err, ebb.ErrClosed) {
		t.Errorf("alloc Inspect after Close: %v, want ErrExpired and ErrClosed", err)
	}
}

// TestCloseLeavesNothing runs commands and funcs, a log follower and a
// lease timer in a synctest bubble: the bubble ends only when every
// goroutine started in it has ended, and fails if one is left blocked.
// Time does not move in it: the processes are real.
func TestCloseLeavesNothing(t *testing.T) {
	adoptOrphans(t)
	var pgids []int
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p, err := New(Config{Dir: t.TempDir(), Resources: ebb.Resources{ebb.CPU: 2}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			a := accept(t, p, ebb.Resources{ebb.CPU: 1})
			e := put(t, a, "sleepers", sh("echo $$; sleep 1000 & sleep 1000"))
			pgids = append(pgids, readPgid(t, e))
			put(t, a, "func", pool.ExecConfig{Func: blockFunc})
			if i == 0 {
				wait(t, put(t, a, "done", sh("true")))
			}
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		checkNoGoroutines(t)
	})
	for _, pgid := range pgids {
		checkGroupGone(t, pgid)
	}
	checkNoGoroutines(t)
}
