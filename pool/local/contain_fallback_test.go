package local

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A cgroup the pool made but that the kernel will not take a process
// into costs the exec its cgroup, not its start: the exec runs contained
// by its process group, the refused cgroup is removed, and the next exec
// has a cgroup again. Here the refusal is a threaded sibling, which makes
// the exec's cgroup "domain invalid" until it is gone.
func TestContainCgroupRefused(t *testing.T) {
	needCgroups(t)
	p := newPool(t, Config{contain: containCgroup})
	c := p.contain
	g, err := c.execCgroup()
	if err != nil {
		t.Fatal(err)
	}
	threaded := filepath.Join(c.dir, "threaded")
	if err := os.Mkdir(threaded, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(threaded)
	if err := os.WriteFile(filepath.Join(threaded, "cgroup.type"), []byte("threaded"), 0); err != nil {
		t.Skipf("cannot make a threaded cgroup here: %v", err)
	}
	c.mu.Lock()
	c.free = append(c.free, g)
	c.mu.Unlock()

	a := accept(t, p, nil)
	r := run(t, a, "refused", sh("cat /proc/self/cgroup"))
	if !r.OK() {
		t.Fatalf("exec into a refusing cgroup: Result = %+v, want success", r)
	}
	if strings.Contains(r.Stdout, filepath.Base(c.dir)+"/") {
		t.Errorf("exec ran in an exec cgroup (%q), want none", r.Stdout)
	}
	if _, err := os.Stat(g.dir); !os.IsNotExist(err) {
		t.Errorf("refused cgroup %s: %v, want removed", g.dir, err)
	}

	if err := os.Remove(threaded); err != nil {
		t.Fatal(err)
	}
	r = run(t, a, "next", sh("cat /proc/self/cgroup"))
	if !r.OK() || !strings.Contains(r.Stdout, filepath.Base(c.dir)+"/") {
		t.Errorf("next exec: Result = %+v, want success in a cgroup under %s", r, c.dir)
	}
}

// A cgroup the pool cannot make (here, its name is taken) costs the exec
// its cgroup, not its start.
func TestContainCgroupNotMade(t *testing.T) {
	needCgroups(t)
	p := newPool(t, Config{contain: containCgroup})
	c := p.contain
	taken := filepath.Join(c.dir, strconv.FormatUint(c.seq.Load()+1, 10))
	if err := os.Mkdir(taken, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(taken)
	a := accept(t, p, nil)
	if r := run(t, a, "not made", sh("cat /proc/self/cgroup")); !r.OK() || strings.Contains(r.Stdout, filepath.Base(c.dir)+"/") {
		t.Errorf("Result = %+v, want success outside the pool's cgroups", r)
	}
}

// needCgroups skips the test where the pool cannot make cgroups.
func needCgroups(t *testing.T) {
	t.Helper()
	dir, err := makePoolCgroup("probe")
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	os.Remove(dir)
}
